#pragma once

// Audio capture for the clip's audio track: ALSA on boards and hosts, and a deterministic
// synthetic source for tests. Samples are signed 16-bit, interleaved.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/base/error.h"

namespace bwc::fw {

struct AudioFormat {
    uint32_t sampleRate = 48'000;
    uint32_t channels = 1;
};

struct AudioBlock {
    // Interleaved samples: frames * channels values. Valid until the next call to next().
    std::span<const int16_t> samples;
    uint32_t frames = 0;
    // Index of the first sample frame since start(); a jump means samples were lost (an
    // overrun), and the encoder keeps the timeline by that index.
    uint64_t firstFrame = 0;
    // CLOCK_MONOTONIC time of the first sample, nanoseconds.
    int64_t monoNs = 0;
};

class AudioSource
{
public:
    virtual ~AudioSource() = default;
    virtual std::string describe() const = 0;
    virtual AudioFormat format() const = 0;
    virtual Expected<void> start() = 0;
    // Waits up to timeoutMs for the next block (about 20 ms of audio). An empty block
    // (frames == 0) on timeout. Errc::Device when the device failed; like video sources,
    // later calls try to reopen it.
    virtual Expected<AudioBlock> next(int timeoutMs) = 0;
    virtual void stop() = 0;
};

struct AudioSourceOptions {
    // "synthetic" or "alsa".
    std::string kind = "synthetic";
    // ALSA PCM name, e.g. "hw:0,0", "default", "hw:Loopback,1".
    std::string device;
    AudioFormat format;
    // Synthetic source: real time (daemon) or as fast as asked (tests, benchmarks).
    bool paced = true;
};

Expected<std::unique_ptr<AudioSource>> openAudioSource(const AudioSourceOptions &options);

// The synthetic source's sample value for sample frame `frame` (every channel carries the
// same value): a 1 kHz sine at -8 dBFS whose phase is computed from the frame index
// exactly, so it never drifts. A pure function of (frame, rate): tests compute what the
// camera must have captured and compare.
int16_t syntheticAudioSample(uint64_t frame, uint32_t sampleRate);
constexpr uint32_t kSyntheticToneHz = 1000;

} // namespace bwc::fw
