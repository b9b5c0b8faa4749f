#pragma once

// Frame timing of the sources that make their own frames (synthetic, file): frame i is due
// at start + i/fps on CLOCK_MONOTONIC. Paced, wait() sleeps until the next frame is due and,
// when the caller fell behind by more than a frame, skips indexes so the index keeps
// reflecting real time. Unpaced, frames are due at once and carry the simulated time
// i/fps (from 0).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/base/error.h"

namespace bwc::fw {

// i * 1e9 / fps rounded down, exact for every index a clip can reach.
int64_t frameTimeNs(uint64_t index, uint32_t fps);

class FramePacer
{
public:
    struct Slot {
        uint64_t index = 0;
        int64_t monoNs = 0;
    };

    FramePacer(uint32_t fps, bool paced) : fps_(fps), paced_(paced) {}

    // Starts the timeline now at index 0.
    void restart();
    // The next frame's index and time once it is due; nullopt when it is not due within
    // timeoutMs (nothing is consumed then).
    std::optional<Slot> wait(int timeoutMs);
    // Frames skipped so far because the caller fell behind (paced only).
    uint64_t skipped() const { return skipped_; }

private:
    uint32_t fps_;
    bool paced_;
    int64_t startNs_ = 0;
    uint64_t next_ = 0;
    uint64_t skipped_ = 0;
};

// Frame indexes of a capture device from the driver's frame sequence numbers: consecutive
// within a streaming session, gaps where the driver dropped frames, carried over the 32-bit
// wrap. After a restart (stop/start or a reopen after a failure) the count continues by the
// time that passed, at least by one, so indexes keep reflecting real time.
class SequenceIndexer
{
public:
    // The next frame starts a new streaming session.
    void newSession() { sessionFirst_ = true; }
    // The index of the frame with this sequence number and capture time.
    uint64_t assign(uint32_t sequence, int64_t monoNs, uint32_t fps);

private:
    bool sessionFirst_ = true;
    bool any_ = false;
    uint32_t lastSequence_ = 0;
    uint64_t lastIndex_ = 0;
    int64_t lastMonoNs_ = 0;
};

// Sleeps until `deadlineNs` on CLOCK_MONOTONIC (returns at once when it has passed).
void sleepUntilMonoNs(int64_t deadlineNs);

// A capture device that failed or vanished: remembers why, and lets the caller try to
// reopen it at most once a second, so a source keeps returning Errc::Device (and the
// capture thread keeps calling) without spinning on the device.
class ReopenGate
{
public:
    bool lost() const { return lost_; }
    // Marks the device lost; `error` is logged and returned until a reopen succeeds.
    Error lose(Error error);
    // Waits, no later than `deadlineNs`, for the next attempt slot, then runs `reopen`
    // (which opens and starts the device, cleaning up itself on failure). The last error
    // while no slot has come or when the attempt fails; `what` names the device in logs.
    Expected<void> attempt(int64_t deadlineNs, const std::function<Expected<void>()> &reopen,
                           const std::string &what);
    // The device was opened by other means (start()).
    void clear() { lost_ = false; }

private:
    bool lost_ = false;
    Error error_;
    int64_t nextAttemptNs_ = 0;
};

} // namespace bwc::fw
