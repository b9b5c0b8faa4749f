#include "common/base/config_rules.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

namespace bwc {

std::string quoteConfigValue(std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

bool isOneOf(std::string_view value, std::initializer_list<std::string_view> names)
{
    return std::find(names.begin(), names.end(), value) != names.end();
}

ConfigChecker::ConfigChecker(std::string origin) : origin_(std::move(origin)) {}

void ConfigChecker::fail(std::string_view field, std::string_view value, std::string_view reason)
{
    std::string line;
    if (!origin_.empty())
        line = origin_ + ": ";
    line += field;
    line += " = ";
    line += value;
    line += ": ";
    line += reason;
    lines_.push_back(std::move(line));
}

void ConfigChecker::failString(std::string_view field, std::string_view value,
                               std::string_view reason)
{
    fail(field, quoteConfigValue(value), reason);
}

void ConfigChecker::range(std::string_view field, uint64_t value, uint64_t lo, uint64_t hi,
                          std::string_view unit)
{
    if (value >= lo && value <= hi)
        return;
    std::string reason = "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
    if (!unit.empty()) {
        reason += ' ';
        reason += unit;
    }
    fail(field, std::to_string(value), reason);
}

void ConfigChecker::choice(std::string_view field, std::string_view value,
                           std::initializer_list<std::string_view> names)
{
    if (isOneOf(value, names))
        return;
    std::string reason = "must be one of ";
    bool first = true;
    for (auto n : names) {
        if (!first)
            reason += ", ";
        reason += n;
        first = false;
    }
    failString(field, value, reason);
}

void ConfigChecker::path(std::string_view field, std::string_view value,
                         std::string_view whyRequired)
{
    if (value.empty()) {
        if (!whyRequired.empty())
            failString(field, value, whyRequired);
        return;
    }
    if (value.find('\0') != std::string_view::npos)
        failString(field, value, "a path cannot contain a NUL byte");
}

Expected<void> ConfigChecker::result() const
{
    if (lines_.empty())
        return {};
    std::string message;
    for (const auto &l : lines_) {
        if (!message.empty())
            message += '\n';
        message += l;
    }
    return Error(Errc::Config, std::move(message));
}

std::optional<uint16_t> parsePort(std::string_view s)
{
    uint32_t port = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || port == 0 || port > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(port);
}

std::optional<HostPort> splitHostPort(std::string_view address)
{
    std::string_view host, port;
    if (address.starts_with('[')) {
        auto close = address.find(']');
        if (close == std::string_view::npos || close + 1 >= address.size() ||
            address[close + 1] != ':')
            return std::nullopt;
        host = address.substr(1, close - 1);
        port = address.substr(close + 2);
    } else {
        auto colon = address.rfind(':');
        if (colon == std::string_view::npos)
            return std::nullopt;
        host = address.substr(0, colon);
        port = address.substr(colon + 1);
        if (host.find_first_of(":[]") != std::string_view::npos)
            return std::nullopt; // an IPv6 address needs brackets, around the whole of it
    }
    auto p = parsePort(port);
    if (host.empty() || !p)
        return std::nullopt;
    bool printable = std::all_of(host.begin(), host.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (!printable)
        return std::nullopt;
    return HostPort{std::string(host), *p};
}

Expected<std::string> configFileFolder(const std::string &path, std::string_view what)
{
    std::error_code ec;
    auto absolute = std::filesystem::absolute(std::filesystem::path(path), ec);
    if (ec)
        return Error(Errc::Io, std::string(what) + " " + path +
                                   ": cannot make the path absolute: " + ec.message());
    return absolute.parent_path().string();
}

std::string resolveConfigPath(const std::string &dir, const std::string &path)
{
    if (path.empty() || path.front() == '/')
        return path;
    return (std::filesystem::path(dir) / path).lexically_normal().string();
}

} // namespace bwc
