#include "tests/unit/firmware/capture/capture_test_util.h"

#include <algorithm>
#include <cstring>

namespace bwc::fw::test {

bool samePixels(const Frame &a, const Frame &b)
{
    if (a.width() != b.width() || a.height() != b.height())
        return false;
    for (int p = 0; p < 3; ++p) {
        for (uint32_t y = 0; y < a.planeHeight(p); ++y) {
            if (std::memcmp(a.plane(p) + static_cast<size_t>(y) * a.stride(p),
                            b.plane(p) + static_cast<size_t>(y) * b.stride(p),
                            a.planeWidth(p)) != 0)
                return false;
        }
    }
    return true;
}

void addLumaNoise(Frame &frame, int amplitude, uint32_t seed, uint32_t rows)
{
    Rng rng(seed);
    const uint32_t height = rows == 0 ? frame.height() : std::min(rows, frame.height());
    for (uint32_t y = 0; y < height; ++y) {
        uint8_t *row = frame.plane(0) + static_cast<size_t>(y) * frame.stride(0);
        for (uint32_t x = 0; x < frame.width(); ++x) {
            const int noise = static_cast<int>(rng.next() % (2 * amplitude + 1)) - amplitude;
            row[x] = static_cast<uint8_t>(std::clamp(row[x] + noise, 0, 255));
        }
    }
}

void fillFrame(Frame &frame, uint8_t value)
{
    for (int p = 0; p < 3; ++p) {
        for (uint32_t y = 0; y < frame.planeHeight(p); ++y)
            std::memset(frame.plane(p) + static_cast<size_t>(y) * frame.stride(p), value,
                        frame.planeWidth(p));
    }
}

} // namespace bwc::fw::test
