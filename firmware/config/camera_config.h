#pragma once

// The camera's configuration: one protobuf text-format file per board (board/*/camd.conf),
// checked against its schema and validated field by field at start-up. Defaults are
// applied for fields left out; relative paths are resolved against the file's folder.

#include <cstdint>
#include <string>
#include <string_view>

#include "bwc/v1/config.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::fw {

struct LoadedConfig {
    v1::CameraConfig config; // with defaults applied and paths resolved
    Bytes sha256;            // SHA-256 of the file's bytes (manifests carry it)
    std::string path;
};

// Errc::Config for every problem, naming the file, the field, the value and the reason,
// e.g. "camd.conf: video.fps = 0: must be between 1 and 60".
// Errc::NotFound/Io when the file cannot be read.
Expected<LoadedConfig> loadCameraConfig(const std::string &path);

// The same from bytes already in memory (a configuration sent by the dock), as if they
// were the file at `path`: relative paths resolve against its folder, messages name it.
Expected<LoadedConfig> parseCameraConfig(ByteView bytes, const std::string &path);

// dock.address split into host and port: "HOST:PORT" or "[IPv6]:PORT" (brackets removed).
// Errc::Config naming dock.address when it is empty or malformed.
struct DockAddress {
    std::string host;
    uint16_t port = 0;
};
Expected<DockAddress> parseDockAddress(std::string_view address);

// Validation alone (also used for config updates from the dock). `origin` prefixes the
// messages (a file name). Every problem is reported, one per line of the message.
// Files named in the config are not opened here (the daemon reports those when it
// loads them).
Expected<void> validateCameraConfig(const v1::CameraConfig &config, const std::string &origin);
// Fills in defaults for fields left at zero/empty (the values are listed in
// proto/bwc/v1/config.proto): prerecord.seconds becomes 120 only when it is absent (an
// explicit 0 stays), identity.counter_path becomes "<storage.path>/counter".
// format_version has no default: a file must say which format it is written in.
void applyCameraDefaults(v1::CameraConfig &config);

} // namespace bwc::fw
