// The gpsd provider against a fake gpsd speaking the JSON protocol over TCP on 127.0.0.1.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "common/base/unique_fd.h"
#include "firmware/location/location.h"
#include "tests/unit/firmware/location/fake_gpsd.h"

using namespace bwc;
using namespace bwc::fw;
using Catch::Approx;

namespace {

constexpr int64_t kMs = 1'000'000;

// Polls `provider` until `pred` holds for its latest() (or nullopt), up to `timeoutMs`.
bool waitFor(const LocationProvider &provider,
             const std::function<bool(const std::optional<LocationSample> &)> &pred,
             int timeoutMs = 3000)
{
    const int64_t deadline = monoNowNs() + timeoutMs * kMs;
    while (monoNowNs() < deadline) {
        if (pred(provider.latest(monoNowNs())))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::function<bool(const std::optional<LocationSample> &)> latitudeIs(double lat)
{
    return [lat](const std::optional<LocationSample> &s) {
        return s && std::fabs(s->latitudeDeg - lat) < 1e-9;
    };
}

std::unique_ptr<LocationProvider> openGpsd(uint16_t port)
{
    auto p = openLocationProvider("gpsd:127.0.0.1:" + std::to_string(port));
    REQUIRE(p.ok());
    return std::move(p).value();
}

} // namespace

TEST_CASE("gpsd: TPV reports become fixes, and fixes go stale")
{
    test::FakeGpsd gpsd;
    auto provider = openGpsd(gpsd.port());
    CHECK(provider->describe() == "gpsd:127.0.0.1:" + std::to_string(gpsd.port()));
    REQUIRE(provider->start().ok());
    REQUIRE(gpsd.waitForClients(1, 3000));
    const std::string watch = gpsd.watchCommand();
    CHECK(watch.find("\"enable\":true") != std::string::npos);
    CHECK(watch.find("\"json\":true") != std::string::npos);
    CHECK(!provider->latest(monoNowNs()).has_value());

    // A 3D fix: altitude MSL preferred over HAE, eph as the horizontal error.
    const int64_t sent = monoNowNs();
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"device\":\"/dev/ttyACM0\",\"status\":1,\"mode\":3,"
                      "\"time\":\"2026-01-02T03:04:05.000Z\",\"ept\":0.005,\"lat\":51.500729,"
                      "\"lon\":-0.124625,\"altHAE\":80.1,\"altMSL\":35.2,\"alt\":35.2,"
                      "\"epx\":3.1,\"epy\":3.3,\"epv\":7.2,\"eph\":4.5,\"track\":12.5,"
                      "\"speed\":1.2,\"climb\":0.0}"));
    REQUIRE(waitFor(*provider, latitudeIs(51.500729)));
    auto s = provider->latest(monoNowNs());
    REQUIRE(s.has_value());
    CHECK(s->longitudeDeg == Approx(-0.124625).epsilon(1e-12));
    CHECK(s->altitudeM == Approx(35.2));
    CHECK(s->horizontalErrorM == Approx(4.5));
    CHECK(s->fixMode == 3);
    CHECK(s->source == "gpsd");
    CHECK(s->monoNs >= sent);
    CHECK(s->monoNs <= monoNowNs());

    // Staleness is measured from when the fix arrived.
    CHECK(provider->latest(s->monoNs + 4999 * kMs, 5000).has_value());
    CHECK(!provider->latest(s->monoNs + 5001 * kMs, 5000).has_value());
    CHECK(!provider->latest(s->monoNs + 1500 * kMs, 1000).has_value());

    // A 2D fix without eph: the error comes from epx/epy; no altitude.
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"device\":\"/dev/ttyACM0\",\"mode\":2,"
                      "\"time\":\"2026-01-02T03:04:06.000Z\",\"lat\":48.8584,\"lon\":2.2945,"
                      "\"altHAE\":100.0,\"epx\":3.0,\"epy\":4.0}"));
    REQUIRE(waitFor(*provider, latitudeIs(48.8584)));
    s = provider->latest(monoNowNs());
    REQUIRE(s.has_value());
    CHECK(s->longitudeDeg == Approx(2.2945));
    CHECK(std::isnan(s->altitudeM));
    CHECK(s->horizontalErrorM == Approx(5.0));
    CHECK(s->fixMode == 2);

    // A 3D fix with only the height above the ellipsoid, and no error estimate at all.
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"mode\":3,\"lat\":-33.8688,\"lon\":151.2093,"
                      "\"altHAE\":58.0}"));
    REQUIRE(waitFor(*provider, latitudeIs(-33.8688)));
    s = provider->latest(monoNowNs());
    REQUIRE(s.has_value());
    CHECK(s->altitudeM == Approx(58.0));
    CHECK(std::isnan(s->horizontalErrorM));

    // Other reports leave the fix alone; a TPV without a fix (mode 1) clears it.
    REQUIRE(gpsd.send("{\"class\":\"SKY\",\"device\":\"/dev/ttyACM0\",\"hdop\":1.2,"
                      "\"satellites\":[{\"PRN\":5,\"el\":45.0,\"az\":120.0,\"ss\":40.0,"
                      "\"used\":true}]}"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(waitFor(*provider, latitudeIs(-33.8688), 100));
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"device\":\"/dev/ttyACM0\",\"mode\":1,"
                      "\"time\":\"2026-01-02T03:04:08.000Z\"}"));
    REQUIRE(waitFor(*provider, [](const auto &v) { return !v.has_value(); }));

    const int64_t t0 = monoNowNs();
    provider->stop();
    CHECK(monoNowNs() - t0 < 1000 * kMs);
    CHECK(!provider->latest(monoNowNs()).has_value());
}

TEST_CASE("gpsd: the provider reconnects when gpsd goes away")
{
    test::FakeGpsd gpsd;
    auto provider = openGpsd(gpsd.port());
    REQUIRE(provider->start().ok());
    REQUIRE(gpsd.waitForClients(1, 3000));
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"mode\":2,\"lat\":10.5,\"lon\":20.5}"));
    REQUIRE(waitFor(*provider, latitudeIs(10.5)));

    gpsd.dropClient();
    // The last fix stays until it is too old.
    CHECK(provider->latest(monoNowNs()).has_value());
    // Reconnects within the retry interval (2 s) plus slack.
    REQUIRE(gpsd.waitForClients(2, 5000));
    REQUIRE(gpsd.send("{\"class\":\"TPV\",\"mode\":3,\"lat\":11.25,\"lon\":21.25,"
                      "\"altMSL\":5.0}"));
    REQUIRE(waitFor(*provider, latitudeIs(11.25)));
    CHECK(provider->latest(monoNowNs())->altitudeM == Approx(5.0));
    provider->stop();
}

TEST_CASE("gpsd: no gpsd listening means no fix, and stop() is still prompt")
{
    // A port nobody listens on: bind one, then close it.
    uint16_t port = 0;
    {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(fd.isValid());
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&addr), &len) == 0);
        port = ntohs(addr.sin_port);
    }
    auto provider = openGpsd(port);
    REQUIRE(provider->start().ok());
    REQUIRE(provider->start().ok()); // a second start() is harmless
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(!provider->latest(monoNowNs()).has_value());
    const int64_t t0 = monoNowNs();
    provider->stop();
    CHECK(monoNowNs() - t0 < 500 * kMs);
    // And it can be started again.
    REQUIRE(provider->start().ok());
    provider->stop();
}
