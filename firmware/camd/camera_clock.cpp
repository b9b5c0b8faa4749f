#include "firmware/camd/camera_clock.h"

#include <time.h>

#include <cerrno>
#include <charconv>

#include "common/base/file.h"
#include "common/base/log.h"

namespace bwc::fw {

namespace {

Expected<int64_t> readOffset(const std::string &path)
{
    if (!pathExists(path))
        return int64_t{0};
    BWC_ASSIGN(text, readTextFile(path, 64));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
        return Error(Errc::Format, "clock offset file " + path +
                                       " does not hold a number of milliseconds; delete it to "
                                       "run on the system clock until the next docking");
    return value;
}

} // namespace

int64_t utcMsOfMono(const Clock &clock, int64_t monoNs)
{
    return clock.utcMs() - (clock.monoNs() - monoNs) / 1'000'000;
}

Expected<std::unique_ptr<CameraClock>> CameraClock::open(Mode mode, std::string offsetPath)
{
    BWC_ASSIGN(offset, readOffset(offsetPath));
    if (offset != 0)
        log::info("clock: applying the offset of " + std::to_string(offset) + " ms from " +
                  offsetPath);
    return std::unique_ptr<CameraClock>(new CameraClock(mode, std::move(offsetPath), offset));
}

Expected<void> CameraClock::setOffset(int64_t offsetMs)
{
    const std::string text = std::to_string(offsetMs) + "\n";
    auto written = atomicReplace(offsetPath_, asBytes(text), 0600);
    if (!written)
        return std::move(written).error().context("saving the clock offset");
    offsetMs_.store(offsetMs);
    return {};
}

Expected<void> CameraClock::set(int64_t newUtcMs)
{
    std::lock_guard lock(stepMutex_);
    if (mode_ == Mode::System) {
        struct timespec ts {
        };
        ts.tv_sec = newUtcMs / 1000;
        ts.tv_nsec = long(newUtcMs % 1000) * 1'000'000;
        if (::clock_settime(CLOCK_REALTIME, &ts) == 0) {
            // The system clock is right now: no offset on top of it.
            if (offsetMs_.load() != 0 || pathExists(offsetPath_))
                BWC_TRY(setOffset(0));
            return {};
        }
        const int err = errno;
        if (err != EPERM)
            return Error(Errc::Device, "setting the system clock: " + errnoText(err));
        log::warn("clock: no permission to set the system clock (bwc-camd needs CAP_SYS_TIME); "
                  "keeping the dock's time as an offset in " +
                  offsetPath_);
    }
    return setOffset(offsetMs_.load() + (newUtcMs - utcMs()));
}

} // namespace bwc::fw
