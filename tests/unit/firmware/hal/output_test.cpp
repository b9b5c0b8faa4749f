#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "firmware/hal/output_timer.h"
#include "firmware/hal/platform/sim/sim_hal.h"

using namespace bwc;
using namespace bwc::fw;
using namespace std::chrono_literals;

namespace {

struct Write {
    size_t channel;
    bool on;
    std::chrono::steady_clock::time_point at;
};

} // namespace

TEST_CASE("OutputTimer: steady levels, pulses that end by themselves, blinking at its rate")
{
    std::mutex m;
    std::vector<Write> writes;
    OutputTimer timer(3, [&](size_t ch, bool on) -> Expected<void> {
        std::lock_guard lock(m);
        writes.push_back({ch, on, std::chrono::steady_clock::now()});
        return {};
    });

    REQUIRE(timer.set(0, true));
    REQUIRE(timer.set(0, true)); // no change, no write
    REQUIRE(timer.level(0));
    REQUIRE(timer.changes(0) == 1);
    auto bad = timer.set(3, true);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.error().code == Errc::Internal);

    const auto pulseStart = std::chrono::steady_clock::now();
    REQUIRE(timer.pulse(2, 40));
    REQUIRE(timer.level(2));
    std::this_thread::sleep_for(250ms);
    REQUIRE_FALSE(timer.level(2));
    {
        std::lock_guard lock(m);
        REQUIRE(writes.size() == 3);
        REQUIRE(writes[1].channel == 2);
        REQUIRE(writes[1].on);
        REQUIRE(writes[2].channel == 2);
        REQUIRE_FALSE(writes[2].on);
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(writes[2].at - pulseStart);
        REQUIRE(ms.count() >= 40);
        REQUIRE(ms.count() < 200);
    }

    // Blink at a 50 ms half-period: on at once, then a toggle every 50 ms, never early.
    const auto blinkStart = std::chrono::steady_clock::now();
    REQUIRE(timer.blink(1, 50));
    REQUIRE(timer.level(1));
    std::this_thread::sleep_for(120ms);
    REQUIRE(timer.blink(1, 50)); // same blink: keeps the phase
    std::this_thread::sleep_for(200ms);
    REQUIRE(timer.set(1, false));
    const auto blinkEnd = std::chrono::steady_clock::now();
    const auto blinkChanges = timer.changes(1);
    std::this_thread::sleep_for(120ms);
    REQUIRE(timer.changes(1) == blinkChanges); // stopped blinking
    const auto elapsedMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(blinkEnd - blinkStart).count();
    std::lock_guard lock(m);
    std::vector<Write> ch1;
    for (const Write &w : writes)
        if (w.channel == 1)
            ch1.push_back(w);
    // Toggles at 50, 100, ... ms up to the end (about 320 ms): 6 when on time; a loaded
    // machine can only make them late. Plus the first "on" and possibly the final "off".
    REQUIRE(ch1.size() >= 4);
    REQUIRE(ch1.size() <= size_t(elapsedMs / 50) + 2);
    REQUIRE(ch1.size() == blinkChanges);
    for (size_t i = 0; i < ch1.size(); ++i)
        REQUIRE(ch1[i].on == (i % 2 == 0));
    for (size_t i = 1; i < ch1.size(); ++i) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(ch1[i].at - blinkStart);
        if (ch1[i].at < blinkEnd - 1ms)
            REQUIRE(ms.count() >= int64_t(50 * i)); // not the final set(false)
    }
}

TEST_CASE("OutputTimer reports a failed write and keeps the old level")
{
    bool fail = false;
    OutputTimer timer(1, [&](size_t, bool) -> Expected<void> {
        if (fail)
            return Error(Errc::Device, "line gone");
        return {};
    });
    REQUIRE(timer.set(0, true));
    fail = true;
    auto r = timer.set(0, false);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == Errc::Device);
    REQUIRE(r.error().message == "line gone");
    REQUIRE(timer.level(0));
}

TEST_CASE("sim: LEDs blink on the timer thread and the haptic pulses")
{
    auto hal = openSimHal(v1::HalConfig());
    REQUIRE(hal);
    SimHal &sim = **hal;
    REQUIRE_FALSE(sim.ledLit(LedId::Record));
    REQUIRE(sim.led().set(LedId::Record, LedMode::On));
    REQUIRE(sim.ledLit(LedId::Record));
    REQUIRE(sim.led().set(LedId::Status, LedMode::BlinkFast)); // 4 Hz: 125 ms on, 125 off
    REQUIRE(sim.ledLit(LedId::Status));
    // Over ~400 ms the LED toggles at about 125, 250 and 375 ms (later, never earlier,
    // on a loaded machine).
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(400ms);
    const uint64_t changes = sim.ledChanges(LedId::Status);
    const auto elapsedMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    REQUIRE(changes >= 1 + 2);
    REQUIRE(changes <= 1 + uint64_t(elapsedMs / 125));
    REQUIRE(sim.led().set(LedId::Status, LedMode::Off));
    REQUIRE_FALSE(sim.ledLit(LedId::Status));
    REQUIRE(sim.ledLit(LedId::Record)); // untouched by the other LED

    REQUIRE(sim.haptic().pulse(50));
    REQUIRE(sim.hapticOn());
    std::this_thread::sleep_for(250ms);
    REQUIRE_FALSE(sim.hapticOn());
    REQUIRE(sim.hapticPulses() == std::vector<uint32_t>{50});
}
