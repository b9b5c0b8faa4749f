#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "firmware/overlay/watermark.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

// A frame with every pixel well away from the box's dark level and the text's white, so
// every pixel under the box changes and none outside it can by accident.
Frame makeFrame(uint32_t w, uint32_t h)
{
    Frame f(w, h);
    for (int p = 0; p < 3; ++p) {
        // Padding bytes too (they must stay as they are).
        const size_t planeBytes = static_cast<size_t>(f.stride(p)) * f.planeHeight(p);
        std::memset(f.plane(p), 0x5a, planeBytes);
        for (uint32_t y = 0; y < f.planeHeight(p); ++y)
            for (uint32_t x = 0; x < f.planeWidth(p); ++x)
                f.plane(p)[y * f.stride(p) + x] =
                    static_cast<uint8_t>(p == 0 ? 90 + (x + 2 * y) % 100 : 60 + (3 * x + y) % 40);
    }
    return f;
}

std::vector<uint8_t> bytesOf(const Frame &f)
{
    const uint8_t *begin = f.plane(0);
    const uint8_t *end = f.plane(2) + static_cast<size_t>(f.stride(2)) * f.planeHeight(2);
    return {begin, end};
}

struct Rect {
    uint32_t x0 = UINT32_MAX, y0 = UINT32_MAX, x1 = 0, y1 = 0; // x1, y1 exclusive
    bool empty() const { return x0 == UINT32_MAX; }
};

// Bounding rectangle of the pixels of plane p that differ between a and b, over the whole
// stride (padding included).
Rect changedRect(const Frame &a, const Frame &b, int p)
{
    Rect r;
    for (uint32_t y = 0; y < a.planeHeight(p); ++y)
        for (uint32_t x = 0; x < static_cast<uint32_t>(a.stride(p)); ++x)
            if (a.plane(p)[y * a.stride(p) + x] != b.plane(p)[y * b.stride(p) + x]) {
                r.x0 = std::min(r.x0, x);
                r.y0 = std::min(r.y0, y);
                r.x1 = std::max(r.x1, x + 1);
                r.y1 = std::max(r.y1, y + 1);
            }
    return r;
}

std::unique_ptr<Watermark> makeWatermark(uint32_t w, uint32_t h)
{
    WatermarkOptions opts;
    opts.frameWidth = w;
    opts.frameHeight = h;
    auto wm = Watermark::create(opts);
    REQUIRE(wm.ok());
    return std::move(wm).value();
}

const std::vector<std::string> kLines = {"CAM-0042  OFFICER 1234", "2026-11-23 14:05:09Z DOCK",
                                         "52.52000N 13.40500E"};

} // namespace

TEST_CASE("watermarkLines formats id, officer, UTC time with clock mark, and location")
{
    WatermarkFields f;
    f.deviceId = "CAM-0042";
    f.officerId = "1234";
    f.utcMs = 1795442709750; // 2026-11-23 14:05:09.750 UTC: shown to the second
    f.clockSource = v1::CLOCK_SOURCE_DOCK;
    f.latitudeDeg = 52.52;
    f.longitudeDeg = 13.405;
    CHECK(watermarkLines(f) == kLines);

    WatermarkFields south;
    south.deviceId = "CAM-7";
    south.utcMs = 951782400000; // 2000-02-29 00:00:00
    south.clockSource = v1::CLOCK_SOURCE_GNSS;
    south.latitudeDeg = -33.8688;
    south.longitudeDeg = -151.2093;
    CHECK(watermarkLines(south) == std::vector<std::string>{"CAM-7  OFFICER -",
                                                            "2000-02-29 00:00:00Z GNSS",
                                                            "33.86880S 151.20930W"});

    // Only one coordinate known: no location line.
    WatermarkFields half;
    half.deviceId = "CAM-1";
    half.officerId = "A-9";
    half.utcMs = 2147483648000; // one second past the 32-bit time_t limit
    half.clockSource = v1::CLOCK_SOURCE_NTP;
    half.latitudeDeg = 1.0;
    CHECK(watermarkLines(half) ==
          std::vector<std::string>{"CAM-1  OFFICER A-9", "2038-01-19 03:14:08Z NTP"});

    // Before 1970 the time still floors to the second; a coordinate that rounds to zero
    // takes the positive hemisphere.
    WatermarkFields early;
    early.deviceId = "CAM-2";
    early.utcMs = -1;
    early.clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    early.latitudeDeg = -0.000001;
    early.longitudeDeg = 0.000004;
    CHECK(watermarkLines(early) == std::vector<std::string>{"CAM-2  OFFICER -",
                                                            "1969-12-31 23:59:59Z UNSYNCED",
                                                            "0.00000N 0.00000E"});

    WatermarkFields marks;
    marks.deviceId = "C";
    marks.utcMs = 0;
    marks.clockSource = v1::CLOCK_SOURCE_RTC;
    CHECK(watermarkLines(marks)[1] == "1970-01-01 00:00:00Z RTC");
    marks.clockSource = v1::CLOCK_SOURCE_MANUAL;
    CHECK(watermarkLines(marks)[1] == "1970-01-01 00:00:00Z MAN");
}

TEST_CASE("setLines rasterises only when the text changes")
{
    auto wm = makeWatermark(320, 240);
    CHECK(wm->renderCount() == 0);
    wm->setLines(kLines);
    CHECK(wm->renderCount() == 1);
    wm->setLines(kLines);
    wm->setLines(std::vector<std::string>(kLines));
    CHECK(wm->renderCount() == 1);
    auto next = kLines;
    next[1] = "2026-11-23 14:05:10Z DOCK";
    wm->setLines(next);
    CHECK(wm->renderCount() == 2);
    wm->setLines(next);
    CHECK(wm->renderCount() == 2);
}

TEST_CASE("apply draws a box bottom left and touches nothing outside it")
{
    // 300 wide: strides are 320 and 160, so there is row padding that must stay untouched.
    const uint32_t w = 300, h = 240;
    auto wm = makeWatermark(w, h);
    Frame frame = makeFrame(w, h);
    const Frame original = frame;

    // No text yet: nothing is drawn.
    wm->apply(frame);
    REQUIRE(bytesOf(frame) == bytesOf(original));

    wm->setLines(kLines);
    wm->apply(frame);

    const Rect box = changedRect(frame, original, 0);
    REQUIRE_FALSE(box.empty());
    // Bottom left with a small margin, well inside the picture.
    CHECK(box.x0 >= 2);
    CHECK(box.x0 < w / 8);
    CHECK(box.y1 <= h - 2);
    CHECK(box.y1 > h - h / 8);
    CHECK(box.x1 < w);
    CHECK(box.y0 > h / 2);
    CHECK(box.x0 % 2 == 0);
    CHECK(box.y0 % 2 == 0);

    // It is a box, not just glyphs: its padding (first and last rows and columns) is all
    // changed, and so is nearly every pixel inside (an anti-aliased text edge can blend
    // back to the original value by chance). The text is white and the box dark.
    for (uint32_t x = box.x0; x < box.x1; ++x)
        for (uint32_t y : {box.y0, box.y1 - 1})
            REQUIRE(original.plane(0)[y * original.stride(0) + x] !=
                    frame.plane(0)[y * frame.stride(0) + x]);
    for (uint32_t y = box.y0; y < box.y1; ++y)
        for (uint32_t x : {box.x0, box.x1 - 1})
            REQUIRE(original.plane(0)[y * original.stride(0) + x] !=
                    frame.plane(0)[y * frame.stride(0) + x]);
    uint64_t sumBefore = 0, sumAfter = 0;
    int white = 0, unchanged = 0;
    for (uint32_t y = box.y0; y < box.y1; ++y)
        for (uint32_t x = box.x0; x < box.x1; ++x) {
            const uint8_t before = original.plane(0)[y * original.stride(0) + x];
            const uint8_t after = frame.plane(0)[y * frame.stride(0) + x];
            unchanged += before == after;
            sumBefore += before;
            sumAfter += after;
            white += after >= 220;
        }
    CHECK(unchanged * 100 < static_cast<int>((box.x1 - box.x0) * (box.y1 - box.y0)));
    CHECK(sumAfter < sumBefore);
    CHECK(white > 100);

    // Chroma changes only under the box (half resolution) and moves towards neutral.
    for (int p = 1; p <= 2; ++p) {
        const Rect c = changedRect(frame, original, p);
        REQUIRE_FALSE(c.empty());
        CHECK(c.x0 >= box.x0 / 2);
        CHECK(c.y0 >= box.y0 / 2);
        CHECK(c.x1 <= (box.x1 + 1) / 2);
        CHECK(c.y1 <= (box.y1 + 1) / 2);
        for (uint32_t y = c.y0; y < c.y1; ++y)
            for (uint32_t x = c.x0; x < c.x1; ++x) {
                const int before = original.plane(p)[y * original.stride(p) + x];
                const int after = frame.plane(p)[y * frame.stride(p) + x];
                REQUIRE(std::abs(after - 128) <= std::abs(before - 128));
            }
    }
}

TEST_CASE("rendering is deterministic and non-ASCII is drawn as '?'")
{
    auto a = makeWatermark(320, 240);
    auto b = makeWatermark(320, 240);
    Frame fa = makeFrame(320, 240), fb = makeFrame(320, 240);
    a->setLines(kLines);
    b->setLines({"other text"});
    b->setLines(kLines);
    a->apply(fa);
    b->apply(fb);
    CHECK(bytesOf(fa) == bytesOf(fb));

    // "é" is two bytes of UTF-8, each drawn as '?'.
    Frame fu = makeFrame(320, 240), fq = makeFrame(320, 240);
    a->setLines({"CAM \xc3\xa9"});
    a->apply(fu);
    b->setLines({"CAM ??"});
    b->apply(fq);
    CHECK(bytesOf(fu) == bytesOf(fq));
    CHECK(bytesOf(fu) != bytesOf(fa));
}

TEST_CASE("apply leaves a frame of another size alone")
{
    auto wm = makeWatermark(320, 240);
    wm->setLines(kLines);
    Frame other = makeFrame(160, 120);
    const auto before = bytesOf(other);
    wm->apply(other);
    CHECK(bytesOf(other) == before);
}

TEST_CASE("a font that cannot be loaded is a config error naming the path")
{
    WatermarkOptions opts;
    opts.frameWidth = 320;
    opts.frameHeight = 240;
    opts.fontPath = "/nonexistent/fonts/Missing.ttf";
    auto missing = Watermark::create(opts);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::Config);
    CHECK(missing.error().message.find("/nonexistent/fonts/Missing.ttf") != std::string::npos);
    CHECK(missing.error().message.find("cannot open resource") != std::string::npos);

    char path[] = "/tmp/bwc-watermark-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char junk[] = "this is not a font file at all, just some text";
    REQUIRE(::write(fd, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
    ::close(fd);
    opts.fontPath = path;
    auto notFont = Watermark::create(opts);
    ::unlink(path);
    REQUIRE_FALSE(notFont.ok());
    CHECK(notFont.error().code == Errc::Config);
    CHECK(notFont.error().message.find(path) != std::string::npos);
    CHECK(notFont.error().message.find("unknown file format") != std::string::npos);

    opts.fontPath = WatermarkOptions{}.fontPath;
    opts.frameWidth = 0;
    auto noSize = Watermark::create(opts);
    REQUIRE_FALSE(noSize.ok());
    CHECK(noSize.error().code == Errc::Config);
    CHECK(noSize.error().message.find("frame size 0x240") != std::string::npos);
}

TEST_CASE("apply at 1080p costs well under a millisecond")
{
    const uint32_t w = 1920, h = 1080;
    auto wm = makeWatermark(w, h);
    wm->setLines(kLines);
    Frame frame = makeFrame(w, h);
    const Frame original = frame;
    wm->apply(frame);
    const Rect box = changedRect(frame, original, 0);
    REQUIRE_FALSE(box.empty());
    // Default text size at 1080p is 36 px: three lines need a box well over 100 px high.
    CHECK(box.y1 - box.y0 > 100);
    CHECK(box.x1 - box.x0 > 400);

    using Clock = std::chrono::steady_clock;
    constexpr int kRuns = 200;
    auto t0 = Clock::now();
    for (int i = 0; i < kRuns; ++i)
        wm->apply(frame);
    auto t1 = Clock::now();
    // Reference in the same run: copying the luma plane once.
    std::vector<uint8_t> copy(static_cast<size_t>(frame.stride(0)) * h);
    for (int i = 0; i < kRuns; ++i) {
        std::memcpy(copy.data(), frame.plane(0), copy.size());
        frame.plane(0)[i] ^= copy[static_cast<size_t>(i) * 7];
    }
    auto t2 = Clock::now();
    const double applyUs = std::chrono::duration<double, std::micro>(t1 - t0).count() / kRuns;
    const double copyUs = std::chrono::duration<double, std::micro>(t2 - t1).count() / kRuns;
    std::printf("watermark apply 1920x1080, box %ux%u: %.1f us/frame (%.3fx a luma-plane "
                "memcpy of %.1f us)\n",
                box.x1 - box.x0, box.y1 - box.y0, applyUs, applyUs / copyUs, copyUs);
    // Not a timing assertion (shared machine); the figure is printed for the report.
    CHECK(applyUs > 0.0);
}
