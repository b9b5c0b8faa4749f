#pragma once

// Reading a configuration file written in protobuf text format, for the camera's and the
// dock's loaders. A library of its own (bwc_config_text) so that bwc_base does not
// depend on protobuf.

#include <string>
#include <string_view>

#include "common/base/error.h"

namespace google::protobuf {
class Message;
} // namespace google::protobuf

namespace bwc {

// Parses `text` into `message`; unknown fields and extensions are errors. Errc::Config
// with one line per problem, errors first, then warnings (deprecated fields; only
// reported along with an error): "ORIGIN:LINE:COL: MESSAGE" (1-based, like compilers;
// an unknown field's column is that of its name, and its line ends with
// " (UNKNOWNFIELDHINT)"), or "ORIGIN: not a valid WHAT (protobuf text format)" when the
// parser says nothing more.
Expected<void> parseTextConfig(std::string_view text, const std::string &origin,
                               google::protobuf::Message &message, std::string_view what,
                               std::string_view unknownFieldHint);

} // namespace bwc
