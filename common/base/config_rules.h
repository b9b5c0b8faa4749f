#pragma once

// Field-by-field validation of a configuration file, shared by the camera's and the
// dock's loaders: every problem is collected as one line "ORIGIN: FIELD = VALUE: REASON"
// and all of them are reported together as one Errc::Config. Also the small parsers and
// helpers both configurations need (ports, HOST:PORT, paths relative to the file).

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/error.h"

namespace bwc {

// A string value as it would be written in the file: quoted, with '"' and '\' escaped
// and unprintable bytes as \xHH, so that an empty value or stray whitespace is visible
// in a message.
std::string quoteConfigValue(std::string_view s);

// True when `value` is one of `names`.
bool isOneOf(std::string_view value, std::initializer_list<std::string_view> names);

// Collects every problem of a configuration, one line each.
class ConfigChecker
{
public:
    // `origin` (a file name) starts every line; when empty a line starts with the field.
    explicit ConfigChecker(std::string origin);

    // "ORIGIN: FIELD = VALUE: REASON", VALUE as given.
    void fail(std::string_view field, std::string_view value, std::string_view reason);
    // The same with VALUE quoted (quoteConfigValue).
    void failString(std::string_view field, std::string_view value, std::string_view reason);
    // Fails unless lo <= value <= hi: "must be between LO and HI[ UNIT]".
    void range(std::string_view field, uint64_t value, uint64_t lo, uint64_t hi,
               std::string_view unit = {});
    // Fails unless `value` is one of `names`: "must be one of A, B, C".
    void choice(std::string_view field, std::string_view value,
                std::initializer_list<std::string_view> names);
    // A path: no NUL byte; when empty, fails with `whyRequired` unless that is empty
    // (an optional path).
    void path(std::string_view field, std::string_view value, std::string_view whyRequired);

    // Nothing when no check failed, else Errc::Config with every line, in the order of
    // the checks.
    Expected<void> result() const;

private:
    std::string origin_;
    std::vector<std::string> lines_;
};

// A TCP port in decimal, 1 to 65535 and nothing else; nullopt otherwise.
std::optional<uint16_t> parsePort(std::string_view s);

// "HOST:PORT" or "[IPV6]:PORT" split into host (brackets removed) and port. nullopt when
// malformed: no port or a bad one (parsePort), an empty host, an IPv6 address without
// brackets, a bracket elsewhere, or a host with spaces, control or non-ASCII bytes.
struct HostPort {
    std::string host;
    uint16_t port = 0;
};
std::optional<HostPort> splitHostPort(std::string_view address);

// The absolute folder of the configuration file `path` (relative paths in it resolve
// against that). Errc::Io "WHAT PATH: cannot make the path absolute: CAUSE" otherwise.
Expected<std::string> configFileFolder(const std::string &path, std::string_view what);

// `path` from a configuration file resolved against `dir` (the file's folder): absolute
// and empty paths as they are, relative ones joined and normalised.
std::string resolveConfigPath(const std::string &dir, const std::string &path);

} // namespace bwc
