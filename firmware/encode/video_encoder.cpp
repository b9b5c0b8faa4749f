#include "firmware/encode/video_encoder.h"

#include <array>
#include <optional>

#include "firmware/encode/av_util.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

namespace bwc::fw {

namespace {

constexpr const char *kX264 = "libx264";
constexpr const char *kV4l2m2m = "h264_v4l2m2m";

// H.264 NAL unit types we look at.
constexpr int kNalSliceFirst = 1; // 1..5 are coded slices (VCL)
constexpr int kNalSliceLast = 5;
constexpr int kNalSps = 7;
constexpr int kNalPps = 8;

// One NAL unit of an Annex B stream: its type and its bytes including the start code.
struct Nal {
    int type = 0;
    ByteView bytes;
};

// Calls fn(Nal) for each NAL unit of an Annex B byte stream.
template <typename Fn> void forEachNal(ByteView data, Fn &&fn)
{
    const size_t n = data.size();
    auto findStart = [&](size_t from) -> size_t {
        for (size_t i = from; i + 3 <= n; ++i)
            if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)
                return (i > 0 && data[i - 1] == 0) ? i - 1 : i;
        return n;
    };
    size_t start = findStart(0);
    while (start < n) {
        const size_t header = start + (data[start + 2] == 1 ? 3 : 4);
        if (header >= n)
            break;
        const size_t next = findStart(header);
        fn(Nal{data[header] & 0x1f, data.subspan(start, next - start)});
        start = next;
    }
}

struct NalSummary {
    bool slice = false;
    bool sps = false;
    bool pps = false;
};

NalSummary summarise(ByteView data)
{
    NalSummary s;
    forEachNal(data, [&](const Nal &nal) {
        s.slice |= nal.type >= kNalSliceFirst && nal.type <= kNalSliceLast;
        s.sps |= nal.type == kNalSps;
        s.pps |= nal.type == kNalPps;
    });
    return s;
}

// The SPS and PPS NAL units of `data`, each behind a 4-byte start code.
Bytes parameterSets(ByteView data)
{
    Bytes out;
    forEachNal(data, [&](const Nal &nal) {
        if (nal.type != kNalSps && nal.type != kNalPps)
            return;
        const uint8_t startCode[] = {0, 0, 0, 1};
        ByteView body = nal.bytes.subspan(nal.bytes[2] == 1 ? 3 : 4);
        out.insert(out.end(), std::begin(startCode), std::end(startCode));
        out.insert(out.end(), body.begin(), body.end());
    });
    return out;
}

// Frame memory handed to libavcodec without a copy: the buffer does not own it.
void keepFrameMemory(void *, uint8_t *) {}

class AvVideoEncoder final : public VideoEncoder
{
public:
    static Expected<std::unique_ptr<VideoEncoder>> open(const VideoEncoderOptions &options,
                                                        const AVCodec *codec);

    Expected<void> encode(const Frame &frame, const PacketSink &sink) override;
    Expected<void> flush(const PacketSink &sink) override;
    const StreamParams &params() const override { return params_; }

private:
    AvVideoEncoder() = default;

    Expected<void> setupFrame();
    // Points frame_ at the Frame's planes (libx264) or copies them into frame_ (hardware).
    Expected<void> wrapFrame(const Frame &frame);
    Expected<void> copyFrame(const Frame &frame);
    // Sends a frame (nullptr: end of stream), passing completed packets to `sink`.
    Expected<void> submit(const AVFrame *frame, const PacketSink &sink);
    // Passes every packet the encoder has ready to `sink`; true once the encoder is drained.
    Expected<bool> receive(const PacketSink &sink);
    Expected<void> emit(const AVPacket &packet, const PacketSink &sink);
    void rememberMono(int64_t pts, int64_t monoNs);
    int64_t monoFor(int64_t pts) const;
    Error failure(std::string what, int averror) const;

    VideoEncoderOptions options_;
    StreamParams params_;
    av::CodecContextPtr ctx_;
    av::FramePtr frame_;
    av::PacketPtr packet_;
    bool hardware_ = false;
    AVPixelFormat pixelFormat_ = AV_PIX_FMT_YUV420P;
    // libx264 reads the picture during avcodec_send_frame() and copies it into its own
    // frame, so the Frame's planes are lent to it; the hardware encoder may keep a frame
    // queued past the call, so it gets a copy in a reused, reference-counted AVFrame.
    bool zeroCopy_ = false;
    int64_t ticksPerFrame_ = 0;
    std::optional<uint64_t> lastIndex_;
    bool flushed_ = false;
    // SPS+PPS last seen (Annex B), put in front of keyframes that come without them.
    Bytes parameterSets_;
    Bytes scratch_;
    // Capture times of frames in flight, by pts (the encoder may hold a few frames).
    std::array<std::pair<int64_t, int64_t>, 64> monoByPts_{};
    size_t monoNext_ = 0;
    // Set when the encoder can no longer be used safely.
    std::optional<Error> broken_;
};

Error AvVideoEncoder::failure(std::string what, int averror) const
{
    return Error(hardware_ ? Errc::Device : Errc::Internal,
                 "video encoder " + options_.codec + ": " + what + ": " + av::errorText(averror));
}

Expected<std::unique_ptr<VideoEncoder>> AvVideoEncoder::open(const VideoEncoderOptions &options,
                                                             const AVCodec *codec)
{
    std::unique_ptr<AvVideoEncoder> enc(new AvVideoEncoder());
    enc->options_ = options;
    enc->hardware_ = options.codec == kV4l2m2m;
    enc->zeroCopy_ = !enc->hardware_;
    enc->ticksPerFrame_ = kTicksPerSecond / options.format.fps;
    const int64_t bitrate = int64_t(options.bitrateKbps) * 1000;

    // The hardware encoder accepts what its driver supports: I420 or NV12 on the boards we
    // know. I420 is tried first (no conversion), then NV12.
    std::vector<AVPixelFormat> formats = {AV_PIX_FMT_YUV420P};
    if (enc->hardware_)
        formats.push_back(AV_PIX_FMT_NV12);

    int lastError = 0;
    for (AVPixelFormat format : formats) {
        av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
        if (!ctx)
            return Error(Errc::Internal, "video encoder " + options.codec + ": out of memory");
        ctx->width = static_cast<int>(options.format.width);
        ctx->height = static_cast<int>(options.format.height);
        ctx->pix_fmt = format;
        ctx->time_base = AVRational{1, static_cast<int>(kTicksPerSecond)};
        ctx->framerate = AVRational{static_cast<int>(options.format.fps), 1};
        ctx->gop_size = static_cast<int>(options.format.fps);
        ctx->max_b_frames = 0;
        ctx->bit_rate = bitrate;
        ctx->rc_max_rate = bitrate;
        ctx->rc_buffer_size = static_cast<int>(bitrate); // one second
        ctx->thread_count = options.threads;

        av::Dictionary opts;
        if (!enc->hardware_) {
            // SPS/PPS in extradata for the muxer, and repeated in-band before every keyframe
            // (repeat-headers is applied after the global-header flag turned it off).
            ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
            ctx->thread_type = FF_THREAD_SLICE;
            opts.set("preset", options.preset);
            opts.set("tune", "zerolatency");
            opts.set("forced-idr", "1");
            opts.set("x264-params", "scenecut=0:repeat-headers=1:open-gop=0");
        }

        const int rc = avcodec_open2(ctx.get(), codec, opts.address());
        if (rc < 0) {
            lastError = rc;
            continue;
        }
        if (std::string unused = opts.firstUnused(); !unused.empty())
            return Error(Errc::Internal, "video encoder " + options.codec + ": option \"" + unused +
                                             "\" is not known to this libavcodec");
        enc->ctx_ = std::move(ctx);
        enc->pixelFormat_ = format;
        break;
    }
    if (!enc->ctx_) {
        if (enc->hardware_)
            return Error(Errc::Device,
                         "video encoder h264_v4l2m2m: cannot open a V4L2 mem2mem H.264 encoder "
                         "for " +
                             std::to_string(options.format.width) + "x" +
                             std::to_string(options.format.height) +
                             " I420/NV12: " + av::errorText(lastError) +
                             "; check that the board's encoder device (/dev/video*) exists and "
                             "is accessible, or set video.codec to libx264");
        return Error(Errc::Config,
                     "video encoder " + options.codec + ": cannot open with preset \"" +
                         options.preset + "\" at " + std::to_string(options.format.width) + "x" +
                         std::to_string(options.format.height) + ": " + av::errorText(lastError) +
                         "; check video.preset and the video format");
    }

    enc->packet_.reset(av_packet_alloc());
    enc->frame_.reset(av_frame_alloc());
    if (!enc->packet_ || !enc->frame_)
        return Error(Errc::Internal, "video encoder " + options.codec + ": out of memory");
    BWC_TRY(enc->setupFrame());

    StreamParams &p = enc->params_;
    p.track = Track::Video;
    p.codec = "h264";
    p.width = options.format.width;
    p.height = options.format.height;
    p.fps = options.format.fps;
    p.bitrateKbps = options.bitrateKbps;
    if (enc->ctx_->extradata != nullptr && enc->ctx_->extradata_size > 0) {
        ByteView extra(enc->ctx_->extradata, static_cast<size_t>(enc->ctx_->extradata_size));
        p.extradata = parameterSets(extra);
        enc->parameterSets_ = p.extradata;
    }
    if (!enc->hardware_ && p.extradata.empty())
        return Error(Errc::Internal, "video encoder libx264: no SPS/PPS in extradata after open");
    return std::unique_ptr<VideoEncoder>(std::move(enc));
}

Expected<void> AvVideoEncoder::setupFrame()
{
    if (zeroCopy_)
        return {};
    frame_->format = pixelFormat_;
    frame_->width = ctx_->width;
    frame_->height = ctx_->height;
    if (int rc = av_frame_get_buffer(frame_.get(), 0); rc < 0)
        return failure("cannot allocate the input frame", rc);
    return {};
}

void AvVideoEncoder::rememberMono(int64_t pts, int64_t monoNs)
{
    monoByPts_[monoNext_ % monoByPts_.size()] = {pts, monoNs};
    ++monoNext_;
}

int64_t AvVideoEncoder::monoFor(int64_t pts) const
{
    const size_t count = std::min(monoNext_, monoByPts_.size());
    for (size_t i = 1; i <= count; ++i) {
        const auto &entry = monoByPts_[(monoNext_ - i) % monoByPts_.size()];
        if (entry.first == pts)
            return entry.second;
    }
    return 0;
}

Expected<void> AvVideoEncoder::encode(const Frame &frame, const PacketSink &sink)
{
    if (broken_)
        return *broken_;
    if (flushed_)
        return Error(Errc::Internal, "video encoder " + options_.codec + ": encode after flush");
    if (frame.width() != options_.format.width || frame.height() != options_.format.height)
        return Error(Errc::Internal,
                     "video encoder " + options_.codec + ": frame " +
                         std::to_string(frame.width()) + "x" + std::to_string(frame.height()) +
                         " does not match the configured " + std::to_string(options_.format.width) +
                         "x" + std::to_string(options_.format.height));
    if (lastIndex_ && frame.index <= *lastIndex_)
        return Error(Errc::Internal, "video encoder " + options_.codec + ": frame index " +
                                         std::to_string(frame.index) + " does not follow " +
                                         std::to_string(*lastIndex_));

    // A keyframe starts every second of the source: normally the frame whose index is a
    // multiple of fps; when that frame was dropped, the first frame after it.
    const uint64_t fps = options_.format.fps;
    const bool keyframe = !lastIndex_ || frame.index / fps != *lastIndex_ / fps;
    lastIndex_ = frame.index;
    const int64_t pts = static_cast<int64_t>(frame.index) * kTicksPerSecond / int64_t(fps);
    rememberMono(pts, frame.monoNs);

    AVFrame *in = frame_.get();
    BWC_TRY(zeroCopy_ ? wrapFrame(frame) : copyFrame(frame));
    in->pts = pts;
    in->pict_type = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    auto sent = submit(in, sink);
    if (zeroCopy_) {
        const bool retained = av_buffer_get_ref_count(in->buf[0]) > 1;
        av_frame_unref(in);
        if (retained) {
            broken_ = Error(Errc::Internal, "video encoder " + options_.codec +
                                                ": kept a reference to a lent frame after "
                                                "avcodec_send_frame(); the zero-copy path is "
                                                "not safe with this libavcodec");
            return *broken_;
        }
    }
    return sent;
}

Expected<void> AvVideoEncoder::wrapFrame(const Frame &frame)
{
    const uint8_t *base = frame.plane(0);
    size_t size = 0;
    for (int i = 0; i < 3; ++i) {
        const size_t end = static_cast<size_t>(frame.plane(i) - base) +
                           static_cast<size_t>(frame.stride(i)) * frame.planeHeight(i);
        size = std::max(size, end);
    }
    AVFrame *in = frame_.get();
    // Read-only: nothing in libavcodec may write into the capture's frame.
    in->buf[0] = av_buffer_create(const_cast<uint8_t *>(base), size, keepFrameMemory, nullptr,
                                  AV_BUFFER_FLAG_READONLY);
    if (in->buf[0] == nullptr)
        return Error(Errc::Internal, "video encoder " + options_.codec + ": out of memory");
    for (int i = 0; i < 3; ++i) {
        in->data[i] = const_cast<uint8_t *>(frame.plane(i));
        in->linesize[i] = frame.stride(i);
    }
    in->format = pixelFormat_;
    in->width = static_cast<int>(frame.width());
    in->height = static_cast<int>(frame.height());
    return {};
}

Expected<void> AvVideoEncoder::copyFrame(const Frame &frame)
{
    AVFrame *in = frame_.get();
    // Allocates a new buffer only if the encoder still holds the previous one.
    if (int rc = av_frame_make_writable(in); rc < 0)
        return failure("cannot get a writable input frame", rc);
    av_image_copy_plane(in->data[0], in->linesize[0], frame.plane(0), frame.stride(0),
                        static_cast<int>(frame.planeWidth(0)),
                        static_cast<int>(frame.planeHeight(0)));
    if (pixelFormat_ == AV_PIX_FMT_YUV420P) {
        for (int i = 1; i < 3; ++i)
            av_image_copy_plane(in->data[i], in->linesize[i], frame.plane(i), frame.stride(i),
                                static_cast<int>(frame.planeWidth(i)),
                                static_cast<int>(frame.planeHeight(i)));
        return {};
    }
    // NV12: U and V interleaved in plane 1.
    for (uint32_t y = 0; y < frame.planeHeight(1); ++y) {
        const uint8_t *u = frame.plane(1) + static_cast<size_t>(y) * frame.stride(1);
        const uint8_t *v = frame.plane(2) + static_cast<size_t>(y) * frame.stride(2);
        uint8_t *uv = in->data[1] + static_cast<size_t>(y) * in->linesize[1];
        for (uint32_t x = 0; x < frame.planeWidth(1); ++x) {
            uv[2 * x] = u[x];
            uv[2 * x + 1] = v[x];
        }
    }
    return {};
}

Expected<void> AvVideoEncoder::submit(const AVFrame *frame, const PacketSink &sink)
{
    // A hardware encoder whose queue is full answers EAGAIN until packets are taken out.
    constexpr int kMaxAttempts = 16;
    for (int attempt = 0;; ++attempt) {
        const int rc = avcodec_send_frame(ctx_.get(), frame);
        if (rc == 0)
            break;
        if (rc == AVERROR(EAGAIN) && attempt < kMaxAttempts) {
            BWC_ASSIGN(drained, receive(sink));
            if (drained)
                return failure("encoder ended while frames were still being sent", rc);
            continue;
        }
        return failure(frame != nullptr ? "cannot send a frame" : "cannot start draining", rc);
    }
    BWC_ASSIGN(drained, receive(sink));
    (void)drained;
    return {};
}

Expected<bool> AvVideoEncoder::receive(const PacketSink &sink)
{
    for (;;) {
        const int rc = avcodec_receive_packet(ctx_.get(), packet_.get());
        if (rc == AVERROR(EAGAIN))
            return false;
        if (rc == AVERROR_EOF)
            return true;
        if (rc < 0)
            return failure("cannot receive a packet", rc);
        auto emitted = emit(*packet_, sink);
        av_packet_unref(packet_.get());
        BWC_TRY(emitted);
    }
}

Expected<void> AvVideoEncoder::emit(const AVPacket &packet, const PacketSink &sink)
{
    ByteView data(packet.data, static_cast<size_t>(packet.size));
    const NalSummary nals = summarise(data);
    if (!nals.slice) {
        // h264_v4l2m2m's separate header mode: SPS and PPS come alone in the first packet.
        if (nals.sps && nals.pps) {
            parameterSets_ = parameterSets(data);
            if (params_.extradata.empty())
                params_.extradata = parameterSets_;
        }
        return {};
    }

    const bool keyframe = (packet.flags & AV_PKT_FLAG_KEY) != 0;
    if (keyframe) {
        if (nals.sps && nals.pps) {
            if (params_.extradata.empty()) {
                parameterSets_ = parameterSets(data);
                params_.extradata = parameterSets_;
            }
        } else {
            if (parameterSets_.empty())
                return Error(hardware_ ? Errc::Device : Errc::Internal,
                             "video encoder " + options_.codec +
                                 ": keyframe without SPS/PPS and none seen before");
            // Every keyframe carries its parameter sets, so any fragment decodes alone.
            scratch_.assign(parameterSets_.begin(), parameterSets_.end());
            scratch_.insert(scratch_.end(), data.begin(), data.end());
            data = scratch_;
        }
    }

    PacketView view;
    view.track = Track::Video;
    view.keyframe = keyframe;
    view.pts = packet.pts;
    view.dts = packet.dts != AV_NOPTS_VALUE ? packet.dts : packet.pts;
    view.duration = ticksPerFrame_;
    view.monoNs = monoFor(packet.pts);
    view.data = data;
    if (sink)
        sink(view);
    return {};
}

Expected<void> AvVideoEncoder::flush(const PacketSink &sink)
{
    if (broken_)
        return *broken_;
    if (flushed_)
        return {};
    flushed_ = true;
    BWC_TRY(submit(nullptr, sink));
    for (;;) {
        BWC_ASSIGN(drained, receive(sink));
        if (drained)
            return {};
    }
}

} // namespace

Expected<std::unique_ptr<VideoEncoder>> VideoEncoder::create(const VideoEncoderOptions &options)
{
    if (options.codec != kX264 && options.codec != kV4l2m2m)
        return Error(Errc::Config, "video encoder \"" + options.codec +
                                       "\": not supported; set video.codec to libx264 (hosts) or "
                                       "h264_v4l2m2m (boards with a V4L2 hardware encoder)");
    const VideoFormat &f = options.format;
    if (f.width < 16 || f.height < 16 || f.width % 2 != 0 || f.height % 2 != 0)
        return Error(Errc::Config, "video encoder " + options.codec + ": frame size " +
                                       std::to_string(f.width) + "x" + std::to_string(f.height) +
                                       " is invalid (even, at least 16x16); check video.width "
                                       "and video.height");
    if (f.fps == 0 || kTicksPerSecond % f.fps != 0)
        return Error(Errc::Config, "video encoder " + options.codec + ": " + std::to_string(f.fps) +
                                       " fps does not divide the 90 kHz clock; use 15, 24, 25, "
                                       "30, 50 or 60");
    if (options.bitrateKbps == 0)
        return Error(Errc::Config,
                     "video encoder " + options.codec + ": bitrate is 0; set video.bitrate_kbps");
    if (options.threads < 0)
        return Error(Errc::Config, "video encoder " + options.codec + ": threads is " +
                                       std::to_string(options.threads) + "; use 0 (auto) or more");
    const AVCodec *codec = avcodec_find_encoder_by_name(options.codec.c_str());
    if (codec == nullptr)
        return Error(Errc::Config, "video encoder " + options.codec +
                                       ": not available in this libavcodec build; install "
                                       "FFmpeg with it or choose another video.codec");
    return AvVideoEncoder::open(options, codec);
}

} // namespace bwc::fw
