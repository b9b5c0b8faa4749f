#pragma once

// The dock's configuration file (v1::DockConfig in protobuf text format), shared by
// bwc-dockd and the `bwc` evidence commands (which find the store and the dock key
// through it).

#include <cstdint>
#include <string>

#include "bwc/v1/config.pb.h"
#include "common/base/error.h"

namespace bwc::dock {

// The default location of the dock's configuration, for `bwc --dock-config`.
constexpr const char *kDefaultDockConfigPath = "/etc/bwc/dockd.conf";

// A dock configuration with defaults applied and paths resolved against the file's
// folder.
struct LoadedDockConfig {
    v1::DockConfig config;
    std::string path;
    std::string host; // from `listen`
    uint16_t port = 0;
};

// Errc::Config naming the file (with line and column for a parse error), the field, the
// value and the reason for every problem, all reported together; Errc::NotFound/Io when
// the file cannot be read.
// Defaults: listen "127.0.0.1:7443", max_sessions 8 (1-64), default_retention_days 31
// (1-36500), session_timeout_seconds 30 (5-3600), reserve_bytes 1 GiB (>= 1 MiB).
// Required: format_version 1, dock_id, store_path, key_path, cert_path, ca_path, crl_path.
Expected<LoadedDockConfig> loadDockConfig(const std::string &path);

} // namespace bwc::dock
