#include "firmware/encode/fmp4_muxer.h"

#include <algorithm>
#include <deque>

#include "common/base/log.h"
#include "firmware/encode/av_util.h"

namespace bwc::fw {

namespace {

// libavformat hands this much to the sink at a time at most (one clip chunk).
constexpr int kIoBufferSize = 64 * 1024;
// Audio that arrives before the first video packet waits for it, up to this many packets
// (about 2.7 s of AAC at 48 kHz); older ones are dropped first.
constexpr size_t kMaxPendingAudio = 128;

constexpr AVRational kTimeBase90k{1, static_cast<int>(kTicksPerSecond)};

// Fragmented-MP4 flags and why:
//  frag_custom       fragments are cut only by flushFragment(), so one fragment = one GOP
//                    exactly as the recorder decides (not by libavformat's heuristics);
//  empty_moov        the moov (track descriptions, no samples) is written up front, so the
//                    file never needs a moov rewritten at the end: nothing seeks back and a
//                    file cut after any fragment is playable;
//  default_base_moof data offsets in each fragment are relative to its own moof, so a
//                    fragment does not depend on absolute file positions;
//  omit_tfhd_offset  no absolute base_data_offset in tfhd (default_base_moof already implies
//                    it; stated explicitly so it holds whatever the defaults).
constexpr const char *kMovFlags = "frag_custom+empty_moov+default_base_moof+omit_tfhd_offset";

#if LIBAVFORMAT_VERSION_MAJOR >= 61
using IoWriteBuffer = const uint8_t *;
#else
using IoWriteBuffer = uint8_t *;
#endif

struct PendingAudio {
    PacketView view;
    Bytes data;
};

class AvFmp4Muxer final : public Fmp4Muxer
{
public:
    static Expected<std::unique_ptr<Fmp4Muxer>>
    open(const StreamParams &video, const std::optional<StreamParams> &audio, ByteSink sink);

    Expected<void> write(const PacketView &packet) override;
    Expected<void> flushFragment() override;
    Expected<void> finish() override;
    int64_t fragmentedDurationMs() const override
    {
        return fragmentedTicks_ * 1000 / kTicksPerSecond;
    }
    uint64_t bytesWritten() const override { return bytesWritten_; }

private:
    AvFmp4Muxer() = default;

    static int writeCallback(void *opaque, IoWriteBuffer buf, int size);
    Expected<void> addStream(const StreamParams &params);
    Expected<void> writeHeader();
    Expected<void> mux(int streamIndex, const PacketView &packet);
    // The error of a failed libavformat call: the sink's own error when it caused it.
    Error failure(const std::string &what, int averror);
    Expected<void> check();

    ByteSink sink_;
    std::optional<Error> sinkError_;
    std::optional<Error> failed_;
    av::IoContextPtr io_;
    av::OutputContextPtr ctx_;
    av::PacketPtr packet_;
    int audioStream_ = -1;
    bool started_ = false;
    bool finished_ = false;
    int64_t base_ = 0;
    int64_t lastVideoDts_ = 0;
    int64_t lastAudioDts_ = 0;
    bool haveAudioDts_ = false;
    int64_t writtenTicks_ = 0;    // end of the video written so far (rebased)
    int64_t fragmentedTicks_ = 0; // end of the video in flushed fragments
    uint64_t bytesWritten_ = 0;
    uint64_t droppedAudio_ = 0;
    std::deque<PendingAudio> pendingAudio_;
};

int AvFmp4Muxer::writeCallback(void *opaque, IoWriteBuffer buf, int size)
{
    auto *self = static_cast<AvFmp4Muxer *>(opaque);
    if (self->sinkError_)
        return AVERROR(EIO);
    if (size <= 0)
        return 0;
    auto written = self->sink_(ByteView(buf, static_cast<size_t>(size)));
    if (!written) {
        self->sinkError_ = std::move(written).error();
        return AVERROR(EIO);
    }
    self->bytesWritten_ += static_cast<uint64_t>(size);
    return size;
}

Error AvFmp4Muxer::failure(const std::string &what, int averror)
{
    Error e = sinkError_
                  ? *sinkError_
                  : Error(Errc::Internal, "fmp4 muxer: " + what + ": " + av::errorText(averror));
    failed_ = e;
    return e;
}

Expected<void> AvFmp4Muxer::check()
{
    if (failed_)
        return *failed_;
    if (finished_)
        return Error(Errc::Internal, "fmp4 muxer: used after finish()");
    return {};
}

Expected<void> AvFmp4Muxer::addStream(const StreamParams &params)
{
    const bool video = params.track == Track::Video;
    const char *expected = video ? "h264" : "aac";
    if (params.codec != expected)
        return Error(Errc::Internal, std::string("fmp4 muxer: ") + (video ? "video" : "audio") +
                                         " track codec \"" + params.codec + "\"; only " + expected +
                                         " is supported");
    if (params.extradata.empty())
        return Error(
            Errc::Internal,
            std::string("fmp4 muxer: ") +
                (video ? "video track has no SPS/PPS" : "audio track has no AudioSpecificConfig") +
                " in its extradata; create the muxer after the encoder produced it");

    AVStream *st = avformat_new_stream(ctx_.get(), nullptr);
    if (st == nullptr)
        return Error(Errc::Internal, "fmp4 muxer: out of memory");
    st->time_base = kTimeBase90k;
    AVCodecParameters *par = st->codecpar;
    if (video) {
        if (params.width == 0 || params.height == 0)
            return Error(Errc::Internal, "fmp4 muxer: video track without a frame size");
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = AV_CODEC_ID_H264;
        par->width = static_cast<int>(params.width);
        par->height = static_cast<int>(params.height);
        par->format = AV_PIX_FMT_YUV420P;
        if (params.fps != 0)
            st->avg_frame_rate = AVRational{static_cast<int>(params.fps), 1};
    } else {
        if (params.sampleRate == 0 || params.channels == 0)
            return Error(Errc::Internal, "fmp4 muxer: audio track without sample rate or channels");
        par->codec_type = AVMEDIA_TYPE_AUDIO;
        par->codec_id = AV_CODEC_ID_AAC;
        par->sample_rate = static_cast<int>(params.sampleRate);
        av_channel_layout_default(&par->ch_layout, static_cast<int>(params.channels));
        par->frame_size = static_cast<int>(params.frameSize != 0 ? params.frameSize : 1024);
    }
    par->bit_rate = int64_t(params.bitrateKbps) * 1000;
    par->extradata =
        static_cast<uint8_t *>(av_mallocz(params.extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    if (par->extradata == nullptr)
        return Error(Errc::Internal, "fmp4 muxer: out of memory");
    std::copy(params.extradata.begin(), params.extradata.end(), par->extradata);
    par->extradata_size = static_cast<int>(params.extradata.size());
    return {};
}

Expected<void> AvFmp4Muxer::writeHeader()
{
    av::Dictionary opts;
    opts.set("movflags", kMovFlags);
    if (int rc = avformat_write_header(ctx_.get(), opts.address()); rc < 0)
        return failure("cannot write the file header", rc);
    if (std::string unused = opts.firstUnused(); !unused.empty())
        return Error(Errc::Internal, "fmp4 muxer: option \"" + unused +
                                         "\" is not known to this libavformat's mp4 muxer");
    avio_flush(ctx_->pb);
    if (ctx_->pb->error < 0)
        return failure("cannot write the file header", ctx_->pb->error);
    return {};
}

Expected<std::unique_ptr<Fmp4Muxer>> AvFmp4Muxer::open(const StreamParams &video,
                                                       const std::optional<StreamParams> &audio,
                                                       ByteSink sink)
{
    if (!sink)
        return Error(Errc::Internal, "fmp4 muxer: no byte sink");
    if (video.track != Track::Video || (audio && audio->track != Track::Audio))
        return Error(Errc::Internal, "fmp4 muxer: stream parameters given for the wrong track");

    std::unique_ptr<AvFmp4Muxer> m(new AvFmp4Muxer());
    m->sink_ = std::move(sink);

    AVFormatContext *raw = nullptr;
    if (int rc = avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr); rc < 0)
        return Error(Errc::Internal,
                     "fmp4 muxer: libavformat has no mp4 muxer: " + av::errorText(rc));
    m->ctx_.reset(raw);

    auto *buffer = static_cast<unsigned char *>(av_malloc(kIoBufferSize));
    if (buffer == nullptr)
        return Error(Errc::Internal, "fmp4 muxer: out of memory");
    // No seek callback: the output is a stream (an encrypted, append-only clip).
    AVIOContext *io = avio_alloc_context(buffer, kIoBufferSize, 1, m.get(), nullptr,
                                         &AvFmp4Muxer::writeCallback, nullptr);
    if (io == nullptr) {
        av_free(buffer);
        return Error(Errc::Internal, "fmp4 muxer: out of memory");
    }
    io->seekable = 0;
    m->io_.reset(io);
    m->ctx_->pb = io;
    m->ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;

    m->packet_.reset(av_packet_alloc());
    if (!m->packet_)
        return Error(Errc::Internal, "fmp4 muxer: out of memory");

    BWC_TRY(m->addStream(video));
    if (audio) {
        BWC_TRY(m->addStream(*audio));
        m->audioStream_ = 1;
    }
    BWC_TRY(m->writeHeader());
    return std::unique_ptr<Fmp4Muxer>(std::move(m));
}

Expected<void> AvFmp4Muxer::mux(int streamIndex, const PacketView &packet)
{
    AVStream *st = ctx_->streams[streamIndex];
    AVPacket *pkt = packet_.get();
    pkt->data = const_cast<uint8_t *>(packet.data.data());
    pkt->size = static_cast<int>(packet.data.size());
    pkt->stream_index = streamIndex;
    pkt->pts = av_rescale_q(packet.pts - base_, kTimeBase90k, st->time_base);
    pkt->dts = av_rescale_q(packet.dts - base_, kTimeBase90k, st->time_base);
    pkt->duration = av_rescale_q(packet.duration, kTimeBase90k, st->time_base);
    // Every AAC frame decodes on its own: audio samples are always sync samples, whatever
    // the producer put in `keyframe`.
    pkt->flags = (packet.keyframe || packet.track == Track::Audio) ? AV_PKT_FLAG_KEY : 0;
    // The packet is not reference counted: av_write_frame() copies what it keeps.
    const int rc = av_write_frame(ctx_.get(), pkt);
    av_packet_unref(pkt);
    if (rc < 0)
        return failure(std::string("cannot write a ") +
                           (packet.track == Track::Video ? "video" : "audio") + " packet (dts " +
                           std::to_string(packet.dts) + ")",
                       rc);
    return {};
}

Expected<void> AvFmp4Muxer::write(const PacketView &packet)
{
    BWC_TRY(check());
    if (packet.data.empty())
        return Error(Errc::Internal, "fmp4 muxer: empty packet");

    if (packet.track == Track::Audio) {
        if (audioStream_ < 0)
            return Error(Errc::Internal,
                         "fmp4 muxer: audio packet but the file has no audio track");
        if (haveAudioDts_ && packet.dts <= lastAudioDts_)
            return Error(Errc::Internal, "fmp4 muxer: audio dts " + std::to_string(packet.dts) +
                                             " does not follow " + std::to_string(lastAudioDts_));
        lastAudioDts_ = packet.dts;
        haveAudioDts_ = true;
        if (!started_) {
            if (pendingAudio_.size() == kMaxPendingAudio) {
                pendingAudio_.pop_front();
                ++droppedAudio_;
            }
            PendingAudio &p = pendingAudio_.emplace_back();
            p.data.assign(packet.data.begin(), packet.data.end());
            p.view = packet;
            p.view.data = p.data;
            return {};
        }
        if (packet.pts < base_) {
            ++droppedAudio_;
            return {};
        }
        return mux(audioStream_, packet);
    }

    if (!started_) {
        if (!packet.keyframe)
            return Error(Errc::Internal, "fmp4 muxer: the first video packet (pts " +
                                             std::to_string(packet.pts) +
                                             ") is not a keyframe; a clip must start on one");
        started_ = true;
        base_ = packet.pts;
        lastVideoDts_ = packet.dts;
        BWC_TRY(mux(0, packet));
        writtenTicks_ = packet.pts - base_ + packet.duration;
        // Audio that came first: what starts before the video is dropped, the rest follows.
        while (!pendingAudio_.empty()) {
            const PendingAudio &p = pendingAudio_.front();
            if (p.view.pts < base_)
                ++droppedAudio_;
            else
                BWC_TRY(mux(audioStream_, p.view));
            pendingAudio_.pop_front();
        }
        return {};
    }

    if (packet.dts <= lastVideoDts_)
        return Error(Errc::Internal, "fmp4 muxer: video dts " + std::to_string(packet.dts) +
                                         " does not follow " + std::to_string(lastVideoDts_));
    lastVideoDts_ = packet.dts;
    BWC_TRY(mux(0, packet));
    writtenTicks_ = std::max(writtenTicks_, packet.pts - base_ + packet.duration);
    return {};
}

Expected<void> AvFmp4Muxer::flushFragment()
{
    BWC_TRY(check());
    // A null packet makes the mp4 muxer write the samples queued so far as moof+mdat.
    if (int rc = av_write_frame(ctx_.get(), nullptr); rc < 0)
        return failure("cannot write a fragment", rc);
    avio_flush(ctx_->pb);
    if (ctx_->pb->error < 0)
        return failure("cannot write a fragment", ctx_->pb->error);
    fragmentedTicks_ = writtenTicks_;
    return {};
}

Expected<void> AvFmp4Muxer::finish()
{
    BWC_TRY(check());
    finished_ = true;
    if (int rc = av_write_trailer(ctx_.get()); rc < 0)
        return failure("cannot end the file", rc);
    avio_flush(ctx_->pb);
    if (ctx_->pb->error < 0)
        return failure("cannot end the file", ctx_->pb->error);
    fragmentedTicks_ = writtenTicks_;
    if (droppedAudio_ != 0)
        log::debug("fmp4 muxer: " + std::to_string(droppedAudio_) +
                   " audio packets from before the first video frame were dropped");
    return {};
}

} // namespace

Expected<std::unique_ptr<Fmp4Muxer>> Fmp4Muxer::create(const StreamParams &video,
                                                       const std::optional<StreamParams> &audio,
                                                       ByteSink sink)
{
    return AvFmp4Muxer::open(video, audio, std::move(sink));
}

} // namespace bwc::fw
