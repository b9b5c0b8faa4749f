#include "tests/hil/hil_analysis.h"

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <numbers>
#include <random>

#include "firmware/hal/tone_synth.h"

using namespace bwc;
using Catch::Approx;

namespace {

constexpr uint32_t kRate = 48000;

// The pattern as the firmware's ALSA tone player renders it, after `leadMs` of silence.
std::vector<int16_t> render(const std::vector<fw::ToneStep> &pattern, uint32_t leadMs,
                            uint32_t tailMs = 100)
{
    std::vector<int16_t> out(size_t(leadMs) * kRate / 1000, 0);
    fw::ToneSynth synth(pattern, kRate);
    std::vector<int16_t> block(240);
    while (size_t n = synth.render(block.data(), block.size()))
        out.insert(out.end(), block.begin(), block.begin() + long(n));
    out.resize(out.size() + size_t(tailMs) * kRate / 1000, 0);
    return out;
}

std::vector<int16_t> sine(double hz, double seconds, double amplitude = 0.3)
{
    std::vector<int16_t> out(size_t(seconds * kRate));
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = int16_t(
            std::lround(amplitude * 32767 * std::sin(2 * std::numbers::pi * hz * i / kRate)));
    return out;
}

} // namespace

TEST_CASE("hil: the start and stop tones rendered by the firmware match their patterns")
{
    for (fw::ToneId id : {fw::ToneId::Start, fw::ToneId::Stop, fw::ToneId::Error,
                          fw::ToneId::StorageFull, fw::ToneId::Reminder}) {
        const auto &pattern = fw::tonePattern(id);
        const auto samples = render(pattern, 37);
        const auto bursts = hil::findBursts(samples, kRate);
        INFO(hil::describeBursts(bursts, kRate));
        CHECK(hil::matchPattern(bursts, kRate, pattern).empty());
        REQUIRE_FALSE(bursts.empty());
        // The onset is found to within a fraction of a millisecond of the lead-in.
        CHECK(bursts.front().startMs(kRate) == Approx(37).margin(0.5));
        CHECK(bursts.front().purity > 0.95);
    }
    const auto start = hil::findBursts(render(fw::tonePattern(fw::ToneId::Start), 0), kRate);
    REQUIRE(start.size() == 2);
    CHECK(start[0].freqHz == Approx(2000).epsilon(0.001));
    CHECK(start[0].lengthMs(kRate) == Approx(80).margin(1));
}

TEST_CASE("hil: another tone, a wrong frequency, a dropout or noise do not match")
{
    const auto &start = fw::tonePattern(fw::ToneId::Start);
    const auto &stop = fw::tonePattern(fw::ToneId::Stop);
    // The stop tone where the start tone was expected, and the reverse.
    CHECK(hil::matchPattern(hil::findBursts(render(stop, 10), kRate), kRate, start) ==
          "1 burst(s), expected 2");
    CHECK(hil::matchPattern(hil::findBursts(render(start, 10), kRate), kRate, stop) ==
          "2 burst(s), expected 1");
    // 2 % off in frequency.
    const auto off = hil::findBursts(render({{2040, 80}, {0, 60}, {2040, 80}}, 10), kRate);
    CHECK(hil::matchPattern(off, kRate, start).find("Hz, expected 2000 Hz") != std::string::npos);
    // A second beep 20 ms short (an underrun cutting it) and a gap 20 ms long.
    CHECK(hil::matchPattern(hil::findBursts(render({{2000, 80}, {0, 60}, {2000, 60}}, 10), kRate),
                            kRate, start)
              .find("ms long, expected 80 ms") != std::string::npos);
    CHECK(hil::matchPattern(hil::findBursts(render({{2000, 80}, {0, 80}, {2000, 80}}, 10), kRate),
                            kRate, start)
              .find("ms after the previous one, expected 60 ms") != std::string::npos);
    // A beep chopped in two by an underrun: the pattern no longer matches, but 2 kHz was
    // heard for all its pieces; nothing at 1.2 kHz.
    const auto chopped =
        hil::findBursts(render({{2000, 40}, {0, 30}, {2000, 40}, {0, 60}, {2000, 80}}, 10), kRate);
    CHECK_FALSE(hil::matchPattern(chopped, kRate, start).empty());
    CHECK(hil::toneHeardMs(chopped, kRate, 2000) == Approx(160).margin(2));
    CHECK(hil::toneHeardMs(chopped, kRate, 1200) == 0);
    // White noise is loud but not a tone.
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0, 6000);
    std::vector<int16_t> hiss(kRate / 2);
    for (auto &s : hiss)
        s = int16_t(std::clamp(noise(rng), -32000.0, 32000.0));
    const auto loud = hil::findBursts(hiss, kRate);
    REQUIRE(loud.size() == 1);
    CHECK(loud[0].purity < 0.2);
    CHECK(hil::matchPattern(loud, kRate, stop).rfind("burst 1:", 0) == 0);
    CHECK(hil::toneHeardMs(loud, kRate, loud[0].freqHz) == 0);
    // Silence.
    CHECK(hil::findBursts(std::vector<int16_t>(kRate, 0), kRate).empty());
}

TEST_CASE("hil: zero crossings and Goertzel measure a steady tone")
{
    const auto tone = sine(440, 1.0);
    CHECK(hil::zeroCrossingHz(tone, kRate) == Approx(440).epsilon(0.001));
    CHECK(hil::goertzelShare(tone, kRate, 440) > 0.99);
    CHECK(hil::goertzelShare(tone, kRate, 880) < 0.01);
    CHECK(hil::zeroCrossingHz(std::vector<int16_t>(100, 5), kRate) == 0);
    // A long steady tone is pure however long it lasts; a dropout splits it in two.
    auto track = sine(440.1, 6.5);
    auto bursts = hil::findBursts(track, kRate, {0.02, 20, 5});
    REQUIRE(bursts.size() == 1);
    CHECK(bursts[0].freqHz == Approx(440.1).epsilon(0.001));
    CHECK(bursts[0].purity > 0.95);
    std::fill(track.begin() + kRate * 3, track.begin() + kRate * 7 / 2, int16_t(0));
    bursts = hil::findBursts(track, kRate, {0.02, 20, 5});
    REQUIRE(bursts.size() == 2);
    CHECK(bursts[1].startMs(kRate) == Approx(3500).margin(1));
}

namespace {

// An RGB24 frame of vivid's colour bars at `level`, with vivid's text (white on black)
// over the top fifth and a dark watermark box over the bottom tenth.
std::vector<uint8_t> bars(uint32_t w, uint32_t h, uint8_t level, size_t swapA = 0, size_t swapB = 0)
{
    auto colours = hil::vividColourBars();
    std::swap(colours[swapA], colours[swapB]);
    std::vector<uint8_t> rgb(size_t(w) * h * 3);
    for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w; ++x) {
            const auto &c = colours[size_t(x) * 8 / w];
            uint8_t *p = &rgb[(size_t(y) * w + x) * 3];
            p[0] = c.red ? level : 16;
            p[1] = c.green ? level : 16;
            p[2] = c.blue ? level : 16;
            if (y < h / 5 || y >= h - h / 10)
                p[0] = p[1] = p[2] = ((x / 4 + y / 8) % 2) ? 255 : 0;
        }
    return rgb;
}

} // namespace

TEST_CASE("hil: vivid's colour bars are recognised, other pictures are not")
{
    const uint32_t w = 640, h = 360;
    CHECK(hil::checkColourBars(bars(w, h, 191), w, h, h / 2, h * 4 / 5).empty());
    // Sampling into the text fails; so do swapped bars, a dark picture and a wrong size.
    CHECK_FALSE(hil::checkColourBars(bars(w, h, 191), w, h, 0, h / 2).empty());
    CHECK(hil::checkColourBars(bars(w, h, 191, 2, 3), w, h, h / 2, h * 4 / 5)
              .rfind("bar 3 (cyan): mean RGB 16,191,16", 0) == 0);
    CHECK(hil::checkColourBars(bars(w, h, 100), w, h, h / 2, h * 4 / 5).rfind("bar 1 (white)", 0) ==
          0);
    CHECK_FALSE(hil::checkColourBars(bars(w, h, 191), w, h - 2, h / 2, h * 4 / 5).empty());
}
