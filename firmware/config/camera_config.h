#pragma once

// The camera's configuration: one protobuf text-format file per board (board/*/camd.conf),
// checked against its schema and validated field by field at start-up. Defaults are
// applied for fields left out; relative paths are resolved against the file's folder.

#include <string>

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
