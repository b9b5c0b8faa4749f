#include "common/base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unistd.h>

#include "common/base/clock.h"

namespace bwc::log {

namespace {

std::atomic<int> gThreshold{-1};
std::mutex gMutex;
std::string gProgram = "bwc";

Level fromEnv()
{
    const char *v = std::getenv("BWC_LOG");
    if (!v)
        return Level::Info;
    if (!std::strcmp(v, "debug"))
        return Level::Debug;
    if (!std::strcmp(v, "warn"))
        return Level::Warn;
    if (!std::strcmp(v, "error"))
        return Level::Error;
    return Level::Info;
}

const char *levelName(Level l)
{
    switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
    }
    return "?";
}

} // namespace

Level threshold()
{
    int t = gThreshold.load(std::memory_order_relaxed);
    if (t < 0) {
        t = int(fromEnv());
        gThreshold.store(t, std::memory_order_relaxed);
    }
    return Level(t);
}

void setThreshold(Level level)
{
    gThreshold.store(int(level), std::memory_order_relaxed);
}

void setProgram(std::string_view name)
{
    std::lock_guard lock(gMutex);
    gProgram = std::string(name);
}

void write(Level level, std::string_view message)
{
    if (int(level) < int(threshold()))
        return;
    std::string line = formatUtcMs(utcNowMs());
    std::lock_guard lock(gMutex);
    line += ' ';
    line += gProgram;
    line += ' ';
    line += levelName(level);
    line += ": ";
    line += message;
    line += '\n';
    // One write per line so concurrent programs sharing stderr do not interleave.
    ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
    (void)unused;
}

} // namespace bwc::log
