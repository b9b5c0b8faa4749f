// AAC-LC through libavcodec's native "aac" encoder.
//
// Timeline: every packet's pts is the index of the first sample its decoded output
// represents (libavcodec reports it with the encoder's 1024-sample priming delay already
// subtracted, so the very first packet of a stream starts 1024 samples before the first
// input sample), converted to 90 kHz ticks. A gap in the blocks' firstFrame (samples lost
// by the source) of up to one second is filled with silence, so the packets stay
// contiguous; a longer gap ends the encoder's stream (drained) and starts a new one at the
// new sample index, so the timeline jumps with the input. monoNs is interpolated from the
// most recent block whose first sample is not after the packet's first sample.

#include "firmware/audio/aac_encoder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
}

#include <algorithm>
#include <array>

#include "common/base/log.h"

namespace bwc::fw {

namespace {

struct CodecContextFree {
    void operator()(AVCodecContext *c) const { avcodec_free_context(&c); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;

struct FrameFree {
    void operator()(AVFrame *f) const { av_frame_free(&f); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;

struct PacketFree {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;

std::string avErrorText(int err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(err, text, sizeof text);
    return text;
}

// floor(a / b) for b > 0.
int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0)
        --q;
    return q;
}

// The encoder's sample rates, 0-terminated, or null when it names none. FFmpeg 7.1
// (libavcodec 61.13) deprecates AVCodec::supported_samplerates for
// avcodec_get_supported_config.
const int *supportedSampleRates(const AVCodec *codec)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(61, 13, 100)
    const void *rates = nullptr;
    int count = 0;
    if (avcodec_get_supported_config(nullptr, codec, AV_CODEC_CONFIG_SAMPLE_RATE, 0, &rates,
                                     &count) < 0)
        return nullptr;
    return static_cast<const int *>(rates);
#else
    return codec->supported_samplerates;
#endif
}

constexpr uint32_t kMaxChannels = 8;
constexpr size_t kAnchors = 16;

class FfmpegAacEncoder final : public AacEncoder
{
public:
    static Expected<std::unique_ptr<AacEncoder>> make(const AacEncoderOptions &options)
    {
        const AVCodec *codec = avcodec_find_encoder_by_name("aac");
        if (!codec)
            return Error(Errc::Config, "AAC encoder: libavcodec has no \"aac\" encoder; "
                                       "install an FFmpeg build with it");
        const uint32_t rate = options.format.sampleRate;
        const uint32_t channels = options.format.channels;
        if (channels < 1 || channels > kMaxChannels)
            return Error(Errc::Config, "AAC encoder: " + std::to_string(channels) +
                                           " channels is outside 1.." +
                                           std::to_string(kMaxChannels) + "; check audio.channels");
        if (const int *rates = supportedSampleRates(codec)) {
            bool supported = false;
            std::string list;
            for (const int *r = rates; *r != 0; ++r) {
                supported = supported || uint32_t(*r) == rate;
                list += (list.empty() ? "" : ", ") + std::to_string(*r);
            }
            if (!supported)
                return Error(Errc::Config, "AAC encoder: " + std::to_string(rate) +
                                               " Hz is not an AAC sample rate (use one of " + list +
                                               "); check audio.sample_rate");
        }
        if (options.bitrateKbps < 8 || options.bitrateKbps > 256 * channels)
            return Error(Errc::Config, "AAC encoder: " + std::to_string(options.bitrateKbps) +
                                           " kbit/s is outside 8.." +
                                           std::to_string(256 * channels) +
                                           "; check audio.bitrate_kbps (96 is usual for mono)");

        std::unique_ptr<FfmpegAacEncoder> enc(new FfmpegAacEncoder(options, codec));
        BWC_ASSIGN(ctx, enc->openCodec());
        enc->ctx_ = std::move(ctx);
        enc->frameSize_ = static_cast<uint32_t>(enc->ctx_->frame_size);
        if (enc->frameSize_ == 0)
            return Error(Errc::Internal, "AAC encoder: libavcodec reported a frame size of 0");

        enc->frame_.reset(av_frame_alloc());
        enc->packet_.reset(av_packet_alloc());
        if (!enc->frame_ || !enc->packet_)
            return Error(Errc::Internal, "AAC encoder: out of memory for a frame or packet");
        AVFrame *f = enc->frame_.get();
        f->format = AV_SAMPLE_FMT_FLTP;
        f->sample_rate = static_cast<int>(rate);
        f->nb_samples = static_cast<int>(enc->frameSize_);
        if (int err = av_channel_layout_copy(&f->ch_layout, &enc->ctx_->ch_layout); err < 0)
            return Error(Errc::Internal,
                         "AAC encoder: cannot set the frame's channel layout: " + avErrorText(err));
        if (int err = av_frame_get_buffer(f, 0); err < 0)
            return Error(Errc::Internal,
                         "AAC encoder: cannot allocate a frame: " + avErrorText(err));

        StreamParams &p = enc->params_;
        p.track = Track::Audio;
        p.codec = "aac";
        p.sampleRate = rate;
        p.channels = channels;
        p.frameSize = enc->frameSize_;
        p.bitrateKbps = options.bitrateKbps;
        if (enc->ctx_->extradata && enc->ctx_->extradata_size > 0)
            p.extradata.assign(enc->ctx_->extradata,
                               enc->ctx_->extradata + enc->ctx_->extradata_size);
        if (p.extradata.empty())
            return Error(Errc::Internal, "AAC encoder: libavcodec produced no AudioSpecificConfig");
        return std::unique_ptr<AacEncoder>(std::move(enc));
    }

    Expected<void> encode(const AudioBlock &block, const PacketSink &sink) override
    {
        if (block.frames == 0)
            return {};
        const uint32_t channels = params_.channels;
        if (block.samples.size() < size_t(block.frames) * channels)
            return Error(Errc::Internal, "AAC encoder: a block of " + std::to_string(block.frames) +
                                             " frames carries " +
                                             std::to_string(block.samples.size()) +
                                             " samples, fewer than frames x channels");
        if (finished_)
            return Error(Errc::Internal, "AAC encoder: encode() after flush(); create a new "
                                         "encoder for a new stream");
        if (!timelineStarted_) {
            nextIndex_ = block.firstFrame;
            timelineStarted_ = true;
        } else if (block.firstFrame < nextIndex_) {
            return Error(Errc::Internal, "AAC encoder: a block starts at sample " +
                                             std::to_string(block.firstFrame) +
                                             ", before the expected " + std::to_string(nextIndex_) +
                                             " (the source went backwards)");
        } else if (block.firstFrame > nextIndex_) {
            const uint64_t gap = block.firstFrame - nextIndex_;
            if (gap <= params_.sampleRate) {
                log::debug("AAC encoder: " + std::to_string(gap) +
                           " lost sample frames replaced by silence");
                BWC_TRY(feed(nullptr, gap, sink));
            } else {
                log::warn("AAC encoder: " + std::to_string(gap) +
                          " sample frames lost (more than a second); the audio track restarts "
                          "at the new position");
                BWC_TRY(drain(sink));
                BWC_ASSIGN(ctx, openCodec());
                ctx_ = std::move(ctx);
                nextIndex_ = block.firstFrame;
            }
        }
        anchors_[anchorNext_ % kAnchors] = {block.firstFrame, block.monoNs};
        ++anchorNext_;
        return feed(block.samples.data(), block.frames, sink);
    }

    Expected<void> flush(const PacketSink &sink) override
    {
        if (!timelineStarted_ || finished_)
            return {};
        BWC_TRY(drain(sink));
        finished_ = true;
        return {};
    }

    const StreamParams &params() const override { return params_; }

private:
    struct Anchor {
        uint64_t index = 0;
        int64_t monoNs = 0;
    };

    FfmpegAacEncoder(const AacEncoderOptions &options, const AVCodec *codec)
        : options_(options), codec_(codec)
    {
    }

    Expected<CodecContextPtr> openCodec() const
    {
        CodecContextPtr ctx(avcodec_alloc_context3(codec_));
        if (!ctx)
            return Error(Errc::Internal, "AAC encoder: out of memory for a codec context");
        const int rate = static_cast<int>(options_.format.sampleRate);
        ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
        ctx->sample_rate = rate;
        av_channel_layout_default(&ctx->ch_layout, static_cast<int>(options_.format.channels));
        ctx->bit_rate = int64_t(options_.bitrateKbps) * 1000;
#ifdef AV_PROFILE_AAC_LOW
        ctx->profile = AV_PROFILE_AAC_LOW;
#else
        ctx->profile = FF_PROFILE_AAC_LOW;
#endif
        ctx->time_base = AVRational{1, rate};
        // The AudioSpecificConfig goes into extradata (the MP4 track's esds), not in-band.
        ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        if (int err = avcodec_open2(ctx.get(), codec_, nullptr); err < 0)
            return Error(Errc::Config, "AAC encoder: cannot open libavcodec's aac encoder at " +
                                           std::to_string(rate) + " Hz, " +
                                           std::to_string(options_.format.channels) + " ch, " +
                                           std::to_string(options_.bitrateKbps) +
                                           " kbit/s: " + avErrorText(err));
        return ctx;
    }

    // Appends `count` sample frames (interleaved S16, or silence when `src` is null) to the
    // current AVFrame, encoding each frame as it fills.
    Expected<void> feed(const int16_t *src, uint64_t count, const PacketSink &sink)
    {
        const uint32_t channels = params_.channels;
        constexpr float kScale = 1.0f / 32768.0f;
        AVFrame *f = frame_.get();
        while (count > 0) {
            if (fill_ == 0) {
                f->nb_samples = static_cast<int>(frameSize_);
                if (int err = av_frame_make_writable(f); err < 0)
                    return Error(Errc::Internal, "AAC encoder: cannot make the frame writable: " +
                                                     avErrorText(err));
                frameStart_ = nextIndex_;
            }
            const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(count, frameSize_ - fill_));
            for (uint32_t c = 0; c < channels; ++c) {
                // av_frame_get_buffer aligns every plane for SIMD, so the bytes are floats'
                // storage (said through void *: 32-bit Arm's -Wcast-align rejects the direct
                // cast from uint8_t *).
                float *dst = static_cast<float *>(static_cast<void *>(f->extended_data[c])) + fill_;
                if (src) {
                    const int16_t *in = src + c;
                    for (uint32_t i = 0; i < n; ++i, in += channels)
                        dst[i] = float(*in) * kScale;
                } else {
                    std::fill_n(dst, n, 0.0f);
                }
            }
            if (src)
                src += size_t(n) * channels;
            fill_ += n;
            nextIndex_ += n;
            count -= n;
            if (fill_ == frameSize_)
                BWC_TRY(sendFrame(sink));
        }
        return {};
    }

    Expected<void> sendFrame(const PacketSink &sink)
    {
        AVFrame *f = frame_.get();
        f->nb_samples = static_cast<int>(fill_);
        f->pts = static_cast<int64_t>(frameStart_);
        fill_ = 0;
        if (int err = avcodec_send_frame(ctx_.get(), f); err < 0)
            return Error(Errc::Internal,
                         "AAC encoder: avcodec_send_frame failed: " + avErrorText(err));
        return receivePackets(sink);
    }

    // Encodes what is buffered (a short last frame is allowed by the aac encoder) and
    // drains the encoder; the context cannot take frames afterwards.
    Expected<void> drain(const PacketSink &sink)
    {
        if (fill_ > 0) {
            if (!(codec_->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME))
                BWC_TRY(feed(nullptr, frameSize_ - fill_, sink));
            else
                BWC_TRY(sendFrame(sink));
        }
        if (int err = avcodec_send_frame(ctx_.get(), nullptr); err < 0)
            return Error(Errc::Internal, "AAC encoder: cannot drain: " + avErrorText(err));
        return receivePackets(sink);
    }

    Expected<void> receivePackets(const PacketSink &sink)
    {
        AVPacket *pkt = packet_.get();
        for (;;) {
            const int err = avcodec_receive_packet(ctx_.get(), pkt);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
                return {};
            if (err < 0)
                return Error(Errc::Internal,
                             "AAC encoder: avcodec_receive_packet failed: " + avErrorText(err));
            if (pkt->pts == AV_NOPTS_VALUE) {
                av_packet_unref(pkt);
                return Error(Errc::Internal,
                             "AAC encoder: libavcodec returned a packet without pts");
            }
            const int64_t first = pkt->pts;
            const int64_t samples = pkt->duration > 0 ? pkt->duration : int64_t(frameSize_);
            PacketView view;
            view.track = Track::Audio;
            view.keyframe = true;
            view.pts = ticksOf(first);
            view.dts = view.pts;
            view.duration = ticksOf(first + samples) - view.pts;
            view.monoNs = monoNsOf(first);
            view.data = ByteView(pkt->data, static_cast<size_t>(pkt->size));
            sink(view);
            av_packet_unref(pkt);
        }
    }

    // 90 kHz ticks of sample index `index` (floor; exact at 48 kHz).
    int64_t ticksOf(int64_t index) const
    {
        return floorDiv(index * kTicksPerSecond, int64_t(params_.sampleRate));
    }

    // CLOCK_MONOTONIC time of sample `index`, from the newest block that starts at or
    // before it (or the oldest block kept, for the priming samples before the first).
    int64_t monoNsOf(int64_t index) const
    {
        const size_t kept = std::min<size_t>(anchorNext_, kAnchors);
        if (kept == 0)
            return 0;
        const Anchor *best = nullptr;
        const Anchor *oldest = nullptr;
        for (size_t i = 0; i < kept; ++i) {
            const Anchor &a = anchors_[(anchorNext_ - 1 - i) % kAnchors];
            oldest = &a;
            if (!best && int64_t(a.index) <= index)
                best = &a;
        }
        const Anchor &a = best ? *best : *oldest;
        const int64_t delta = index - int64_t(a.index);
        const int64_t rate = params_.sampleRate;
        // Split to stay exact and far from overflow: whole seconds, then the rest.
        const int64_t seconds = floorDiv(delta, rate);
        const int64_t rest = delta - seconds * rate;
        return a.monoNs + seconds * 1'000'000'000 + rest * 1'000'000'000 / rate;
    }

    AacEncoderOptions options_;
    const AVCodec *codec_;
    CodecContextPtr ctx_;
    FramePtr frame_;
    PacketPtr packet_;
    StreamParams params_;
    uint32_t frameSize_ = 0;
    uint32_t fill_ = 0;       // sample frames in frame_
    uint64_t frameStart_ = 0; // sample index of frame_'s first sample
    uint64_t nextIndex_ = 0;  // sample index the next input sample gets
    bool timelineStarted_ = false;
    bool finished_ = false;
    std::array<Anchor, kAnchors> anchors_{};
    size_t anchorNext_ = 0;
};

} // namespace

Expected<std::unique_ptr<AacEncoder>> AacEncoder::create(const AacEncoderOptions &options)
{
    return FfmpegAacEncoder::make(options);
}

} // namespace bwc::fw
