#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "firmware/encode/fmp4_muxer.h"
#include "tests/unit/firmware/encode/test_media.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

using namespace bwc;
using namespace bwc::fw;
using bwc::fw::test::OwnedPacket;

namespace {

struct Box {
    std::string type;
    size_t offset = 0;
    size_t size = 0;
};

// The top-level ISO BMFF boxes of `data`; an empty type marks a malformed tail.
std::vector<Box> topLevelBoxes(const Bytes &data)
{
    std::vector<Box> boxes;
    size_t pos = 0;
    while (pos + 8 <= data.size()) {
        uint64_t size = getU32(&data[pos]);
        size_t header = 8;
        if (size == 1 && pos + 16 <= data.size()) {
            size = (uint64_t(getU32(&data[pos + 8])) << 32) | getU32(&data[pos + 12]);
            header = 16;
        } else if (size == 0) {
            size = data.size() - pos;
        }
        if (size < header || pos + size > data.size()) {
            boxes.push_back({"", pos, data.size() - pos});
            return boxes;
        }
        boxes.push_back({std::string(reinterpret_cast<const char *>(&data[pos + 4]), 4), pos,
                         static_cast<size_t>(size)});
        pos += size;
    }
    if (pos != data.size())
        boxes.push_back({"", pos, data.size() - pos});
    return boxes;
}

std::vector<std::string> typesOf(const std::vector<Box> &boxes)
{
    std::vector<std::string> types;
    for (const auto &b : boxes)
        types.push_back(b.type);
    return types;
}

class TempFile
{
public:
    explicit TempFile(const Bytes &data)
    {
        char tmpl[] = "/tmp/bwc-fmp4-XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        path_ = tmpl;
        REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
        ::close(fd);
    }
    ~TempFile() { ::unlink(path_.c_str()); }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

struct Demuxed {
    int videoPackets = 0;
    int audioPackets = 0;
    bool hasAudio = false;
    bool firstVideoKey = false;
    int64_t firstVideoPts = -1;
    double videoEndSeconds = 0; // end of the last video frame
    double audioStartSeconds = -1;
    std::vector<Bytes> videoFrames; // first few video packets as stored (AVCC)
    Bytes videoExtradata;
};

struct InputCloser {
    void operator()(AVFormatContext *ctx) const { avformat_close_input(&ctx); }
};
struct PacketFree {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};
struct CodecCtxFree {
    void operator()(AVCodecContext *c) const { avcodec_free_context(&c); }
};
struct FrameFree {
    void operator()(AVFrame *f) const { av_frame_free(&f); }
};

Demuxed demux(const std::string &path)
{
    AVFormatContext *raw = nullptr;
    REQUIRE(avformat_open_input(&raw, path.c_str(), nullptr, nullptr) == 0);
    std::unique_ptr<AVFormatContext, InputCloser> ctx(raw);
    REQUIRE(avformat_find_stream_info(ctx.get(), nullptr) >= 0);
    const int v = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const int a = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    REQUIRE(v >= 0);
    Demuxed out;
    AVStream *vs = ctx->streams[v];
    REQUIRE(vs->codecpar->codec_id == AV_CODEC_ID_H264);
    out.videoExtradata.assign(vs->codecpar->extradata,
                              vs->codecpar->extradata + vs->codecpar->extradata_size);
    out.hasAudio = a >= 0 && ctx->streams[a]->codecpar->codec_id == AV_CODEC_ID_AAC;
    std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
    while (av_read_frame(ctx.get(), pkt.get()) >= 0) {
        AVStream *st = ctx->streams[pkt->stream_index];
        if (pkt->stream_index == v) {
            if (out.videoPackets == 0) {
                out.firstVideoKey = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
                out.firstVideoPts = pkt->pts;
            }
            ++out.videoPackets;
            if (out.videoFrames.size() < 3)
                out.videoFrames.emplace_back(pkt->data, pkt->data + pkt->size);
            out.videoEndSeconds =
                std::max(out.videoEndSeconds,
                         static_cast<double>(pkt->pts + pkt->duration) * av_q2d(st->time_base));
        } else if (pkt->stream_index == a) {
            if (out.audioPackets == 0)
                out.audioStartSeconds = static_cast<double>(pkt->pts) * av_q2d(st->time_base);
            ++out.audioPackets;
        }
        av_packet_unref(pkt.get());
    }
    return out;
}

// Decodes the first video frame of the file and returns its PSNR against `reference`.
double firstFramePsnr(const std::string &path, const Frame &reference)
{
    AVFormatContext *raw = nullptr;
    REQUIRE(avformat_open_input(&raw, path.c_str(), nullptr, nullptr) == 0);
    std::unique_ptr<AVFormatContext, InputCloser> fmt(raw);
    REQUIRE(avformat_find_stream_info(fmt.get(), nullptr) >= 0);
    const AVCodec *decoder = nullptr;
    const int v = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    REQUIRE(v >= 0);
    REQUIRE(decoder != nullptr);
    std::unique_ptr<AVCodecContext, CodecCtxFree> dec(avcodec_alloc_context3(decoder));
    REQUIRE(avcodec_parameters_to_context(dec.get(), fmt->streams[v]->codecpar) >= 0);
    dec->thread_count = 1;
    REQUIRE(avcodec_open2(dec.get(), decoder, nullptr) == 0);

    std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
    std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
    bool got = false;
    while (!got && av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == v) {
            REQUIRE(avcodec_send_packet(dec.get(), pkt.get()) == 0);
            got = avcodec_receive_frame(dec.get(), frame.get()) == 0;
        }
        av_packet_unref(pkt.get());
    }
    if (!got) {
        REQUIRE(avcodec_send_packet(dec.get(), nullptr) == 0);
        got = avcodec_receive_frame(dec.get(), frame.get()) == 0;
    }
    REQUIRE(got);
    REQUIRE(frame->format == AV_PIX_FMT_YUV420P);
    REQUIRE(frame->width == static_cast<int>(reference.width()));
    REQUIRE(frame->height == static_cast<int>(reference.height()));

    double sq = 0;
    size_t n = 0;
    for (int p = 0; p < 3; ++p)
        for (uint32_t y = 0; y < reference.planeHeight(p); ++y)
            for (uint32_t x = 0; x < reference.planeWidth(p); ++x) {
                const int d = int(frame->data[p][y * frame->linesize[p] + x]) -
                              int(reference.plane(p)[y * reference.stride(p) + x]);
                sq += d * d;
                ++n;
            }
    const double mse = sq / static_cast<double>(n);
    return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// The encoded test clip and AAC track, made once for all cases.
struct Material {
    test::EncodedVideo video = test::encodeVideo(320, 240, 30, 90, 1000);
    test::EncodedAudio audio = test::encodeSineAac(48000, 1, 3.0);
};
const Material &material()
{
    static const Material m;
    return m;
}

// Video and audio merged in dts order, as the recorder would hand them over.
std::vector<const OwnedPacket *> interleaved(const Material &m, bool withAudio)
{
    std::vector<const OwnedPacket *> all;
    for (const auto &p : m.video.packets)
        all.push_back(&p);
    if (withAudio)
        for (const auto &p : m.audio.packets)
            all.push_back(&p);
    std::stable_sort(all.begin(), all.end(),
                     [](const OwnedPacket *a, const OwnedPacket *b) { return a->dts < b->dts; });
    return all;
}

struct MuxResult {
    Bytes file;
    std::vector<int64_t> fragmentedMs; // fragmentedDurationMs() after each flush
    uint64_t bytesWritten = 0;
};

MuxResult muxClip(bool withAudio)
{
    const Material &m = material();
    MuxResult out;
    auto sink = [&](ByteView b) -> Expected<void> {
        out.file.insert(out.file.end(), b.begin(), b.end());
        return {};
    };
    std::optional<StreamParams> audio;
    if (withAudio)
        audio = m.audio.params;
    auto muxer = Fmp4Muxer::create(m.video.params, audio, sink);
    REQUIRE(muxer.ok());
    const size_t headerBytes = out.file.size();
    CHECK(headerBytes > 0); // ftyp and moov are out at create()
    CHECK((*muxer)->bytesWritten() == headerBytes);

    bool first = true;
    for (const OwnedPacket *p : interleaved(m, withAudio)) {
        if (p->track == Track::Video && p->keyframe && !first) {
            REQUIRE((*muxer)->flushFragment().ok());
            out.fragmentedMs.push_back((*muxer)->fragmentedDurationMs());
        }
        if (p->track == Track::Video)
            first = false;
        auto written = (*muxer)->write(p->view());
        REQUIRE(written.ok());
    }
    REQUIRE((*muxer)->flushFragment().ok());
    out.fragmentedMs.push_back((*muxer)->fragmentedDurationMs());
    REQUIRE((*muxer)->finish().ok());
    out.bytesWritten = (*muxer)->bytesWritten();
    return out;
}

} // namespace

TEST_CASE("fmp4: one moof+mdat per GOP after ftyp and moov, and it demuxes whole")
{
    const Material &m = material();
    REQUIRE(m.video.packets.size() == 90);
    const MuxResult r = muxClip(true);
    CHECK(r.bytesWritten == r.file.size());
    CHECK(r.fragmentedMs == std::vector<int64_t>{1000, 2000, 3000});

    const auto boxes = topLevelBoxes(r.file);
    CHECK(typesOf(boxes) == std::vector<std::string>{"ftyp", "moov", "moof", "mdat", "moof", "mdat",
                                                     "moof", "mdat", "mfra"});

    TempFile file(r.file);
    const Demuxed d = demux(file.path());
    CHECK(d.videoPackets == 90);
    CHECK(d.firstVideoKey);
    CHECK(d.firstVideoPts == 0);
    CHECK(std::fabs(d.videoEndSeconds - 3.0) < 0.001);
    CHECK(d.hasAudio);
    // Audio from before the first video frame (the encoder's priming) is dropped, the rest
    // is all there, starting at or after 0.
    const auto audioFromZero = std::count_if(m.audio.packets.begin(), m.audio.packets.end(),
                                             [](const OwnedPacket &p) { return p.pts >= 0; });
    REQUIRE(audioFromZero < static_cast<long>(m.audio.packets.size()));
    CHECK(d.audioPackets == audioFromZero);
    CHECK(d.audioStartSeconds >= 0.0);
    CHECK(d.audioStartSeconds < 0.05);

    // The first picture decodes to the source picture.
    Frame source(320, 240);
    test::fillPattern(source, 0);
    const double psnr = firstFramePsnr(file.path(), source);
    INFO("PSNR " << psnr << " dB");
    CHECK(psnr > 30.0);
}

TEST_CASE("fmp4: a file cut after the second fragment still plays its 60 frames")
{
    const MuxResult r = muxClip(true);
    const auto boxes = topLevelBoxes(r.file);
    REQUIRE(boxes.size() >= 6);
    REQUIRE(boxes[5].type == "mdat");
    const size_t cut = boxes[5].offset + boxes[5].size;
    const Bytes truncated(r.file.begin(), r.file.begin() + static_cast<long>(cut));
    TempFile file(truncated);
    const Demuxed d = demux(file.path());
    CHECK(d.videoPackets == 60);
    CHECK(d.firstVideoKey);
    CHECK(std::fabs(d.videoEndSeconds - 2.0) < 0.001);
    CHECK(d.hasAudio);
    CHECK(d.audioPackets > 80);

    // Cut in the middle of the third fragment's media data (its moof complete): the first
    // two fragments still play in full. (A cut inside a moof makes libavformat refuse the
    // whole file, which is why a clip is only ever cut back to a checkpoint, and a
    // checkpoint follows each flushFragment().)
    REQUIRE(boxes[7].type == "mdat");
    const Bytes torn(r.file.begin(),
                     r.file.begin() + static_cast<long>(boxes[7].offset + boxes[7].size / 2));
    TempFile tornFile(torn);
    const Demuxed t = demux(tornFile.path());
    CHECK(t.videoPackets >= 60);
    CHECK(t.videoPackets < 90);
}

TEST_CASE("fmp4: a video-only file has the same layout and an avcC made from the SPS/PPS")
{
    const MuxResult r = muxClip(false);
    const auto boxes = topLevelBoxes(r.file);
    CHECK(typesOf(boxes) == std::vector<std::string>{"ftyp", "moov", "moof", "mdat", "moof", "mdat",
                                                     "moof", "mdat", "mfra"});
    TempFile file(r.file);
    const Demuxed d = demux(file.path());
    CHECK(d.videoPackets == 90);
    CHECK_FALSE(d.hasAudio);
    // The avcC in the moov carries the encoder's SPS/PPS (converted from Annex B).
    REQUIRE(d.videoExtradata.size() > 7);
    CHECK(d.videoExtradata[0] == 1);
}

TEST_CASE("fmp4: audio that arrives before the first video packet waits for it")
{
    const Material &m = material();
    Bytes out;
    auto sink = [&](ByteView b) -> Expected<void> {
        out.insert(out.end(), b.begin(), b.end());
        return {};
    };
    auto muxer = Fmp4Muxer::create(m.video.params, m.audio.params, sink);
    REQUIRE(muxer.ok());
    // The first 20 audio packets (about 0.4 s, including priming before 0), then one
    // second of video from its keyframe, then the rest of that second's audio.
    size_t ai = 0;
    for (; ai < 20; ++ai)
        REQUIRE((*muxer)->write(m.audio.packets[ai].view()).ok());
    for (size_t vi = 0; vi < 30; ++vi)
        REQUIRE((*muxer)->write(m.video.packets[vi].view()).ok());
    int expectedAudio = 0;
    for (size_t i = 0; i < m.audio.packets.size() && m.audio.packets[i].pts < 90000; ++i) {
        if (i >= 20)
            REQUIRE((*muxer)->write(m.audio.packets[i].view()).ok());
        expectedAudio += m.audio.packets[i].pts >= 0;
    }
    REQUIRE((*muxer)->finish().ok());
    CHECK((*muxer)->fragmentedDurationMs() == 1000);
    TempFile file(out);
    const Demuxed d = demux(file.path());
    CHECK(d.videoPackets == 30);
    CHECK(d.audioPackets == expectedAudio);
}

TEST_CASE("fmp4: timestamps are rebased so the first keyframe is at 0")
{
    const Material &m = material();
    Bytes out;
    auto sink = [&](ByteView b) -> Expected<void> {
        out.insert(out.end(), b.begin(), b.end());
        return {};
    };
    auto muxer = Fmp4Muxer::create(m.video.params, std::nullopt, sink);
    REQUIRE(muxer.ok());
    // Start at the second GOP, as a clip whose pre-roll begins at frame 30.
    for (size_t i = 30; i < 90; ++i) {
        if (i == 60)
            REQUIRE((*muxer)->flushFragment().ok());
        REQUIRE((*muxer)->write(m.video.packets[i].view()).ok());
    }
    CHECK((*muxer)->fragmentedDurationMs() == 1000);
    REQUIRE((*muxer)->finish().ok());
    CHECK((*muxer)->fragmentedDurationMs() == 2000);
    TempFile file(out);
    const Demuxed d = demux(file.path());
    CHECK(d.videoPackets == 60);
    CHECK(d.firstVideoPts == 0);
    CHECK(std::fabs(d.videoEndSeconds - 2.0) < 0.001);
}

TEST_CASE("fmp4: the first video packet must be a keyframe")
{
    const Material &m = material();
    auto muxer = Fmp4Muxer::create(m.video.params, std::nullopt,
                                   [](ByteView) -> Expected<void> { return {}; });
    REQUIRE(muxer.ok());
    auto written = (*muxer)->write(m.video.packets[1].view());
    REQUIRE_FALSE(written.ok());
    CHECK(written.error().code == Errc::Internal);
    CHECK(written.error().message.find("is not a keyframe") != std::string::npos);
    // Nothing was started: the keyframe is still accepted.
    CHECK((*muxer)->write(m.video.packets[0].view()).ok());
}

TEST_CASE("fmp4: the sink's error comes back from create, flushFragment and finish")
{
    const Material &m = material();

    auto failing = [](ByteView) -> Expected<void> {
        return Error(Errc::NoSpace, "clip store full");
    };
    auto early = Fmp4Muxer::create(m.video.params, std::nullopt, failing);
    REQUIRE_FALSE(early.ok());
    CHECK(early.error().code == Errc::NoSpace);
    CHECK(early.error().message == "clip store full");

    // Accepts the header, then fails.
    bool full = false;
    auto later = [&](ByteView) -> Expected<void> {
        if (!full)
            return {};
        return Error(Errc::Io, "media stream: write failed: Input/output error");
    };
    auto muxer = Fmp4Muxer::create(m.video.params, std::nullopt, later);
    REQUIRE(muxer.ok());
    full = true;
    for (size_t i = 0; i < 30; ++i)
        REQUIRE((*muxer)->write(m.video.packets[i].view()).ok());
    auto flushed = (*muxer)->flushFragment();
    REQUIRE_FALSE(flushed.ok());
    CHECK(flushed.error().code == Errc::Io);
    CHECK(flushed.error().message == "media stream: write failed: Input/output error");
    CHECK((*muxer)->fragmentedDurationMs() == 0);
    // The muxer stays failed with the same error.
    auto next = (*muxer)->write(m.video.packets[30].view());
    REQUIRE_FALSE(next.ok());
    CHECK(next.error().code == Errc::Io);
    auto finished = (*muxer)->finish();
    REQUIRE_FALSE(finished.ok());
    CHECK(finished.error().message == "media stream: write failed: Input/output error");
}

TEST_CASE("fmp4: bad stream parameters and misuse are internal errors")
{
    const Material &m = material();
    auto sink = [](ByteView) -> Expected<void> { return {}; };

    StreamParams noSps = m.video.params;
    noSps.extradata.clear();
    auto a = Fmp4Muxer::create(noSps, std::nullopt, sink);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().code == Errc::Internal);
    CHECK(a.error().message.find("no SPS/PPS") != std::string::npos);

    StreamParams hevc = m.video.params;
    hevc.codec = "hevc";
    auto b = Fmp4Muxer::create(hevc, std::nullopt, sink);
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().code == Errc::Internal);
    CHECK(b.error().message.find("codec \"hevc\"") != std::string::npos);

    auto muxer = Fmp4Muxer::create(m.video.params, std::nullopt, sink);
    REQUIRE(muxer.ok());
    auto audio = (*muxer)->write(m.audio.packets[2].view());
    REQUIRE_FALSE(audio.ok());
    CHECK(audio.error().message.find("no audio track") != std::string::npos);
    REQUIRE((*muxer)->write(m.video.packets[0].view()).ok());
    auto backwards = (*muxer)->write(m.video.packets[0].view());
    REQUIRE_FALSE(backwards.ok());
    CHECK(backwards.error().message.find("video dts 0 does not follow 0") != std::string::npos);
    REQUIRE((*muxer)->finish().ok());
    auto afterFinish = (*muxer)->write(m.video.packets[1].view());
    REQUIRE_FALSE(afterFinish.ok());
    CHECK(afterFinish.error().message.find("after finish") != std::string::npos);
}
