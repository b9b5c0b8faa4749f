#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bwc {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using MutableByteView = std::span<uint8_t>;

inline ByteView asBytes(std::string_view s)
{
    return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}
inline std::string_view asChars(ByteView b)
{
    return {reinterpret_cast<const char *>(b.data()), b.size()};
}
inline Bytes toBytes(std::string_view s)
{
    return Bytes(s.begin(), s.end());
}

// Lower-case hex.
std::string toHex(ByteView data);
// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
int hexDigitValue(char c);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> fromHex(std::string_view hex);

// Zeroes memory in a way the compiler cannot elide.
void secureZero(void *data, size_t len);

// Constant-time comparison of two equal-length buffers (false if lengths differ).
bool constantTimeEqual(ByteView a, ByteView b);

// A fixed-size secret (key, scalar) that is zeroised when it goes away.
template <size_t N> class SecretArray {
public:
    SecretArray() { data_.fill(0); }
    explicit SecretArray(ByteView src)
    {
        data_.fill(0);
        if (src.size() == N)
            std::copy(src.begin(), src.end(), data_.begin());
    }
    SecretArray(const SecretArray &) = default;
    SecretArray &operator=(const SecretArray &) = default;
    ~SecretArray() { secureZero(data_.data(), N); }

    uint8_t *data() { return data_.data(); }
    const uint8_t *data() const { return data_.data(); }
    static constexpr size_t size() { return N; }
    ByteView view() const { return {data_.data(), N}; }
    MutableByteView span() { return {data_.data(), N}; }
    uint8_t &operator[](size_t i) { return data_[i]; }
    const uint8_t &operator[](size_t i) const { return data_[i]; }

private:
    std::array<uint8_t, N> data_;
};

// A variable-size secret that is zeroised when it goes away or is resized down.
class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(size_t n) : data_(n, 0) {}
    explicit SecretBytes(ByteView src) : data_(src.begin(), src.end()) {}
    SecretBytes(const SecretBytes &) = default;
    SecretBytes &operator=(const SecretBytes &other)
    {
        if (this != &other) {
            wipe();
            data_ = other.data_;
        }
        return *this;
    }
    SecretBytes(SecretBytes &&other) noexcept : data_(std::move(other.data_)) {}
    SecretBytes &operator=(SecretBytes &&other) noexcept
    {
        if (this != &other) {
            wipe();
            data_ = std::move(other.data_);
        }
        return *this;
    }
    ~SecretBytes() { wipe(); }

    uint8_t *data() { return data_.data(); }
    const uint8_t *data() const { return data_.data(); }
    size_t size() const { return data_.size(); }
    bool empty() const { return data_.empty(); }
    ByteView view() const { return {data_.data(), data_.size()}; }
    MutableByteView span() { return {data_.data(), data_.size()}; }
    void resize(size_t n)
    {
        if (n < data_.size())
            secureZero(data_.data() + n, data_.size() - n);
        data_.resize(n);
    }
    void wipe()
    {
        secureZero(data_.data(), data_.size());
        data_.clear();
    }

private:
    std::vector<uint8_t> data_;
};

// Big-endian integer encoding for the wire and file formats.
inline void putU16(uint8_t *p, uint16_t v)
{
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline void putU32(uint8_t *p, uint32_t v)
{
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}
inline uint16_t getU16(const uint8_t *p)
{
    return uint16_t((uint16_t(p[0]) << 8) | p[1]);
}
inline uint32_t getU32(const uint8_t *p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

} // namespace bwc
