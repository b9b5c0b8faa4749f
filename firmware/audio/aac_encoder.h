#pragma once

// AAC-LC encoder (libavcodec's native "aac"). Takes blocks of any size, emits one packet
// per 1024 sample frames with 90 kHz timestamps derived from the sample index.

#include <memory>

#include "common/base/error.h"
#include "firmware/audio/audio_source.h"
#include "firmware/media/packet.h"

namespace bwc::fw {

struct AacEncoderOptions {
    AudioFormat format;
    uint32_t bitrateKbps = 96;
};

class AacEncoder
{
public:
    static Expected<std::unique_ptr<AacEncoder>> create(const AacEncoderOptions &options);
    virtual ~AacEncoder() = default;
    // Encodes a block; every packet completed is passed to `sink` before this returns.
    virtual Expected<void> encode(const AudioBlock &block, const PacketSink &sink) = 0;
    // Drains the encoder at the end of the stream.
    virtual Expected<void> flush(const PacketSink &sink) = 0;
    // Track description for the muxer (extradata = AudioSpecificConfig).
    virtual const StreamParams &params() const = 0;
};

} // namespace bwc::fw
