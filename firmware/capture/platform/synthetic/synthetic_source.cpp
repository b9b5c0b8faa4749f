// The synthetic source: renderSyntheticFrame() pictures at the requested size and rate, paced
// on CLOCK_MONOTONIC or as fast as they are asked for.

#include <string>

#include "firmware/capture/pacer.h"
#include "firmware/capture/sources.h"

namespace bwc::fw {

namespace {

class SyntheticSource final : public VideoSource
{
public:
    explicit SyntheticSource(const VideoSourceOptions &options)
        : format_(options.format), paced_(options.paced), pacer_(format_.fps, paced_),
          frame_(format_.width, format_.height)
    {
    }

    std::string describe() const override
    {
        return "synthetic " + std::to_string(format_.width) + "x" + std::to_string(format_.height) +
               "@" + std::to_string(format_.fps) + (paced_ ? " paced" : " unpaced");
    }

    VideoFormat format() const override { return format_; }

    Expected<void> start() override
    {
        pacer_.restart();
        started_ = true;
        return {};
    }

    Expected<Frame *> next(int timeoutMs) override
    {
        if (!started_)
            return Error(Errc::Internal, describe() + ": next() called before start()");
        const auto slot = pacer_.wait(timeoutMs);
        if (!slot)
            return static_cast<Frame *>(nullptr);
        renderSyntheticFrame(slot->index, format_.fps, frame_);
        frame_.index = slot->index;
        frame_.monoNs = slot->monoNs;
        return &frame_;
    }

    void stop() override { started_ = false; }

private:
    VideoFormat format_;
    bool paced_;
    FramePacer pacer_;
    Frame frame_;
    bool started_ = false;
};

} // namespace

Expected<std::unique_ptr<VideoSource>> openSyntheticSource(const VideoSourceOptions &options)
{
    return std::unique_ptr<VideoSource>(std::make_unique<SyntheticSource>(options));
}

} // namespace bwc::fw
