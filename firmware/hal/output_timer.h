#pragma once

// Drives on/off outputs (LEDs, a haptic motor) that change on their own over time:
// steady levels, blinking and one-shot pulses, timed by one thread on the monotonic
// clock. Used by both LED backends (sim keeps the levels in memory, gpiod writes them to
// the lines), so the blinking is the same in the simulation and on a board.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "firmware/recorder/recorder_logic.h"

namespace bwc::fw {

// Blink half-periods: BlinkSlow is 1 Hz (500 ms on, 500 ms off), BlinkFast 4 Hz
// (125 ms on, 125 ms off).
inline constexpr uint32_t kBlinkSlowHalfMs = 500;
inline constexpr uint32_t kBlinkFastHalfMs = 125;

class OutputTimer
{
public:
    // Writes one output. Called with the timer's lock held (so never concurrently, and
    // in order); must not call back into the timer.
    using Apply = std::function<Expected<void>(size_t channel, bool on)>;

    OutputTimer(size_t channels, Apply apply);
    ~OutputTimer();
    OutputTimer(const OutputTimer &) = delete;
    OutputTimer &operator=(const OutputTimer &) = delete;

    // Steady level; cancels a blink or pulse on the channel.
    Expected<void> set(size_t channel, bool on);
    // On at once, then toggles every `halfPeriodMs`. Setting the blink a channel already
    // has keeps its phase (no visible restart).
    Expected<void> blink(size_t channel, uint32_t halfPeriodMs);
    // On at once, off after `ms` (a new pulse extends or shortens the current one).
    Expected<void> pulse(size_t channel, uint32_t ms);
    // The level last written to the channel.
    bool level(size_t channel) const;
    // How many times the channel's level was written (changes only), for tests.
    uint64_t changes(size_t channel) const;

private:
    using TimePoint = std::chrono::steady_clock::time_point;
    enum class Kind { Steady, Blink, Pulse };
    struct Channel {
        Kind kind = Kind::Steady;
        bool level = false;
        uint32_t halfMs = 0;
        TimePoint due{};
        uint64_t changes = 0;
    };

    Expected<void> write(Channel &ch, size_t index, bool on);
    void run();

    Apply apply_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Channel> channels_;
    bool stop_ = false;
    bool errorLogged_ = false;
    std::thread thread_;
};

// Applies an LedMode to a channel: Off/On steady, BlinkSlow/BlinkFast blinking.
Expected<void> setLedMode(OutputTimer &timer, size_t channel, LedMode mode);

} // namespace bwc::fw
