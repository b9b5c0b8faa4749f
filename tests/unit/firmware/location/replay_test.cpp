#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/location/location.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

class TrackFile
{
public:
    explicit TrackFile(const std::string &text)
    {
        const char *base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bwc-track-XXXXXX";
        const int fd = mkstemp(tmpl.data());
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, text.data(), text.size()) == ssize_t(text.size()));
        ::close(fd);
        path_ = tmpl;
    }
    ~TrackFile() { std::remove(path_.c_str()); }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

constexpr int64_t kMs = 1'000'000;

} // namespace

TEST_CASE("replay: rows are replayed in real time from start() and loop")
{
    // Rows 200 ms apart; the last one lasts 200 ms too, so the loop is 600 ms.
    TrackFile track("# seconds,lat,lon[,alt]\n"
                    "10.0, 51.5000, -0.1200, 20\n"
                    "\n"
                    "10.2, 51.5010, -0.1210   # a comment after a row\n"
                    "10.4, 51.5020, -0.1220, 22.5\r\n");
    auto p = openLocationProvider("replay:" + track.path());
    REQUIRE(p.ok());
    CHECK((*p)->describe() == "replay:" + track.path() + " (3 points, loop 600 ms)");
    CHECK(!(*p)->latest(monoNowNs()).has_value()); // not started

    const int64_t before = monoNowNs();
    REQUIRE((*p)->start().ok());
    const int64_t after = monoNowNs();
    REQUIRE(after - before < 50 * kMs);
    // Query times relative to the start, chosen mid-row so the start's uncertainty (at
    // most after - before) cannot move them across a row boundary.
    auto at = [&](int64_t ms) { return (*p)->latest(after + ms * kMs, 5000); };
    auto s = at(100);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.5);
    CHECK(s->longitudeDeg == -0.12);
    CHECK(s->altitudeM == 20);
    CHECK(s->fixMode == 3);
    CHECK(s->source == "replay");
    CHECK(std::isnan(s->horizontalErrorM));
    CHECK(s->monoNs >= before);
    CHECK(s->monoNs <= after);

    s = at(300);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.501);
    CHECK(std::isnan(s->altitudeM));
    CHECK(s->fixMode == 2);
    CHECK(s->monoNs >= before + 200 * kMs);
    CHECK(s->monoNs <= after + 200 * kMs);

    s = at(500);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.502);
    CHECK(s->altitudeM == 22.5);

    // Second loop.
    s = at(700);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.5);
    CHECK(s->monoNs >= before + 600 * kMs);
    CHECK(s->monoNs <= after + 600 * kMs);
    s = at(600 * 1000 + 300); // a thousand loops later
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 51.501);

    // Against the real clock, too.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const int64_t now = monoNowNs();
    s = (*p)->latest(now);
    REQUIRE(s.has_value());
    const int64_t phase = (now - after) % (600 * kMs);
    if (phase > 10 * kMs && phase < 190 * kMs)
        CHECK(s->latitudeDeg == 51.5);
    else if (phase > 210 * kMs && phase < 390 * kMs)
        CHECK(s->latitudeDeg == 51.501);
    else if (phase > 410 * kMs && phase < 590 * kMs)
        CHECK(s->latitudeDeg == 51.502);

    (*p)->stop();
    CHECK(!(*p)->latest(monoNowNs()).has_value());
}

TEST_CASE("replay: a long interval between rows reads as an outage")
{
    TrackFile track("0,1,2\n10,3,4\n");
    auto p = openLocationProvider("replay:" + track.path());
    REQUIRE(p.ok());
    REQUIRE((*p)->start().ok());
    const int64_t after = monoNowNs();
    // The row at 0 s is 6 s old at 6 s: stale for 5 s, fresh for 7 s.
    CHECK(!(*p)->latest(after + 6000 * kMs, 5000).has_value());
    auto s = (*p)->latest(after + 6000 * kMs, 7000);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 1);
    s = (*p)->latest(after + 10'100 * kMs, 5000);
    REQUIRE(s.has_value());
    CHECK(s->latitudeDeg == 3);
    // Before the start: nothing.
    CHECK(!(*p)->latest(after - 1000 * kMs, 5000).has_value());
}

TEST_CASE("replay: file errors name the file and the line")
{
    auto missing = openLocationProvider("replay:/nonexistent/bwc-track.csv");
    REQUIRE(!missing.ok());
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(missing.error().message.find("location spec \"replay:/nonexistent/bwc-track.csv\": "
                                       "/nonexistent/bwc-track.csv: open failed") == 0);

    struct Case {
        std::string text;
        std::string phrase;
    };
    const std::vector<Case> cases = {
        {"# nothing\n\n", ": no rows; expected seconds,lat,lon[,alt] lines"},
        {"0,1,2\n1,2\n", " line 2: expected seconds,lat,lon[,alt], got 2 field(s)"},
        {"0,1,2,3,4\n", " line 1: expected seconds,lat,lon[,alt], got 5 field(s)"},
        {"0,1,2\n\n1,95,2\n", " line 3: latitude 95 is outside -90..90"},
        {"0,1,-200\n", " line 1: longitude -200 is outside -180..180"},
        {"0,1,2\n1,1,2\n1,1,2\n", " line 3: seconds must increase from row to row"},
        {"5,1,2\n4,1,2\n", " line 2: seconds must increase from row to row"},
        {"-1,1,2\n", " line 1: seconds must be in 0..10000000"},
        {"0,north,2\n", " line 1: latitude \"north\" is not a number"},
        {"x,1,2\n", " line 1: seconds \"x\" is not a number"},
    };
    for (const Case &c : cases) {
        TrackFile track(c.text);
        INFO(c.text);
        auto p = openLocationProvider("replay:" + track.path());
        REQUIRE(!p.ok());
        CHECK(p.error().code == Errc::Config);
        CHECK(p.error().message.find("location spec \"replay:" + track.path() +
                                     "\": " + track.path() + c.phrase) == 0);
    }
}
