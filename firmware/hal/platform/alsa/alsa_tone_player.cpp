#include "firmware/hal/platform/alsa/alsa_tone_player.h"

#include <alsa/asoundlib.h>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "firmware/hal/tone_synth.h"

namespace bwc::fw {

namespace {

constexpr uint32_t kRateHz = 48000;
constexpr uint32_t kPeriodMs = 5;
constexpr uint32_t kPeriodsPerBuffer = 20;
// A stream that accepts nothing for this long is taken as gone.
constexpr int64_t kStallNs = 2'000'000'000;
constexpr int kPollMs = 100;

struct HwParamsFree {
    void operator()(snd_pcm_hw_params_t *p) const { snd_pcm_hw_params_free(p); }
};
struct SwParamsFree {
    void operator()(snd_pcm_sw_params_t *p) const { snd_pcm_sw_params_free(p); }
};

Error deviceError(const std::string &device, const std::string &what, int err,
                  const std::string &hint)
{
    return Error(Errc::Device, "hal.tone_device = \"" + device + "\": " + what + ": " +
                                   snd_strerror(err) + "; " + hint);
}

} // namespace

void AlsaTonePlayer::PcmClose::operator()(_snd_pcm *pcm) const
{
    snd_pcm_close(pcm);
}

Expected<std::unique_ptr<AlsaTonePlayer>> AlsaTonePlayer::open(const std::string &device)
{
    std::unique_ptr<AlsaTonePlayer> p(new AlsaTonePlayer());
    p->device_ = device;
    const std::string formatHint = "use a device that converts, such as \"plughw:0\" or "
                                   "\"default\"";

    snd_pcm_t *raw = nullptr;
    int err = snd_pcm_open(&raw, device.c_str(), SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
    if (err < 0)
        return deviceError(device, "cannot open ALSA playback device", err,
                           "check the name (aplay -L lists them) or leave hal.tone_device "
                           "empty");
    p->pcm_.reset(raw);
    snd_pcm_t *pcm = p->pcm_.get();

    snd_pcm_hw_params_t *hwRaw = nullptr;
    if ((err = snd_pcm_hw_params_malloc(&hwRaw)) < 0)
        return deviceError(device, "allocating hardware parameters", err, "out of memory?");
    std::unique_ptr<snd_pcm_hw_params_t, HwParamsFree> hw(hwRaw);
    if ((err = snd_pcm_hw_params_any(pcm, hw.get())) < 0)
        return deviceError(device, "reading hardware parameters", err, formatHint);
    if ((err = snd_pcm_hw_params_set_access(pcm, hw.get(), SND_PCM_ACCESS_RW_INTERLEAVED)) < 0)
        return deviceError(device, "interleaved access not supported", err, formatHint);
    if ((err = snd_pcm_hw_params_set_format(pcm, hw.get(), SND_PCM_FORMAT_S16_LE)) < 0)
        return deviceError(device, "S16_LE samples not supported", err, formatHint);
    unsigned channels = 1;
    if ((err = snd_pcm_hw_params_set_channels_near(pcm, hw.get(), &channels)) < 0)
        return deviceError(device, "no usable channel count", err, formatHint);
    unsigned rate = kRateHz;
    if ((err = snd_pcm_hw_params_set_rate_near(pcm, hw.get(), &rate, nullptr)) < 0)
        return deviceError(device, "no usable sample rate near 48 kHz", err, formatHint);
    snd_pcm_uframes_t period = snd_pcm_uframes_t(rate) * kPeriodMs / 1000;
    if ((err = snd_pcm_hw_params_set_period_size_near(pcm, hw.get(), &period, nullptr)) < 0)
        return deviceError(device, "setting a 5 ms period", err, formatHint);
    snd_pcm_uframes_t buffer = period * kPeriodsPerBuffer;
    if ((err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw.get(), &buffer)) < 0)
        return deviceError(device, "setting a 100 ms buffer", err, formatHint);
    if ((err = snd_pcm_hw_params(pcm, hw.get())) < 0)
        return deviceError(device, "applying S16_LE 48 kHz parameters", err, formatHint);
    snd_pcm_hw_params_get_channels(hw.get(), &channels);
    snd_pcm_hw_params_get_rate(hw.get(), &rate, nullptr);
    snd_pcm_hw_params_get_period_size(hw.get(), &period, nullptr);
    snd_pcm_hw_params_get_buffer_size(hw.get(), &buffer);

    snd_pcm_sw_params_t *swRaw = nullptr;
    if ((err = snd_pcm_sw_params_malloc(&swRaw)) < 0)
        return deviceError(device, "allocating software parameters", err, "out of memory?");
    std::unique_ptr<snd_pcm_sw_params_t, SwParamsFree> sw(swRaw);
    if ((err = snd_pcm_sw_params_current(pcm, sw.get())) < 0 ||
        // Start as soon as the first period is in: the lowest latency to the DAC.
        (err = snd_pcm_sw_params_set_start_threshold(pcm, sw.get(), period)) < 0 ||
        (err = snd_pcm_sw_params_set_avail_min(pcm, sw.get(), period)) < 0 ||
        (err = snd_pcm_sw_params(pcm, sw.get())) < 0)
        return deviceError(device, "applying software parameters", err, formatHint);

    p->rate_ = rate;
    p->channels_ = channels;
    p->period_ = period;
    p->buffer_ = buffer;
    p->mono_.assign(period, 0);
    p->interleaved_.assign(size_t(period) * channels, 0);
    p->wakeFd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!p->wakeFd_.isValid())
        return Error(Errc::Device, "hal.tone_device = \"" + device +
                                       "\": eventfd failed: " + std::strerror(errno));
    log::debug("hal: tone device \"" + device + "\": " + std::to_string(rate) + " Hz, " +
               std::to_string(channels) + " channel(s), period " + std::to_string(period) +
               " frames, buffer " + std::to_string(buffer) + " frames");
    AlsaTonePlayer *self = p.get();
    p->thread_ = std::thread([self] { self->run(); });
    return p;
}

AlsaTonePlayer::~AlsaTonePlayer()
{
    if (thread_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        wake();
        thread_.join();
    }
}

Expected<void> AlsaTonePlayer::play(ToneId, const std::vector<ToneStep> &pattern,
                                    std::function<void(int64_t monoNs)> onFirstSample)
{
    {
        std::lock_guard lock(mutex_);
        if (lost_)
            return {}; // accepted, not played: the loss was logged once
        pending_ = Request{pattern, std::move(onFirstSample)};
    }
    cv_.notify_all();
    wake();
    return {};
}

bool AlsaTonePlayer::waitIdle(uint32_t timeoutMs)
{
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                        [this] { return lost_ || (!busy_ && !pending_); });
}

bool AlsaTonePlayer::deviceLost() const
{
    std::lock_guard lock(mutex_);
    return lost_;
}

void AlsaTonePlayer::wake()
{
    const uint64_t one = 1;
    // A full counter already wakes the poll; nothing to do on failure.
    [[maybe_unused]] ssize_t n = ::write(wakeFd_.get(), &one, sizeof one);
}

bool AlsaTonePlayer::pendingOrStop()
{
    std::lock_guard lock(mutex_);
    return stop_ || pending_.has_value();
}

void AlsaTonePlayer::lose(const std::string &cause)
{
    {
        std::lock_guard lock(mutex_);
        if (lost_)
            return;
        lost_ = true;
        pending_.reset();
    }
    cv_.notify_all();
    log::error("hal.tone_device = \"" + device_ + "\": " + cause +
               "; tones are no longer played (still recorded, as not played)");
}

void AlsaTonePlayer::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || pending_; });
        if (stop_)
            return;
        Request req = std::move(*pending_);
        pending_.reset();
        busy_ = true;
        lock.unlock();
        uint64_t drained = 0;
        [[maybe_unused]] ssize_t n = ::read(wakeFd_.get(), &drained, sizeof drained);
        const WriteResult r = playPattern(req);
        lock.lock();
        busy_ = false;
        cv_.notify_all();
        if (r == WriteResult::Stopped)
            return;
    }
}

AlsaTonePlayer::WriteResult AlsaTonePlayer::playPattern(Request &req)
{
    snd_pcm_t *pcm = pcm_.get();
    if (silenceQueued_) {
        // Only the silence after the previous pattern is left: drop it so the new tone
        // starts at the front of an empty buffer.
        snd_pcm_drop(pcm);
        silenceQueued_ = false;
    }
    const snd_pcm_state_t state = snd_pcm_state(pcm);
    if (state == SND_PCM_STATE_DISCONNECTED) {
        lose("the device was disconnected");
        return WriteResult::Lost;
    }
    if (state != SND_PCM_STATE_PREPARED && state != SND_PCM_STATE_RUNNING) {
        int err = state == SND_PCM_STATE_SUSPENDED ? snd_pcm_recover(pcm, -ESTRPIPE, 1)
                                                   : snd_pcm_prepare(pcm);
        if (err < 0) {
            lose(std::string("preparing the stream failed: ") + snd_strerror(err));
            return WriteResult::Lost;
        }
    }

    ToneSynth synth(req.pattern, rate_);
    bool reported = false;
    bool replaced = false;
    while (!synth.done()) {
        if (!replaced && pendingOrStop()) {
            // Fade the current step out (a couple of ms) and let the new tone follow.
            synth.fadeOut();
            replaced = true;
            if (synth.done())
                break;
        }
        const size_t n = synth.render(mono_.data(), size_t(period_));
        const WriteResult r = writeFrames(mono_.data(), n);
        if (r != WriteResult::Ok)
            return r;
        if (!reported) {
            reported = true;
            if (req.onFirstSample)
                req.onFirstSample(monoNowNs());
        }
    }
    if (replaced)
        return WriteResult::Replaced;

    // One buffer of silence, so the stream runs dry on silence rather than on stale
    // samples; a new tone arriving meanwhile simply follows.
    std::fill(mono_.begin(), mono_.end(), int16_t(0));
    for (uint64_t written = 0; written < buffer_;) {
        if (pendingOrStop())
            return WriteResult::Replaced;
        const size_t n = size_t(std::min<uint64_t>(period_, buffer_ - written));
        const WriteResult r = writeFrames(mono_.data(), n);
        if (r != WriteResult::Ok)
            return r;
        written += n;
    }
    silenceQueued_ = true;
    return WriteResult::Ok;
}

AlsaTonePlayer::WriteResult AlsaTonePlayer::writeFrames(const int16_t *mono, size_t frames)
{
    const int16_t *src = mono;
    if (channels_ > 1) {
        for (size_t i = 0; i < frames; ++i)
            for (uint32_t c = 0; c < channels_; ++c)
                interleaved_[i * channels_ + c] = mono[i];
        src = interleaved_.data();
    }
    snd_pcm_t *pcm = pcm_.get();
    size_t left = frames;
    int64_t lastProgressNs = monoNowNs();
    while (left > 0) {
        {
            std::lock_guard lock(mutex_);
            if (stop_)
                return WriteResult::Stopped;
        }
        const snd_pcm_sframes_t r = snd_pcm_writei(pcm, src, left);
        if (r > 0) {
            src += size_t(r) * channels_;
            left -= size_t(r);
            lastProgressNs = monoNowNs();
            continue;
        }
        if (r == 0 || r == -EAGAIN) {
            if (monoNowNs() - lastProgressNs > kStallNs) {
                lose("the device accepted no samples for 2 s");
                return WriteResult::Lost;
            }
            if (!waitWritable()) {
                lose("polling the device failed");
                return WriteResult::Lost;
            }
            continue;
        }
        // Underrun (-EPIPE) or suspend (-ESTRPIPE): recover and go on writing.
        const int err = snd_pcm_recover(pcm, int(r), 1);
        if (err < 0) {
            lose(std::string("writing failed: ") + snd_strerror(int(r)));
            return WriteResult::Lost;
        }
        log::debug("hal: tone device \"" + device_ + "\": recovered from " + snd_strerror(int(r)));
    }
    return WriteResult::Ok;
}

bool AlsaTonePlayer::waitWritable()
{
    snd_pcm_t *pcm = pcm_.get();
    const int count = snd_pcm_poll_descriptors_count(pcm);
    if (count < 0)
        return false;
    std::vector<pollfd> fds(size_t(count) + 1);
    if (count > 0 && snd_pcm_poll_descriptors(pcm, fds.data(), unsigned(count)) < 0)
        return false;
    fds[size_t(count)] = pollfd{wakeFd_.get(), POLLIN, 0};
    const int r = ::poll(fds.data(), fds.size(), kPollMs);
    if (r < 0)
        return errno == EINTR;
    if (fds[size_t(count)].revents & POLLIN) {
        uint64_t drained = 0;
        [[maybe_unused]] ssize_t n = ::read(wakeFd_.get(), &drained, sizeof drained);
    }
    if (count > 0) {
        unsigned short revents = 0;
        // Errors (POLLERR on an underrun or a gone device) surface in the next write.
        snd_pcm_poll_descriptors_revents(pcm, fds.data(), unsigned(count), &revents);
    }
    return true;
}

} // namespace bwc::fw
