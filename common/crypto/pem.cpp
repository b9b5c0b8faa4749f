#include "common/crypto/pem.h"

#include "common/base/file.h"

namespace bwc::crypto {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decodeChar(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

} // namespace

std::string base64Encode(ByteView data)
{
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    if (size_t rest = data.size() - i) {
        uint32_t v = uint32_t(data[i]) << 16;
        if (rest == 2)
            v |= uint32_t(data[i + 1]) << 8;
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<Bytes> base64Decode(std::string_view text)
{
    Bytes out;
    uint32_t acc = 0;
    int bits = 0;
    size_t padding = 0;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding)
            return std::nullopt; // data after padding
        int v = decodeChar(c);
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(uint8_t(acc >> bits));
        }
    }
    if (padding > 2 || bits >= 6)
        return std::nullopt;
    return out;
}

std::string toPem(std::string_view label, ByteView der)
{
    std::string b64 = base64Encode(der);
    std::string out = "-----BEGIN " + std::string(label) + "-----\n";
    for (size_t i = 0; i < b64.size(); i += 64)
        out += b64.substr(i, 64) + "\n";
    out += "-----END " + std::string(label) + "-----\n";
    return out;
}

Expected<std::vector<PemBlock>> parsePem(std::string_view text, std::string_view what)
{
    std::vector<PemBlock> blocks;
    size_t pos = 0;
    static constexpr std::string_view kBegin = "-----BEGIN ";
    static constexpr std::string_view kDash = "-----";
    while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
        size_t labelStart = pos + kBegin.size();
        size_t labelEnd = text.find(kDash, labelStart);
        if (labelEnd == std::string_view::npos)
            return Error(Errc::Format, std::string(what) + ": unterminated PEM BEGIN line");
        std::string label(text.substr(labelStart, labelEnd - labelStart));
        size_t bodyStart = labelEnd + kDash.size();
        std::string endLine = "-----END " + label + "-----";
        size_t bodyEnd = text.find(endLine, bodyStart);
        if (bodyEnd == std::string_view::npos)
            return Error(Errc::Format, std::string(what) + ": PEM block \"" + label +
                                           "\" has no END line; the file is truncated");
        auto der = base64Decode(text.substr(bodyStart, bodyEnd - bodyStart));
        if (!der || der->empty())
            return Error(Errc::Format, std::string(what) + ": PEM block \"" + label +
                                           "\" is not valid base64");
        blocks.push_back({label, std::move(*der)});
        pos = bodyEnd + endLine.size();
    }
    return blocks;
}

Expected<std::vector<Bytes>> readPemFile(const std::string &path, std::string_view label)
{
    BWC_ASSIGN(text, readTextFile(path));
    BWC_ASSIGN(blocks, parsePem(text, path));
    std::vector<Bytes> out;
    for (auto &b : blocks)
        if (b.label == label)
            out.push_back(std::move(b.der));
    if (out.empty())
        return Error(Errc::Format, path + ": no " + std::string(label) +
                                       " block; is this the right PEM file?");
    return out;
}

} // namespace bwc::crypto
