#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/location/location.h"

using namespace bwc;
using namespace bwc::fw;

TEST_CASE("location spec \"\": a provider that never has a fix")
{
    auto p = openLocationProvider("");
    REQUIRE(p.ok());
    CHECK((*p)->describe() == "none");
    REQUIRE((*p)->start().ok());
    CHECK(!(*p)->latest(monoNowNs()).has_value());
    CHECK(!(*p)->latest(0, 1'000'000).has_value());
    (*p)->stop();
}

TEST_CASE("location spec fixed: a surveyed position, always current while started")
{
    auto p = openLocationProvider("fixed:51.500729,-0.124625,35.5");
    REQUIRE(p.ok());
    CHECK((*p)->describe() == "fixed:51.500729,-0.124625,35.5");
    CHECK(!(*p)->latest(123).has_value()); // not started
    REQUIRE((*p)->start().ok());
    auto s = (*p)->latest(987'654'321, 0);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.500729);
    CHECK(s->longitudeDeg == -0.124625);
    CHECK(s->altitudeM == 35.5);
    CHECK(std::isnan(s->horizontalErrorM));
    CHECK(s->fixMode == 3);
    CHECK(s->monoNs == 987'654'321);
    CHECK(s->source == "fixed");
    (*p)->stop();
    CHECK(!(*p)->latest(987'654'321).has_value());

    // Without altitude: a 2D position, altitude unknown. Blanks around numbers are fine.
    auto q = openLocationProvider("fixed: -33.8688 , 151.2093");
    REQUIRE(q.ok());
    REQUIRE((*q)->start().ok());
    s = (*q)->latest(5);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == -33.8688);
    CHECK(s->longitudeDeg == 151.2093);
    CHECK(std::isnan(s->altitudeM));
    CHECK(s->fixMode == 2);

    // The edges of the ranges are valid.
    for (const char *spec : {"fixed:90,180", "fixed:-90,-180", "fixed:+0,0,-10"})
        CHECK(openLocationProvider(spec).ok());
}

TEST_CASE("location specs for gpsd: host and port")
{
    struct Case {
        std::string spec;
        std::string describe;
    };
    const std::vector<Case> cases = {
        {"gpsd", "gpsd:localhost:2947"},           {"gpsd:10.0.0.5:3000", "gpsd:10.0.0.5:3000"},
        {"gpsd:gps.local", "gpsd:gps.local:2947"}, {"gpsd:[::1]:2948", "gpsd:[::1]:2948"},
        {"gpsd:[fe80::1]", "gpsd:[fe80::1]:2947"},
    };
    for (const Case &c : cases) {
        auto p = openLocationProvider(c.spec);
        INFO(c.spec);
        REQUIRE(p.ok());
        CHECK((*p)->describe() == c.describe);
        // Not started: no thread, no fix.
        CHECK(!(*p)->latest(monoNowNs()).has_value());
    }
}

TEST_CASE("malformed location specs fail with Errc::Config naming the spec and the reason")
{
    struct Case {
        std::string spec;
        std::string phrase;
    };
    const std::vector<Case> cases = {
        {"fixed:91,0", "latitude 91 is outside -90..90"},
        {"fixed:-90.5,0", "latitude -90.5 is outside -90..90"},
        {"fixed:0,180.25", "longitude 180.25 is outside -180..180"},
        {"fixed:0,-181", "longitude -181 is outside -180..180"},
        {"fixed:1", "expected fixed:LAT,LON[,ALT] (degrees, degrees, metres), got 1 field(s)"},
        {"fixed:1,2,3,4", "got 4 field(s)"},
        {"fixed", "expected fixed:LAT,LON[,ALT]"},
        {"fixed:abc,2", "latitude \"abc\" is not a number"},
        {"fixed:1,2x", "longitude \"2x\" is not a number"},
        {"fixed:1,2,high", "altitude \"high\" is not a number"},
        {"fixed:nan,2", "latitude \"nan\" is not a number"},
        {"fixed:1,inf", "longitude \"inf\" is not a number"},
        {"fixed:,2", "latitude \"\" is not a number"},
        {"gps:1,2", "unknown kind \"gps\""},
        {"FIXED:1,2", "unknown kind \"FIXED\""},
        {"gpsd:host:0", "port \"0\" is not a number in 1..65535"},
        {"gpsd:host:65536", "port \"65536\" is not a number in 1..65535"},
        {"gpsd:host:", "port \"\" is not a number in 1..65535"},
        {"gpsd:host:29x", "port \"29x\" is not a number in 1..65535"},
        {"gpsd::2947", "empty host"},
        {"gpsd:", "empty host"},
        {"gpsd:fe80::1", "too many ':'"},
        {"gpsd:[::1", "missing ']'"},
        {"gpsd:[::1]2947", "expected ':PORT' after the IPv6 address"},
        {"replay:", "expected replay:PATH"},
        {"replay", "expected replay:PATH"},
    };
    for (const Case &c : cases) {
        INFO(c.spec);
        auto p = openLocationProvider(c.spec);
        REQUIRE(!p.ok());
        CHECK(p.error().code == Errc::Config);
        CHECK(p.error().message.find("location spec \"" + c.spec + "\": ") == 0);
        CHECK(p.error().message.find(c.phrase) != std::string::npos);
    }
}
