// ALSA capture (interleaved S16_LE) behind AudioSource.
//
// - The PCM is opened non-blocking; next() waits with snd_pcm_wait() and reads with
//   snd_pcm_readi() until it holds one period (about 20 ms) or the timeout expires.
// - monoNs of a block's first sample: from snd_pcm_htimestamp() when the PCM delivers
//   CLOCK_MONOTONIC timestamps (the time the newest captured sample arrived, minus the
//   frames still unread and the block itself), else now - (snd_pcm_delay + block) / rate.
// - Overrun (-EPIPE): snd_pcm_recover() + snd_pcm_start(). The samples lost (the ones the
//   driver dropped plus the ones in the ring that prepare discarded) are estimated from
//   time: the first block after the restart gets firstFrame = end of the last block
//   delivered + (its monoNs - that block's end time) * rate. The same accounting follows a
//   reopen, so the timeline of firstFrame always tracks CLOCK_MONOTONIC across losses.
// - -ENODEV, -EBADFD, -ESTRPIPE and any other failure: the PCM is closed, next() returns
//   Errc::Device naming the device, and later calls reopen it at most once a second.

#include <alsa/asoundlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "firmware/audio/sources.h"

namespace bwc::fw {

namespace {

constexpr unsigned kPeriodUs = 20'000;
constexpr unsigned kPeriodsPerBuffer = 25;
constexpr int64_t kReopenIntervalNs = 1'000'000'000;

struct PcmClose {
    void operator()(snd_pcm_t *pcm) const { snd_pcm_close(pcm); }
};
using PcmPtr = std::unique_ptr<snd_pcm_t, PcmClose>;

struct HwParamsFree {
    void operator()(snd_pcm_hw_params_t *p) const { snd_pcm_hw_params_free(p); }
};
using HwParamsPtr = std::unique_ptr<snd_pcm_hw_params_t, HwParamsFree>;

struct SwParamsFree {
    void operator()(snd_pcm_sw_params_t *p) const { snd_pcm_sw_params_free(p); }
};
using SwParamsPtr = std::unique_ptr<snd_pcm_sw_params_t, SwParamsFree>;

// alsa-lib prints its own diagnostics to stderr; route them to our debug log instead (the
// errors we return already say what failed).
__attribute__((format(printf, 5, 6))) void
alsaLibMessage(const char *file, int line, const char *function, int err, const char *fmt, ...)
{
    if (log::threshold() > log::Level::Debug)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    std::string message = std::string("alsa-lib ") + (file ? file : "?") + ":" +
                          std::to_string(line) + " " + (function ? function : "?") + ": " + text;
    if (err != 0)
        message += std::string(" (") + snd_strerror(err) + ")";
    log::debug(message);
}

void routeAlsaMessagesToLog()
{
    static std::once_flag once;
    std::call_once(once, [] { snd_lib_error_set_handler(&alsaLibMessage); });
}

void sleepUntilMonoNs(int64_t deadlineNs)
{
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(deadlineNs / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadlineNs % 1'000'000'000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

int msUntil(int64_t deadlineNs)
{
    const int64_t left = deadlineNs - monoNowNs();
    if (left <= 0)
        return 0;
    return static_cast<int>((left + 999'999) / 1'000'000);
}

std::string failureCause(int err)
{
    switch (-err) {
    case ENODEV:
        return "the device is gone (unplugged, or its driver was removed)";
    case ESTRPIPE:
        return "the device was suspended";
    case EBADFD:
        return "the device is in a bad state";
    default:
        return snd_strerror(err);
    }
}

class AlsaAudioSource final : public AudioSource
{
public:
    explicit AlsaAudioSource(const AudioSourceOptions &options)
        : device_(options.device), format_(options.format)
    {
    }

    ~AlsaAudioSource() override { stop(); }

    std::string describe() const override
    {
        return "alsa:" + device_ + " " + std::to_string(format_.sampleRate) + " Hz " +
               std::to_string(format_.channels) + " ch";
    }

    AudioFormat format() const override { return format_; }

    // Opens the PCM and applies the hardware and software parameters.
    Expected<void> openDevice()
    {
        snd_pcm_t *raw = nullptr;
        int err = snd_pcm_open(&raw, device_.c_str(), SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK);
        if (err < 0)
            return deviceError("cannot open it for capture: " + std::string(snd_strerror(err)) +
                               "; check audio.device (arecord -L lists the capture devices)");
        PcmPtr pcm(raw);
        BWC_TRY(configure(pcm.get()));
        pcm_ = std::move(pcm);
        return {};
    }

    Expected<void> start() override
    {
        if (!pcm_)
            BWC_TRY(openDevice());
        BWC_TRY(startStream());
        buffer_.assign(static_cast<size_t>(periodFrames_) * format_.channels, 0);
        nextFrame_ = 0;
        lastEndNs_ = -1;
        discontinuity_ = false;
        started_ = true;
        return {};
    }

    Expected<AudioBlock> next(int timeoutMs) override
    {
        if (!started_)
            return Error(Errc::Internal, describe() + ": next() called before start()");
        const int64_t deadline = monoNowNs() + int64_t(std::max(timeoutMs, 0)) * 1'000'000;
        if (!pcm_)
            BWC_TRY(reopen(deadline));

        const uint32_t channels = format_.channels;
        snd_pcm_uframes_t got = 0;
        while (got < periodFrames_) {
            snd_pcm_sframes_t n =
                snd_pcm_readi(pcm_.get(), buffer_.data() + got * channels, periodFrames_ - got);
            if (n > 0) {
                got += static_cast<snd_pcm_uframes_t>(n);
                continue;
            }
            if (n == 0 || n == -EAGAIN) {
                const int left = msUntil(deadline);
                if (left <= 0)
                    break;
                const int ready = snd_pcm_wait(pcm_.get(), left);
                if (ready == 0)
                    break;
                if (ready > 0) {
                    // Ready but nothing read: a plugin at the end of its input. Do not spin.
                    if (n == 0)
                        sleepUntilMonoNs(std::min(deadline, monoNowNs() + 5'000'000));
                    continue;
                }
                n = ready;
            }
            // The partial block precedes a loss: drop it (it is counted in the gap).
            got = 0;
            BWC_TRY(recover(static_cast<int>(n)));
        }
        if (got == 0) {
            AudioBlock empty;
            empty.firstFrame = nextFrame_;
            return empty;
        }

        const int64_t firstNs = firstSampleMonoNs(got);
        if (discontinuity_ && lastEndNs_ >= 0) {
            const int64_t gapNs = firstNs - lastEndNs_;
            const uint64_t lost = gapNs > 0 ? audioNsToFrames(gapNs, format_.sampleRate) : 0;
            nextFrame_ += lost;
            log::warn(describe() + ": capture resumed after " + lossCause_ + "; about " +
                      std::to_string(audioFramesToNs(lost, format_.sampleRate) / 1'000'000) +
                      " ms (" + std::to_string(lost) +
                      " sample frames) were lost and the audio timeline skips them");
        }
        discontinuity_ = false;

        AudioBlock block;
        block.samples = std::span<const int16_t>(buffer_.data(), got * channels);
        block.frames = static_cast<uint32_t>(got);
        block.firstFrame = nextFrame_;
        block.monoNs = firstNs;
        nextFrame_ += got;
        lastEndNs_ = firstNs + audioFramesToNs(got, format_.sampleRate);
        return block;
    }

    void stop() override
    {
        if (pcm_)
            snd_pcm_drop(pcm_.get());
        started_ = false;
    }

private:
    Error deviceError(const std::string &what) const
    {
        return Error(Errc::Device, "ALSA capture device '" + device_ + "': " + what);
    }

    Expected<void> configure(snd_pcm_t *pcm)
    {
        snd_pcm_hw_params_t *rawHw = nullptr;
        if (snd_pcm_hw_params_malloc(&rawHw) < 0)
            return deviceError("out of memory for the hardware parameters");
        HwParamsPtr hw(rawHw);
        int err = snd_pcm_hw_params_any(pcm, hw.get());
        if (err < 0)
            return deviceError("cannot read its hardware parameters: " +
                               std::string(snd_strerror(err)));
        if (snd_pcm_hw_params_set_access(pcm, hw.get(), SND_PCM_ACCESS_RW_INTERLEAVED) < 0)
            return deviceError("does not support interleaved reads; use a \"plughw:\" device");
        if (snd_pcm_hw_params_set_format(pcm, hw.get(), SND_PCM_FORMAT_S16_LE) < 0)
            return deviceError("does not capture signed 16-bit little-endian samples; use a "
                               "\"plughw:\" device");
        if (snd_pcm_hw_params_set_channels(pcm, hw.get(), format_.channels) < 0) {
            unsigned lo = 0, hi = 0;
            snd_pcm_hw_params_get_channels_min(hw.get(), &lo);
            snd_pcm_hw_params_get_channels_max(hw.get(), &hi);
            return deviceError("cannot capture " + std::to_string(format_.channels) +
                               " channels (it offers " + std::to_string(lo) + ".." +
                               std::to_string(hi) + "); set audio.channels accordingly");
        }
        if (snd_pcm_hw_params_set_rate(pcm, hw.get(), format_.sampleRate, 0) < 0) {
            unsigned lo = 0, hi = 0;
            int dir = 0;
            snd_pcm_hw_params_get_rate_min(hw.get(), &lo, &dir);
            snd_pcm_hw_params_get_rate_max(hw.get(), &hi, &dir);
            return deviceError("cannot capture at " + std::to_string(format_.sampleRate) +
                               " Hz (it offers " + std::to_string(lo) + ".." + std::to_string(hi) +
                               " Hz); set audio.sample_rate to a rate it supports or use a "
                               "\"plughw:\" device");
        }
        unsigned periodUs = kPeriodUs;
        int dir = 0;
        err = snd_pcm_hw_params_set_period_time_near(pcm, hw.get(), &periodUs, &dir);
        if (err < 0)
            return deviceError("cannot use a period near 20 ms: " + std::string(snd_strerror(err)));
        snd_pcm_uframes_t period = 0;
        snd_pcm_hw_params_get_period_size(hw.get(), &period, &dir);
        snd_pcm_uframes_t buffer = period * kPeriodsPerBuffer;
        err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw.get(), &buffer);
        if (err < 0)
            return deviceError("cannot use a buffer of " + std::to_string(buffer) +
                               " frames: " + std::string(snd_strerror(err)));
        err = snd_pcm_hw_params(pcm, hw.get());
        if (err < 0)
            return deviceError("cannot apply the hardware parameters: " +
                               std::string(snd_strerror(err)));
        snd_pcm_hw_params_get_period_size(hw.get(), &period, &dir);
        snd_pcm_hw_params_get_buffer_size(hw.get(), &buffer);
        if (period == 0)
            return deviceError("reported a period of 0 frames");
        periodFrames_ = period;
        bufferFrames_ = buffer;

        // Timestamps on CLOCK_MONOTONIC, if the PCM can (kernels >= 3.8 and most plugins).
        monoTstamp_ = true;
        err = applySwParams(pcm, true);
        if (err < 0) {
            monoTstamp_ = false;
            err = applySwParams(pcm, false);
        }
        if (err < 0)
            return deviceError("cannot apply the software parameters: " +
                               std::string(snd_strerror(err)));
        log::debug(describe() + ": period " + std::to_string(periodFrames_) + " frames, buffer " +
                   std::to_string(bufferFrames_) + " frames, " +
                   (monoTstamp_ ? "monotonic timestamps" : "timestamps from snd_pcm_delay"));
        return {};
    }

    int applySwParams(snd_pcm_t *pcm, bool monotonic)
    {
        snd_pcm_sw_params_t *rawSw = nullptr;
        if (snd_pcm_sw_params_malloc(&rawSw) < 0)
            return -ENOMEM;
        SwParamsPtr sw(rawSw);
        int err = snd_pcm_sw_params_current(pcm, sw.get());
        if (err < 0)
            return err;
        if ((err = snd_pcm_sw_params_set_avail_min(pcm, sw.get(), periodFrames_)) < 0)
            return err;
        // Started explicitly; a read in PREPARED state (after a recovery) starts it too.
        if ((err = snd_pcm_sw_params_set_start_threshold(pcm, sw.get(), 1)) < 0)
            return err;
        if ((err = snd_pcm_sw_params_set_tstamp_mode(pcm, sw.get(), SND_PCM_TSTAMP_ENABLE)) < 0)
            return err;
        if (monotonic && (err = snd_pcm_sw_params_set_tstamp_type(
                              pcm, sw.get(), SND_PCM_TSTAMP_TYPE_MONOTONIC)) < 0)
            return err;
        return snd_pcm_sw_params(pcm, sw.get());
    }

    Expected<void> startStream()
    {
        int err = snd_pcm_prepare(pcm_.get());
        if (err >= 0)
            err = snd_pcm_start(pcm_.get());
        if (err < 0) {
            pcm_.reset();
            lastOpenAttemptNs_ = monoNowNs();
            return deviceError("cannot start capture: " + failureCause(err));
        }
        return {};
    }

    // Handles a failed read or wait: recovers from an overrun, else closes the device.
    Expected<void> recover(int err)
    {
        if (err == -EPIPE) {
            int r = snd_pcm_recover(pcm_.get(), err, 1);
            if (r >= 0 && snd_pcm_state(pcm_.get()) != SND_PCM_STATE_RUNNING)
                r = snd_pcm_start(pcm_.get());
            if (r >= 0) {
                discontinuity_ = true;
                lossCause_ = "overrun " + std::to_string(++overruns_) + " (the reader fell behind)";
                return {};
            }
            err = r;
        }
        pcm_.reset();
        lastOpenAttemptNs_ = monoNowNs();
        discontinuity_ = true;
        lossCause_ = "a device failure";
        return deviceError("capture failed: " + failureCause(err) +
                           "; reopening it at most once a second");
    }

    // Reopens a closed device once a second has passed since the last attempt, waiting for
    // that moment if the deadline allows.
    Expected<void> reopen(int64_t deadline)
    {
        const int64_t due = lastOpenAttemptNs_ + kReopenIntervalNs;
        if (monoNowNs() < due) {
            sleepUntilMonoNs(std::min(deadline, due));
            if (monoNowNs() < due)
                return deviceError("unavailable; the next attempt to reopen it is in " +
                                   std::to_string((due - monoNowNs()) / 1'000'000 + 1) + " ms");
        }
        lastOpenAttemptNs_ = monoNowNs();
        if (Expected<void> r = openDevice(); !r)
            return std::move(r).error();
        BWC_TRY(startStream());
        const size_t need = static_cast<size_t>(periodFrames_) * format_.channels;
        if (buffer_.size() < need)
            buffer_.assign(need, 0);
        discontinuity_ = true;
        log::info(describe() + ": reopened");
        return {};
    }

    // CLOCK_MONOTONIC time of the first of the `frames` sample frames just read.
    int64_t firstSampleMonoNs(snd_pcm_uframes_t frames) const
    {
        const int64_t now = monoNowNs();
        if (monoTstamp_) {
            snd_pcm_uframes_t avail = 0;
            snd_htimestamp_t ts{};
            if (snd_pcm_htimestamp(pcm_.get(), &avail, &ts) == 0 && (ts.tv_sec || ts.tv_nsec)) {
                const int64_t tsNs = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
                // Ignore a timestamp that is not plausibly from this clock and this period.
                if (tsNs <= now + 1'000'000 && now - tsNs < 1'000'000'000)
                    return tsNs - audioFramesToNs(avail + frames, format_.sampleRate);
            }
        }
        snd_pcm_sframes_t delay = 0;
        if (snd_pcm_delay(pcm_.get(), &delay) < 0 || delay < 0)
            delay = 0;
        return now - audioFramesToNs(static_cast<uint64_t>(delay) + frames, format_.sampleRate);
    }

    std::string device_;
    AudioFormat format_;
    PcmPtr pcm_;
    snd_pcm_uframes_t periodFrames_ = 0;
    snd_pcm_uframes_t bufferFrames_ = 0;
    bool monoTstamp_ = false;
    std::vector<int16_t> buffer_;
    uint64_t nextFrame_ = 0;
    int64_t lastEndNs_ = -1;
    bool discontinuity_ = false;
    bool started_ = false;
    int64_t lastOpenAttemptNs_ = 0;
    uint64_t overruns_ = 0;
    std::string lossCause_;
};

} // namespace

Expected<std::unique_ptr<AudioSource>> openAlsaAudioSource(const AudioSourceOptions &options)
{
    routeAlsaMessagesToLog();
    auto source = std::make_unique<AlsaAudioSource>(options);
    BWC_TRY(source->openDevice());
    return std::unique_ptr<AudioSource>(std::move(source));
}

} // namespace bwc::fw
