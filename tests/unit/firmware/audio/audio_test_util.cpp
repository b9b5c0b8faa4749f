#include "tests/unit/firmware/audio/audio_test_util.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
}

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>

#include <catch2/catch_test_macros.hpp>

namespace bwc::fw::test {

namespace {

struct CodecContextFree {
    void operator()(AVCodecContext *c) const { avcodec_free_context(&c); }
};
struct FrameFree {
    void operator()(AVFrame *f) const { av_frame_free(&f); }
};
struct PacketFree {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};

} // namespace

double tonePower(std::span<const float> samples, double freqHz, double sampleRate)
{
    const double w = 2.0 * std::numbers::pi * freqHz / sampleRate;
    const double coeff = 2.0 * std::cos(w);
    double s1 = 0, s2 = 0;
    for (float x : samples) {
        const double s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    const double n = static_cast<double>(samples.size());
    return power / (n * n);
}

PacketSink collectInto(std::vector<OwnedPacket> &out)
{
    return [&out](const PacketView &p) {
        CHECK(p.track == Track::Audio);
        out.push_back(OwnedPacket{p.keyframe, p.pts, p.dts, p.duration, p.monoNs,
                                  Bytes(p.data.begin(), p.data.end())});
    };
}

std::vector<std::vector<std::vector<float>>> decodeAac(const std::vector<OwnedPacket> &packets,
                                                       const Bytes &extradata, uint32_t sampleRate,
                                                       uint32_t channels)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    REQUIRE(codec != nullptr);
    std::unique_ptr<AVCodecContext, CodecContextFree> ctx(avcodec_alloc_context3(codec));
    REQUIRE(ctx);
    ctx->extradata =
        static_cast<uint8_t *>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    REQUIRE(ctx->extradata != nullptr);
    std::memcpy(ctx->extradata, extradata.data(), extradata.size());
    ctx->extradata_size = static_cast<int>(extradata.size());
    ctx->sample_rate = static_cast<int>(sampleRate);
    av_channel_layout_default(&ctx->ch_layout, static_cast<int>(channels));
    REQUIRE(avcodec_open2(ctx.get(), codec, nullptr) == 0);

    std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
    std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
    std::vector<std::vector<std::vector<float>>> out;
    auto receive = [&] {
        for (;;) {
            const int r = avcodec_receive_frame(ctx.get(), frame.get());
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
                return;
            REQUIRE(r == 0);
            REQUIRE(frame->format == AV_SAMPLE_FMT_FLTP);
            REQUIRE(frame->ch_layout.nb_channels == static_cast<int>(channels));
            std::vector<std::vector<float>> planes(channels);
            for (uint32_t c = 0; c < channels; ++c) {
                const float *p = static_cast<const float *>(static_cast<const void *>(frame->extended_data[c]));
                planes[c].assign(p, p + frame->nb_samples);
            }
            out.push_back(std::move(planes));
            av_frame_unref(frame.get());
        }
    };
    for (const OwnedPacket &p : packets) {
        REQUIRE(av_new_packet(pkt.get(), static_cast<int>(p.data.size())) == 0);
        std::memcpy(pkt->data, p.data.data(), p.data.size());
        pkt->pts = p.pts;
        pkt->dts = p.dts;
        REQUIRE(avcodec_send_packet(ctx.get(), pkt.get()) == 0);
        av_packet_unref(pkt.get());
        receive();
    }
    REQUIRE(avcodec_send_packet(ctx.get(), nullptr) == 0);
    receive();
    return out;
}

TempDir::TempDir()
{
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bwc-audio-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void writeBinaryFile(const std::string &path, ByteView data)
{
    std::FILE *f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(data.data(), 1, data.size(), f) == data.size());
    REQUIRE(std::fclose(f) == 0);
}

} // namespace bwc::fw::test
