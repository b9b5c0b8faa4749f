#pragma once

// Renders a tone pattern (hal.h ToneStep: frequency and duration per step) as signed
// 16-bit mono samples, a block at a time, for the ALSA tone player. Each sounding step
// fades in and out over 2 ms so steps start and stop without clicks.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "firmware/hal/hal.h"

namespace bwc::fw {

class ToneSynth
{
public:
    // `amplitude` is the peak as a fraction of full scale (0..1).
    ToneSynth(const std::vector<ToneStep> &pattern, uint32_t rateHz, double amplitude = 0.6,
              uint32_t fadeMs = 2);

    // Writes up to `frames` samples; returns how many (fewer only at the end, 0 when done).
    size_t render(int16_t *out, size_t frames);
    bool done() const { return step_ >= steps_.size(); }
    // Ends the pattern early without a click: the current step fades out within the fade
    // time (at once in a silent step) and the steps after it are dropped.
    void fadeOut();
    // Frames the whole pattern takes (as it stands, after a fadeOut the shorter length).
    uint64_t totalFrames() const;
    uint32_t rateHz() const { return rateHz_; }

private:
    struct Step {
        uint32_t freqHz;
        uint64_t frames;
    };
    std::vector<Step> steps_;
    uint32_t rateHz_;
    double peak_;
    uint64_t fadeFrames_;
    size_t step_ = 0;
    uint64_t pos_ = 0; // frame within the current step
};

} // namespace bwc::fw
