#include "firmware/location/location.h"

#include <atomic>
#include <charconv>
#include <cmath>

#include "firmware/location/providers.h"

namespace bwc::fw {

namespace {

constexpr std::string_view kDefaultGpsdHost = "localhost";
constexpr std::string_view kDefaultGpsdPort = "2947";

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> splitCommas(std::string_view s)
{
    std::vector<std::string_view> out;
    for (;;) {
        const size_t comma = s.find(',');
        out.push_back(trim(s.substr(0, comma)));
        if (comma == std::string_view::npos)
            return out;
        s.remove_prefix(comma + 1);
    }
}

std::string formatNumber(double v)
{
    char text[32];
    auto [end, ec] = std::to_chars(text, text + sizeof text, v);
    return ec == std::errc() ? std::string(text, end) : std::string("?");
}

Error specError(const std::string &spec, const std::string &reason)
{
    return Error(Errc::Config, "location spec \"" + spec + "\": " + reason);
}

class NoLocation final : public LocationProvider
{
public:
    std::string describe() const override { return "none"; }
    Expected<void> start() override { return {}; }
    std::optional<LocationSample> latest(int64_t, int64_t) const override { return std::nullopt; }
    void stop() override {}
};

// A surveyed position: always current while started.
class FixedLocation final : public LocationProvider
{
public:
    FixedLocation(std::string spec, LocationSample sample)
        : spec_(std::move(spec)), sample_(std::move(sample))
    {
    }
    std::string describe() const override { return spec_; }
    Expected<void> start() override
    {
        started_ = true;
        return {};
    }
    std::optional<LocationSample> latest(int64_t nowMonoNs, int64_t) const override
    {
        if (!started_)
            return std::nullopt;
        LocationSample s = sample_;
        s.monoNs = nowMonoNs;
        return s;
    }
    void stop() override { started_ = false; }

private:
    std::string spec_;
    LocationSample sample_;
    std::atomic<bool> started_{false};
};

Expected<std::unique_ptr<LocationProvider>> openFixed(const std::string &spec,
                                                      std::string_view args)
{
    const std::vector<std::string_view> fields = splitCommas(args);
    if (fields.size() < 2 || fields.size() > 3)
        return specError(spec, "expected fixed:LAT,LON[,ALT] (degrees, degrees, metres), got " +
                                   std::to_string(fields.size()) + " field(s)");
    static constexpr const char *kNames[] = {"latitude", "longitude", "altitude"};
    double values[3] = {0, 0, std::nan("")};
    for (size_t i = 0; i < fields.size(); ++i) {
        std::optional<double> v = parseLocationNumber(fields[i]);
        if (!v)
            return specError(spec, std::string(kNames[i]) + " \"" + std::string(fields[i]) +
                                       "\" is not a number");
        values[i] = *v;
    }
    if (std::optional<std::string> bad = checkCoordinates(values[0], values[1]))
        return specError(spec, *bad);
    LocationSample s;
    s.latitudeDeg = values[0];
    s.longitudeDeg = values[1];
    s.altitudeM = values[2];
    s.horizontalErrorM = std::nan("");
    s.fixMode = fields.size() == 3 ? 3 : 2;
    s.source = "fixed";
    return std::unique_ptr<LocationProvider>(std::make_unique<FixedLocation>(spec, std::move(s)));
}

Expected<std::unique_ptr<LocationProvider>> openGpsd(const std::string &spec,
                                                     std::optional<std::string_view> args)
{
    if (!args)
        return makeGpsdProvider(std::string(kDefaultGpsdHost), std::string(kDefaultGpsdPort));
    std::string_view rest = *args;
    std::string_view host;
    std::string_view port = kDefaultGpsdPort;
    if (!rest.empty() && rest.front() == '[') {
        const size_t close = rest.find(']');
        if (close == std::string_view::npos)
            return specError(spec, "missing ']' after the IPv6 address");
        host = rest.substr(1, close - 1);
        rest.remove_prefix(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return specError(spec, "expected ':PORT' after the IPv6 address");
            port = rest.substr(1);
        }
    } else {
        const size_t colon = rest.find(':');
        host = rest.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = rest.substr(colon + 1);
            if (port.find(':') != std::string_view::npos)
                return specError(spec, "too many ':'; write an IPv6 address in brackets, "
                                       "gpsd:[::1]:2947");
        }
    }
    if (host.empty())
        return specError(spec, "empty host; use gpsd or gpsd:HOST:PORT");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535)
        return specError(spec, "port \"" + std::string(port) + "\" is not a number in 1..65535");
    return makeGpsdProvider(std::string(host), std::string(port));
}

} // namespace

std::optional<double> parseLocationNumber(std::string_view text)
{
    text = trim(text);
    if (text.empty())
        return std::nullopt;
    if (text.front() == '+')
        text.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

std::optional<std::string> checkCoordinates(double latitudeDeg, double longitudeDeg)
{
    if (latitudeDeg < -90 || latitudeDeg > 90)
        return "latitude " + formatNumber(latitudeDeg) + " is outside -90..90";
    if (longitudeDeg < -180 || longitudeDeg > 180)
        return "longitude " + formatNumber(longitudeDeg) + " is outside -180..180";
    return std::nullopt;
}

Expected<std::unique_ptr<LocationProvider>> openLocationProvider(const std::string &spec)
{
    if (spec.empty())
        return std::unique_ptr<LocationProvider>(std::make_unique<NoLocation>());
    const size_t colon = spec.find(':');
    const std::string_view kind = std::string_view(spec).substr(0, colon);
    const std::optional<std::string_view> args =
        colon == std::string::npos ? std::nullopt
                                   : std::optional(std::string_view(spec).substr(colon + 1));
    if (kind == "fixed") {
        if (!args)
            return specError(spec, "expected fixed:LAT,LON[,ALT]");
        return openFixed(spec, *args);
    }
    if (kind == "replay") {
        if (!args || args->empty())
            return specError(spec, "expected replay:PATH (a CSV of seconds,lat,lon[,alt])");
        return openReplayProvider(spec, std::string(*args));
    }
    if (kind == "gpsd")
        return openGpsd(spec, args);
    return specError(spec, "unknown kind \"" + std::string(kind) +
                               "\"; use \"\" (none), fixed:LAT,LON[,ALT], replay:PATH, gpsd or "
                               "gpsd:HOST:PORT");
}

} // namespace bwc::fw
