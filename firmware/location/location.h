#pragma once

// Where the camera is: gpsd (libgps client) on boards, a fixed position or a replayed
// track for tests. The recorder samples latest() once a second into the metadata stream
// and the watermark.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/base/error.h"

namespace bwc::fw {

struct LocationSample {
    double latitudeDeg = 0;
    double longitudeDeg = 0;
    double altitudeM = 0;        // NaN when unknown
    double horizontalErrorM = 0; // NaN when unknown
    uint32_t fixMode = 0;        // 2 = 2D, 3 = 3D (gpsd's mode)
    int64_t monoNs = 0;          // when the fix was received
    std::string source;          // "gpsd", "fixed", "replay"
};

class LocationProvider
{
public:
    virtual ~LocationProvider() = default;
    virtual std::string describe() const = 0;
    virtual Expected<void> start() = 0;
    // The latest fix if it is younger than maxAgeMs; nullopt when there is none.
    virtual std::optional<LocationSample> latest(int64_t nowMonoNs,
                                                 int64_t maxAgeMs = 5000) const = 0;
    virtual void stop() = 0;
};

// spec: "" (no location), "fixed:LAT,LON[,ALT]", "gpsd:HOST:PORT" (or "gpsd" for
// localhost:2947), "replay:PATH" (a CSV of "seconds,lat,lon" rows, replayed in real
// time from start(), looping). Errc::Config with the spec and the reason when malformed.
Expected<std::unique_ptr<LocationProvider>> openLocationProvider(const std::string &spec);

} // namespace bwc::fw
