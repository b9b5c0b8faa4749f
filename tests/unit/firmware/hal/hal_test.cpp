#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "firmware/hal/hal.h"
#include "firmware/hal/platform/sim/sim_hal.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

constexpr ToneId kAllTones[] = {ToneId::Start,          ToneId::Stop,        ToneId::Reminder,
                                ToneId::StorageWarning, ToneId::StorageFull, ToneId::Error,
                                ToneId::Rejected};

v1::HalConfig simConfig()
{
    v1::HalConfig c;
    c.set_backend("sim");
    return c;
}

bool samePattern(const std::vector<ToneStep> &a, const std::vector<ToneStep> &b)
{
    return std::equal(
        a.begin(), a.end(), b.begin(), b.end(),
        [](const ToneStep &x, const ToneStep &y) { return x.freqHz == y.freqHz && x.ms == y.ms; });
}

uint32_t patternMs(const std::vector<ToneStep> &p)
{
    uint32_t ms = 0;
    for (const ToneStep &s : p)
        ms += s.ms;
    return ms;
}

} // namespace

TEST_CASE("HalHistory keeps the newest 256 LED changes and tones in order")
{
    HalHistory h;
    REQUIRE(h.ledMode(LedId::Record) == LedMode::Off);
    REQUIRE(h.ledMode(LedId::Status) == LedMode::Off);
    for (int i = 0; i < 300; ++i)
        h.ledChanged(i % 2 ? LedId::Status : LedId::Record, LedMode(i % 4), 1000 + i);
    const auto leds = h.leds();
    REQUIRE(leds.size() == 256);
    REQUIRE(leds.front().monoNs == 1000 + 44);
    REQUIRE(leds.back().monoNs == 1000 + 299);
    for (size_t i = 0; i < leds.size(); ++i) {
        const int n = int(i) + 44;
        CHECK(leds[i].monoNs == 1000 + n);
        CHECK(leds[i].led == (n % 2 ? LedId::Status : LedId::Record));
        CHECK(leds[i].mode == LedMode(n % 4));
    }
    // The current mode of each LED is its latest change: 298 -> Record BlinkSlow (298 % 4
    // == 2), 299 -> Status BlinkFast.
    REQUIRE(h.ledMode(LedId::Record) == LedMode::BlinkSlow);
    REQUIRE(h.ledMode(LedId::Status) == LedMode::BlinkFast);

    std::vector<uint64_t> indices;
    for (int i = 0; i < 300; ++i)
        indices.push_back(h.toneRequested(kAllTones[i % 7], 5000 + i));
    for (size_t i = 0; i < indices.size(); ++i)
        REQUIRE(indices[i] == i);
    h.toneStarted(indices[10], 111);  // fell out of the window: ignored
    h.toneStarted(indices[299], 999); // newest
    h.toneStarted(indices[44], 444);  // oldest kept
    h.toneStarted(100000, 1);         // never issued: ignored
    const auto tones = h.tones();
    REQUIRE(tones.size() == 256);
    REQUIRE(tones.front().requestedMonoNs == 5000 + 44);
    REQUIRE(tones.front().tone == kAllTones[44 % 7]);
    REQUIRE(tones.front().firstSampleMonoNs == 444);
    REQUIRE(tones.back().requestedMonoNs == 5000 + 299);
    REQUIRE(tones.back().firstSampleMonoNs == 999);
    int started = 0;
    for (const ToneRecord &t : tones)
        started += t.firstSampleMonoNs != 0;
    REQUIRE(started == 2);
}

TEST_CASE("HalHistory is safe to use from several threads")
{
    HalHistory h;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&h, t] {
            for (int i = 0; i < 500; ++i) {
                h.ledChanged(LedId::Record, LedMode::On, t * 1000 + i);
                h.toneStarted(h.toneRequested(ToneId::Reminder, i), i + 1);
                (void)h.tones();
            }
        });
    for (auto &th : threads)
        th.join();
    REQUIRE(h.leds().size() == 256);
    const auto tones = h.tones();
    REQUIRE(tones.size() == 256);
    for (const ToneRecord &t : tones)
        REQUIRE(t.firstSampleMonoNs == t.requestedMonoNs + 1);
}

TEST_CASE("tonePattern gives every signal its own pattern")
{
    for (ToneId a : kAllTones) {
        const auto &pa = tonePattern(a);
        REQUIRE_FALSE(pa.empty());
        REQUIRE(pa.front().freqHz != 0); // sounds at once: no leading silence
        REQUIRE(patternMs(pa) <= 1000);
        for (ToneId b : kAllTones)
            if (a != b)
                REQUIRE_FALSE(samePattern(pa, tonePattern(b)));
    }
    // DESIGN.md section 7: start = two beeps, stop = one long beep.
    const auto &start = tonePattern(ToneId::Start);
    REQUIRE(start.size() == 3);
    REQUIRE(start[0].freqHz == 2000);
    REQUIRE(start[0].ms == 80);
    REQUIRE(start[1].freqHz == 0);
    REQUIRE(start[1].ms == 60);
    REQUIRE(start[2].freqHz == 2000);
    REQUIRE(start[2].ms == 80);
    const auto &stop = tonePattern(ToneId::Stop);
    REQUIRE(stop.size() == 1);
    REQUIRE(stop[0].ms == 600);
    REQUIRE(stop[0].ms > 3 * start[0].ms);
    // Storage full: five beeps; warning: three alternating steps.
    const auto &full = tonePattern(ToneId::StorageFull);
    REQUIRE(std::count_if(full.begin(), full.end(), [](auto &s) { return s.freqHz; }) == 5);
    const auto &warn = tonePattern(ToneId::StorageWarning);
    REQUIRE(warn.size() == 3);
    REQUIRE(warn[0].freqHz != warn[1].freqHz);
}

TEST_CASE("openHal rejects an unknown backend naming hal.backend")
{
    HalHistory h;
    v1::HalConfig c;
    c.set_backend("pigpio");
    auto hal = openHal(c, h);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Config);
    REQUIRE(hal.error().message.find("hal.backend = \"pigpio\"") != std::string::npos);
    REQUIRE(hal.error().message.find("\"sim\"") != std::string::npos);
    REQUIRE(hal.error().message.find("\"gpiod\"") != std::string::npos);

    c.set_backend("");
    auto empty = openHal(c, h);
    REQUIRE_FALSE(empty);
    REQUIRE(empty.error().code == Errc::Config);
    REQUIRE(empty.error().message.find("hal.backend = \"\"") != std::string::npos);
}

TEST_CASE("sim: injected presses reach the callback as edges with increasing times")
{
    HalHistory h;
    auto hal = openHal(simConfig(), h);
    REQUIRE(hal);
    REQUIRE((*hal)->describe() == "sim");
    SimButton *sim = (*hal)->simButton();
    REQUIRE(sim != nullptr);
    Button &button = (*hal)->button();

    sim->inject(true); // before start: the state changes, no edge is delivered
    REQUIRE(button.pressed());
    sim->inject(false);

    std::mutex m;
    std::vector<ButtonEdge> edges;
    REQUIRE(button.start([&](const ButtonEdge &e) {
        std::lock_guard lock(m);
        edges.push_back(e);
    }));
    auto again = button.start([](const ButtonEdge &) {});
    REQUIRE_FALSE(again);
    REQUIRE(again.error().code == Errc::Internal);

    const int64_t before = monoNowNs();
    sim->inject(true);
    REQUIRE(button.pressed());
    sim->inject(true); // no change, no edge
    sim->inject(false);
    REQUIRE_FALSE(button.pressed());
    sim->inject(true);
    sim->inject(false);
    const int64_t after = monoNowNs();
    {
        std::lock_guard lock(m);
        REQUIRE(edges.size() == 4);
        const bool expected[] = {true, false, true, false};
        for (size_t i = 0; i < edges.size(); ++i) {
            CHECK(edges[i].pressed == expected[i]);
            CHECK(edges[i].monoNs >= before);
            CHECK(edges[i].monoNs <= after + 4);
            if (i > 0)
                CHECK(edges[i].monoNs > edges[i - 1].monoNs);
        }
    }
    button.stop();
    sim->inject(true);
    std::lock_guard lock(m);
    REQUIRE(edges.size() == 4);
}

TEST_CASE("sim: LED changes are recorded in the history with their modes")
{
    HalHistory h;
    auto hal = openHal(simConfig(), h);
    REQUIRE(hal);
    const int64_t t0 = monoNowNs();
    REQUIRE((*hal)->led().set(LedId::Record, LedMode::On));
    REQUIRE((*hal)->led().set(LedId::Status, LedMode::BlinkSlow));
    REQUIRE((*hal)->led().set(LedId::Status, LedMode::BlinkFast));
    REQUIRE((*hal)->led().set(LedId::Record, LedMode::Off));
    const auto leds = h.leds();
    REQUIRE(leds.size() == 4);
    REQUIRE(leds[0].led == LedId::Record);
    REQUIRE(leds[0].mode == LedMode::On);
    REQUIRE(leds[1].led == LedId::Status);
    REQUIRE(leds[1].mode == LedMode::BlinkSlow);
    REQUIRE(leds[2].mode == LedMode::BlinkFast);
    REQUIRE(leds[3].led == LedId::Record);
    REQUIRE(leds[3].mode == LedMode::Off);
    for (size_t i = 0; i < leds.size(); ++i) {
        REQUIRE(leds[i].monoNs >= t0);
        if (i > 0)
            REQUIRE(leds[i].monoNs >= leds[i - 1].monoNs);
    }
    REQUIRE(h.ledMode(LedId::Record) == LedMode::Off);
    REQUIRE(h.ledMode(LedId::Status) == LedMode::BlinkFast);
    REQUIRE((*hal)->haptic().pulse(30));
    REQUIRE(h.leds().size() == 4); // the haptic is not an LED
}

TEST_CASE("sim: the timing-only tone player starts at once and a new tone replaces the old")
{
    HalHistory h;
    auto hal = openHal(simConfig(), h);
    REQUIRE(hal);
    TonePlayer &tone = (*hal)->tone();

    std::mutex m;
    std::vector<std::pair<ToneId, int64_t>> started;
    auto record = [&](ToneId id) {
        return [&, id](int64_t ns) {
            std::lock_guard lock(m);
            started.emplace_back(id, ns);
        };
    };
    const int64_t t0 = monoNowNs();
    REQUIRE(tone.play(ToneId::Stop, tonePattern(ToneId::Stop), record(ToneId::Stop)));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t t1 = monoNowNs();
    REQUIRE(tone.play(ToneId::Reminder, tonePattern(ToneId::Reminder), record(ToneId::Reminder)));
    // The reminder (60 ms) replaces the stop beep (600 ms, 550 ms still to go): it starts
    // at once, not after the stop beep. 100 ms is the design's budget for the start beeps.
    for (int i = 0; i < 2000; ++i) {
        {
            std::lock_guard lock(m);
            if (started.size() == 2)
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    {
        std::lock_guard lock(m);
        REQUIRE(started.size() == 2);
        REQUIRE(started[0].first == ToneId::Stop);
        REQUIRE(started[0].second >= t0);
        REQUIRE(started[0].second - t0 < 100'000'000);
        REQUIRE(started[1].first == ToneId::Reminder);
        REQUIRE(started[1].second >= t1);
        REQUIRE(started[1].second - t1 < 100'000'000);
    }
    const auto tones = h.tones();
    REQUIRE(tones.size() == 2);
    REQUIRE(tones[0].tone == ToneId::Stop);
    REQUIRE(tones[0].requestedMonoNs >= t0);
    REQUIRE(tones[0].firstSampleMonoNs >= tones[0].requestedMonoNs);
    REQUIRE(tones[1].tone == ToneId::Reminder);
    REQUIRE(tones[1].firstSampleMonoNs >= tones[1].requestedMonoNs);
}

TEST_CASE("sim: timing-only tone player latency from play() to the first sample")
{
    TimingTonePlayer player;
    std::vector<int64_t> latencies;
    for (int i = 0; i < 20; ++i) {
        std::mutex m;
        int64_t first = 0;
        const int64_t t0 = monoNowNs();
        REQUIRE(player.play(ToneId::Rejected, tonePattern(ToneId::Rejected), [&](int64_t ns) {
            std::lock_guard lock(m);
            first = ns;
        }));
        REQUIRE(player.waitIdle(1000));
        std::lock_guard lock(m);
        REQUIRE(first >= t0);
        latencies.push_back(first - t0);
    }
    std::sort(latencies.begin(), latencies.end());
    const double p50 = double(latencies[latencies.size() / 2]) / 1e6;
    const double max = double(latencies.back()) / 1e6;
    std::printf(
        "sim tone player: play() to first sample over %zu plays: p50 %.3f ms, max %.3f ms\n",
        latencies.size(), p50, max);
    REQUIRE(max < 100.0); // DESIGN.md section 7: start beeps within 100 ms of the edge
}
