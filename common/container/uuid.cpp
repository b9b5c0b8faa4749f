#include "common/container/container.h"

namespace bwc::container {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Positions of the dashes in "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
constexpr bool isDashPosition(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

std::string uuidToString(const ClipUuid &uuid)
{
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < uuid.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out.push_back('-');
        out.push_back(kHexDigits[uuid[i] >> 4]);
        out.push_back(kHexDigits[uuid[i] & 0xf]);
    }
    return out;
}

std::optional<ClipUuid> uuidFromString(std::string_view text)
{
    if (text.size() != 36)
        return std::nullopt;
    ClipUuid uuid{};
    size_t byte = 0;
    for (size_t i = 0; i < text.size();) {
        if (isDashPosition(i)) {
            if (text[i] != '-')
                return std::nullopt;
            ++i;
            continue;
        }
        const int hi = hexValue(text[i]);
        const int lo = hexValue(text[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        uuid[byte++] = uint8_t((hi << 4) | lo);
        i += 2;
    }
    return uuid;
}

Expected<ClipUuid> newClipUuid(const crypto::Backend &backend)
{
    ClipUuid uuid{};
    auto r = backend.randomBytes(uuid);
    if (!r)
        return std::move(r).error().context("generating a clip uuid");
    uuid[6] = uint8_t((uuid[6] & 0x0f) | 0x40); // version 4
    uuid[8] = uint8_t((uuid[8] & 0x3f) | 0x80); // RFC 4122 variant
    return uuid;
}

} // namespace bwc::container
