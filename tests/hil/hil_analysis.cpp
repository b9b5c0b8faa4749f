#include "tests/hil/hil_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <numbers>

namespace bwc::hil {

namespace {

constexpr double kFullScale = 32768.0;

__attribute__((format(printf, 1, 2))) std::string format(const char *fmt, ...)
{
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return text;
}

// The middle of a burst, clear of its fades: 3 ms (or a tenth) off each end.
std::span<const int16_t> middle(std::span<const int16_t> samples, const Burst &b, uint32_t rateHz)
{
    const size_t len = b.endFrame - b.startFrame;
    const size_t trim = std::min<size_t>(size_t(rateHz) * 3 / 1000, len / 10);
    return samples.subspan(b.startFrame + trim, len - 2 * trim);
}

} // namespace

std::vector<Burst> findBursts(std::span<const int16_t> samples, uint32_t rateHz,
                              const BurstOptions &options)
{
    const double level = options.threshold * kFullScale;
    const auto minGap = size_t(std::lround(options.minGapMs * rateHz / 1000.0));
    const auto minLength = size_t(std::lround(options.minBurstMs * rateHz / 1000.0));
    std::vector<Burst> bursts;
    bool open = false;
    size_t start = 0;
    size_t lastLoud = 0;
    auto close = [&] {
        Burst b;
        b.startFrame = start;
        b.endFrame = lastLoud + 1;
        if (b.endFrame - b.startFrame >= minLength)
            bursts.push_back(b);
        open = false;
    };
    for (size_t i = 0; i < samples.size(); ++i) {
        if (std::abs(double(samples[i])) <= level)
            continue;
        if (open && i - lastLoud > minGap)
            close();
        if (!open) {
            open = true;
            start = i;
        }
        lastLoud = i;
    }
    if (open)
        close();

    for (Burst &b : bursts) {
        const std::span<const int16_t> mid = middle(samples, b, rateHz);
        b.freqHz = zeroCrossingHz(mid, rateHz);
        // Over windows of at most 100 ms: across a long burst, a frequency estimate off by
        // a fraction of a hertz would drift out of phase and hide a pure tone.
        const size_t window = std::max<size_t>(1, rateHz / 10);
        double share = 0;
        size_t windows = 0;
        for (size_t at = 0; b.freqHz > 0 && at < mid.size(); at += window) {
            const size_t n = std::min(window, mid.size() - at);
            if (n < window / 2 && windows > 0)
                break; // a short tail says little
            share += goertzelShare(mid.subspan(at, n), rateHz, b.freqHz);
            windows++;
        }
        b.purity = windows > 0 ? share / double(windows) : 0;
        int peak = 0;
        for (size_t i = b.startFrame; i < b.endFrame; ++i)
            peak = std::max(peak, std::abs(int(samples[i])));
        b.peak = peak / kFullScale;
    }
    return bursts;
}

double zeroCrossingHz(std::span<const int16_t> samples, uint32_t rateHz)
{
    double first = -1;
    double last = -1;
    size_t count = 0;
    for (size_t i = 1; i < samples.size(); ++i) {
        const double a = samples[i - 1];
        const double b = samples[i];
        if (a < 0 && b >= 0) {
            const double t = double(i - 1) + (-a) / (b - a);
            if (count == 0)
                first = t;
            last = t;
            count++;
        }
    }
    if (count < 2 || last <= first)
        return 0;
    return double(count - 1) * rateHz / (last - first);
}

double goertzelShare(std::span<const int16_t> samples, uint32_t rateHz, double freqHz)
{
    if (samples.empty())
        return 0;
    const double w = 2.0 * std::numbers::pi * freqHz / rateHz;
    const double coeff = 2.0 * std::cos(w);
    double s1 = 0, s2 = 0, energy = 0;
    for (int16_t v : samples) {
        const double x = v / kFullScale;
        energy += x * x;
        const double s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    if (energy <= 0)
        return 0;
    const double n = double(samples.size());
    const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(f)|^2
    // A sine of amplitude A: |X|^2 = (A n / 2)^2 and energy = A^2 n / 2, so the ratio is 1.
    return std::min(1.0, 2.0 * power / (n * energy));
}

std::string matchPattern(const std::vector<Burst> &bursts, uint32_t rateHz,
                         const std::vector<fw::ToneStep> &pattern,
                         const PatternTolerance &tolerance)
{
    struct Expected {
        uint32_t freqHz;
        double ms;
        double gapBeforeMs;
    };
    std::vector<Expected> expected;
    double silence = 0;
    bool previousSounding = false;
    for (const fw::ToneStep &s : pattern) {
        if (s.freqHz == 0) {
            silence += s.ms;
            previousSounding = false;
            continue;
        }
        if (previousSounding)
            return "the pattern has two sounding steps in a row; its bursts cannot be told apart";
        expected.push_back({s.freqHz, double(s.ms), expected.empty() ? 0.0 : silence});
        silence = 0;
        previousSounding = true;
    }
    if (bursts.size() != expected.size())
        return std::to_string(bursts.size()) + " burst(s), expected " +
               std::to_string(expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const Burst &b = bursts[i];
        const Expected &e = expected[i];
        const std::string which = "burst " + std::to_string(i + 1) + ": ";
        if (std::abs(b.freqHz - e.freqHz) > tolerance.freqFraction * e.freqHz)
            return which + format("%.1f Hz, expected %u Hz", b.freqHz, e.freqHz);
        if (b.purity < tolerance.minPurity)
            return which +
                   format("only %.0f %% of its energy at %.1f Hz (a pure tone has nearly 100 %%)",
                          100 * b.purity, b.freqHz);
        if (std::abs(b.lengthMs(rateHz) - e.ms) > tolerance.ms)
            return which + format("%.1f ms long, expected %.0f ms", b.lengthMs(rateHz), e.ms);
        if (i > 0) {
            const double gap =
                b.startMs(rateHz) - bursts[i - 1].startMs(rateHz) - bursts[i - 1].lengthMs(rateHz);
            if (std::abs(gap - e.gapBeforeMs) > tolerance.ms)
                return which + format("%.1f ms after the previous one, expected %.0f ms", gap,
                                      e.gapBeforeMs);
        }
    }
    return {};
}

double toneHeardMs(const std::vector<Burst> &bursts, uint32_t rateHz, double freqHz,
                   const PatternTolerance &tolerance)
{
    double ms = 0;
    for (const Burst &b : bursts)
        if (std::abs(b.freqHz - freqHz) <= tolerance.freqFraction * freqHz &&
            b.purity >= tolerance.minPurity)
            ms += b.lengthMs(rateHz);
    return ms;
}

std::string describeBursts(const std::vector<Burst> &bursts, uint32_t rateHz)
{
    if (bursts.empty())
        return "silence";
    std::string text;
    for (size_t i = 0; i < bursts.size(); ++i) {
        const Burst &b = bursts[i];
        if (i > 0)
            text += format(", gap %.1f ms, ", b.startMs(rateHz) - bursts[i - 1].startMs(rateHz) -
                                                  bursts[i - 1].lengthMs(rateHz));
        text += format("%.1f Hz %.1f ms (purity %.2f)", b.freqHz, b.lengthMs(rateHz), b.purity);
    }
    return text;
}

const std::vector<BarColour> &vividColourBars()
{
    static const std::vector<BarColour> bars = {
        {"white", true, true, true},   {"yellow", true, true, false},  {"cyan", false, true, true},
        {"green", false, true, false}, {"magenta", true, false, true}, {"red", true, false, false},
        {"blue", false, false, true},  {"black", false, false, false},
    };
    return bars;
}

std::string checkColourBars(std::span<const uint8_t> rgb, uint32_t width, uint32_t height,
                            uint32_t rowBegin, uint32_t rowEnd, const BarTolerance &tolerance)
{
    if (rgb.size() != size_t(width) * height * 3)
        return "frame of " + std::to_string(rgb.size()) + " bytes, expected " +
               std::to_string(size_t(width) * height * 3) + " for " + std::to_string(width) + "x" +
               std::to_string(height) + " RGB24";
    if (rowBegin >= rowEnd || rowEnd > height)
        return "rows " + std::to_string(rowBegin) + ".." + std::to_string(rowEnd) +
               " are not inside the frame";
    const std::vector<BarColour> &bars = vividColourBars();
    for (size_t i = 0; i < bars.size(); ++i) {
        const uint32_t x0 = uint32_t(i * width / bars.size());
        const uint32_t x1 = uint32_t((i + 1) * width / bars.size());
        const uint32_t a = x0 + (x1 - x0) / 4;
        const uint32_t b = x1 - (x1 - x0) / 4;
        double sum[3] = {0, 0, 0};
        for (uint32_t y = rowBegin; y < rowEnd; ++y)
            for (uint32_t x = a; x < b; ++x)
                for (int c = 0; c < 3; ++c)
                    sum[c] += rgb[(size_t(y) * width + x) * 3 + size_t(c)];
        const double n = double(rowEnd - rowBegin) * (b - a);
        const double mean[3] = {sum[0] / n, sum[1] / n, sum[2] / n};
        const bool lit[3] = {bars[i].red, bars[i].green, bars[i].blue};
        for (int c = 0; c < 3; ++c) {
            const bool ok = lit[c] ? mean[c] >= tolerance.litMin && mean[c] <= tolerance.litMax
                                   : mean[c] <= tolerance.unlitMax;
            if (!ok)
                return "bar " + std::to_string(i + 1) + " (" + bars[i].name +
                       "): " + format("mean RGB %.0f,%.0f,%.0f", mean[0], mean[1], mean[2]) +
                       format(", expected lit channels in %.0f..%.0f and unlit ones at most %.0f",
                              tolerance.litMin, tolerance.litMax, tolerance.unlitMax);
        }
    }
    return {};
}

} // namespace bwc::hil
