#include "firmware/camd/pipeline.h"

#include "common/base/clock.h"
#include "common/base/log.h"

namespace bwc::fw {

namespace {

int64_t ticksOfNs(int64_t ns)
{
    return ns / 1'000'000 * kTicksPerSecond / 1000;
}

} // namespace

Pipeline::Pipeline(PacketRouter &router, std::function<WatermarkFields(int64_t)> fields)
    : router_(router), fields_(std::move(fields))
{
    videoSink_ = [this](const PacketView &p) { forward(p, videoOffset_); };
    audioSink_ = [this](const PacketView &p) { forward(p, audioOffset_); };
}

void Pipeline::forward(const PacketView &packet, std::optional<int64_t> &offset)
{
    // Each track's timeline starts where its first packet was captured.
    if (!offset)
        offset = ticksOfNs(packet.monoNs - epochMonoNs_) - packet.pts;
    PacketView shifted = packet;
    shifted.pts += *offset;
    shifted.dts += *offset;
    router_.push(shifted);
}

Pipeline::~Pipeline()
{
    stop();
}

Expected<std::unique_ptr<Pipeline>> Pipeline::create(const PipelineOptions &options,
                                                     PacketRouter &router,
                                                     std::function<WatermarkFields(int64_t)> fields)
{
    std::unique_ptr<Pipeline> p(new Pipeline(router, std::move(fields)));
    auto video = openVideoSource(options.video);
    if (!video)
        return std::move(video).error().context("video." + options.video.kind);
    p->video_ = std::move(*video);
    const VideoFormat format = p->video_->format();

    VideoEncoderOptions enc = options.encoder;
    enc.format = options.video.format; // frames are delivered at the requested size
    enc.format.fps = format.fps;
    auto encoder = VideoEncoder::create(enc);
    if (!encoder)
        return std::move(encoder).error().context("video.encoder");
    p->encoder_ = std::move(*encoder);

    WatermarkOptions wm;
    if (!options.fontPath.empty())
        wm.fontPath = options.fontPath;
    wm.frameWidth = enc.format.width;
    wm.frameHeight = enc.format.height;
    auto watermark = Watermark::create(wm);
    if (!watermark)
        return std::move(watermark).error().context("font_path");
    p->watermark_ = std::move(*watermark);

    if (options.audio) {
        auto audio = openAudioSource(*options.audio);
        if (!audio)
            return std::move(audio).error().context("audio." + options.audio->kind);
        p->audio_ = std::move(*audio);
        AacEncoderOptions aac;
        aac.format = p->audio_->format();
        aac.bitrateKbps = options.audioBitrateKbps;
        auto aacEncoder = AacEncoder::create(aac);
        if (!aacEncoder)
            return std::move(aacEncoder).error().context("audio");
        p->aac_ = std::move(*aacEncoder);
    }
    p->stats_.videoSource = p->video_->describe();
    p->stats_.audioSource = p->audio_ ? p->audio_->describe() : "off";
    return p;
}

const StreamParams &Pipeline::videoParams() const
{
    return encoder_->params();
}

std::optional<StreamParams> Pipeline::audioParams() const
{
    if (!aac_)
        return std::nullopt;
    return aac_->params();
}

void Pipeline::noteError(const Error &error)
{
    std::lock_guard lock(statsMutex_);
    ++stats_.sourceErrors;
    if (stats_.lastError != error.message)
        log::error(error.message);
    stats_.lastError = error.message;
}

Expected<bool> Pipeline::videoStep(int timeoutMs)
{
    BWC_ASSIGN(frame, video_->next(timeoutMs));
    if (frame == nullptr)
        return false;
    // The watermark's text changes at most once a second of capture time.
    const int64_t second = frame->monoNs / 1'000'000'000;
    if (second != lastWatermarkSecond_) {
        lastWatermarkSecond_ = second;
        watermark_->setLines(watermarkLines(fields_(frame->monoNs)));
    }
    watermark_->apply(*frame);
    BWC_TRY(encoder_->encode(*frame, videoSink_));
    std::lock_guard lock(statsMutex_);
    ++stats_.frames;
    if (prevIndex_ && frame->index > *prevIndex_ + 1)
        stats_.droppedFrames += frame->index - *prevIndex_ - 1;
    prevIndex_ = frame->index;
    stats_.lastFrameIndex = frame->index;
    stats_.lastFrameMonoNs = frame->monoNs;
    stats_.watermarkRenders = watermark_->renderCount();
    return true;
}

Expected<bool> Pipeline::audioStep(int timeoutMs)
{
    BWC_ASSIGN(block, audio_->next(timeoutMs));
    if (block.frames == 0)
        return false;
    BWC_TRY(aac_->encode(block, audioSink_));
    std::lock_guard lock(statsMutex_);
    ++stats_.audioBlocks;
    return true;
}

Expected<void> Pipeline::start()
{
    epochMonoNs_ = monoNowNs();
    BWC_TRY(video_->start());
    if (audio_) {
        if (Expected<void> r = audio_->start(); !r) {
            video_->stop();
            return r;
        }
    }
    running_ = true;
    videoThread_ = std::thread([this] { videoLoop(); });
    if (audio_)
        audioThread_ = std::thread([this] { audioLoop(); });
    return {};
}

void Pipeline::stop()
{
    running_ = false;
    if (videoThread_.joinable())
        videoThread_.join();
    if (audioThread_.joinable())
        audioThread_.join();
    if (video_)
        video_->stop();
    if (audio_)
        audio_->stop();
}

void Pipeline::videoLoop()
{
    while (running_) {
        Expected<bool> r = videoStep(200);
        if (!r) {
            noteError(r.error());
            // A failed source reopens itself at most once a second; do not spin.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

void Pipeline::audioLoop()
{
    while (running_) {
        Expected<bool> r = audioStep(200);
        if (!r) {
            noteError(r.error());
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

Expected<void> Pipeline::runVideoFrames(uint64_t frames)
{
    if (!running_ && stats_.frames == 0)
        BWC_TRY(video_->start());
    for (uint64_t i = 0; i < frames;) {
        BWC_ASSIGN(got, videoStep(1000));
        if (got)
            ++i;
    }
    return {};
}

Expected<void> Pipeline::runAudioBlocks(uint64_t blocks)
{
    if (!audio_)
        return Error(Errc::Internal, "pipeline: no audio source");
    if (!running_ && stats_.audioBlocks == 0)
        BWC_TRY(audio_->start());
    for (uint64_t i = 0; i < blocks;) {
        BWC_ASSIGN(got, audioStep(1000));
        if (got)
            ++i;
    }
    return {};
}

PipelineStats Pipeline::stats() const
{
    std::lock_guard lock(statsMutex_);
    return stats_;
}

} // namespace bwc::fw
