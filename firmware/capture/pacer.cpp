#include "firmware/capture/pacer.h"

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/base/clock.h"
#include "common/base/log.h"

namespace bwc::fw {

namespace {
constexpr int64_t kNsPerSecond = 1'000'000'000;
} // namespace

int64_t frameTimeNs(uint64_t index, uint32_t fps)
{
    // Split so index * 1e9 cannot overflow: i = q * fps + r.
    const uint64_t q = index / fps;
    const uint64_t r = index % fps;
    return static_cast<int64_t>(q * kNsPerSecond + r * kNsPerSecond / fps);
}

void sleepUntilMonoNs(int64_t deadlineNs)
{
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(deadlineNs / kNsPerSecond);
    ts.tv_nsec = static_cast<long>(deadlineNs % kNsPerSecond);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

namespace {
constexpr int64_t kReopenIntervalNs = 1'000'000'000;
} // namespace

Error ReopenGate::lose(Error error)
{
    lost_ = true;
    error_ = std::move(error);
    nextAttemptNs_ = monoNowNs() + kReopenIntervalNs;
    log::warn(error_.message);
    return error_;
}

Expected<void> ReopenGate::attempt(int64_t deadlineNs,
                                   const std::function<Expected<void>()> &reopen,
                                   const std::string &what)
{
    if (monoNowNs() < nextAttemptNs_) {
        sleepUntilMonoNs(std::min(deadlineNs, nextAttemptNs_));
        if (monoNowNs() < nextAttemptNs_)
            return error_;
    }
    nextAttemptNs_ = monoNowNs() + kReopenIntervalNs;
    if (Expected<void> opened = reopen(); !opened) {
        error_ = Error(Errc::Device, opened.error().message + " (reopening every second)");
        return error_;
    }
    lost_ = false;
    log::info(what + ": reopened");
    return {};
}

void FramePacer::restart()
{
    startNs_ = monoNowNs();
    next_ = 0;
    skipped_ = 0;
}

std::optional<FramePacer::Slot> FramePacer::wait(int timeoutMs)
{
    if (!paced_) {
        Slot slot{next_, frameTimeNs(next_, fps_)};
        ++next_;
        return slot;
    }
    const int64_t periodNs = kNsPerSecond / fps_;
    int64_t due = startNs_ + frameTimeNs(next_, fps_);
    const int64_t now = monoNowNs();
    if (now - due > periodNs) {
        // Fell behind by more than a frame: jump to the latest frame already due.
        const int64_t elapsed = now - startNs_;
        const uint64_t latest = static_cast<uint64_t>(elapsed / kNsPerSecond) * fps_ +
                                static_cast<uint64_t>(elapsed % kNsPerSecond) * fps_ /
                                    static_cast<uint64_t>(kNsPerSecond);
        if (latest > next_) {
            skipped_ += latest - next_;
            next_ = latest;
            due = startNs_ + frameTimeNs(next_, fps_);
        }
    }
    if (due > now) {
        const int64_t timeoutNs = static_cast<int64_t>(std::max(timeoutMs, 0)) * 1'000'000;
        if (due - now > timeoutNs) {
            sleepUntilMonoNs(now + timeoutNs);
            return std::nullopt;
        }
        sleepUntilMonoNs(due);
    }
    Slot slot{next_, due};
    ++next_;
    return slot;
}

uint64_t SequenceIndexer::assign(uint32_t sequence, int64_t monoNs, uint32_t fps)
{
    uint64_t index = 0;
    if (sessionFirst_) {
        if (any_) {
            const int64_t gapNs = std::max<int64_t>(monoNs - lastMonoNs_, 0);
            const auto frames = static_cast<uint64_t>(
                (static_cast<double>(gapNs) * fps + kNsPerSecond / 2) / kNsPerSecond);
            index = lastIndex_ + std::max<uint64_t>(frames, 1);
        }
        sessionFirst_ = false;
    } else {
        const uint32_t step = sequence - lastSequence_; // unsigned: carries over the wrap
        index = lastIndex_ + std::max<uint32_t>(step, 1);
    }
    any_ = true;
    lastSequence_ = sequence;
    lastIndex_ = index;
    lastMonoNs_ = monoNs;
    return index;
}

} // namespace bwc::fw
