// The synthetic audio source: a deterministic 1 kHz tone (syntheticAudioSample) in blocks of
// 20 ms, either paced on CLOCK_MONOTONIC like a real microphone or as fast as it is asked
// for with a simulated clock (monoNs = firstFrame / rate).

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <numeric>
#include <vector>

#include "common/base/clock.h"
#include "firmware/audio/sources.h"

namespace bwc::fw {

namespace {

void sleepUntilMonoNs(int64_t deadlineNs)
{
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(deadlineNs / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadlineNs % 1'000'000'000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

class SyntheticAudioSource final : public AudioSource
{
public:
    explicit SyntheticAudioSource(const AudioSourceOptions &options)
        : format_(options.format), paced_(options.paced),
          // 20 ms blocks; rates that are not a multiple of 50 round to the nearest frame.
          blockFrames_(std::max<uint32_t>(1, (options.format.sampleRate + 25) / 50))
    {
    }

    std::string describe() const override
    {
        return "synthetic " + std::to_string(format_.sampleRate) + " Hz " +
               std::to_string(format_.channels) + " ch" + (paced_ ? "" : " (unpaced)");
    }

    AudioFormat format() const override { return format_; }

    Expected<void> start() override
    {
        // One period of the tone holds rate / gcd(rate, f) samples; every block is copied
        // from this table, so next() neither allocates nor calls sin().
        const uint32_t period = format_.sampleRate / std::gcd(format_.sampleRate, kSyntheticToneHz);
        period_.resize(period);
        for (uint32_t i = 0; i < period; ++i)
            period_[i] = syntheticAudioSample(i, format_.sampleRate);
        block_.assign(static_cast<size_t>(blockFrames_) * format_.channels, 0);
        nextFrame_ = 0;
        startNs_ = monoNowNs();
        started_ = true;
        return {};
    }

    Expected<AudioBlock> next(int timeoutMs) override
    {
        if (!started_)
            return Error(Errc::Internal, describe() + ": next() called before start()");
        const uint64_t first = nextFrame_;
        int64_t monoNs = audioFramesToNs(first, format_.sampleRate);
        if (paced_) {
            // A block is ready once its last sample has been "captured".
            const int64_t due =
                startNs_ + audioFramesToNs(first + blockFrames_, format_.sampleRate);
            const int64_t now = monoNowNs();
            if (due > now) {
                const int64_t limit = now + int64_t(std::max(timeoutMs, 0)) * 1'000'000;
                sleepUntilMonoNs(std::min(due, limit));
                if (monoNowNs() < due) {
                    AudioBlock empty;
                    empty.firstFrame = first;
                    return empty;
                }
            }
            monoNs += startNs_;
        }
        const uint32_t channels = format_.channels;
        const size_t period = period_.size();
        size_t phase = static_cast<size_t>(first % period);
        for (uint32_t i = 0; i < blockFrames_; ++i) {
            const int16_t v = period_[phase];
            std::fill_n(block_.begin() + static_cast<ptrdiff_t>(i) * channels, channels, v);
            if (++phase == period)
                phase = 0;
        }
        nextFrame_ += blockFrames_;
        AudioBlock block;
        block.samples = block_;
        block.frames = blockFrames_;
        block.firstFrame = first;
        block.monoNs = monoNs;
        return block;
    }

    void stop() override { started_ = false; }

private:
    AudioFormat format_;
    bool paced_;
    uint32_t blockFrames_;
    std::vector<int16_t> period_;
    std::vector<int16_t> block_;
    uint64_t nextFrame_ = 0;
    int64_t startNs_ = 0;
    bool started_ = false;
};

} // namespace

Expected<std::unique_ptr<AudioSource>> openSyntheticAudioSource(const AudioSourceOptions &options)
{
    return std::unique_ptr<AudioSource>(std::make_unique<SyntheticAudioSource>(options));
}

} // namespace bwc::fw
