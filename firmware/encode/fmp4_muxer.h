#pragma once

// Fragmented MP4 (ISO BMFF) writer over libavformat's mp4 muxer with custom I/O: an
// initial moov without samples, then one moof+mdat fragment per GOP, each written out
// by flushFragment(). A file cut after any fragment plays up to that fragment.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "common/base/error.h"
#include "firmware/media/packet.h"

namespace bwc::fw {

// Receives the MP4 bytes in order (the clip session's media stream).
using ByteSink = std::function<Expected<void>(ByteView)>;

class Fmp4Muxer
{
public:
    // Writes the file header (ftyp, moov) to `sink`. `audio` is optional.
    static Expected<std::unique_ptr<Fmp4Muxer>>
    create(const StreamParams &video, const std::optional<StreamParams> &audio, ByteSink sink);
    virtual ~Fmp4Muxer() = default;
    // Adds a packet. Timestamps are rebased so that the first video packet (which must be
    // a keyframe; Errc::Internal otherwise) is at 0; audio packets earlier than that are
    // dropped (audio written before the first video packet is held until it comes). Packets
    // of one track must come in dts order. After a sink error every call returns that error.
    virtual Expected<void> write(const PacketView &packet) = 0;
    // Writes everything added so far as one fragment. The recorder calls this before
    // each keyframe after the first, and at the end.
    virtual Expected<void> flushFragment() = 0;
    // Flushes the last fragment and ends the file (mfra index). No more writes after it.
    virtual Expected<void> finish() = 0;
    // Media time written out in fragments so far, in milliseconds.
    virtual int64_t fragmentedDurationMs() const = 0;
    virtual uint64_t bytesWritten() const = 0;
};

} // namespace bwc::fw
