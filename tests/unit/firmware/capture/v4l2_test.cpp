#include <linux/videodev2.h>

#include <catch2/catch_test_macros.hpp>

#include "firmware/capture/platform/v4l2/v4l2_convert.h"
#include "firmware/capture/video_source.h"
#include "tests/unit/firmware/capture/capture_test_util.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

constexpr uint32_t kRgb24 = V4L2_PIX_FMT_RGB24;
constexpr uint32_t kGrey = V4L2_PIX_FMT_GREY;

uint8_t pixel(const Frame &f, int plane, uint32_t x, uint32_t y)
{
    return f.plane(plane)[static_cast<size_t>(y) * f.stride(plane) + x];
}

} // namespace

TEST_CASE("v4l2 fourcc names", "[capture]")
{
    CHECK(v4l2::fourccName(V4L2_PIX_FMT_YUYV) == "YUYV");
    CHECK(v4l2::fourccName(V4L2_PIX_FMT_NV12) == "NV12");
    CHECK(v4l2::fourccName(V4L2_PIX_FMT_MJPEG) == "MJPG");
    CHECK(v4l2::fourccName(V4L2_PIX_FMT_GREY) == "GREY");
    CHECK(v4l2::fourccName(v4l2_fourcc('Y', '8', ' ', ' ')) == "Y8");
    CHECK(v4l2::fourccName(0x01020341) == "A???");
}

TEST_CASE("v4l2 format choice: best offered is NV12, then YUYV, then MJPEG", "[capture]")
{
    using v4l2::chooseCaptureFormat;
    CHECK(*chooseCaptureFormat({V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_NV12}, "") ==
          V4L2_PIX_FMT_NV12);
    CHECK(*chooseCaptureFormat({V4L2_PIX_FMT_MJPEG, kRgb24, V4L2_PIX_FMT_YUYV}, "") ==
          V4L2_PIX_FMT_YUYV);
    CHECK(*chooseCaptureFormat({kRgb24, V4L2_PIX_FMT_MJPEG}, "") == V4L2_PIX_FMT_MJPEG);
    CHECK(*chooseCaptureFormat({V4L2_PIX_FMT_JPEG}, "") == V4L2_PIX_FMT_JPEG);

    auto none = chooseCaptureFormat({kRgb24, kGrey}, "");
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::Device);
    CHECK(none.error().message.find("offers none of the supported pixel formats") !=
          std::string::npos);
    CHECK(none.error().message.find("RGB3, GREY") != std::string::npos);

    auto empty = chooseCaptureFormat({}, "");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().code == Errc::Device);
    CHECK(empty.error().message.find("no formats") != std::string::npos);
}

TEST_CASE("v4l2 format choice: a requested format must be offered", "[capture]")
{
    using v4l2::chooseCaptureFormat;
    const std::vector<uint32_t> offered = {V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV,
                                           V4L2_PIX_FMT_MJPEG};
    CHECK(*chooseCaptureFormat(offered, "YUYV") == V4L2_PIX_FMT_YUYV);
    CHECK(*chooseCaptureFormat(offered, "MJPEG") == V4L2_PIX_FMT_MJPEG);
    CHECK(*chooseCaptureFormat(offered, "NV12") == V4L2_PIX_FMT_NV12);
    CHECK(*chooseCaptureFormat({kRgb24, V4L2_PIX_FMT_JPEG}, "MJPEG") == V4L2_PIX_FMT_JPEG);

    auto missing = chooseCaptureFormat({V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG}, "NV12");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::Config);
    CHECK(missing.error().message.find("NV12 not offered") != std::string::npos);
    CHECK(missing.error().message.find("YUYV, MJPG") != std::string::npos);

    auto unknown = chooseCaptureFormat(offered, "RGB3");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::Config);
    CHECK(unknown.error().message.find("'RGB3' unknown") != std::string::npos);
}

TEST_CASE("YUYV to I420 matches a per-pixel reference", "[capture]")
{
    for (auto [w, h, pad] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
             {320, 240, 0}, {2, 2, 0}, {6, 4, 10}, {642, 362, 62}}) {
        CAPTURE(w, h, pad);
        const size_t stride = w * 2 + pad;
        std::vector<uint8_t> src(stride * h);
        test::Rng rng(w * 31 + h);
        for (auto &b : src)
            b = static_cast<uint8_t>(rng.next());
        Frame frame(w, h);
        test::fillFrame(frame, 1);
        v4l2::yuyvToI420(src.data(), stride, frame);
        bool ok = true;
        for (uint32_t y = 0; y < h; ++y)
            for (uint32_t x = 0; x < w; ++x)
                ok &= pixel(frame, 0, x, y) == src[y * stride + 2 * x];
        for (uint32_t y = 0; y < h / 2; ++y) {
            for (uint32_t x = 0; x < w / 2; ++x) {
                const uint8_t *top = &src[(2 * y) * stride + 4 * x];
                const uint8_t *bottom = &src[(2 * y + 1) * stride + 4 * x];
                ok &= pixel(frame, 1, x, y) == (top[1] + bottom[1] + 1) / 2;
                ok &= pixel(frame, 2, x, y) == (top[3] + bottom[3] + 1) / 2;
            }
        }
        CHECK(ok);
    }
}

TEST_CASE("NV12 to I420 matches a per-pixel reference", "[capture]")
{
    for (auto [w, h, pad] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
             {320, 240, 0}, {2, 2, 0}, {6, 4, 26}, {642, 362, 126}}) {
        CAPTURE(w, h, pad);
        const size_t stride = w + pad;
        std::vector<uint8_t> luma(stride * h), chroma(stride * (h / 2));
        test::Rng rng(w * 17 + h);
        for (auto &b : luma)
            b = static_cast<uint8_t>(rng.next());
        for (auto &b : chroma)
            b = static_cast<uint8_t>(rng.next());
        Frame frame(w, h);
        test::fillFrame(frame, 1);
        v4l2::nv12ToI420(luma.data(), stride, chroma.data(), stride, frame);
        bool ok = true;
        for (uint32_t y = 0; y < h; ++y)
            for (uint32_t x = 0; x < w; ++x)
                ok &= pixel(frame, 0, x, y) == luma[y * stride + x];
        for (uint32_t y = 0; y < h / 2; ++y) {
            for (uint32_t x = 0; x < w / 2; ++x) {
                ok &= pixel(frame, 1, x, y) == chroma[y * stride + 2 * x];
                ok &= pixel(frame, 2, x, y) == chroma[y * stride + 2 * x + 1];
            }
        }
        CHECK(ok);
    }
}

TEST_CASE("v4l2 source: a missing device node is a device error naming it", "[capture]")
{
    VideoSourceOptions options;
    options.kind = "v4l2";
    options.device = "/dev/video-bwc-test-missing";
    options.format = {640, 480, 30};
    auto source = openVideoSource(options);
    REQUIRE_FALSE(source.ok());
    CHECK(source.error().code == Errc::Device);
    CHECK(source.error().message.find("v4l2 /dev/video-bwc-test-missing: cannot open: No such "
                                      "file or directory") != std::string::npos);
}

TEST_CASE("v4l2 source: a node that is not V4L2 is a device error", "[capture]")
{
    VideoSourceOptions options;
    options.kind = "v4l2";
    options.device = "/dev/null";
    options.format = {640, 480, 30};
    auto source = openVideoSource(options);
    REQUIRE_FALSE(source.ok());
    CHECK(source.error().code == Errc::Device);
    CHECK(source.error().message.find("v4l2 /dev/null: is not a V4L2 device") != std::string::npos);
}
