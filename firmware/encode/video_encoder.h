#pragma once

// H.264 encoder over libavcodec: libx264 on hosts, h264_v4l2m2m on boards with a hardware
// encoder. Fixed GOP of one second (no scene-cut keyframes, no B-frames, no lookahead
// delay with libx264's zerolatency tuning), SPS/PPS repeated before every keyframe.
//
// libx264 gets the Frame's planes without a copy (it copies the picture into its own
// buffers while avcodec_send_frame() runs); h264_v4l2m2m may keep a frame queued past the
// call, so it gets one copy into a reused frame (I420, or NV12 when the driver wants that).
// h264_v4l2m2m hands out SPS/PPS only with its first output, not at open: its params()
// extradata is empty after create() and filled in by the first encode() that produces a
// packet; keyframes that come without SPS/PPS get the last ones seen put in front, so
// every keyframe carries them whatever the driver does.

#include <memory>
#include <string>

#include "common/base/error.h"
#include "firmware/media/frame.h"
#include "firmware/media/packet.h"

namespace bwc::fw {

struct VideoEncoderOptions {
    // "libx264" or "h264_v4l2m2m".
    std::string codec = "libx264";
    VideoFormat format;
    uint32_t bitrateKbps = 8000;
    // libx264 preset.
    std::string preset = "veryfast";
    // Encoder threads; 0 lets the encoder choose.
    int threads = 0;
};

class VideoEncoder
{
public:
    // Errc::Config naming the codec when it is unknown, not available in this libavcodec,
    // or the options are invalid; Errc::Device when h264_v4l2m2m finds no usable encoder
    // device.
    static Expected<std::unique_ptr<VideoEncoder>> create(const VideoEncoderOptions &options);
    virtual ~VideoEncoder() = default;
    // Encodes one frame; pts = frame.index * 90000 / fps. Every frame whose index is a
    // multiple of fps is a keyframe (frame.index 0, fps, 2 fps, ...), so GOPs of every
    // clip line up with whole seconds of the source; when the source dropped that frame,
    // the first frame of the second after it is the keyframe instead. Packets completed are
    // passed to `sink` before this returns. Errc::Internal for a frame of another size or
    // an index that does not increase.
    virtual Expected<void> encode(const Frame &frame, const PacketSink &sink) = 0;
    // Drains the encoder at the end of the stream; no encode() after it.
    virtual Expected<void> flush(const PacketSink &sink) = 0;
    // Track description for the muxer; extradata (SPS+PPS, Annex B) is known after create()
    // with libx264, after the first packet with h264_v4l2m2m (see above).
    virtual const StreamParams &params() const = 0;
};

} // namespace bwc::fw
