#include "common/base/bytes.h"

#include <cstring>
#include <string.h>

namespace bwc {

std::string toHex(ByteView data)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (uint8_t b : data) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xf]);
    }
    return out;
}

int hexDigitValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<Bytes> fromHex(std::string_view hex)
{
    if (hex.size() % 2 != 0)
        return std::nullopt;
    Bytes out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hexDigitValue(hex[2 * i]);
        int lo = hexDigitValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = uint8_t((hi << 4) | lo);
    }
    return out;
}

void secureZero(void *data, size_t len)
{
    if (len == 0)
        return;
    // glibc and musl: guaranteed not to be optimised away.
    explicit_bzero(data, len);
}

bool constantTimeEqual(ByteView a, ByteView b)
{
    if (a.size() != b.size())
        return false;
    uint8_t diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= uint8_t(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace bwc
