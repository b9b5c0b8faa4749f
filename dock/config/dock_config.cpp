#include "dock/config/dock_config.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "common/base/config_rules.h"
#include "common/base/config_text.h"
#include "common/base/file.h"

namespace bwc::dock {

namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kGiB = uint64_t(1) << 30;
constexpr uint64_t kMaxConfigBytes = kMiB;

constexpr const char *kDefaultListen = "127.0.0.1:7443";
constexpr uint32_t kDefaultMaxSessions = 8;
constexpr uint32_t kDefaultRetentionDays = 31;
constexpr uint32_t kDefaultSessionTimeout = 30;
constexpr uint64_t kDefaultReserveBytes = kGiB;

bool isPrintableId(std::string_view id)
{
    if (id.empty() || id.size() > 128 || id.front() == ' ' || id.back() == ' ')
        return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
}

void applyDefaults(v1::DockConfig &c)
{
    if (c.listen().empty())
        c.set_listen(kDefaultListen);
    if (c.max_sessions() == 0)
        c.set_max_sessions(kDefaultMaxSessions);
    if (c.default_retention_days() == 0)
        c.set_default_retention_days(kDefaultRetentionDays);
    if (c.session_timeout_seconds() == 0)
        c.set_session_timeout_seconds(kDefaultSessionTimeout);
    if (c.reserve_bytes() == 0)
        c.set_reserve_bytes(kDefaultReserveBytes);
}

void resolvePaths(v1::DockConfig &c, const std::string &dir)
{
    c.set_store_path(resolveConfigPath(dir, c.store_path()));
    c.set_key_path(resolveConfigPath(dir, c.key_path()));
    c.set_cert_path(resolveConfigPath(dir, c.cert_path()));
    c.set_ca_path(resolveConfigPath(dir, c.ca_path()));
    c.set_crl_path(resolveConfigPath(dir, c.crl_path()));
    c.set_aek_key_path(resolveConfigPath(dir, c.aek_key_path()));
    c.set_camera_config_dir(resolveConfigPath(dir, c.camera_config_dir()));
}

Expected<void> validate(const v1::DockConfig &c, const std::string &origin)
{
    ConfigChecker ck(origin);
    if (c.format_version() != 1)
        ck.fail("format_version", std::to_string(c.format_version()),
                "must be 1 (the only dock config format this version reads); add "
                "\"format_version: 1\" at the top of the file");
    if (!isPrintableId(c.dock_id()))
        ck.failString("dock_id", c.dock_id(),
                      "must be 1 to 128 printable ASCII characters without leading or trailing "
                      "spaces (the dock certificate's common name)");
    if (!splitHostPort(c.listen()))
        ck.failString("listen", c.listen(),
                      "must be HOST:PORT or [IPV6]:PORT with a port between 1 and 65535 (e.g. "
                      "\"0.0.0.0:7443\" for every interface)");
    ck.path("store_path", c.store_path(), "required (the evidence store's folder)");
    ck.path("key_path", c.key_path(), "required (the dock's private key, PKCS#8 PEM)");
    ck.path("cert_path", c.cert_path(),
            "required (the dock's certificate chain, PEM, leaf first)");
    ck.path("ca_path", c.ca_path(), "required (the agency CA certificate, PEM)");
    ck.path("crl_path", c.crl_path(),
            "required (the agency CRL, PEM; revoked cameras must be refused)");
    ck.path("aek_key_path", c.aek_key_path(), {});
    ck.path("camera_config_dir", c.camera_config_dir(), {});
    ck.range("max_sessions", c.max_sessions(), 1, 64, "concurrent offload sessions");
    ck.range("default_retention_days", c.default_retention_days(), 1, 36500, "days");
    ck.range("session_timeout_seconds", c.session_timeout_seconds(), 5, 3600, "seconds");
    if (c.reserve_bytes() < kMiB)
        ck.fail("reserve_bytes", std::to_string(c.reserve_bytes()),
                "must be at least 1048576 (1 MiB) so the store can still write its catalog "
                "and audit log when the disk is nearly full");
    return ck.result();
}

} // namespace

Expected<LoadedDockConfig> loadDockConfig(const std::string &path)
{
    auto bytes = readFile(path, kMaxConfigBytes);
    if (!bytes)
        return std::move(bytes).error().context("dock config");

    LoadedDockConfig loaded;
    loaded.path = path;

    BWC_TRY(parseTextConfig(asChars(*bytes), path, loaded.config, "dock config",
                            "check the spelling; the fields of DockConfig are listed in "
                            "proto/bwc/v1/config.proto"));

    BWC_ASSIGN(folder, configFileFolder(path, "dock config"));
    applyDefaults(loaded.config);
    resolvePaths(loaded.config, folder);
    BWC_TRY(validate(loaded.config, path));

    auto listen = splitHostPort(loaded.config.listen());
    loaded.host = listen->host;
    loaded.port = listen->port;
    return loaded;
}

} // namespace bwc::dock
