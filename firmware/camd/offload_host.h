#pragma once

// What the offload needs from bwc-camd (firmware/offload/offload_client.h), on the
// camera's own files:
//   clock      CameraClock (offset file <storage>/clock_offset on the simulated board)
//   officer    <storage>/officer, replaced atomically; the watermark and the manifests of
//              clips started afterwards carry it
//   config     the configuration file, validated as at start-up and replaced atomically;
//              the file it replaces is kept as <file>.previous; applied at the next start
//   CRL        identity.crl_path (PEM), replaced atomically
//   flagged    a "<uuid>.flag" file next to the clip (control command `flag`)

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "firmware/camd/camera_clock.h"
#include "firmware/offload/offload_client.h"
#include "firmware/storage/storage.h"

namespace bwc::fw {

struct CameraOffloadHostOptions {
    std::string configPath;  // the configuration file the camera runs with
    Bytes configSha256;      // its SHA-256
    std::string deviceId;    // a configuration from the dock must be for this device
    std::string officerFile; // <storage>/officer
    std::string crlPath;     // identity.crl_path
    std::string clipDir;     // <storage>/clips
    std::string fwVersion;
};

class CameraOffloadHost final : public OffloadHost
{
public:
    // `storage` may be null (no storage numbers then). The clock and storage must outlive
    // the host. `onOfficer` and `onClockSet` tell the daemon (watermark, clip manifests).
    CameraOffloadHost(CameraClock &clock, const Storage *storage, CameraOffloadHostOptions options,
                      std::function<void(const std::string &)> onOfficer = {},
                      std::function<void()> onClockSet = {});

    int64_t utcMs() const override { return clock_.utcMs(); }
    Expected<void> setClock(int64_t newUtcMs) override;
    Expected<void> setOfficer(const std::string &officerId) override;
    Expected<void> saveConfig(ByteView configFile) override;
    Bytes configSha256() const override { return options_.configSha256; }
    Expected<void> saveCrl(ByteView crlDer) override;
    std::string fwVersion() const override { return options_.fwVersion; }
    v1::StorageState storage() const override;
    bool flagged(ByteView clipUuid) const override;

    // A configuration from the dock was saved and waits for the next start.
    bool configPendingRestart() const { return configPending_.load(); }

private:
    CameraClock &clock_;
    const Storage *storage_;
    CameraOffloadHostOptions options_;
    std::function<void(const std::string &)> onOfficer_;
    std::function<void()> onClockSet_;
    std::atomic<bool> configPending_{false};
};

// "<clipDir>/<uuid>.flag" for a clip uuid in its text form.
std::string clipFlagPath(const std::string &clipDir, const std::string &clipUuidText);

// The officer file: one line with the officer id ("" when the file is missing).
Expected<std::string> readOfficerFile(const std::string &path);
Expected<void> writeOfficerFile(const std::string &path, const std::string &officerId);

// Validates `bytes` as the camera configuration at `configPath` (every rule of start-up:
// the schema, every field, device_id = `deviceId`, the identity files present), then keeps
// the current file as <configPath>.previous and replaces <configPath> atomically.
// Errc::Config listing every problem; nothing is written then.
Expected<void> saveCameraConfig(const std::string &configPath, ByteView bytes,
                                const std::string &deviceId);

} // namespace bwc::fw
