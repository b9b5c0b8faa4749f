#include <cmath>
#include <numbers>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/audio/audio_source.h"
#include "tests/unit/firmware/audio/audio_test_util.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

std::unique_ptr<AudioSource> openSynthetic(uint32_t rate, uint32_t channels, bool paced)
{
    AudioSourceOptions options;
    options.kind = "synthetic";
    options.format = {rate, channels};
    options.paced = paced;
    auto source = openAudioSource(options);
    REQUIRE(source.ok());
    return std::move(source).value();
}

} // namespace

TEST_CASE("syntheticAudioSample is an exact 1 kHz sine at 13000 peak")
{
    // 48 samples per period at 48 kHz: 0 at 0, the peak at a quarter period.
    CHECK(syntheticAudioSample(0, 48'000) == 0);
    CHECK(syntheticAudioSample(12, 48'000) == 13'000);
    CHECK(syntheticAudioSample(24, 48'000) == 0);
    CHECK(syntheticAudioSample(36, 48'000) == -13'000);
    CHECK(syntheticAudioSample(4, 48'000) == 6'500); // 13000 * sin(30 degrees)
    // The phase comes from the index exactly: a day later the tone is where it was.
    const uint64_t day = 86'400ull * 48'000;
    for (uint64_t i = 0; i < 48; ++i)
        CHECK(syntheticAudioSample(day + i, 48'000) == syntheticAudioSample(i, 48'000));
    // 44.1 kHz: a period of 44.1 samples, so the pattern repeats every 441 samples.
    for (uint64_t i = 0; i < 441; i += 7)
        CHECK(syntheticAudioSample(441 * 1000 + i, 44'100) == syntheticAudioSample(i, 44'100));
    CHECK(syntheticAudioSample(11, 44'100) ==
          static_cast<int16_t>(
              std::lround(13'000 * std::sin(2 * std::numbers::pi * 11'000 / 44'100.0))));
}

TEST_CASE("synthetic audio source: unpaced blocks are deterministic 20 ms of tone")
{
    auto a = openSynthetic(48'000, 2, false);
    auto b = openSynthetic(48'000, 2, false);
    CHECK(a->describe() == "synthetic 48000 Hz 2 ch (unpaced)");
    CHECK(a->format().sampleRate == 48'000);
    CHECK(a->format().channels == 2);
    REQUIRE(a->start().ok());
    REQUIRE(b->start().ok());
    std::vector<float> mono;
    for (uint64_t k = 0; k < 50; ++k) {
        auto blockA = a->next(0);
        REQUIRE(blockA.ok());
        const std::vector<int16_t> copyA(blockA->samples.begin(), blockA->samples.end());
        auto blockB = b->next(0);
        REQUIRE(blockB.ok());
        REQUIRE(blockA->frames == 960);
        REQUIRE(blockA->samples.size() == 1920);
        CHECK(blockA->firstFrame == k * 960);
        // Simulated clock: the first sample's time is its index / rate.
        CHECK(blockA->monoNs == static_cast<int64_t>(k * 20'000'000));
        CHECK(blockB->firstFrame == blockA->firstFrame);
        CHECK(blockB->monoNs == blockA->monoNs);
        CHECK(std::vector<int16_t>(blockB->samples.begin(), blockB->samples.end()) == copyA);
        for (uint32_t i = 0; i < 960; ++i) {
            const int16_t expected = syntheticAudioSample(k * 960 + i, 48'000);
            REQUIRE(copyA[2 * i] == expected);
            REQUIRE(copyA[2 * i + 1] == expected);
            mono.push_back(float(copyA[2 * i]) / 32768.0f);
        }
    }
    // One second of it: a 1 kHz tone and nothing else.
    const double tone = test::tonePower(mono, 1000, 48'000);
    CHECK(tone > 0.03);
    CHECK(test::tonePower(mono, 1500, 48'000) < tone * 1e-4);
    CHECK(test::tonePower(mono, 440, 48'000) < tone * 1e-4);
}

TEST_CASE("synthetic audio source: 44.1 kHz blocks of 882 frames continue the phase")
{
    auto source = openSynthetic(44'100, 1, false);
    REQUIRE(source->start().ok());
    for (uint64_t k = 0; k < 20; ++k) {
        auto block = source->next(0);
        REQUIRE(block.ok());
        REQUIRE(block->frames == 882);
        CHECK(block->firstFrame == k * 882);
        CHECK(block->monoNs == static_cast<int64_t>(k * 882 * 1'000'000'000ull / 44'100));
        for (uint32_t i = 0; i < 882; ++i)
            REQUIRE(block->samples[i] == syntheticAudioSample(k * 882 + i, 44'100));
    }
}

TEST_CASE("synthetic audio source: paced blocks come in real time, never early")
{
    auto source = openSynthetic(48'000, 1, true);
    CHECK(source->describe() == "synthetic 48000 Hz 1 ch");
    CHECK(source->next(0).error().code == Errc::Internal); // before start()
    const int64_t before = monoNowNs();
    REQUIRE(source->start().ok());
    const int64_t after = monoNowNs();
    int64_t startNs = 0;
    uint64_t expectedFirst = 0;
    for (int k = 0; k < 10;) {
        auto block = source->next(1000);
        REQUIRE(block.ok());
        if (block->frames == 0)
            continue;
        REQUIRE(block->frames == 960);
        CHECK(block->firstFrame == expectedFirst);
        if (k == 0) {
            startNs = block->monoNs;
            CHECK(startNs >= before);
            CHECK(startNs <= after);
        }
        CHECK(block->monoNs ==
              startNs + static_cast<int64_t>(expectedFirst) * 1'000'000'000 / 48'000);
        // Delivered only once its last sample is "captured".
        CHECK(monoNowNs() >= block->monoNs + 20'000'000);
        expectedFirst += 960;
        ++k;
        // Asked again at once: nothing, or (if this thread was delayed) a block that is due.
        auto now = source->next(0);
        REQUIRE(now.ok());
        if (now->frames != 0) {
            CHECK(now->firstFrame == expectedFirst);
            CHECK(monoNowNs() >= now->monoNs + 20'000'000);
            expectedFirst += 960;
            ++k;
        }
    }
    // Ten blocks are 200 ms of audio: the source cannot have delivered them faster.
    CHECK(monoNowNs() - startNs >= 200'000'000);
    // A timeout shorter than the time to the next block returns an empty block.
    const int64_t t0 = monoNowNs();
    auto empty = source->next(1);
    REQUIRE(empty.ok());
    if (empty->frames == 0)
        CHECK(monoNowNs() - t0 < 20'000'000);
    source->stop();
}

TEST_CASE("openAudioSource rejects bad options with Errc::Config")
{
    auto open = [](AudioSourceOptions o) { return openAudioSource(o); };
    AudioSourceOptions o;
    o.kind = "usb";
    auto r = open(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("unknown source kind \"usb\"") != std::string::npos);

    o = {};
    o.format.sampleRate = 1000;
    r = open(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("sample rate 1000 Hz is outside 8000..192000") !=
          std::string::npos);

    o = {};
    o.format.channels = 0;
    r = open(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("0 channels is outside 1..8") != std::string::npos);

    o = {};
    o.kind = "alsa";
    r = open(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("needs a device name") != std::string::npos);
}
