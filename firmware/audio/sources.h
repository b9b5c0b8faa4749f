#pragma once

// Internal: the factories behind openAudioSource(), one per implementation. They take
// options that openAudioSource() has already validated (kind, sample rate, channels).

#include <memory>

#include "firmware/audio/audio_source.h"

namespace bwc::fw {

Expected<std::unique_ptr<AudioSource>> openSyntheticAudioSource(const AudioSourceOptions &options);
Expected<std::unique_ptr<AudioSource>> openAlsaAudioSource(const AudioSourceOptions &options);

// Nanoseconds spanned by `frames` sample frames at `rate`, without overflow for any frame
// count a process reaches (the quotient and the remainder are scaled separately).
int64_t audioFramesToNs(uint64_t frames, uint32_t rate);
// Sample frames in `ns` nanoseconds (ns >= 0) at `rate`, rounded to the nearest frame.
uint64_t audioNsToFrames(int64_t ns, uint32_t rate);

} // namespace bwc::fw
