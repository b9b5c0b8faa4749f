#pragma once

// Private to firmware/encode: owners for the FFmpeg objects the encoder and the muxer use,
// and FFmpeg error codes as text.

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

namespace bwc::fw::av {

// "Invalid argument (-22)".
std::string errorText(int averror);

struct CodecContextDeleter {
    void operator()(AVCodecContext *ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
    void operator()(AVFrame *frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
    void operator()(AVPacket *packet) const { av_packet_free(&packet); }
};
// An output context whose pb is owned elsewhere (AVFMT_FLAG_CUSTOM_IO).
struct OutputContextDeleter {
    void operator()(AVFormatContext *ctx) const { avformat_free_context(ctx); }
};
// A custom AVIOContext and its buffer (which avio may have replaced since allocation).
struct IoContextDeleter {
    void operator()(AVIOContext *io) const
    {
        av_freep(&io->buffer);
        avio_context_free(&io);
    }
};

using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using OutputContextPtr = std::unique_ptr<AVFormatContext, OutputContextDeleter>;
using IoContextPtr = std::unique_ptr<AVIOContext, IoContextDeleter>;

// Options handed to an av*_open call; whatever the callee did not consume stays in get().
class Dictionary
{
public:
    Dictionary() = default;
    Dictionary(const Dictionary &) = delete;
    Dictionary &operator=(const Dictionary &) = delete;
    ~Dictionary() { av_dict_free(&dict_); }

    void set(const char *key, const std::string &value)
    {
        av_dict_set(&dict_, key, value.c_str(), 0);
    }
    AVDictionary **address() { return &dict_; }
    // The first option the callee did not recognise, or an empty string.
    std::string firstUnused() const;

private:
    AVDictionary *dict_ = nullptr;
};

} // namespace bwc::fw::av
