#pragma once

// Internal: RAII owners for the FFmpeg objects the sources use, and a scaler that turns any
// picture libswscale understands into an I420 Frame of the frame's own size.

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

#include "common/base/error.h"
#include "firmware/media/frame.h"

namespace bwc::fw {

struct AvFormatCloser {
    void operator()(AVFormatContext *ctx) const { avformat_close_input(&ctx); }
};
struct AvCodecContextFreer {
    void operator()(AVCodecContext *ctx) const { avcodec_free_context(&ctx); }
};
struct AvFrameFreer {
    void operator()(AVFrame *frame) const { av_frame_free(&frame); }
};
struct AvPacketFreer {
    void operator()(AVPacket *packet) const { av_packet_free(&packet); }
};
struct SwsContextFreer {
    void operator()(SwsContext *ctx) const { sws_freeContext(ctx); }
};

using AvFormatPtr = std::unique_ptr<AVFormatContext, AvFormatCloser>;
using AvCodecContextPtr = std::unique_ptr<AVCodecContext, AvCodecContextFreer>;
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameFreer>;
using AvPacketPtr = std::unique_ptr<AVPacket, AvPacketFreer>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextFreer>;

// FFmpeg's text for an AVERROR code.
std::string avErrorText(int err);

// Converts and scales pictures into I420 frames. The libswscale context is made on the first
// call and again only when the source geometry or format changes. Full-range ("J") formats
// from MJPEG decoders are converted to the limited range the encoder expects.
class FrameScaler
{
public:
    Expected<void> scale(const uint8_t *const srcData[], const int srcStride[], int srcWidth,
                         int srcHeight, AVPixelFormat srcFormat, Frame &dst);
    Expected<void> scale(const AVFrame &src, Frame &dst);

private:
    SwsContextPtr ctx_;
    int srcWidth_ = 0;
    int srcHeight_ = 0;
    AVPixelFormat srcFormat_ = AV_PIX_FMT_NONE;
    uint32_t dstWidth_ = 0;
    uint32_t dstHeight_ = 0;
};

} // namespace bwc::fw
