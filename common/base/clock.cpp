#include "common/base/clock.h"

#include <cstdio>
#include <ctime>

namespace bwc {

int64_t utcNowMs()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

int64_t monoNowNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string formatUtcMs(int64_t utcMs)
{
    int64_t secs = utcMs / 1000;
    int64_t ms = utcMs % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    time_t t = time_t(secs);
    tm tmv{};
    gmtime_r(&t, &tmv);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900,
                  tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, int(ms));
    return buf;
}

std::optional<int64_t> parseUtcMs(std::string_view text)
{
    std::string s(text);
    int y, mo, d, h, mi, sec, n = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return std::nullopt;
    int ms = 0;
    size_t pos = size_t(n);
    if (pos < s.size() && s[pos] == '.') {
        int digits = 0;
        ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (digits < 3) {
                ms = ms * 10 + (s[pos] - '0');
                ++digits;
            }
            ++pos;
        }
        if (digits == 0)
            return std::nullopt;
        while (digits++ < 3)
            ms *= 10;
    }
    if (pos != s.size() - 1 || s[pos] != 'Z')
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    tm tmv{};
    tmv.tm_year = y - 1900;
    tmv.tm_mon = mo - 1;
    tmv.tm_mday = d;
    tmv.tm_hour = h;
    tmv.tm_min = mi;
    tmv.tm_sec = sec;
    time_t t = timegm(&tmv);
    return int64_t(t) * 1000 + ms;
}

} // namespace bwc
