#pragma once

#include <cstdint>
#include <string>

#include "firmware/media/frame.h"

namespace bwc::fw::test {

// True when the visible pixels of all three planes are equal (padding is ignored).
bool samePixels(const Frame &a, const Frame &b);
// Adds uniform noise in [-amplitude, amplitude] to the luma pixels (clamped) of the first
// `rows` lines (all when 0), seeded.
void addLumaNoise(Frame &frame, int amplitude, uint32_t seed, uint32_t rows = 0);
// Fills every plane with `value`.
void fillFrame(Frame &frame, uint8_t value);
// Small deterministic generator for test data.
class Rng
{
public:
    explicit Rng(uint64_t seed) : state_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
    uint32_t next()
    {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(state_ >> 33);
    }

private:
    uint64_t state_;
};

} // namespace bwc::fw::test
