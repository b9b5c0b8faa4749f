#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bwc {

// Wall clock, milliseconds since the Unix epoch (CLOCK_REALTIME).
int64_t utcNowMs();
// Monotonic clock, nanoseconds (CLOCK_MONOTONIC); never jumps.
int64_t monoNowNs();

// "2026-11-23T09:34:51.123Z"
std::string formatUtcMs(int64_t utcMs);
// Parses "YYYY-MM-DDTHH:MM:SS[.mmm]Z"; nullopt if malformed.
std::optional<int64_t> parseUtcMs(std::string_view text);

// A source of time that tests and the simulation can drive.
class Clock {
public:
    virtual ~Clock() = default;
    virtual int64_t utcMs() const = 0;
    virtual int64_t monoNs() const = 0;
};

class SystemClock final : public Clock {
public:
    int64_t utcMs() const override { return utcNowMs(); }
    int64_t monoNs() const override { return monoNowNs(); }
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
public:
    explicit ManualClock(int64_t utcMs = 1'760'000'000'000, int64_t monoNs = 0)
        : utcMs_(utcMs), monoNs_(monoNs)
    {
    }
    int64_t utcMs() const override { return utcMs_; }
    int64_t monoNs() const override { return monoNs_; }
    void advanceMs(int64_t ms)
    {
        utcMs_ += ms;
        monoNs_ += ms * 1'000'000;
    }
    void setUtcMs(int64_t ms) { utcMs_ = ms; }

private:
    int64_t utcMs_;
    int64_t monoNs_;
};

} // namespace bwc
