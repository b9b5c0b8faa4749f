// The file source: replays the first video stream of anything libavformat reads, scaled to
// the requested size in I420. Frames are re-timed to the requested frame rate (the file's own
// timestamps are not used), paced in real time or delivered as fast as they are asked for.

#include <cerrno>
#include <string>

#include "common/base/clock.h"
#include "firmware/capture/av_util.h"
#include "firmware/capture/pacer.h"
#include "firmware/capture/sources.h"

namespace bwc::fw {

namespace {

class FileSource final : public VideoSource
{
public:
    static Expected<std::unique_ptr<VideoSource>> open(const VideoSourceOptions &options);

    std::string describe() const override
    {
        return "file:" + path_ + " " + std::to_string(format_.width) + "x" +
               std::to_string(format_.height) + "@" + std::to_string(format_.fps) + " (" +
               codecName_ + (loop_ ? ", looping" : "") + ")";
    }
    VideoFormat format() const override { return format_; }
    Expected<void> start() override;
    Expected<Frame *> next(int timeoutMs) override;
    void stop() override { started_ = false; }

private:
    FileSource(const VideoSourceOptions &options, AvFormatPtr input, AvCodecContextPtr decoder,
               int stream);
    // Decodes the next picture into decoded_: true, or false at the end of the file.
    Expected<bool> decodeNext();
    Expected<void> rewind();
    Error error(Errc code, const std::string &what) const
    {
        return Error(code, "video file " + path_ + ": " + what);
    }

    std::string path_;
    VideoFormat format_;
    bool paced_;
    bool loop_;
    AvFormatPtr input_;
    AvCodecContextPtr decoder_;
    int stream_;
    std::string codecName_;
    AvPacketPtr packet_;
    AvFramePtr decoded_;
    FrameScaler scaler_;
    FramePacer pacer_;
    Frame frame_;
    bool started_ = false;
    bool everStarted_ = false;
    bool draining_ = false; // the demuxer reached the end; the decoder is being drained
    bool pending_ = false;  // decoded_ holds a picture not delivered yet
    bool atEnd_ = false;    // end of file reached without looping
    uint64_t decodedThisPass_ = 0;
};

FileSource::FileSource(const VideoSourceOptions &options, AvFormatPtr input,
                       AvCodecContextPtr decoder, int stream)
    : path_(options.device), format_(options.format), paced_(options.paced), loop_(options.loop),
      input_(std::move(input)), decoder_(std::move(decoder)), stream_(stream),
      codecName_(avcodec_get_name(decoder_->codec_id)), packet_(av_packet_alloc()),
      decoded_(av_frame_alloc()), pacer_(format_.fps, paced_), frame_(format_.width, format_.height)
{
}

Expected<std::unique_ptr<VideoSource>> FileSource::open(const VideoSourceOptions &options)
{
    const std::string &path = options.device;
    const std::string prefix = "video file " + path + ": ";
    AVFormatContext *raw = nullptr;
    int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (err < 0) {
        Errc code = Errc::Io;
        if (err == AVERROR(ENOENT))
            code = Errc::NotFound;
        else if (err == AVERROR_INVALIDDATA)
            code = Errc::Format;
        return Error(code, prefix + "cannot open: " + avErrorText(err) +
                               "; check video.device (the file to replay)");
    }
    AvFormatPtr input(raw);
    err = avformat_find_stream_info(input.get(), nullptr);
    if (err < 0)
        return Error(Errc::Format, prefix + "cannot read stream information: " + avErrorText(err));
    const AVCodec *codec = nullptr;
    const int stream = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream == AVERROR_DECODER_NOT_FOUND)
        return Error(Errc::Format, prefix + "no decoder in this FFmpeg for its video codec");
    if (stream < 0)
        return Error(Errc::Format, prefix + "has no video stream");
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        if (static_cast<int>(i) != stream)
            input->streams[i]->discard = AVDISCARD_ALL;
    }
    AvCodecContextPtr decoder(avcodec_alloc_context3(codec));
    if (!decoder)
        return Error(Errc::Internal, prefix + "out of memory allocating the decoder");
    err = avcodec_parameters_to_context(decoder.get(), input->streams[stream]->codecpar);
    if (err < 0)
        return Error(Errc::Format, prefix + "bad codec parameters: " + avErrorText(err));
    err = avcodec_open2(decoder.get(), codec, nullptr);
    if (err < 0)
        return Error(Errc::Format,
                     prefix + "cannot open the " + codec->name + " decoder: " + avErrorText(err));
    auto source = std::unique_ptr<FileSource>(
        new FileSource(options, std::move(input), std::move(decoder), stream));
    if (!source->packet_ || !source->decoded_)
        return Error(Errc::Internal, prefix + "out of memory allocating packet and frame");
    return std::unique_ptr<VideoSource>(std::move(source));
}

Expected<void> FileSource::start()
{
    if (everStarted_)
        BWC_TRY(rewind());
    pacer_.restart();
    started_ = true;
    everStarted_ = true;
    atEnd_ = false;
    return {};
}

Expected<bool> FileSource::decodeNext()
{
    for (;;) {
        int err = avcodec_receive_frame(decoder_.get(), decoded_.get());
        if (err == 0) {
            ++decodedThisPass_;
            return true;
        }
        if (err == AVERROR_EOF)
            return false;
        if (err != AVERROR(EAGAIN))
            return error(Errc::Format, "decoding failed: " + avErrorText(err));
        if (draining_)
            return false;
        err = av_read_frame(input_.get(), packet_.get());
        if (err == AVERROR_EOF) {
            draining_ = true;
            err = avcodec_send_packet(decoder_.get(), nullptr);
            if (err < 0 && err != AVERROR_EOF)
                return error(Errc::Format, "draining the decoder failed: " + avErrorText(err));
            continue;
        }
        if (err < 0)
            return error(Errc::Io, "read failed: " + avErrorText(err));
        if (packet_->stream_index != stream_) {
            av_packet_unref(packet_.get());
            continue;
        }
        err = avcodec_send_packet(decoder_.get(), packet_.get());
        av_packet_unref(packet_.get());
        // A damaged packet is skipped like a player would; the next keyframe recovers.
        if (err < 0 && err != AVERROR_INVALIDDATA)
            return error(Errc::Format, "decoding failed: " + avErrorText(err));
    }
}

Expected<void> FileSource::rewind()
{
    const AVStream *stream = input_->streams[stream_];
    const int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    const int err = av_seek_frame(input_.get(), stream_, start, AVSEEK_FLAG_BACKWARD);
    if (err < 0)
        return error(Errc::Io, "cannot seek back to the start: " + avErrorText(err) +
                                   "; use a seekable file or turn looping off");
    avcodec_flush_buffers(decoder_.get());
    av_frame_unref(decoded_.get());
    draining_ = false;
    pending_ = false;
    decodedThisPass_ = 0;
    return {};
}

Expected<Frame *> FileSource::next(int timeoutMs)
{
    if (!started_)
        return error(Errc::Internal, "next() called before start()");
    if (atEnd_) {
        // The end stays the end; paced callers still wait so their loop does not spin.
        if (paced_ && timeoutMs > 0)
            sleepUntilMonoNs(monoNowNs() + static_cast<int64_t>(timeoutMs) * 1'000'000);
        return static_cast<Frame *>(nullptr);
    }
    if (!pending_) {
        BWC_ASSIGN(got, decodeNext());
        if (!got) {
            if (!loop_ || decodedThisPass_ == 0) {
                atEnd_ = true;
                if (decodedThisPass_ == 0 && loop_)
                    return error(Errc::Format, "contains no decodable video frame");
                return static_cast<Frame *>(nullptr);
            }
            BWC_TRY(rewind());
            BWC_ASSIGN(again, decodeNext());
            if (!again) {
                atEnd_ = true;
                return error(Errc::Format, "no decodable video frame after seeking to the "
                                           "start; turn looping off for this file");
            }
        }
        pending_ = true;
    }
    const auto slot = pacer_.wait(timeoutMs);
    if (!slot)
        return static_cast<Frame *>(nullptr);
    if (auto scaled = scaler_.scale(*decoded_, frame_); !scaled)
        return std::move(scaled).error().context("video file " + path_);
    av_frame_unref(decoded_.get());
    pending_ = false;
    frame_.index = slot->index;
    frame_.monoNs = slot->monoNs;
    return &frame_;
}

} // namespace

Expected<std::unique_ptr<VideoSource>> openFileSource(const VideoSourceOptions &options)
{
    return FileSource::open(options);
}

} // namespace bwc::fw
