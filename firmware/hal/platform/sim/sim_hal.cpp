#include "firmware/hal/platform/sim/sim_hal.h"

#include <algorithm>
#include <chrono>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "firmware/hal/platform/alsa/alsa_tone_player.h"

namespace bwc::fw {

Expected<void> SimButtonDevice::start(std::function<void(const ButtonEdge &)> onEdge)
{
    std::lock_guard lock(mutex_);
    if (onEdge_)
        return Error(Errc::Internal, "sim button: start() called twice without stop()");
    onEdge_ = std::move(onEdge);
    return {};
}

void SimButtonDevice::stop()
{
    std::lock_guard lock(mutex_);
    onEdge_ = nullptr;
}

void SimButtonDevice::inject(bool pressed)
{
    std::lock_guard lock(mutex_);
    if (pressed_.exchange(pressed) == pressed)
        return;
    const int64_t now = std::max(monoNowNs(), lastNs_ + 1);
    lastNs_ = now;
    if (onEdge_)
        onEdge_(ButtonEdge{pressed, now});
    else
        log::debug(std::string("sim button: ") + (pressed ? "press" : "release") +
                   " before start(): not delivered");
}

TimingTonePlayer::TimingTonePlayer()
{
    thread_ = std::thread([this] { run(); });
}

TimingTonePlayer::~TimingTonePlayer()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

Expected<void> TimingTonePlayer::play(ToneId, const std::vector<ToneStep> &pattern,
                                      std::function<void(int64_t monoNs)> onFirstSample)
{
    {
        std::lock_guard lock(mutex_);
        pending_ = Request{pattern, std::move(onFirstSample)};
    }
    cv_.notify_all();
    return {};
}

bool TimingTonePlayer::waitIdle(uint32_t timeoutMs)
{
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                        [this] { return !busy_ && !pending_; });
}

void TimingTonePlayer::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || pending_; });
        if (stop_)
            return;
        Request req = std::move(*pending_);
        pending_.reset();
        busy_ = true;
        uint64_t ms = 0;
        for (const ToneStep &s : req.pattern)
            ms += s.ms;
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        lock.unlock();
        if (req.onFirstSample)
            req.onFirstSample(monoNowNs());
        lock.lock();
        // Sounding until the pattern's end, unless replaced or stopped.
        cv_.wait_until(lock, end, [this] { return stop_ || pending_; });
        busy_ = false;
        cv_.notify_all();
    }
}

SimHal::SimHal(std::unique_ptr<TonePlayer> tone)
    : outputs_(3, nullptr), led_(outputs_), haptic_(outputs_), tone_(std::move(tone))
{
}

bool SimHal::ledLit(LedId led) const
{
    return outputs_.level(led == LedId::Record ? kRecordLed : kStatusLed);
}

uint64_t SimHal::ledChanges(LedId led) const
{
    return outputs_.changes(led == LedId::Record ? kRecordLed : kStatusLed);
}

std::vector<uint32_t> SimHal::hapticPulses() const
{
    return haptic_.pulses();
}

Expected<void> SimHal::SimLed::set(LedId led, LedMode mode)
{
    return setLedMode(outputs_, led == LedId::Record ? kRecordLed : kStatusLed, mode);
}

Expected<void> SimHal::SimHaptic::pulse(uint32_t ms)
{
    {
        std::lock_guard lock(mutex_);
        pulses_.push_back(ms);
        if (pulses_.size() > 256)
            pulses_.erase(pulses_.begin());
    }
    log::debug("sim haptic: pulse " + std::to_string(ms) + " ms");
    return outputs_.pulse(kHaptic, ms);
}

std::vector<uint32_t> SimHal::SimHaptic::pulses() const
{
    std::lock_guard lock(mutex_);
    return pulses_;
}

Expected<std::unique_ptr<SimHal>> openSimHal(const v1::HalConfig &config)
{
    std::unique_ptr<TonePlayer> tone;
    if (config.tone_device().empty()) {
        tone = std::make_unique<TimingTonePlayer>();
    } else {
        BWC_ASSIGN(alsa, AlsaTonePlayer::open(config.tone_device()));
        tone = std::move(alsa);
    }
    return std::make_unique<SimHal>(std::move(tone));
}

} // namespace bwc::fw
