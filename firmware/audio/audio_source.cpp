#include "firmware/audio/audio_source.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "firmware/audio/sources.h"

namespace bwc::fw {

namespace {

constexpr uint32_t kMinRate = 8'000;
constexpr uint32_t kMaxRate = 192'000;
constexpr uint32_t kMaxChannels = 8;

} // namespace

int64_t audioFramesToNs(uint64_t frames, uint32_t rate)
{
    const uint64_t whole = frames / rate;
    const uint64_t rest = frames % rate;
    return static_cast<int64_t>(whole * 1'000'000'000ull + rest * 1'000'000'000ull / rate);
}

uint64_t audioNsToFrames(int64_t ns, uint32_t rate)
{
    const uint64_t n = static_cast<uint64_t>(std::max<int64_t>(ns, 0));
    const uint64_t seconds = n / 1'000'000'000;
    const uint64_t rest = n % 1'000'000'000;
    return seconds * rate + (rest * rate + 500'000'000) / 1'000'000'000;
}

int16_t syntheticAudioSample(uint64_t frame, uint32_t sampleRate)
{
    // About -8 dBFS: loud enough to survive any encoder, far from clipping.
    constexpr double kAmplitude = 13'000.0;
    if (sampleRate == 0)
        return 0;
    // The phase of sample n is 2*pi*(f*n mod rate)/rate: exact for every n, so the tone
    // neither drifts nor loses precision however long the source runs.
    const uint64_t step = (frame % sampleRate) * kSyntheticToneHz % sampleRate;
    const double phase = 2.0 * std::numbers::pi * static_cast<double>(step) / sampleRate;
    return static_cast<int16_t>(std::lround(kAmplitude * std::sin(phase)));
}

Expected<std::unique_ptr<AudioSource>> openAudioSource(const AudioSourceOptions &options)
{
    const AudioFormat &f = options.format;
    if (f.sampleRate < kMinRate || f.sampleRate > kMaxRate)
        return Error(Errc::Config, "audio: sample rate " + std::to_string(f.sampleRate) +
                                       " Hz is outside " + std::to_string(kMinRate) + ".." +
                                       std::to_string(kMaxRate) +
                                       " Hz; check audio.sample_rate (48000 is usual)");
    if (f.channels < 1 || f.channels > kMaxChannels)
        return Error(Errc::Config, "audio: " + std::to_string(f.channels) +
                                       " channels is outside 1.." + std::to_string(kMaxChannels) +
                                       "; check audio.channels (1 for a body-worn microphone)");
    if (options.kind == "synthetic")
        return openSyntheticAudioSource(options);
    if (options.kind == "alsa") {
        if (options.device.empty())
            return Error(Errc::Config, "audio: kind \"alsa\" needs a device name, e.g. "
                                       "\"hw:0,0\" or \"default\"; set audio.device "
                                       "(arecord -L lists them)");
        return openAlsaAudioSource(options);
    }
    return Error(Errc::Config, "audio: unknown source kind \"" + options.kind +
                                   "\"; use \"synthetic\" or \"alsa\"");
}

} // namespace bwc::fw
