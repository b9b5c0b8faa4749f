#pragma once

// Encoded packets as they travel from the encoders through the pre-record ring to the
// fragmented-MP4 muxer. Every timestamp is in 90 kHz ticks (MPEG's clock): a frame at
// 24, 25, 30 or 60 fps and an AAC frame of 1024 samples at 48 kHz are whole numbers of
// ticks, so nothing drifts by rounding.

#include <cstdint>
#include <functional>
#include <string>

#include "common/base/bytes.h"

namespace bwc::fw {

constexpr int64_t kTicksPerSecond = 90'000;

enum class Track : uint8_t { Video = 0, Audio = 1 };

// A packet borrowed from its producer (an encoder's output, a ring slot): valid only
// during the call it is passed to.
struct PacketView {
    Track track = Track::Video;
    bool keyframe = false;
    int64_t pts = 0;      // 90 kHz ticks
    int64_t dts = 0;      // 90 kHz ticks
    int64_t duration = 0; // 90 kHz ticks
    // CLOCK_MONOTONIC time of the capture of the first sample or the frame, nanoseconds.
    int64_t monoNs = 0;
    ByteView data;
};

using PacketSink = std::function<void(const PacketView &)>;

// What the muxer needs to describe a track; filled in by the encoder that makes it.
struct StreamParams {
    Track track = Track::Video;
    // "h264" or "aac".
    std::string codec;
    // Video.
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t fps = 0;
    // Audio.
    uint32_t sampleRate = 0;
    uint32_t channels = 0;
    uint32_t frameSize = 0; // samples per packet
    uint32_t bitrateKbps = 0;
    // Codec configuration: AudioSpecificConfig for AAC; for H.264 the SPS and PPS (Annex B),
    // which are also repeated in-band before every keyframe.
    Bytes extradata;
};

} // namespace bwc::fw
