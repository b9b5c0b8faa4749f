#include "firmware/media/frame.h"

namespace bwc::fw {

namespace {
constexpr int alignUp(uint32_t v)
{
    return static_cast<int>((v + 31u) & ~31u);
}
} // namespace

Frame::Frame(uint32_t width, uint32_t height) : width_(width & ~1u), height_(height & ~1u)
{
    strides_ = {alignUp(width_), alignUp(width_ / 2), alignUp(width_ / 2)};
    offsets_[0] = 0;
    offsets_[1] = static_cast<size_t>(strides_[0]) * height_;
    offsets_[2] = offsets_[1] + static_cast<size_t>(strides_[1]) * (height_ / 2);
    storage_.assign(offsets_[2] + static_cast<size_t>(strides_[2]) * (height_ / 2), 0);
}

} // namespace bwc::fw
