#include "tests/unit/firmware/encode/test_media.h"

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
}

namespace bwc::fw::test {

namespace {
// libx264 reports its settings and statistics at info level; keep test output to warnings.
[[maybe_unused]] const bool quietFfmpeg = [] {
    av_log_set_level(AV_LOG_WARNING);
    return true;
}();
} // namespace

void fillPattern(Frame &frame, uint64_t index)
{
    frame.index = index;
    const uint32_t w = frame.width(), h = frame.height();
    const uint32_t shift = static_cast<uint32_t>(index * 4);
    uint8_t *y = frame.plane(0);
    for (uint32_t r = 0; r < h; ++r)
        for (uint32_t c = 0; c < w; ++c)
            y[r * frame.stride(0) + c] =
                static_cast<uint8_t>(32 + ((c + shift) * 160 / w + r * 32 / h) % 192);
    // A bright square moving down.
    const uint32_t side = h / 6;
    const uint32_t top = static_cast<uint32_t>((index * 3) % (h - side));
    const uint32_t left = w / 3;
    for (uint32_t r = top; r < top + side; ++r)
        for (uint32_t c = left; c < left + side; ++c)
            y[r * frame.stride(0) + c] = 230;
    for (int p = 1; p <= 2; ++p) {
        uint8_t *plane = frame.plane(p);
        for (uint32_t r = 0; r < frame.planeHeight(p); ++r)
            for (uint32_t c = 0; c < frame.planeWidth(p); ++c)
                plane[r * frame.stride(p) + c] =
                    static_cast<uint8_t>(p == 1 ? 96 + c * 64 / frame.planeWidth(p)
                                                : 96 + r * 64 / frame.planeHeight(p));
    }
}

int64_t monoNsOf(uint64_t index, uint32_t fps)
{
    return 5'000'000'000 + static_cast<int64_t>(index) * 1'000'000'000 / fps;
}

EncodedVideo encodeVideo(uint32_t width, uint32_t height, uint32_t fps, uint32_t count,
                         uint32_t bitrateKbps)
{
    VideoEncoderOptions opts;
    opts.format = {width, height, fps};
    opts.bitrateKbps = bitrateKbps;
    opts.threads = 1;
    auto enc = VideoEncoder::create(opts);
    REQUIRE(enc.ok());
    EncodedVideo out;
    auto sink = [&](const PacketView &p) { out.packets.push_back(OwnedPacket::from(p)); };
    Frame frame(width, height);
    for (uint32_t i = 0; i < count; ++i) {
        fillPattern(frame, i);
        frame.monoNs = monoNsOf(i, fps);
        REQUIRE((*enc)->encode(frame, sink).ok());
    }
    REQUIRE((*enc)->flush(sink).ok());
    out.params = (*enc)->params();
    return out;
}

namespace {
struct CodecCtxFree {
    void operator()(AVCodecContext *c) const { avcodec_free_context(&c); }
};
struct FrameFree {
    void operator()(AVFrame *f) const { av_frame_free(&f); }
};
struct PacketFree {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};
} // namespace

EncodedAudio encodeSineAac(uint32_t sampleRate, uint32_t channels, double seconds)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    REQUIRE(codec != nullptr);
    std::unique_ptr<AVCodecContext, CodecCtxFree> ctx(avcodec_alloc_context3(codec));
    REQUIRE(ctx);
    ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
    ctx->sample_rate = static_cast<int>(sampleRate);
    av_channel_layout_default(&ctx->ch_layout, static_cast<int>(channels));
    ctx->bit_rate = 64000;
    ctx->time_base = AVRational{1, static_cast<int>(sampleRate)};
    ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    REQUIRE(avcodec_open2(ctx.get(), codec, nullptr) == 0);

    EncodedAudio out;
    out.params.track = Track::Audio;
    out.params.codec = "aac";
    out.params.sampleRate = sampleRate;
    out.params.channels = channels;
    out.params.frameSize = static_cast<uint32_t>(ctx->frame_size);
    out.params.bitrateKbps = 64;
    out.params.extradata.assign(ctx->extradata, ctx->extradata + ctx->extradata_size);

    std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
    std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
    frame->format = AV_SAMPLE_FMT_FLTP;
    frame->sample_rate = ctx->sample_rate;
    frame->nb_samples = ctx->frame_size;
    REQUIRE(av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout) == 0);
    REQUIRE(av_frame_get_buffer(frame.get(), 0) == 0);

    auto drain = [&]() {
        while (avcodec_receive_packet(ctx.get(), pkt.get()) == 0) {
            OwnedPacket p;
            p.track = Track::Audio;
            p.keyframe = true;
            p.pts = av_rescale_q(pkt->pts, ctx->time_base, AVRational{1, 90000});
            p.dts = av_rescale_q(pkt->dts, ctx->time_base, AVRational{1, 90000});
            p.duration = av_rescale_q(pkt->duration, ctx->time_base, AVRational{1, 90000});
            p.data.assign(pkt->data, pkt->data + pkt->size);
            out.packets.push_back(std::move(p));
            av_packet_unref(pkt.get());
        }
    };
    const int64_t total = static_cast<int64_t>(seconds * sampleRate);
    for (int64_t start = 0; start < total; start += ctx->frame_size) {
        REQUIRE(av_frame_make_writable(frame.get()) == 0);
        for (int i = 0; i < ctx->frame_size; ++i) {
            const double t = static_cast<double>(start + i) / sampleRate;
            const float v = static_cast<float>(0.3 * std::sin(2 * M_PI * 440.0 * t));
            for (uint32_t c = 0; c < channels; ++c)
                static_cast<float *>(static_cast<void *>(frame->extended_data[c]))[i] = v;
        }
        frame->pts = start;
        REQUIRE(avcodec_send_frame(ctx.get(), frame.get()) == 0);
        drain();
    }
    REQUIRE(avcodec_send_frame(ctx.get(), nullptr) == 0);
    drain();
    return out;
}

bool startsWithStartCode(ByteView data)
{
    return (data.size() >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 1) ||
           (data.size() >= 3 && data[0] == 0 && data[1] == 0 && data[2] == 1);
}

bool containsNalType(ByteView data, int type)
{
    for (size_t i = 0; i + 3 < data.size(); ++i)
        if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && (data[i + 3] & 0x1f) == type)
            return true;
    return false;
}

} // namespace bwc::fw::test
