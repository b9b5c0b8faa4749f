#include "dock/config/dock_config.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

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

// Reports parse errors as "FILE:LINE:COL: message" (1-based, like compilers do).
class ConfigErrorCollector final : public google::protobuf::io::ErrorCollector
{
public:
    ConfigErrorCollector(std::string origin, std::string_view text) : origin_(std::move(origin))
    {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string_view::npos)
                end = text.size();
            lines_.push_back(text.substr(start, end - start));
            start = end + 1;
        }
    }

    void AddError(int line, google::protobuf::io::ColumnNumber column,
                  const std::string &message) override
    {
        constexpr std::string_view kUnknown = "has no field named \"";
        auto unknown = message.find(kUnknown);
        if (unknown != std::string::npos && line >= 0 && size_t(line) < lines_.size()) {
            // Protobuf points after the name; point at the name itself.
            auto nameStart = unknown + kUnknown.size();
            auto name = message.substr(nameStart, message.find('"', nameStart) - nameStart);
            auto at = lines_[size_t(line)].rfind(name, size_t(column));
            if (!name.empty() && at != std::string_view::npos)
                column = google::protobuf::io::ColumnNumber(at);
        }
        std::string text = origin_;
        if (line >= 0)
            text += position(line, column);
        text += ": ";
        text += message;
        if (unknown != std::string::npos)
            text += " (check the spelling; the fields of DockConfig are listed in "
                    "proto/bwc/v1/config.proto)";
        errors_.push_back(std::move(text));
    }

    void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                    const std::string &message) override
    {
        std::string text = origin_;
        text += position(line, column);
        text += ": warning: ";
        text += message;
        warnings_.push_back(std::move(text));
    }

    std::string joined() const
    {
        std::string out;
        for (const auto *list : {&errors_, &warnings_}) {
            for (const auto &e : *list) {
                if (!out.empty())
                    out += '\n';
                out += e;
            }
        }
        return out;
    }
    bool empty() const { return errors_.empty(); }

private:
    // ":LINE:COL", 1-based.
    static std::string position(int line, google::protobuf::io::ColumnNumber column)
    {
        std::string out = ":";
        out += std::to_string(line + 1);
        out += ':';
        out += std::to_string(column + 1);
        return out;
    }

    std::string origin_;
    std::vector<std::string_view> lines_;
    std::vector<std::string> errors_;
    std::vector<std::string> warnings_;
};

// A string value as it would be written in the file: quoted, with unprintable bytes
// escaped, so that an empty value or stray whitespace is visible in the message.
std::string quoted(std::string_view s)
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

// Collects every problem of a config, one line each: "ORIGIN: FIELD = VALUE: REASON".
class Checker
{
public:
    explicit Checker(const std::string &origin) : origin_(origin) {}

    void fail(std::string_view field, std::string_view value, std::string_view reason)
    {
        std::string line = origin_ + ": ";
        line += field;
        line += " = ";
        line += value;
        line += ": ";
        line += reason;
        lines_.push_back(std::move(line));
    }
    void failString(std::string_view field, std::string_view value, std::string_view reason)
    {
        fail(field, quoted(value), reason);
    }

    void range(std::string_view field, uint64_t value, uint64_t lo, uint64_t hi,
               std::string_view unit = {})
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

    // A path: no NUL byte; non-empty when required (whyRequired names what it is).
    void path(std::string_view field, std::string_view value, std::string_view whyRequired)
    {
        if (value.empty()) {
            if (!whyRequired.empty())
                failString(field, value, whyRequired);
            return;
        }
        if (value.find('\0') != std::string_view::npos)
            failString(field, value, "a path cannot contain a NUL byte");
    }

    Expected<void> result() const
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

private:
    const std::string &origin_;
    std::vector<std::string> lines_;
};

std::optional<uint16_t> parsePort(std::string_view s)
{
    uint32_t port = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || port == 0 || port > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(port);
}

// "HOST:PORT" or "[IPV6]:PORT" into host and port; nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> splitListen(std::string_view listen)
{
    std::string_view host, port;
    if (listen.starts_with('[')) {
        auto close = listen.find(']');
        if (close == std::string_view::npos || close + 1 >= listen.size() ||
            listen[close + 1] != ':')
            return std::nullopt;
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
    } else {
        auto colon = listen.rfind(':');
        if (colon == std::string_view::npos)
            return std::nullopt;
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return std::nullopt; // an IPv6 address needs brackets
    }
    auto p = parsePort(port);
    if (host.empty() || !p)
        return std::nullopt;
    bool printable = std::all_of(host.begin(), host.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (!printable)
        return std::nullopt;
    return std::pair<std::string, uint16_t>(std::string(host), *p);
}

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

std::string resolve(const std::filesystem::path &dir, const std::string &p)
{
    if (p.empty() || p.front() == '/')
        return p;
    return (dir / p).lexically_normal().string();
}

void resolvePaths(v1::DockConfig &c, const std::filesystem::path &dir)
{
    c.set_store_path(resolve(dir, c.store_path()));
    c.set_key_path(resolve(dir, c.key_path()));
    c.set_cert_path(resolve(dir, c.cert_path()));
    c.set_ca_path(resolve(dir, c.ca_path()));
    c.set_crl_path(resolve(dir, c.crl_path()));
    c.set_aek_key_path(resolve(dir, c.aek_key_path()));
    c.set_camera_config_dir(resolve(dir, c.camera_config_dir()));
}

Expected<void> validate(const v1::DockConfig &c, const std::string &origin)
{
    Checker ck(origin);
    if (c.format_version() != 1)
        ck.fail("format_version", std::to_string(c.format_version()),
                "must be 1 (the only dock config format this version reads); add "
                "\"format_version: 1\" at the top of the file");
    if (!isPrintableId(c.dock_id()))
        ck.failString("dock_id", c.dock_id(),
                      "must be 1 to 128 printable ASCII characters without leading or trailing "
                      "spaces (the dock certificate's common name)");
    if (!splitListen(c.listen()))
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

    const std::string text(asChars(*bytes));
    ConfigErrorCollector errors(path, text);
    google::protobuf::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.AllowUnknownField(false);
    parser.AllowUnknownExtension(false);
    if (!parser.ParseFromString(text, &loaded.config) || !errors.empty()) {
        std::string message = errors.joined();
        if (message.empty())
            message = path + ": not a valid dock config (protobuf text format)";
        return Error(Errc::Config, std::move(message));
    }

    std::error_code ec;
    auto absolute = std::filesystem::absolute(std::filesystem::path(path), ec);
    if (ec)
        return Error(Errc::Io,
                     "dock config " + path + ": cannot make the path absolute: " + ec.message());
    applyDefaults(loaded.config);
    resolvePaths(loaded.config, absolute.parent_path());
    BWC_TRY(validate(loaded.config, path));

    auto listen = splitListen(loaded.config.listen());
    loaded.host = listen->first;
    loaded.port = listen->second;
    return loaded;
}

} // namespace bwc::dock
