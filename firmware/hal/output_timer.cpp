#include "firmware/hal/output_timer.h"

#include <string>

#include "common/base/log.h"

namespace bwc::fw {

OutputTimer::OutputTimer(size_t channels, Apply apply)
    : apply_(std::move(apply)), channels_(channels)
{
    thread_ = std::thread([this] { run(); });
}

OutputTimer::~OutputTimer()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

Expected<void> OutputTimer::write(Channel &ch, size_t index, bool on)
{
    if (ch.level == on)
        return {};
    if (apply_)
        BWC_TRY(apply_(index, on));
    ch.level = on;
    ch.changes++;
    return {};
}

Expected<void> OutputTimer::set(size_t channel, bool on)
{
    std::lock_guard lock(mutex_);
    if (channel >= channels_.size())
        return Error(Errc::Internal, "output timer: no channel " + std::to_string(channel));
    Channel &ch = channels_[channel];
    ch.kind = Kind::Steady;
    ch.halfMs = 0;
    return write(ch, channel, on);
}

Expected<void> OutputTimer::blink(size_t channel, uint32_t halfPeriodMs)
{
    Expected<void> result;
    {
        std::lock_guard lock(mutex_);
        if (channel >= channels_.size())
            return Error(Errc::Internal, "output timer: no channel " + std::to_string(channel));
        if (halfPeriodMs == 0)
            return Error(Errc::Internal, "output timer: blink half-period of 0 ms");
        Channel &ch = channels_[channel];
        if (ch.kind == Kind::Blink && ch.halfMs == halfPeriodMs)
            return {};
        ch.kind = Kind::Blink;
        ch.halfMs = halfPeriodMs;
        ch.due = std::chrono::steady_clock::now() + std::chrono::milliseconds(halfPeriodMs);
        result = write(ch, channel, true);
    }
    cv_.notify_all();
    return result;
}

Expected<void> OutputTimer::pulse(size_t channel, uint32_t ms)
{
    Expected<void> result;
    {
        std::lock_guard lock(mutex_);
        if (channel >= channels_.size())
            return Error(Errc::Internal, "output timer: no channel " + std::to_string(channel));
        Channel &ch = channels_[channel];
        if (ms == 0) {
            ch.kind = Kind::Steady;
            return write(ch, channel, false);
        }
        ch.kind = Kind::Pulse;
        ch.halfMs = 0;
        ch.due = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        result = write(ch, channel, true);
    }
    cv_.notify_all();
    return result;
}

bool OutputTimer::level(size_t channel) const
{
    std::lock_guard lock(mutex_);
    return channel < channels_.size() && channels_[channel].level;
}

uint64_t OutputTimer::changes(size_t channel) const
{
    std::lock_guard lock(mutex_);
    return channel < channels_.size() ? channels_[channel].changes : 0;
}

void OutputTimer::run()
{
    std::unique_lock lock(mutex_);
    while (!stop_) {
        bool any = false;
        TimePoint next = TimePoint::max();
        for (const Channel &ch : channels_) {
            if (ch.kind != Kind::Steady && ch.due < next) {
                next = ch.due;
                any = true;
            }
        }
        if (!any) {
            cv_.wait(lock);
            continue;
        }
        if (cv_.wait_until(lock, next) != std::cv_status::timeout)
            continue; // re-evaluate: a channel changed or we are stopping
        const TimePoint now = std::chrono::steady_clock::now();
        for (size_t i = 0; i < channels_.size(); ++i) {
            Channel &ch = channels_[i];
            if (ch.kind == Kind::Steady || ch.due > now)
                continue;
            Expected<void> r;
            if (ch.kind == Kind::Pulse) {
                ch.kind = Kind::Steady;
                r = write(ch, i, false);
            } else {
                const auto half = std::chrono::milliseconds(ch.halfMs);
                // Keep the cadence; resynchronise after a long stall instead of catching up.
                ch.due += half;
                if (ch.due <= now)
                    ch.due = now + half;
                r = write(ch, i, !ch.level);
            }
            if (!r && !errorLogged_) {
                errorLogged_ = true;
                log::error("hal: output " + std::to_string(i) + ": " + r.error().message +
                           " (further output errors are not logged)");
            }
        }
    }
}

Expected<void> setLedMode(OutputTimer &timer, size_t channel, LedMode mode)
{
    switch (mode) {
    case LedMode::Off:
        return timer.set(channel, false);
    case LedMode::On:
        return timer.set(channel, true);
    case LedMode::BlinkSlow:
        return timer.blink(channel, kBlinkSlowHalfMs);
    case LedMode::BlinkFast:
        return timer.blink(channel, kBlinkFastHalfMs);
    }
    return Error(Errc::Internal, "hal: unknown LED mode " + std::to_string(int(mode)));
}

} // namespace bwc::fw
