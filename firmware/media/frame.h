#pragma once

// A picture in planar YUV 4:2:0 (I420), the one format every stage after capture works
// in: the watermark draws on it and the encoder takes it. A source allocates its frames
// once at start-up and reuses them; nothing in the per-frame path allocates.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bwc::fw {

struct VideoFormat {
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t fps = 0;
};

class Frame
{
public:
    Frame() = default;
    // Even width and height; strides are rounded up to 32 bytes.
    Frame(uint32_t width, uint32_t height);

    uint32_t width() const { return width_; }
    uint32_t height() const { return height_; }
    // Plane 0 is Y (width x height), planes 1 and 2 are U and V (half size each way).
    uint8_t *plane(int i) { return storage_.data() + offsets_[i]; }
    const uint8_t *plane(int i) const { return storage_.data() + offsets_[i]; }
    int stride(int i) const { return strides_[i]; }
    uint32_t planeWidth(int i) const { return i == 0 ? width_ : width_ / 2; }
    uint32_t planeHeight(int i) const { return i == 0 ? height_ : height_ / 2; }
    bool empty() const { return storage_.empty(); }

    // The source's frame counter: consecutive frames have consecutive indexes, a gap means
    // the source dropped frames. The encoder derives presentation time from it.
    uint64_t index = 0;
    // CLOCK_MONOTONIC time of capture, in nanoseconds.
    int64_t monoNs = 0;

private:
    uint32_t width_ = 0;
    uint32_t height_ = 0;
    std::array<size_t, 3> offsets_{};
    std::array<int, 3> strides_{};
    std::vector<uint8_t> storage_;
};

} // namespace bwc::fw
