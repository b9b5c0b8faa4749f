// The ALSA source, for real, through alsa-lib plugins that need no sound card: a "file"
// PCM whose input is a raw file (the "virtual microphone") over a "null" slave, and a
// "multi" PCM that only has one channel. The test writes the ALSA configuration and points
// ALSA_CONFIG_PATH at it before the first open in this process.

#include <cstdlib>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/audio/audio_source.h"
#include "tests/unit/firmware/audio/audio_test_util.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

// A 1 kHz tone with the sample index mixed into the low bits, so that a lost, repeated or
// reordered sample shows.
int16_t microphoneSample(uint32_t frame, uint32_t channel)
{
    const int tone = syntheticAudioSample(frame, 48'000);
    const int mark = int(frame % 13) + int(channel) * 16;
    return static_cast<int16_t>(channel == 0 ? tone + mark : -tone + mark);
}

struct AlsaFixture {
    test::TempDir dir;
    std::string rawPath;

    AlsaFixture(uint32_t frames, uint32_t channels)
    {
        rawPath = dir.file("mic.raw");
        Bytes raw;
        raw.reserve(size_t(frames) * channels * 2);
        for (uint32_t i = 0; i < frames; ++i)
            for (uint32_t c = 0; c < channels; ++c) {
                const auto v = static_cast<uint16_t>(microphoneSample(i, c));
                raw.push_back(uint8_t(v & 0xff)); // S16_LE
                raw.push_back(uint8_t(v >> 8));
            }
        test::writeBinaryFile(rawPath, raw);
        const std::string conf = "pcm.bwc_test_mic {\n"
                                 "  type file\n"
                                 "  slave.pcm { type null }\n"
                                 "  file \"/dev/null\"\n"
                                 "  infile \"" +
                                 rawPath +
                                 "\"\n"
                                 "  format raw\n"
                                 "}\n"
                                 "pcm.bwc_test_mono {\n"
                                 "  type multi\n"
                                 "  slaves.a { pcm { type null } channels 1 }\n"
                                 "  bindings.0 { slave a channel 0 }\n"
                                 "}\n";
        const std::string confPath = dir.file("asound.conf");
        test::writeBinaryFile(confPath, asBytes(conf));
        REQUIRE(setenv("ALSA_CONFIG_PATH", confPath.c_str(), 1) == 0);
    }
};

std::unique_ptr<AudioSource> openAlsa(const std::string &device, uint32_t channels)
{
    AudioSourceOptions o;
    o.kind = "alsa";
    o.device = device;
    o.format = {48'000, channels};
    auto source = openAudioSource(o);
    INFO((source.ok() ? std::string() : source.error().message));
    REQUIRE(source.ok());
    return std::move(source).value();
}

} // namespace

TEST_CASE("ALSA capture delivers a file plugin's samples exactly, in 20 ms periods")
{
    AlsaFixture fx(48'000, 1);
    auto source = openAlsa("bwc_test_mic", 1);
    CHECK(source->describe() == "alsa:bwc_test_mic 48000 Hz 1 ch");
    const int64_t before = monoNowNs();
    REQUIRE(source->start().ok());
    std::vector<float> captured;
    uint64_t expected = 0;
    int64_t lastMono = 0;
    while (expected < 48'000) {
        auto block = source->next(1000);
        INFO((block.ok() ? std::string() : block.error().message));
        REQUIRE(block.ok());
        REQUIRE(block->frames == 960); // period_time 20 ms at 48 kHz
        REQUIRE(block->firstFrame == expected);
        REQUIRE(block->samples.size() == 960);
        for (uint32_t i = 0; i < block->frames; ++i) {
            REQUIRE(block->samples[i] == microphoneSample(uint32_t(expected) + i, 0));
            captured.push_back(float(block->samples[i]) / 32768.0f);
        }
        // Timestamps on CLOCK_MONOTONIC: not in the future, not before the buffer could
        // have started filling, and in order.
        CHECK(block->monoNs <= monoNowNs());
        CHECK(block->monoNs >= before - 1'000'000'000);
        CHECK(block->monoNs >= lastMono);
        lastMono = block->monoNs;
        expected += block->frames;
    }
    const double tone = test::tonePower(captured, 1000, 48'000);
    CHECK(tone > 0.03);
    CHECK(test::tonePower(captured, 1500, 48'000) < tone * 1e-3);
    source->stop();
    // Started again, the stream starts a new timeline.
    REQUIRE(source->start().ok());
    auto block = source->next(1000);
    REQUIRE(block.ok());
    CHECK(block->firstFrame == 0);
    source->stop();
}

TEST_CASE("ALSA capture keeps stereo samples interleaved")
{
    AlsaFixture fx(9'600, 2);
    auto source = openAlsa("bwc_test_mic", 2);
    REQUIRE(source->start().ok());
    uint64_t expected = 0;
    while (expected < 9'600) {
        auto block = source->next(1000);
        REQUIRE(block.ok());
        REQUIRE(block->frames == 960);
        REQUIRE(block->firstFrame == expected);
        REQUIRE(block->samples.size() == 1920);
        for (uint32_t i = 0; i < block->frames; ++i) {
            REQUIRE(block->samples[2 * i] == microphoneSample(uint32_t(expected) + i, 0));
            REQUIRE(block->samples[2 * i + 1] == microphoneSample(uint32_t(expected) + i, 1));
        }
        expected += block->frames;
    }
}

TEST_CASE("ALSA capture names the device and the channel count it cannot give")
{
    AlsaFixture fx(960, 1);
    AudioSourceOptions o;
    o.kind = "alsa";
    o.device = "bwc_test_mono";
    o.format = {48'000, 2};
    auto r = openAudioSource(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Device);
    CHECK(r.error().message.find("ALSA capture device 'bwc_test_mono': cannot capture 2 "
                                 "channels (it offers 1..1)") != std::string::npos);
    // One channel is what it has.
    auto mono = openAlsa("bwc_test_mono", 1);
    REQUIRE(mono->start().ok());
    auto block = mono->next(1000);
    REQUIRE(block.ok());
    CHECK(block->frames == 960);
}

TEST_CASE("ALSA capture of a device that does not exist fails with Errc::Device naming it")
{
    AlsaFixture fx(960, 1);
    for (const std::string device : {"bwc_no_such_pcm", "hw:7,0"}) {
        AudioSourceOptions o;
        o.kind = "alsa";
        o.device = device;
        auto r = openAudioSource(o);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::Device);
        CHECK(r.error().message.find("ALSA capture device '" + device +
                                     "': cannot open it for capture: No such file or directory") !=
              std::string::npos);
    }
    // The same through the system's own configuration (no sound card 7 here).
    REQUIRE(unsetenv("ALSA_CONFIG_PATH") == 0);
    AudioSourceOptions o;
    o.kind = "alsa";
    o.device = "hw:7,0";
    auto r = openAudioSource(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Device);
    CHECK(r.error().message.find("ALSA capture device 'hw:7,0': cannot open it for capture") !=
          std::string::npos);
}
