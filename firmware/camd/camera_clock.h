#pragma once

// The camera's wall clock. The dock's Welcome steps it (offload.proto); the watermark,
// the checkpoints and every manifest read it.
//
// - System mode (real boards): the step is clock_settime(CLOCK_REALTIME), which needs
//   CAP_SYS_TIME. Without it (EPERM) the camera falls back to an offset, logged.
// - Offset mode (the simulated board, and the fallback): the system clock plus an offset
//   kept in a file (decimal milliseconds, replaced atomically) and applied at start, so
//   the simulation needs no root and a restarted camera keeps the dock's time.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/base/clock.h"
#include "common/base/error.h"

namespace bwc::fw {

class CameraClock final : public Clock
{
public:
    enum class Mode { System, Offset };

    // Reads the offset file (missing: 0) and applies it. Errc::Format for a file that
    // holds anything but a decimal number.
    static Expected<std::unique_ptr<CameraClock>> open(Mode mode, std::string offsetPath);

    int64_t utcMs() const override { return utcNowMs() + offsetMs_.load(); }
    int64_t monoNs() const override { return monoNowNs(); }

    // Steps the clock to `newUtcMs`. Thread-safe.
    Expected<void> set(int64_t newUtcMs);

    Mode mode() const { return mode_; }
    int64_t offsetMs() const { return offsetMs_.load(); }
    const std::string &offsetPath() const { return offsetPath_; }

private:
    CameraClock(Mode mode, std::string offsetPath, int64_t offsetMs)
        : mode_(mode), offsetPath_(std::move(offsetPath)), offsetMs_(offsetMs)
    {
    }
    Expected<void> setOffset(int64_t offsetMs);

    const Mode mode_;
    const std::string offsetPath_;
    std::atomic<int64_t> offsetMs_;
    std::mutex stepMutex_; // serialises steps (offset file, clock_settime); reads need none
};

// Wall-clock time of a CLOCK_MONOTONIC instant, by the clock's current offset between the
// two.
int64_t utcMsOfMono(const Clock &clock, int64_t monoNs);

} // namespace bwc::fw
