#pragma once

// A dock and docked cameras in one process, for the offload fault tests and the offload
// benchmark: an agency PKI in a folder, cameras with software identities, chains and
// sealed clips, the real EvidenceStore and DockServer (OpenSSL) on loopback, and the real
// camera offload client (mbedTLS). CutProxy sits between a camera and the dock and drops
// the connection after a chosen number of bytes.
//
// No test framework here: everything returns Expected, so the benchmark can use it too.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/base/unique_fd.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "common/net/tls.h"
#include "dock/pki/pki_store.h"
#include "dock/server/dock_server.h"
#include "dock/store/evidence_store.h"
#include "firmware/offload/offload_client.h"

namespace bwc::rig {

// The camera's side of the host interface, in memory.
class RigHost final : public fw::OffloadHost
{
public:
    explicit RigHost(const Clock &clock) : clock_(clock) {}
    int64_t utcMs() const override { return clock_.utcMs() + offsetMs_; }
    Expected<void> setClock(int64_t newUtcMs) override;
    Expected<void> setOfficer(const std::string &officerId) override;
    Expected<void> saveConfig(ByteView configFile) override;
    Bytes configSha256() const override { return Bytes(32, 0xc5); }
    Expected<void> saveCrl(ByteView crlDer) override;
    std::string fwVersion() const override { return "bwc-camd rig"; }
    v1::StorageState storage() const override { return {}; }
    bool flagged(ByteView) const override { return false; }

    std::string officer;

private:
    const Clock &clock_;
    int64_t offsetMs_ = 0;
};

struct RigCamera {
    std::string id;
    std::string dir;      // <rig>/cameras/<id>
    std::string clipsDir; // <dir>/clips
    std::unique_ptr<chain::SoftwareIdentity> identity;
    std::unique_ptr<chain::ChainState> chain;
    net::TlsConfig tls;
    std::unique_ptr<RigHost> host;
    // Clips sealed and not yet known to be wiped: uuid (16 raw bytes) -> ciphertext bytes.
    uint64_t sealedBytes = 0;
};

struct SealedClip {
    std::string clipPath;
    std::string uuid; // 16 raw bytes
    uint64_t seq = 0;
    uint64_t bytes = 0;
};

class OffloadRig
{
public:
    // Creates the PKI (CA, dock "dock-01", agency evidence key "aek") and `cameras`
    // cameras "cam-0001"... under `dir` (which must exist and be empty).
    static Expected<std::unique_ptr<OffloadRig>> create(const std::string &dir, size_t cameras);
    ~OffloadRig();

    // Seals a clip of `mediaBytes` media (a deterministic pattern) on camera `index`.
    Expected<SealedClip> seal(size_t index, size_t mediaBytes);

    // Opens the store (if not open) and starts a dock server on an ephemeral port.
    // `fullVerify`: give the dock the agency evidence key (decrypt-verify every chunk).
    Expected<void> startDock(bool fullVerify = true, uint64_t reserveBytes = 1u << 20);
    // Stops the server and closes the store (as a dock restart would).
    void stopDock();
    uint16_t dockPort() const;
    store::EvidenceStore &store() { return *store_; }

    // One offload session of camera `index` to 127.0.0.1:`port` (0: the dock's port).
    // Returns once the dock's side of every session has ended too, so the store may be
    // read (its connection is used by one thread at a time). Not for concurrent calls
    // that read the store in between.
    Expected<fw::OffloadResult> offload(size_t index, uint16_t port = 0, size_t chunkBytes = 256 * 1024);

    // How cameras open their TLS connection (empty: their mbedTLS client).
    void setConnect(decltype(fw::OffloadSettings::connect) connect) { connect_ = std::move(connect); }

    RigCamera &camera(size_t index) { return *cameras_.at(index); }
    size_t cameraCount() const { return cameras_.size(); }
    const std::string &dir() const { return dir_; }
    const crypto::Backend &cameraBackend() const { return *cameraBackend_; }
    const crypto::Backend &dockBackend() const { return *dockBackend_; }

    // Clip files (*.bwcclip) still on camera `index`.
    Expected<std::vector<std::string>> clipFilesOnCamera(size_t index) const;

private:
    OffloadRig() = default;

    std::string dir_;
    std::unique_ptr<crypto::Backend> cameraBackend_, dockBackend_;
    SystemClock clock_;
    std::unique_ptr<pki::PkiStore> pki_;
    crypto::P256KeyPair aek_;
    std::string dockKeyPath_, dockCertPath_;
    std::vector<std::unique_ptr<RigCamera>> cameras_;
    std::unique_ptr<store::EvidenceStore> store_;
    std::unique_ptr<dock::DockServer> server_;
    decltype(fw::OffloadSettings::connect) connect_;
};

// A TCP relay between a camera and the dock that closes both connections once
// `cutAfterBytes` bytes have gone from the camera to the dock (those bytes are
// delivered, nothing after them). UINT64_MAX: never cut. One connection per proxy.
class CutProxy
{
public:
    static Expected<std::unique_ptr<CutProxy>> start(uint16_t targetPort, uint64_t cutAfterBytes);
    ~CutProxy();
    uint16_t port() const { return port_; }
    // Bytes relayed camera -> dock so far; true once the cut happened.
    uint64_t forwarded() const { return forwarded_.load(); }
    bool cut() const { return cut_.load(); }

private:
    CutProxy() = default;
    void run();

    UniqueFd listener_;
    uint16_t port_ = 0;
    uint16_t targetPort_ = 0;
    uint64_t cutAfter_ = 0;
    std::atomic<uint64_t> forwarded_{0};
    std::atomic<bool> cut_{false};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace bwc::rig
