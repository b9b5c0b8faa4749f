#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/capture/video_source.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

Error openError(const VideoSourceOptions &options)
{
    auto source = openVideoSource(options);
    REQUIRE_FALSE(source.ok());
    return source.error();
}

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("video source options are validated", "[capture]")
{
    VideoSourceOptions options;
    options.kind = "webcam";
    Error e = openError(options);
    CHECK(e.code == Errc::Config);
    CHECK(contains(e.message, "'webcam' unknown"));
    CHECK(contains(e.message, "synthetic, file, v4l2, libcamera"));

    options = {};
    for (auto [w, h] : std::vector<std::pair<uint32_t, uint32_t>>{
             {0, 480}, {640, 0}, {641, 480}, {640, 481}, {0, 0}, {16384, 480}}) {
        CAPTURE(w, h);
        options.format = {w, h, 30};
        e = openError(options);
        CHECK(e.code == Errc::Config);
        CHECK(contains(e.message,
                       "size " + std::to_string(w) + "x" + std::to_string(h) + " invalid"));
    }
    for (uint32_t fps : {0u, 121u, 1000u}) {
        CAPTURE(fps);
        options.format = {640, 480, fps};
        e = openError(options);
        CHECK(e.code == Errc::Config);
        CHECK(contains(e.message, "frame rate " + std::to_string(fps) + " invalid"));
    }
    for (uint32_t fps : {1u, 120u}) {
        options.format = {640, 480, fps};
        CHECK(openVideoSource(options).ok());
    }

    options = {};
    options.kind = "file";
    e = openError(options);
    CHECK(e.code == Errc::Config);
    CHECK(contains(e.message, "needs a file path"));

    options.kind = "v4l2";
    e = openError(options);
    CHECK(e.code == Errc::Config);
    CHECK(contains(e.message, "needs a device node"));

    options.device = "/dev/video0";
    options.pixelFormat = "RGB24";
    e = openError(options);
    CHECK(e.code == Errc::Config);
    CHECK(contains(e.message, "pixel format 'RGB24' unknown"));
}

TEST_CASE("libcamera source without a camera fails cleanly", "[capture]")
{
    VideoSourceOptions options;
    options.kind = "libcamera";
    options.format = {1280, 720, 30};
    const int64_t before = monoNowNs();
    for (const char *id : {"", "/base/soc/i2c0mux/i2c@1/imx219@10"}) {
        CAPTURE(id);
        options.device = id;
        Error e = openError(options);
#if BWC_TEST_HAVE_LIBCAMERA
        // This machine has no camera: the manager starts and lists none.
        CHECK(e.code == Errc::Device);
        CHECK(contains(e.message, "libcamera: no camera found"));
#else
        CHECK(e.code == Errc::Config);
        CHECK(contains(e.message, "this build has no libcamera support"));
#endif
    }
    CHECK(monoNowNs() - before < 10'000'000'000); // no hang
}
