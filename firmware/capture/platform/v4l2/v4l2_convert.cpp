#include "firmware/capture/platform/v4l2/v4l2_convert.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <linux/videodev2.h>

namespace bwc::fw::v4l2 {

namespace {

bool isMjpeg(uint32_t fourcc)
{
    return fourcc == V4L2_PIX_FMT_MJPEG || fourcc == V4L2_PIX_FMT_JPEG;
}

bool matches(uint32_t fourcc, std::string_view name)
{
    if (name == "YUYV")
        return fourcc == V4L2_PIX_FMT_YUYV;
    if (name == "NV12")
        return fourcc == V4L2_PIX_FMT_NV12;
    if (name == "MJPEG")
        return isMjpeg(fourcc);
    return false;
}

std::string offeredList(const std::vector<uint32_t> &offered)
{
    if (offered.empty())
        return "no formats";
    std::string list;
    for (uint32_t fourcc : offered) {
        if (!list.empty())
            list += ", ";
        list += fourccName(fourcc);
    }
    return list;
}

// Row kernels in the simple form compilers vectorise: restrict parameters, one pass per
// row. CMake builds this file with -O3 outside Debug builds, where GCC vectorises them.

void yuyvLumaRow(const uint8_t *__restrict src, uint8_t *__restrict y, uint32_t width)
{
    for (size_t x = 0; x < width; ++x) // size_t: 2 * x must not wrap, or nothing vectorises
        y[x] = src[2 * x];
}

// The chroma of two YUYV lines averaged (rounding up): one line of U and one of V.
void yuyvChromaRow(const uint8_t *__restrict top, const uint8_t *__restrict bottom,
                   uint8_t *__restrict u, uint8_t *__restrict v, uint32_t pairs)
{
    for (size_t i = 0; i < pairs; ++i) {
        u[i] = static_cast<uint8_t>((top[4 * i + 1] + bottom[4 * i + 1] + 1) >> 1);
        v[i] = static_cast<uint8_t>((top[4 * i + 3] + bottom[4 * i + 3] + 1) >> 1);
    }
}

void deinterleaveRow(const uint8_t *__restrict uv, uint8_t *__restrict u, uint8_t *__restrict v,
                     uint32_t count)
{
    for (size_t i = 0; i < count; ++i) {
        u[i] = uv[2 * i];
        v[i] = uv[2 * i + 1];
    }
}

} // namespace

std::string fourccName(uint32_t fourcc)
{
    std::string name(4, '?');
    for (size_t i = 0; i < 4; ++i) {
        const auto c = static_cast<char>((fourcc >> (8 * i)) & 0xff);
        if (c >= 0x20 && c < 0x7f)
            name[i] = c;
    }
    // Trailing spaces pad short names ("Y8  "); they carry no meaning.
    while (!name.empty() && name.back() == ' ')
        name.pop_back();
    return name;
}

Expected<uint32_t> chooseCaptureFormat(const std::vector<uint32_t> &offered,
                                       std::string_view requested)
{
    static constexpr std::array<std::string_view, 3> kPreference = {"NV12", "YUYV", "MJPEG"};
    if (!requested.empty()) {
        if (std::find(kPreference.begin(), kPreference.end(), requested) == kPreference.end())
            return Error(Errc::Config, "pixel format '" + std::string(requested) +
                                           "' unknown; use YUYV, NV12, MJPEG or leave "
                                           "video.pixel_format empty");
        for (uint32_t fourcc : offered) {
            if (matches(fourcc, requested))
                return fourcc;
        }
        return Error(Errc::Config, "pixel format " + std::string(requested) +
                                       " not offered (the device offers " + offeredList(offered) +
                                       "); set video.pixel_format to one of those or leave "
                                       "it empty");
    }
    for (std::string_view name : kPreference) {
        for (uint32_t fourcc : offered) {
            if (matches(fourcc, name))
                return fourcc;
        }
    }
    return Error(Errc::Device, "offers none of the supported pixel formats NV12, YUYV, MJPEG "
                               "(it offers " +
                                   offeredList(offered) + ")");
}

void yuyvToI420(const uint8_t *src, size_t srcStride, Frame &dst)
{
    const uint32_t width = dst.width();
    const uint32_t height = dst.height();
    for (uint32_t y = 0; y < height; ++y)
        yuyvLumaRow(src + static_cast<size_t>(y) * srcStride,
                    dst.plane(0) + static_cast<size_t>(y) * dst.stride(0), width);
    for (uint32_t y = 0; y < height / 2; ++y) {
        const uint8_t *top = src + static_cast<size_t>(2 * y) * srcStride;
        yuyvChromaRow(top, top + srcStride, dst.plane(1) + static_cast<size_t>(y) * dst.stride(1),
                      dst.plane(2) + static_cast<size_t>(y) * dst.stride(2), width / 2);
    }
}

void nv12ToI420(const uint8_t *srcY, size_t strideY, const uint8_t *srcUv, size_t strideUv,
                Frame &dst)
{
    const uint32_t width = dst.width();
    const uint32_t height = dst.height();
    for (uint32_t y = 0; y < height; ++y)
        std::memcpy(dst.plane(0) + static_cast<size_t>(y) * dst.stride(0),
                    srcY + static_cast<size_t>(y) * strideY, width);
    for (uint32_t y = 0; y < height / 2; ++y)
        deinterleaveRow(srcUv + static_cast<size_t>(y) * strideUv,
                        dst.plane(1) + static_cast<size_t>(y) * dst.stride(1),
                        dst.plane(2) + static_cast<size_t>(y) * dst.stride(2), width / 2);
}

} // namespace bwc::fw::v4l2
