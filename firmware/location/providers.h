#pragma once

// Internal: the providers behind openLocationProvider() and the parsing they share.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/location/location.h"

namespace bwc::fw {

// A finite decimal number ("51.5", "-0.12", "1e3"), surrounding blanks allowed; nullopt
// for anything else (including "nan" and "inf").
std::optional<double> parseLocationNumber(std::string_view text);

// nullopt when lat/lon are in range, else the reason ("latitude 91 is outside -90..90").
std::optional<std::string> checkCoordinates(double latitudeDeg, double longitudeDeg);

struct ReplayPoint {
    int64_t offsetNs = 0; // from the track's first row
    double latitudeDeg = 0;
    double longitudeDeg = 0;
    double altitudeM = 0; // NaN when the row has none
};

// Parses the CSV of a replay track: "seconds,lat,lon[,alt]" rows with strictly increasing
// seconds, '#' comments and blank lines ignored. `what` names the file in errors.
Expected<std::vector<ReplayPoint>> parseReplayTrack(std::string_view text, const std::string &what);

Expected<std::unique_ptr<LocationProvider>> openReplayProvider(const std::string &spec,
                                                               const std::string &path);
std::unique_ptr<LocationProvider> makeGpsdProvider(std::string host, std::string port);

} // namespace bwc::fw
