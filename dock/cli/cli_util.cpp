#include "dock/cli/cli_util.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/json.h"

namespace bwc::cli {

std::string formatError(std::string_view command, const Error &error)
{
    std::string out = "bwc";
    if (!command.empty()) {
        out += ' ';
        out += command;
    }
    out += ": ";
    out += error.message;
    return out;
}

Expected<ClipSiblings> clipSiblings(const std::string &clipPath)
{
    const size_t n = kClipSuffix.size();
    const std::string name = baseName(clipPath);
    if (name.size() <= n || name.compare(name.size() - n, n, kClipSuffix) != 0)
        return Error(Errc::Usage, clipPath + ": not a clip file name (expected <uuid>" +
                                      std::string(kClipSuffix) +
                                      "); give the clip that `bwc seal` or the dock wrote, "
                                      "or a bundle directory");
    ClipSiblings s;
    s.stem = clipPath.substr(0, clipPath.size() - n);
    s.manifestPath = s.stem + std::string(kManifestSuffix);
    s.certPath = s.stem + std::string(kCertChainSuffix);
    return s;
}

ClipSiblings sealOutputs(const std::string &outDir, std::string_view uuid)
{
    std::string dir = outDir;
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
    ClipSiblings s;
    s.stem = dir + (dir.empty() || dir.back() != '/' ? "/" : "") + std::string(uuid);
    s.manifestPath = s.stem + std::string(kManifestSuffix);
    s.certPath = s.stem + std::string(kCertChainSuffix);
    return s;
}

Expected<BackendKind> parseBackendName(std::string_view name)
{
    if (name == "mbedtls")
        return BackendKind::Mbedtls;
    if (name == "openssl")
        return BackendKind::Openssl;
    return Error(Errc::Usage, "--backend " + std::string(name) +
                                  ": unknown crypto backend; use mbedtls or openssl");
}

Expected<void> checkDays(std::string_view option, int days)
{
    if (days < 1 || days > 36500)
        return Error(Errc::Usage, std::string(option) + " " + std::to_string(days) +
                                      ": out of range; give a number of days from 1 to 36500");
    return {};
}

Expected<void> requireFile(std::string_view what, const std::string &path, std::string_view hint)
{
    std::string prefix = std::string(what);
    if (!prefix.empty())
        prefix += ' ';
    prefix += path;
    struct stat st {
    };
    if (::stat(path.c_str(), &st) != 0)
        return Error(Errc::NotFound, prefix + ": " + errnoText(errno) + "; " + std::string(hint));
    if (S_ISDIR(st.st_mode))
        return Error(Errc::NotFound, prefix + ": is a directory, not a file; " + std::string(hint));
    if (!S_ISREG(st.st_mode))
        return Error(Errc::NotFound, prefix + ": not a regular file; " + std::string(hint));
    return {};
}

bool isBundleDirectory(const std::string &path)
{
    struct stat st {
    };
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    return pathExists(path + "/" + std::string(kBundleIndexName));
}

Expected<Bytes> selectPrivateKeyDer(const std::vector<crypto::PemBlock> &blocks,
                                    std::string_view what)
{
    for (const crypto::PemBlock &b : blocks) {
        if (b.label == "PRIVATE KEY" || b.label == "EC PRIVATE KEY")
            return b.der;
    }
    return Error(Errc::Format, std::string(what) +
                                   ": no PRIVATE KEY block; is this a PEM private key file "
                                   "(for example recipients/<name>.key of the agency PKI)?");
}

Expected<crypto::P256KeyPair> loadPrivateKey(const crypto::Backend &backend,
                                             const std::string &path)
{
    BWC_ASSIGN(text, readTextFile(path, 1u << 20));
    BWC_ASSIGN(blocks, crypto::parsePem(text, path));
    BWC_ASSIGN(der, selectPrivateKeyDer(blocks, path));
    auto key = backend.parsePrivateKeyDer(der);
    secureZero(der.data(), der.size());
    secureZero(text.data(), text.size());
    if (!key)
        return std::move(key).error().context(path);
    return key;
}

std::string humanBytes(uint64_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
    return buf;
}

std::optional<std::string> parseClipUuid(std::string_view text)
{
    std::string digits;
    if (text.size() == 36) {
        for (size_t i = 0; i < text.size(); ++i) {
            const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash != (text[i] == '-'))
                return std::nullopt;
            if (!dash)
                digits += text[i];
        }
    } else if (text.size() == 32) {
        digits = text;
    } else {
        return std::nullopt;
    }
    std::string raw;
    for (size_t i = 0; i < digits.size(); i += 2) {
        const int hi = hexDigitValue(digits[i]), lo = hexDigitValue(digits[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        raw += static_cast<char>(hi * 16 + lo);
    }
    return raw;
}

std::string formatClipUuid(std::string_view raw)
{
    if (raw.empty())
        return "-";
    std::string hex = toHex(asBytes(raw));
    if (raw.size() != 16)
        return hex;
    for (size_t at : {8, 13, 18, 23})
        hex.insert(at, 1, '-');
    return hex;
}

Expected<VerifyTarget> classifyVerifyTarget(const std::string &arg)
{
    struct stat st {
    };
    if (::stat(arg.c_str(), &st) == 0)
        return VerifyTarget::Path;
    if (parseClipUuid(arg))
        return VerifyTarget::StoredClip;
    return Error(Errc::Usage,
                 arg + ": no such file or directory, and not a clip uuid (32 hex digits or "
                       "8-4-4-4-12); give a clip file (<uuid>.bwcclip), an export bundle "
                       "directory, or the uuid of a clip in the dock's store (`bwc list`)");
}

Expected<int64_t> parseUtcArgument(std::string_view option, std::string_view text)
{
    auto bad = [&]() {
        return Error(Errc::Usage, std::string(option) + " " + std::string(text) +
                                      ": not a UTC time; give YYYY-MM-DD or "
                                      "YYYY-MM-DDTHH:MM[:SS[.mmm]]Z, e.g. 2026-11-23T09:30Z");
    };
    std::string t(text);
    if (t.size() == 10)
        t += "T00:00:00";
    if (t.size() < 16)
        return bad();
    if (t[10] == ' ')
        t[10] = 'T';
    if (!t.empty() && (t.back() == 'Z' || t.back() == 'z'))
        t.pop_back();
    if (t.size() == 16)
        t += ":00";
    t += 'Z';
    auto ms = parseUtcMs(t);
    if (!ms)
        return bad();
    return *ms;
}

Expected<void> requireReason(std::string_view command, const std::string &reason)
{
    for (char c : reason)
        if (!std::isspace(static_cast<unsigned char>(c)))
            return {};
    return Error(Errc::Usage, "--reason is required: `bwc " + std::string(command) +
                                  "` records who did it and why in the dock's audit log; give "
                                  "--reason \"<case number or justification>\"");
}

std::string defaultActor()
{
    char name[256] = {};
    if (::getlogin_r(name, sizeof(name)) == 0 && name[0] != '\0')
        return name;
    if (const passwd *pw = ::getpwuid(::getuid()); pw && pw->pw_name && *pw->pw_name)
        return pw->pw_name;
    const char *user = std::getenv("USER");
    return user && *user ? user : "unknown";
}

std::string jsonString(std::string_view text)
{
    return jsonQuote(text);
}

} // namespace bwc::cli
