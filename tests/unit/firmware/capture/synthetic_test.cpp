#include <cstring>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/capture/pacer.h"
#include "firmware/capture/video_source.h"
#include "tests/unit/firmware/capture/capture_test_util.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

std::unique_ptr<VideoSource> openSynthetic(uint32_t width, uint32_t height, uint32_t fps,
                                           bool paced)
{
    VideoSourceOptions options;
    options.kind = "synthetic";
    options.format = {width, height, fps};
    options.paced = paced;
    auto source = openVideoSource(options);
    REQUIRE(source.ok());
    return std::move(source).value();
}

// Luma rows below the counter and the clock (where only the moving pattern is drawn).
bool backgroundDiffers(const Frame &a, const Frame &b)
{
    for (uint32_t y = a.height() / 2; y < a.height(); ++y) {
        if (std::memcmp(a.plane(0) + static_cast<size_t>(y) * a.stride(0),
                        b.plane(0) + static_cast<size_t>(y) * b.stride(0), a.width()) != 0)
            return true;
    }
    return false;
}

} // namespace

TEST_CASE("synthetic frames are a pure function of index, size and rate", "[capture]")
{
    for (auto [w, h] : std::vector<std::pair<uint32_t, uint32_t>>{
             {320, 240}, {1280, 720}, {1920, 1080}, {64, 48}, {2, 2}}) {
        CAPTURE(w, h);
        Frame a(w, h), b(w, h), c(w, h);
        test::fillFrame(a, 0);
        test::fillFrame(b, 255); // what was in the frame before must not matter
        renderSyntheticFrame(1234, 30, a);
        renderSyntheticFrame(1234, 30, b);
        CHECK(test::samePixels(a, b));
        renderSyntheticFrame(1235, 30, c);
        CHECK_FALSE(test::samePixels(a, c));
        if (h >= 48)
            CHECK(backgroundDiffers(a, c)); // the pattern itself moves, not only the counter
    }
}

TEST_CASE("synthetic picture has texture, colour and the counter in video range", "[capture]")
{
    Frame frame(320, 240);
    renderSyntheticFrame(7, 30, frame);
    int minY = 255, maxY = 0, minU = 255, maxU = 0, minV = 255, maxV = 0;
    for (uint32_t y = 0; y < 240; ++y) {
        for (uint32_t x = 0; x < 320; ++x) {
            const int v = frame.plane(0)[y * static_cast<uint32_t>(frame.stride(0)) + x];
            minY = std::min(minY, v);
            maxY = std::max(maxY, v);
        }
    }
    for (uint32_t y = 0; y < 120; ++y) {
        for (uint32_t x = 0; x < 160; ++x) {
            const int u = frame.plane(1)[y * static_cast<uint32_t>(frame.stride(1)) + x];
            const int v = frame.plane(2)[y * static_cast<uint32_t>(frame.stride(2)) + x];
            minU = std::min(minU, u);
            maxU = std::max(maxU, u);
            minV = std::min(minV, v);
            maxV = std::max(maxV, v);
        }
    }
    CHECK(minY == 16);  // black counter blocks
    CHECK(maxY == 235); // white counter blocks
    CHECK(maxU - minU >= 60);
    CHECK(maxV - minV >= 60);
    // The first counter block (a guard) is 16x16 white at 320x240, the second black.
    CHECK(frame.plane(0)[0] == 235);
    CHECK(frame.plane(0)[15 * frame.stride(0) + 15] == 235);
    CHECK(frame.plane(0)[16] == 16);
}

TEST_CASE("the simulated clock shows hundredths of the simulated time", "[capture]")
{
    // At 320x240 the clock sits in a black box at x 4..129, y 36..59, below the counter.
    auto clockBox = [](uint64_t index, uint32_t fps) {
        Frame f(320, 240);
        renderSyntheticFrame(index, fps, f);
        std::vector<uint8_t> pixels;
        for (uint32_t y = 36; y < 60; ++y)
            for (uint32_t x = 4; x < 130; ++x)
                pixels.push_back(f.plane(0)[y * static_cast<uint32_t>(f.stride(0)) + x]);
        return pixels;
    };
    // 120 fps: frames 0 and 1 both show 00:00:00.00; frame 2 shows .01.
    CHECK(clockBox(0, 120) == clockBox(1, 120));
    CHECK(clockBox(0, 120) != clockBox(2, 120));
    // 01:01:01.00 and 01:01:01.50 differ from each other and from the start.
    CHECK(clockBox(30 * 3661, 30) != clockBox(0, 30));
    CHECK(clockBox(30 * 3661, 30) != clockBox(30 * 3661 + 15, 30));
    // The box only holds black and white (digits drawn over a black box).
    for (uint8_t v : clockBox(30 * 3661 + 15, 30))
        REQUIRE((v == 16 || v == 235));
}

TEST_CASE("frame counter round-trips at every size, with luma noise", "[capture]")
{
    const std::vector<uint64_t> special = {0,           1,           2,           3,
                                           0x55555555u, 0xAAAAAAAAu, 0xFFFFFFFEu, 0xFFFFFFFFu,
                                           0x80000000u, 0x00010000u, 0x0000FFFFu};
    std::vector<uint64_t> many = special;
    test::Rng rng(42);
    for (int i = 0; i < 40; ++i)
        many.push_back(rng.next());
    struct Case {
        uint32_t width, height;
        const std::vector<uint64_t> &indexes;
    };
    // The counter occupies the top two block rows (2 x 16 px per started 320 px of width);
    // noise is added there, where the reader looks.
    for (const Case &c : {Case{320, 240, many}, Case{352, 288, many}, Case{640, 360, many},
                          Case{1280, 720, special}, Case{1920, 1080, special}}) {
        Frame frame(c.width, c.height);
        const uint32_t counterRows = 2 * 16 * (c.width / 320);
        uint32_t seed = 1;
        for (uint64_t index : c.indexes) {
            CAPTURE(c.width, c.height, index);
            renderSyntheticFrame(index, 30, frame);
            auto clean = readFrameCounter(frame.plane(0), frame.stride(0), c.width, c.height);
            REQUIRE(clean.has_value());
            CHECK(*clean == index);
            test::addLumaNoise(frame, 40, seed++, counterRows);
            auto noisy = readFrameCounter(frame.plane(0), frame.stride(0), c.width, c.height);
            REQUIRE(noisy.has_value());
            CHECK(*noisy == index);
        }
    }
    // Only the low 32 bits are drawn.
    Frame frame(320, 240);
    renderSyntheticFrame((uint64_t(1) << 32) + 7, 30, frame);
    CHECK(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240) == uint64_t(7));
}

TEST_CASE("readFrameCounter rejects frames that are not synthetic", "[capture]")
{
    Frame frame(320, 240);
    for (uint8_t level :
         {uint8_t(0), uint8_t(16), uint8_t(127), uint8_t(128), uint8_t(235), uint8_t(255)}) {
        CAPTURE(int(level));
        test::fillFrame(frame, level);
        CHECK_FALSE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240).has_value());
    }
    for (uint32_t seed = 1; seed <= 20; ++seed) {
        test::fillFrame(frame, 128);
        test::addLumaNoise(frame, 128, seed);
        CHECK_FALSE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240).has_value());
    }
    // A real counter with one guard block painted over.
    renderSyntheticFrame(99, 30, frame);
    REQUIRE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240) == uint64_t(99));
    for (uint32_t y = 0; y < 16; ++y)
        std::memset(frame.plane(0) + y * static_cast<uint32_t>(frame.stride(0)) + 16, 235, 16);
    CHECK_FALSE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240).has_value());
    // A data block half black, half white is not read as either.
    renderSyntheticFrame(0, 30, frame);
    for (uint32_t y = 0; y < 16; ++y)
        std::memset(frame.plane(0) + y * static_cast<uint32_t>(frame.stride(0)) + 32, 235, 8);
    CHECK_FALSE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 240).has_value());
    // Degenerate inputs.
    CHECK_FALSE(readFrameCounter(nullptr, 320, 320, 240).has_value());
    CHECK_FALSE(readFrameCounter(frame.plane(0), frame.stride(0), 320, 16).has_value());
    CHECK_FALSE(readFrameCounter(frame.plane(0), 100, 320, 240).has_value());
}

TEST_CASE("unpaced synthetic source: consecutive indexes, exact simulated timestamps", "[capture]")
{
    for (uint32_t fps : {30u, 25u, 7u, 120u}) {
        CAPTURE(fps);
        auto source = openSynthetic(320, 240, fps, false);
        CHECK(source->format().width == 320);
        CHECK(source->format().height == 240);
        CHECK(source->format().fps == fps);
        CHECK(source->describe() == "synthetic 320x240@" + std::to_string(fps) + " unpaced");
        REQUIRE(source->start().ok());
        Frame expected(320, 240);
        for (uint64_t i = 0; i < 50; ++i) {
            auto frame = source->next(0);
            REQUIRE(frame.ok());
            REQUIRE(*frame != nullptr);
            CHECK((*frame)->index == i);
            CHECK((*frame)->monoNs == static_cast<int64_t>(i * 1'000'000'000ull / fps));
            renderSyntheticFrame(i, fps, expected);
            CHECK(test::samePixels(**frame, expected));
        }
        source->stop();
    }
}

TEST_CASE("frameTimeNs is exact for large indexes", "[capture]")
{
    CHECK(frameTimeNs(0, 30) == 0);
    CHECK(frameTimeNs(1, 30) == 33'333'333);
    CHECK(frameTimeNs(30, 30) == 1'000'000'000);
    // 100 days at 30 fps: i * 1e9 would not fit 64 bits in a naive product with headroom.
    const uint64_t i = 30ull * 86400 * 100 + 29;
    CHECK(frameTimeNs(i, 30) == int64_t(86400) * 100 * 1'000'000'000 + 966'666'666);
    const uint64_t huge = uint64_t(1) << 36; // i * 1e9 overflows 64 bits
    CHECK(frameTimeNs(huge, 64) == int64_t(huge / 64) * 1'000'000'000);
}

TEST_CASE("paced synthetic source delivers frames in real time", "[capture]")
{
    auto source = openSynthetic(320, 240, 60, true);
    const int64_t before = monoNowNs();
    REQUIRE(source->start().ok());
    int64_t first = 0;
    for (uint64_t i = 0; i < 6; ++i) {
        auto frame = source->next(1000);
        REQUIRE(frame.ok());
        REQUIRE(*frame != nullptr);
        CHECK((*frame)->index == i);
        if (i == 0)
            first = (*frame)->monoNs;
        // The stamped time is the due time: start + i/60 s, never after delivery.
        CHECK((*frame)->monoNs - first == frameTimeNs(i, 60));
        CHECK((*frame)->monoNs <= monoNowNs());
        CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 320, 240) == i);
    }
    const int64_t elapsed = monoNowNs() - before;
    CHECK(elapsed >= 80'000'000); // frame 5 is due 83.3 ms after the start
    CHECK(first >= before);
}

TEST_CASE("paced synthetic source skips indexes when the caller falls behind", "[capture]")
{
    auto source = openSynthetic(320, 240, 60, true);
    REQUIRE(source->start().ok());
    auto first = source->next(1000);
    REQUIRE(first.ok());
    REQUIRE(*first != nullptr);
    REQUIRE((*first)->index == 0);
    const int64_t start = (*first)->monoNs;
    sleepUntilMonoNs(monoNowNs() + 120'000'000); // 7.2 frame periods
    auto late = source->next(1000);
    REQUIRE(late.ok());
    REQUIRE(*late != nullptr);
    const uint64_t lateIndex = (*late)->index; // the frame object is reused by next()
    CHECK(lateIndex >= 7);
    CHECK((*late)->monoNs == start + frameTimeNs(lateIndex, 60));
    CHECK(monoNowNs() - (*late)->monoNs < 1'000'000'000 / 60 + 50'000'000);
    auto after = source->next(1000);
    REQUIRE(after.ok());
    REQUIRE(*after != nullptr);
    CHECK((*after)->index == lateIndex + 1);
}

TEST_CASE("paced synthetic source returns nullptr when no frame is due in time", "[capture]")
{
    auto source = openSynthetic(160, 120, 1, true);
    REQUIRE(source->start().ok());
    auto first = source->next(0);
    REQUIRE(first.ok());
    REQUIRE(*first != nullptr);
    const int64_t before = monoNowNs();
    auto none = source->next(20);
    const int64_t waited = monoNowNs() - before;
    REQUIRE(none.ok());
    CHECK(*none == nullptr);
    CHECK(waited >= 20'000'000);
    CHECK(waited < 900'000'000);
}

TEST_CASE("source next() before start() is an internal error", "[capture]")
{
    auto source = openSynthetic(320, 240, 30, false);
    auto frame = source->next(0);
    REQUIRE_FALSE(frame.ok());
    CHECK(frame.error().code == Errc::Internal);
    CHECK(frame.error().message.find("before start()") != std::string::npos);
}

TEST_CASE("SequenceIndexer counts drops, wraps and continues by time after a restart", "[capture]")
{
    SequenceIndexer indexer;
    CHECK(indexer.assign(1000, 5'000'000'000, 30) == 0); // first frame: 0 whatever the sequence
    CHECK(indexer.assign(1001, 5'033'000'000, 30) == 1);
    CHECK(indexer.assign(1004, 5'133'000'000, 30) == 4); // three dropped
    CHECK(indexer.assign(1004, 5'140'000'000, 30) == 5); // a repeated sequence still advances
    SequenceIndexer wrap;
    CHECK(wrap.assign(0xFFFFFFFEu, 0, 30) == 0);
    CHECK(wrap.assign(0xFFFFFFFFu, 33'000'000, 30) == 1);
    CHECK(wrap.assign(0u, 66'000'000, 30) == 2);
    CHECK(wrap.assign(2u, 133'000'000, 30) == 4);
    // Reopened after 2 s: the sequence restarts, the index moves on by 60 frames.
    wrap.newSession();
    CHECK(wrap.assign(0u, 2'133'000'000, 30) == 64);
    CHECK(wrap.assign(1u, 2'166'000'000, 30) == 65);
    // A restart with no time passing still advances.
    wrap.newSession();
    CHECK(wrap.assign(0u, 2'166'000'000, 30) == 66);
}

TEST_CASE("ReopenGate tries a lost device at most once a second", "[capture]")
{
    ReopenGate gate;
    CHECK_FALSE(gate.lost());
    const Error lost = gate.lose(Error(Errc::Device, "v4l2 /dev/video9: device lost"));
    CHECK(gate.lost());
    CHECK(lost.code == Errc::Device);

    int attempts = 0;
    auto failing = [&]() -> Expected<void> {
        ++attempts;
        return Error(Errc::Device, "v4l2 /dev/video9: cannot open");
    };
    // Within the second: the lost error, no attempt, and no wait past the caller's deadline.
    const int64_t t0 = monoNowNs();
    auto early = gate.attempt(t0 + 50'000'000, failing, "v4l2 /dev/video9");
    CHECK(monoNowNs() - t0 < 500'000'000);
    REQUIRE_FALSE(early.ok());
    CHECK(early.error().message.find("device lost") != std::string::npos);
    CHECK(attempts == 0);

    // A deadline past the slot: one attempt, which fails; still lost, with the new cause.
    auto failed = gate.attempt(monoNowNs() + 2'000'000'000, failing, "v4l2 /dev/video9");
    CHECK(attempts == 1);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message.find("cannot open (reopening every second)") != std::string::npos);
    CHECK(gate.lost());

    // The next success clears it.
    auto ok = gate.attempt(
        monoNowNs() + 2'000'000'000, [] { return Expected<void>(); }, "v4l2 /dev/video9");
    CHECK(ok.ok());
    CHECK_FALSE(gate.lost());
}
