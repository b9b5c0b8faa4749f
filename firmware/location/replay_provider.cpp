// A recorded track replayed in real time from start(), looping.
//
// Row i (at t_i seconds) is the latest fix from t_i until the next row's time; the last row
// lasts as long as the interval before it (1 s for a one-row track), then the track starts
// again. A fix is "received" at its row's time, so a long interval between two rows reads
// as a GPS outage: latest() goes stale after maxAge, as it would with gpsd.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "firmware/location/providers.h"

namespace bwc::fw {

namespace {

constexpr uint64_t kMaxTrackBytes = 64u << 20;

class ReplayProvider final : public LocationProvider
{
public:
    ReplayProvider(std::string spec, std::vector<ReplayPoint> points)
        : spec_(std::move(spec)), points_(std::move(points))
    {
        const size_t n = points_.size();
        const int64_t lastStep =
            n >= 2 ? points_[n - 1].offsetNs - points_[n - 2].offsetNs : 1'000'000'000;
        loopNs_ = points_.back().offsetNs + lastStep;
    }

    std::string describe() const override
    {
        return spec_ + " (" + std::to_string(points_.size()) + " points, loop " +
               std::to_string(loopNs_ / 1'000'000) + " ms)";
    }

    Expected<void> start() override
    {
        startNs_.store(monoNowNs(), std::memory_order_release);
        started_.store(true, std::memory_order_release);
        return {};
    }

    std::optional<LocationSample> latest(int64_t nowMonoNs, int64_t maxAgeMs) const override
    {
        if (!started_.load(std::memory_order_acquire))
            return std::nullopt;
        const int64_t start = startNs_.load(std::memory_order_acquire);
        const int64_t elapsed = nowMonoNs - start;
        if (elapsed < 0)
            return std::nullopt;
        const int64_t loops = elapsed / loopNs_;
        const int64_t within = elapsed - loops * loopNs_;
        // The last row whose time has come.
        auto it = std::upper_bound(points_.begin(), points_.end(), within,
                                   [](int64_t t, const ReplayPoint &p) { return t < p.offsetNs; });
        const ReplayPoint &p = *std::prev(it);
        const int64_t receivedNs = start + loops * loopNs_ + p.offsetNs;
        if (nowMonoNs - receivedNs > maxAgeMs * 1'000'000)
            return std::nullopt;
        LocationSample s;
        s.latitudeDeg = p.latitudeDeg;
        s.longitudeDeg = p.longitudeDeg;
        s.altitudeM = p.altitudeM;
        s.horizontalErrorM = std::nan("");
        s.fixMode = std::isnan(p.altitudeM) ? 2 : 3;
        s.monoNs = receivedNs;
        s.source = "replay";
        return s;
    }

    void stop() override { started_.store(false, std::memory_order_release); }

private:
    std::string spec_;
    std::vector<ReplayPoint> points_; // at least one; the first at offset 0
    int64_t loopNs_ = 0;
    std::atomic<int64_t> startNs_{0};
    std::atomic<bool> started_{false};
};

} // namespace

Expected<std::vector<ReplayPoint>> parseReplayTrack(std::string_view text, const std::string &what)
{
    std::vector<ReplayPoint> points;
    int64_t firstNs = 0;
    size_t lineNo = 0;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        ++lineNo;
        if (const size_t hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        if (line.find_first_not_of(" \t\r") == std::string_view::npos)
            continue;
        const std::string where = what + " line " + std::to_string(lineNo);
        std::vector<std::string_view> fields;
        for (std::string_view rest = line;;) {
            const size_t comma = rest.find(',');
            fields.push_back(rest.substr(0, comma));
            if (comma == std::string_view::npos)
                break;
            rest.remove_prefix(comma + 1);
        }
        if (fields.size() < 3 || fields.size() > 4)
            return Error(Errc::Config, where + ": expected seconds,lat,lon[,alt], got " +
                                           std::to_string(fields.size()) + " field(s)");
        static constexpr const char *kNames[] = {"seconds", "latitude", "longitude", "altitude"};
        double v[4] = {0, 0, 0, std::nan("")};
        for (size_t i = 0; i < fields.size(); ++i) {
            std::optional<double> n = parseLocationNumber(fields[i]);
            if (!n)
                return Error(Errc::Config, where + ": " + kNames[i] + " \"" +
                                               std::string(fields[i]) + "\" is not a number");
            v[i] = *n;
        }
        if (v[0] < 0 || v[0] > 1e7)
            return Error(Errc::Config, where + ": seconds must be in 0..10000000");
        if (std::optional<std::string> bad = checkCoordinates(v[1], v[2]))
            return Error(Errc::Config, where + ": " + *bad);
        const int64_t ns = std::llround(v[0] * 1e9);
        if (points.empty())
            firstNs = ns;
        else if (ns - firstNs <= points.back().offsetNs)
            return Error(Errc::Config, where + ": seconds must increase from row to row");
        points.push_back(ReplayPoint{ns - firstNs, v[1], v[2], v[3]});
    }
    if (points.empty())
        return Error(Errc::Config, what + ": no rows; expected seconds,lat,lon[,alt] lines");
    return points;
}

Expected<std::unique_ptr<LocationProvider>> openReplayProvider(const std::string &spec,
                                                               const std::string &path)
{
    auto text = readTextFile(path, kMaxTrackBytes);
    if (!text)
        return std::move(text).error().context("location spec \"" + spec + "\"");
    BWC_ASSIGN(points, parseReplayTrack(*text, "location spec \"" + spec + "\": " + path));
    return std::unique_ptr<LocationProvider>(
        std::make_unique<ReplayProvider>(spec, std::move(points)));
}

} // namespace bwc::fw
