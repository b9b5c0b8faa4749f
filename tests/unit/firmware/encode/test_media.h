#pragma once

// Test material for the encoder and muxer tests: a moving synthetic picture, an encoded
// clip of it, and AAC audio made with libavcodec's own encoder.

#include <cstdint>
#include <vector>

#include "firmware/encode/video_encoder.h"
#include "firmware/media/frame.h"
#include "firmware/media/packet.h"

namespace bwc::fw::test {

struct OwnedPacket {
    Track track = Track::Video;
    bool keyframe = false;
    int64_t pts = 0;
    int64_t dts = 0;
    int64_t duration = 0;
    int64_t monoNs = 0;
    Bytes data;

    PacketView view() const { return {track, keyframe, pts, dts, duration, monoNs, data}; }
    static OwnedPacket from(const PacketView &v)
    {
        return {v.track,
                v.keyframe,
                v.pts,
                v.dts,
                v.duration,
                v.monoNs,
                Bytes(v.data.begin(), v.data.end())};
    }
};

// Frame `index` of a moving test picture: diagonal luma ramp scrolling right, a bright
// square moving down, chroma gradients; frame.index is set.
void fillPattern(Frame &frame, uint64_t index);
// Capture time the tests give frame `index` at `fps`.
int64_t monoNsOf(uint64_t index, uint32_t fps);

struct EncodedVideo {
    StreamParams params;
    std::vector<OwnedPacket> packets;
};
// Encodes frames 0 .. count-1 with libx264 (after flush, so every frame is in).
EncodedVideo encodeVideo(uint32_t width, uint32_t height, uint32_t fps, uint32_t count,
                         uint32_t bitrateKbps = 1000);

struct EncodedAudio {
    StreamParams params;
    std::vector<OwnedPacket> packets;
};
// A 440 Hz sine, `seconds` long, encoded with libavcodec's AAC encoder; 90 kHz timestamps
// (the first packet carries the encoder's priming and starts before 0).
EncodedAudio encodeSineAac(uint32_t sampleRate, uint32_t channels, double seconds);

// "Start code then SPS" test helpers on Annex B data.
bool startsWithStartCode(ByteView data);
bool containsNalType(ByteView data, int type);

} // namespace bwc::fw::test
