#pragma once

// Internal: the parts of the V4L2 source that need no device (format choice and pixel
// conversions), kept apart so the unit tests exercise them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/error.h"
#include "firmware/media/frame.h"

namespace bwc::fw::v4l2 {

// "YUYV" for V4L2_PIX_FMT_YUYV: the four characters of a fourcc, non-printable ones as '?'.
std::string fourccName(uint32_t fourcc);

// Picks the capture format from the formats the device offers (VIDIOC_ENUM_FMT order).
// `requested` is "YUYV", "NV12", "MJPEG" (satisfied by MJPG or JPEG) or empty for the best
// offered: NV12, then YUYV, then MJPEG. Errc::Config when the requested format is unknown or
// not offered, Errc::Device when the device offers none of them; the message lists what the
// device offers.
Expected<uint32_t> chooseCaptureFormat(const std::vector<uint32_t> &offered,
                                       std::string_view requested);

// Packed 4:2:2 YUYV (Y0 U Y1 V per two pixels) to I420 of dst's size; the chroma of each
// pair of lines is averaged (rounding up). The source holds dst.width() x dst.height() pixels.
void yuyvToI420(const uint8_t *src, size_t srcStride, Frame &dst);

// Semi-planar NV12 (Y plane, then interleaved U V at half resolution) to I420 of dst's size.
void nv12ToI420(const uint8_t *srcY, size_t strideY, const uint8_t *srcUv, size_t strideUv,
                Frame &dst);

} // namespace bwc::fw::v4l2
