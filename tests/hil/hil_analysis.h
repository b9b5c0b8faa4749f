#pragma once

// What the virtual board's test (board/qemu-virt) measures, without I/O: the tones
// captured from the ALSA loopback, the audio track of a clip, and the frames of a clip
// against vivid's test pattern. Pure functions, tested on synthetic input in
// hil_analysis_test.cpp; bwc-hil-probe runs them in the guest and on the host.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "firmware/hal/hal.h"

namespace bwc::hil {

// A sounding stretch of a mono signal.
struct Burst {
    size_t startFrame = 0; // first sample above the threshold
    size_t endFrame = 0;   // one past the last sample above the threshold
    double freqHz = 0;     // from zero crossings over the burst's middle
    double purity = 0;     // share of the energy at freqHz (Goertzel, 100 ms windows), 0..1
    double peak = 0;       // largest |sample| as a fraction of full scale

    double startMs(uint32_t rateHz) const { return 1000.0 * double(startFrame) / rateHz; }
    double lengthMs(uint32_t rateHz) const
    {
        return 1000.0 * double(endFrame - startFrame) / rateHz;
    }
};

struct BurstOptions {
    // A sample louder than this fraction of full scale is sounding.
    double threshold = 0.02;
    // Quieter stretches shorter than this do not end a burst (a sine's own zero
    // crossings, a 2 ms fade).
    double minGapMs = 5;
    // Bursts shorter than this are clicks, not tones, and are dropped.
    double minBurstMs = 5;
};

// The bursts of `samples` (mono S16 at rateHz), in order.
std::vector<Burst> findBursts(std::span<const int16_t> samples, uint32_t rateHz,
                              const BurstOptions &options = {});

// Frequency from the rising zero crossings (interpolated between samples); 0 when there
// are fewer than two.
double zeroCrossingHz(std::span<const int16_t> samples, uint32_t rateHz);

// The share (0..1) of the signal's energy at freqHz, by the Goertzel algorithm: about 1 for
// a pure tone at that frequency, near 0 for another frequency or noise.
double goertzelShare(std::span<const int16_t> samples, uint32_t rateHz, double freqHz);

struct PatternTolerance {
    double freqFraction = 0.01; // |measured - expected| / expected
    double ms = 5;              // burst lengths and the gaps between bursts
    double minPurity = 0.8;
};

// Compares `bursts` with a tone pattern (hal.h: sounding steps are bursts, silent steps
// the gaps between them). Empty when they match, else what differs, e.g.
// "burst 2: 1187.4 Hz, expected 1200 Hz".
std::string matchPattern(const std::vector<Burst> &bursts, uint32_t rateHz,
                         const std::vector<fw::ToneStep> &pattern,
                         const PatternTolerance &tolerance = {});

// How long a tone at freqHz was heard: the total length of the bursts at that frequency
// (within tolerance.freqFraction) and at least tolerance.minPurity pure. A pattern chopped
// by playback underruns still counts its clean pieces.
double toneHeardMs(const std::vector<Burst> &bursts, uint32_t rateHz, double freqHz,
                   const PatternTolerance &tolerance = {});

// One line describing bursts for a report: "2000.1 Hz 80.0 ms, gap 60.0 ms, 2000.0 Hz 80.0 ms".
std::string describeBursts(const std::vector<Burst> &bursts, uint32_t rateHz);

// vivid's default test pattern, "75% Colorbar": eight vertical bars of equal width,
// white, yellow, cyan, green, magenta, red, blue, black, at 75 % intensity.
struct BarColour {
    const char *name;
    bool red, green, blue; // which channels are lit
};
const std::vector<BarColour> &vividColourBars();

struct BarTolerance {
    // A lit channel's mean must lie in [litMin, litMax] (75 % of 255 is 191; through
    // YUYV, I420, H.264 and back to RGB the virtual board measures 187-189), an unlit
    // one's at most unlitMax (measured 0).
    double litMin = 170;
    double litMax = 210;
    double unlitMax = 30;
};

// Checks one packed RGB24 frame (width * height * 3 bytes) for the colour bars, sampling
// the middle half of each bar's width over rows [rowBegin, rowEnd) (keep clear of
// vivid's text at the top and the watermark at the bottom). Empty when it matches, else
// the first bar that does not, e.g. "bar 3 (cyan): mean RGB 190,20,188".
std::string checkColourBars(std::span<const uint8_t> rgb, uint32_t width, uint32_t height,
                            uint32_t rowBegin, uint32_t rowEnd, const BarTolerance &tolerance = {});

} // namespace bwc::hil
