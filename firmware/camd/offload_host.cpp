#include "firmware/camd/offload_host.h"

#include <algorithm>
#include <vector>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/chain/identity.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "firmware/config/camera_config.h"

namespace bwc::fw {

std::string clipFlagPath(const std::string &clipDir, const std::string &clipUuidText)
{
    return clipDir + "/" + clipUuidText + std::string(kClipFlagSuffix);
}

Expected<std::string> readOfficerFile(const std::string &path)
{
    if (!pathExists(path))
        return std::string();
    BWC_ASSIGN(officer, readTextFile(path, 4096));
    while (!officer.empty() && (officer.back() == '\n' || officer.back() == ' '))
        officer.pop_back();
    return officer;
}

Expected<void> writeOfficerFile(const std::string &path, const std::string &officerId)
{
    if (!chain::isPrintableDeviceId(officerId))
        return Error(Errc::Format, "officer id \"" + chain::printableForMessage(officerId) +
                                       "\" is not 1 to 128 printable characters");
    auto written = atomicReplace(path, asBytes(officerId + "\n"), 0600);
    if (!written)
        return std::move(written).error().context("saving the officer");
    return {};
}

Expected<void> saveCameraConfig(const std::string &configPath, ByteView bytes,
                                const std::string &deviceId)
{
    const std::string origin = configPath + " (from the dock)";
    BWC_ASSIGN(loaded, parseCameraConfig(bytes, configPath));
    std::vector<std::string> problems;
    const v1::CameraConfig &c = loaded.config;
    if (c.device_id() != deviceId)
        problems.push_back(origin + ": device_id = \"" + chain::printableForMessage(c.device_id()) +
                           "\": this camera is \"" + deviceId + "\"");
    auto needFile = [&](const std::string &field, const std::string &path) {
        if (!path.empty() && !pathExists(path))
            problems.push_back(origin + ": " + field + " = \"" + path +
                               "\": no such file on the camera");
    };
    needFile("identity.key_path", c.identity().key_path());
    needFile("identity.cert_path", c.identity().cert_path());
    needFile("identity.ca_path", c.identity().ca_path());
    needFile("identity.crl_path", c.identity().crl_path());
    for (int i = 0; i < c.identity().recipient_cert_paths_size(); ++i)
        needFile("identity.recipient_cert_paths[" + std::to_string(i) + "]",
                 c.identity().recipient_cert_paths(i));
    if (!problems.empty()) {
        std::string message;
        for (const std::string &p : problems)
            message += (message.empty() ? "" : "\n") + p;
        return Error(Errc::Config, message);
    }
    if (pathExists(configPath)) {
        BWC_ASSIGN(old, readFile(configPath, 1u << 20));
        BWC_TRY(atomicReplace(configPath + ".previous", old, 0644));
    }
    return atomicReplace(configPath, bytes, 0644);
}

CameraOffloadHost::CameraOffloadHost(CameraClock &clock, const Storage *storage,
                                     CameraOffloadHostOptions options,
                                     std::function<void(const std::string &)> onOfficer,
                                     std::function<void()> onClockSet)
    : clock_(clock), storage_(storage), options_(std::move(options)),
      onOfficer_(std::move(onOfficer)), onClockSet_(std::move(onClockSet))
{
}

Expected<void> CameraOffloadHost::setClock(int64_t newUtcMs)
{
    BWC_TRY(clock_.set(newUtcMs));
    if (onClockSet_)
        onClockSet_();
    return {};
}

Expected<void> CameraOffloadHost::setOfficer(const std::string &officerId)
{
    BWC_TRY(writeOfficerFile(options_.officerFile, officerId));
    if (onOfficer_)
        onOfficer_(officerId);
    return {};
}

Expected<void> CameraOffloadHost::saveConfig(ByteView configFile)
{
    if (configPending_ && pathExists(options_.configPath)) {
        BWC_ASSIGN(current, readFile(options_.configPath, 1u << 20));
        if (std::equal(current.begin(), current.end(), configFile.begin(), configFile.end()))
            return Error(Errc::Exists, options_.configPath +
                                           ": this configuration is already saved; it takes "
                                           "effect at the next start");
    }
    BWC_TRY(saveCameraConfig(options_.configPath, configFile, options_.deviceId));
    configPending_ = true;
    log::info("configuration from the dock saved to " + options_.configPath +
              " (previous kept as " + options_.configPath +
              ".previous); it takes effect at the next start");
    return {};
}

Expected<void> CameraOffloadHost::saveCrl(ByteView crlDer)
{
    if (options_.crlPath.empty())
        return Error(Errc::Config, "identity.crl_path is not set: nowhere to keep the CRL");
    const std::string pem = crypto::toPem("X509 CRL", crlDer);
    auto written = atomicReplace(options_.crlPath, asBytes(pem), 0644);
    if (!written)
        return std::move(written).error().context("saving the CRL (identity.crl_path)");
    log::info("CRL from the dock saved to " + options_.crlPath);
    return {};
}

v1::StorageState CameraOffloadHost::storage() const
{
    v1::StorageState s;
    if (storage_ == nullptr)
        return s;
    auto usage = storage_->usage();
    if (!usage)
        return s;
    s.set_total_bytes(usage->totalBytes);
    s.set_free_bytes(usage->freeBytes);
    s.set_pending_bytes(usage->clipBytes);
    return s;
}

bool CameraOffloadHost::flagged(ByteView clipUuid) const
{
    if (clipUuid.size() != container::ClipUuid().size())
        return false;
    container::ClipUuid uuid{};
    std::copy(clipUuid.begin(), clipUuid.end(), uuid.begin());
    return pathExists(clipFlagPath(options_.clipDir, container::uuidToString(uuid)));
}

} // namespace bwc::fw
