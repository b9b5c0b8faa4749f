#include "firmware/hal/tone_synth.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace bwc::fw {

ToneSynth::ToneSynth(const std::vector<ToneStep> &pattern, uint32_t rateHz, double amplitude,
                     uint32_t fadeMs)
    : rateHz_(rateHz), peak_(std::clamp(amplitude, 0.0, 1.0) * 32767.0),
      fadeFrames_(std::max<uint64_t>(1, uint64_t(fadeMs) * rateHz / 1000))
{
    for (const ToneStep &s : pattern) {
        const uint64_t frames = uint64_t(s.ms) * rateHz / 1000;
        if (frames > 0)
            steps_.push_back({s.freqHz, frames});
    }
}

size_t ToneSynth::render(int16_t *out, size_t frames)
{
    size_t written = 0;
    while (written < frames && !done()) {
        const Step &s = steps_[step_];
        const size_t n = size_t(std::min<uint64_t>(frames - written, s.frames - pos_));
        if (s.freqHz == 0) {
            std::fill_n(out + written, n, int16_t(0));
        } else {
            const double w = 2.0 * std::numbers::pi * double(s.freqHz) / double(rateHz_);
            const double fade = double(fadeFrames_);
            for (size_t i = 0; i < n; ++i) {
                const uint64_t p = pos_ + i;
                // Linear ramps at both ends of the step: 0 at the first and the last frame.
                const double env =
                    std::min({1.0, double(p) / fade, double(s.frames - 1 - p) / fade});
                // The phase is computed from the frame index, so it never drifts.
                const double phase = std::fmod(w * double(p), 2.0 * std::numbers::pi);
                out[written + i] = int16_t(std::lround(peak_ * env * std::sin(phase)));
            }
        }
        written += n;
        pos_ += n;
        if (pos_ >= s.frames) {
            step_++;
            pos_ = 0;
        }
    }
    return written;
}

void ToneSynth::fadeOut()
{
    if (done())
        return;
    steps_.resize(step_ + 1);
    Step &s = steps_[step_];
    if (s.freqHz == 0 || pos_ == 0) {
        steps_.resize(step_); // nothing audible is in progress: stop at once
        pos_ = 0;
        return;
    }
    // With the step ending fadeFrames_ from now, the end ramp (from at most the current
    // envelope) brings it to 0 smoothly.
    s.frames = std::min(s.frames, pos_ + fadeFrames_);
}

uint64_t ToneSynth::totalFrames() const
{
    uint64_t total = 0;
    for (const Step &s : steps_)
        total += s.frames;
    return total;
}

} // namespace bwc::fw
