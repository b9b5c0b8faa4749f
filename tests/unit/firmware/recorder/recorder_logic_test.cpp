#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "firmware/recorder/recorder_logic.h"

using namespace bwc::fw;

namespace {

using Kind = RecorderAction::Kind;
using Actions = std::vector<RecorderAction>;

RecorderAction action(Kind kind)
{
    RecorderAction a{};
    a.kind = kind;
    return a;
}
RecorderAction startClip()
{
    return action(Kind::StartClip);
}
RecorderAction stopClip()
{
    return action(Kind::StopClip);
}
RecorderAction rollOver()
{
    return action(Kind::RollOver);
}
RecorderAction led(LedId id, LedMode mode)
{
    RecorderAction a = action(Kind::SetLed);
    a.led = id;
    a.ledMode = mode;
    return a;
}
RecorderAction tone(ToneId id)
{
    RecorderAction a = action(Kind::PlayTone);
    a.tone = id;
    return a;
}
RecorderAction haptic(uint32_t ms)
{
    RecorderAction a = action(Kind::Haptic);
    a.hapticMs = ms;
    return a;
}
RecorderAction event(std::string name)
{
    RecorderAction a = action(Kind::Event);
    a.event = std::move(name);
    return a;
}

std::string describe(const RecorderAction &a)
{
    switch (a.kind) {
    case Kind::StartClip:
        return "StartClip";
    case Kind::StopClip:
        return "StopClip";
    case Kind::RollOver:
        return "RollOver";
    case Kind::SetLed:
        return "SetLed " + std::string(ledIdName(a.led)) + " " +
               std::string(ledModeName(a.ledMode));
    case Kind::PlayTone:
        return "PlayTone " + std::string(toneIdName(a.tone));
    case Kind::Haptic:
        return "Haptic " + std::to_string(a.hapticMs);
    case Kind::Event:
        return "Event " + a.event;
    }
    return "?";
}

std::string describe(const Actions &actions)
{
    std::string text = "[";
    for (const auto &a : actions)
        text += (text.size() > 1 ? ", " : "") + describe(a);
    return text + "]";
}

#define REQUIRE_ACTIONS(got, ...)                                                                  \
    do {                                                                                           \
        const Actions got_ = (got);                                                                \
        const Actions want_ = __VA_ARGS__;                                                         \
        INFO("got  " << describe(got_));                                                           \
        INFO("want " << describe(want_));                                                          \
        REQUIRE(got_ == want_);                                                                    \
    } while (0)

const Actions kStart = {
    tone(ToneId::Start), led(LedId::Record, LedMode::On), haptic(80),
    startClip(),         event("button-press"),           event("record-start")};
const Actions kStop = {tone(ToneId::Stop), event("record-stop"), stopClip()};
const Actions kSealed = {led(LedId::Record, LedMode::Off), event("clip-sealed")};

// Presses at t and releases at t + heldMs, with no tick in between.
Actions press(RecorderLogic &logic, int64_t t, int64_t heldMs)
{
    Actions all = logic.buttonEdge(true, t);
    Actions up = logic.buttonEdge(false, t + heldMs);
    all.insert(all.end(), up.begin(), up.end());
    return all;
}

// Ticks every 100 ms over (from, to]; returns every action.
Actions tickThrough(RecorderLogic &logic, int64_t from, int64_t to)
{
    Actions all;
    for (int64_t t = from + 100; t <= to; t += 100) {
        Actions a = logic.tick(t);
        all.insert(all.end(), a.begin(), a.end());
    }
    return all;
}

// A logic already recording since t = 1000 (press released at 1200).
RecorderLogic recordingLogic()
{
    RecorderLogic logic;
    REQUIRE_ACTIONS(press(logic, 1000, 200), kStart);
    REQUIRE_ACTIONS(logic.clipStarted(true, 1010), {});
    REQUIRE(logic.state() == RecorderState::Recording);
    return logic;
}

} // namespace

TEST_CASE("names are lower case with dashes")
{
    REQUIRE(recorderStateName(RecorderState::Idle) == "idle");
    REQUIRE(recorderStateName(RecorderState::Recording) == "recording");
    REQUIRE(recorderStateName(RecorderState::Sealing) == "sealing");
    REQUIRE(ledIdName(LedId::Record) == "record");
    REQUIRE(ledIdName(LedId::Status) == "status");
    REQUIRE(ledModeName(LedMode::Off) == "off");
    REQUIRE(ledModeName(LedMode::On) == "on");
    REQUIRE(ledModeName(LedMode::BlinkSlow) == "blink-slow");
    REQUIRE(ledModeName(LedMode::BlinkFast) == "blink-fast");
    REQUIRE(toneIdName(ToneId::Start) == "start");
    REQUIRE(toneIdName(ToneId::Stop) == "stop");
    REQUIRE(toneIdName(ToneId::Reminder) == "reminder");
    REQUIRE(toneIdName(ToneId::StorageWarning) == "storage-warning");
    REQUIRE(toneIdName(ToneId::StorageFull) == "storage-full");
    REQUIRE(toneIdName(ToneId::Error) == "error");
    REQUIRE(toneIdName(ToneId::Rejected) == "rejected");
}

TEST_CASE("a press starts recording on its down edge; a long press stops it")
{
    RecorderLogic logic;
    REQUIRE(logic.state() == RecorderState::Idle);
    REQUIRE_ACTIONS(logic.tick(500), {});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 1000), kStart);
    REQUIRE(logic.state() == RecorderState::Recording);
    REQUIRE(logic.buttonDown());
    REQUIRE_ACTIONS(logic.buttonEdge(false, 1150), {});
    REQUIRE_ACTIONS(logic.clipStarted(true, 1020), {});
    REQUIRE_ACTIONS(tickThrough(logic, 1000, 20'000), {});

    REQUIRE_ACTIONS(logic.buttonEdge(true, 20'000), {event("button-press")});
    REQUIRE_ACTIONS(tickThrough(logic, 20'000, 22'900), {});
    REQUIRE_ACTIONS(logic.tick(23'000), kStop);
    REQUIRE(logic.state() == RecorderState::Sealing);
    // Releasing after the stop does nothing more.
    REQUIRE_ACTIONS(logic.buttonEdge(false, 24'000), {});
    REQUIRE_ACTIONS(logic.tick(24'100), {});
    REQUIRE_ACTIONS(logic.clipSealed(true, 24'500), kSealed);
    REQUIRE(logic.state() == RecorderState::Idle);
    // And the next press starts a new recording.
    REQUIRE_ACTIONS(logic.buttonEdge(true, 30'000), kStart);
}

TEST_CASE("long press threshold: 2999 ms is short, 3000 ms stops")
{
    SECTION("seen by tick() while held")
    {
        RecorderLogic logic = recordingLogic();
        REQUIRE_ACTIONS(logic.buttonEdge(true, 10'000), {event("button-press")});
        REQUIRE_ACTIONS(logic.tick(12'999), {});
        REQUIRE_ACTIONS(logic.tick(13'000), kStop);
        REQUIRE(logic.state() == RecorderState::Sealing);
    }
    SECTION("released at 2999 ms with no tick: a short press")
    {
        RecorderLogic logic = recordingLogic();
        REQUIRE_ACTIONS(press(logic, 10'000, 2'999),
                        {event("button-press"), haptic(80), event("short-press-ignored")});
        REQUIRE(logic.state() == RecorderState::Recording);
        REQUIRE_ACTIONS(logic.tick(13'100), {});
    }
    SECTION("released at 3000 ms with no tick: stops at the release")
    {
        RecorderLogic logic = recordingLogic();
        REQUIRE_ACTIONS(logic.buttonEdge(true, 10'000), {event("button-press")});
        REQUIRE_ACTIONS(logic.buttonEdge(false, 13'000), kStop);
        REQUIRE(logic.state() == RecorderState::Sealing);
    }
    SECTION("a configured long-press time")
    {
        RecorderSettings settings;
        settings.longPressMs = 1'500;
        RecorderLogic logic(settings);
        REQUIRE_ACTIONS(press(logic, 1'000, 100), kStart);
        REQUIRE_ACTIONS(logic.buttonEdge(true, 5'000), {event("button-press")});
        REQUIRE_ACTIONS(logic.tick(6'499), {});
        REQUIRE_ACTIONS(logic.tick(6'500), kStop);
    }
}

TEST_CASE("the press that started a recording never stops it, however long it is held")
{
    RecorderLogic logic;
    REQUIRE_ACTIONS(logic.buttonEdge(true, 1'000), kStart);
    REQUIRE_ACTIONS(tickThrough(logic, 1'000, 11'000), {});
    REQUIRE_ACTIONS(logic.buttonEdge(false, 11'000), {});
    REQUIRE(logic.state() == RecorderState::Recording);
    REQUIRE_ACTIONS(tickThrough(logic, 11'000, 15'000), {});
    // A release without any tick after a 10 s hold does not stop it either.
    RecorderLogic other;
    REQUIRE_ACTIONS(press(other, 1'000, 10'000), kStart);
    REQUIRE(other.state() == RecorderState::Recording);
}

TEST_CASE("a short press while recording is acknowledged and changes nothing")
{
    RecorderLogic logic = recordingLogic();
    REQUIRE_ACTIONS(press(logic, 5'000, 400),
                    {event("button-press"), haptic(80), event("short-press-ignored")});
    REQUIRE(logic.state() == RecorderState::Recording);
    REQUIRE_ACTIONS(tickThrough(logic, 5'400, 9'000), {});
}

TEST_CASE("contact bounce: edges within the debounce time of an accepted edge are ignored")
{
    RecorderLogic logic;
    REQUIRE_ACTIONS(logic.buttonEdge(true, 1'000), kStart);
    // Bounce on the press: 5 ms apart, ending down.
    for (int64_t t = 1'005; t <= 1'025; t += 10) {
        REQUIRE_ACTIONS(logic.buttonEdge(false, t), {});
        REQUIRE_ACTIONS(logic.buttonEdge(true, t + 5), {});
    }
    REQUIRE(logic.buttonDown());
    REQUIRE_ACTIONS(logic.tick(1'100), {});
    REQUIRE(logic.state() == RecorderState::Recording);
    // Release with bounce, ending up: nothing (the starting press ends).
    REQUIRE_ACTIONS(logic.buttonEdge(false, 2'000), {});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 2'005), {});
    REQUIRE_ACTIONS(logic.buttonEdge(false, 2'010), {});
    REQUIRE_FALSE(logic.buttonDown());
    // An edge exactly the debounce time after the last accepted one counts.
    REQUIRE_ACTIONS(logic.buttonEdge(true, 2'030), {event("button-press")});
    REQUIRE(logic.buttonDown());
}

TEST_CASE("a glitch shorter than the debounce time does not leave the button held")
{
    RecorderLogic logic = recordingLogic();
    // A 5 ms pulse on the line: the down edge is accepted, the up edge looks like bounce.
    REQUIRE_ACTIONS(logic.buttonEdge(true, 10'000), {event("button-press")});
    REQUIRE_ACTIONS(logic.buttonEdge(false, 10'005), {});
    REQUIRE(logic.buttonDown());
    // The line stays up past the debounce time: the next tick takes the release, dated by
    // its edge, so it is a short press, not a 3 s hold that would stop the recording.
    REQUIRE_ACTIONS(logic.tick(10'100), {haptic(80), event("short-press-ignored")});
    REQUIRE_FALSE(logic.buttonDown());
    REQUIRE_ACTIONS(tickThrough(logic, 10'100, 14'000), {});
    REQUIRE(logic.state() == RecorderState::Recording);
}

TEST_CASE("reminder tones every 2 minutes from the start of the recording")
{
    RecorderLogic logic = recordingLogic(); // started at 1000
    REQUIRE_ACTIONS(logic.tick(120'999), {});
    REQUIRE_ACTIONS(logic.tick(121'000), {tone(ToneId::Reminder)});
    REQUIRE_ACTIONS(logic.tick(121'100), {});
    REQUIRE_ACTIONS(logic.tick(240'999), {});
    REQUIRE_ACTIONS(logic.tick(241'000), {tone(ToneId::Reminder)});
    // A late tick gives one reminder and keeps the cadence.
    REQUIRE_ACTIONS(logic.tick(361'050), {tone(ToneId::Reminder)});
    REQUIRE_ACTIONS(logic.tick(480'999), {});
    REQUIRE_ACTIONS(logic.tick(481'000), {tone(ToneId::Reminder)});
    // No reminders once stopped.
    REQUIRE_ACTIONS(logic.buttonEdge(true, 500'000), {event("button-press")});
    REQUIRE_ACTIONS(logic.tick(503'000), kStop);
    REQUIRE_ACTIONS(logic.tick(601'000), {});
}

TEST_CASE("roll-over every 4 hours without stopping; reminders keep their cadence")
{
    RecorderLogic logic = recordingLogic(); // started at 1000
    const int64_t fourHours = 4ll * 3600 * 1000;
    Actions all = tickThrough(logic, 1'000, 1'000 + fourHours - 100);
    REQUIRE(all.size() == 119); // reminders at 2, 4, ..., 238 minutes
    for (const auto &a : all)
        REQUIRE(a == tone(ToneId::Reminder));
    REQUIRE_ACTIONS(logic.tick(1'000 + fourHours),
                    {rollOver(), event("clip-rollover"), tone(ToneId::Reminder)});
    REQUIRE(logic.state() == RecorderState::Recording);
    // The next clip is measured from the roll-over; reminders go on every 2 minutes.
    REQUIRE_ACTIONS(logic.tick(1'000 + fourHours + 60'000), {});
    REQUIRE_ACTIONS(logic.tick(1'000 + fourHours + 120'000), {tone(ToneId::Reminder)});
    all = tickThrough(logic, 1'000 + fourHours + 120'000, 1'000 + 2 * fourHours - 100);
    REQUIRE(all.size() == 118);
    REQUIRE_ACTIONS(logic.tick(1'000 + 2 * fourHours),
                    {rollOver(), event("clip-rollover"), tone(ToneId::Reminder)});
    // The sealing of a rolled-over clip: success is silent, failure is signalled.
    REQUIRE_ACTIONS(logic.clipSealed(true, 1'000 + 2 * fourHours + 500), {});
    REQUIRE_ACTIONS(logic.clipSealed(false, 1'000 + 2 * fourHours + 600),
                    {tone(ToneId::Error), event("clip-seal-failed")});
    REQUIRE(logic.state() == RecorderState::Recording);
}

TEST_CASE("roll-over is measured from the current clip's start")
{
    RecorderSettings settings;
    settings.maxClipMs = 10'000;
    settings.reminderMs = 0; // off
    RecorderLogic logic(settings);
    REQUIRE_ACTIONS(press(logic, 500, 100), kStart);
    REQUIRE_ACTIONS(tickThrough(logic, 500, 10'400), {});
    REQUIRE_ACTIONS(logic.tick(10'550), {rollOver(), event("clip-rollover")});
    REQUIRE_ACTIONS(logic.tick(20'549), {});
    REQUIRE_ACTIONS(logic.tick(20'550), {rollOver(), event("clip-rollover")});
}

TEST_CASE("storage full: a press is refused with its own signal")
{
    RecorderLogic logic;
    REQUIRE_ACTIONS(
        logic.storageLevel(StorageLevel::Full, 100),
        {tone(ToneId::StorageFull), led(LedId::Status, LedMode::BlinkFast), event("storage-full")});
    REQUIRE(logic.storage() == StorageLevel::Full);
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Full, 200), {});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 1'000),
                    {tone(ToneId::StorageFull), led(LedId::Status, LedMode::BlinkFast),
                     event("button-press"), event("storage-full-refused")});
    REQUIRE(logic.state() == RecorderState::Idle);
    REQUIRE_ACTIONS(logic.buttonEdge(false, 1'200), {});
    REQUIRE_ACTIONS(tickThrough(logic, 1'200, 6'000), {});
    // Space comes back (offload): warning first (no tone from full), then ok.
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Warning, 7'000),
                    {led(LedId::Status, LedMode::BlinkSlow), event("storage-warning")});
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Ok, 8'000),
                    {led(LedId::Status, LedMode::Off), event("storage-ok")});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 9'000), kStart);
}

TEST_CASE("storage warning: tone and slow blink once on entering it; recording goes on")
{
    RecorderLogic logic = recordingLogic();
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Warning, 5'000),
                    {tone(ToneId::StorageWarning), led(LedId::Status, LedMode::BlinkSlow),
                     event("storage-warning")});
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Warning, 6'000), {});
    REQUIRE(logic.state() == RecorderState::Recording);
    REQUIRE(logic.storage() == StorageLevel::Warning);
    REQUIRE_ACTIONS(logic.buttonEdge(true, 7'000), {event("button-press")});
    REQUIRE_ACTIONS(logic.tick(10'000), kStop);
    REQUIRE_ACTIONS(logic.buttonEdge(false, 10'500), {});
    REQUIRE_ACTIONS(logic.clipSealed(true, 11'000), kSealed);
    // Presses still start recordings at the warning level.
    REQUIRE_ACTIONS(logic.buttonEdge(true, 12'000), kStart);
}

TEST_CASE("storage full while recording seals the clip cleanly")
{
    RecorderLogic logic = recordingLogic();
    REQUIRE_ACTIONS(logic.storageLevel(StorageLevel::Full, 50'000),
                    {tone(ToneId::StorageFull), led(LedId::Status, LedMode::BlinkFast),
                     event("storage-full"), event("record-stop"), stopClip()});
    REQUIRE(logic.state() == RecorderState::Sealing);
    REQUIRE_ACTIONS(logic.tick(121'000), {}); // no reminder while sealing
    REQUIRE_ACTIONS(logic.clipSealed(true, 121'100), kSealed);
    REQUIRE(logic.state() == RecorderState::Idle);
    REQUIRE_ACTIONS(logic.buttonEdge(true, 122'000),
                    {tone(ToneId::StorageFull), led(LedId::Status, LedMode::BlinkFast),
                     event("button-press"), event("storage-full-refused")});
}

TEST_CASE("a press while sealing is rejected")
{
    RecorderLogic logic = recordingLogic();
    REQUIRE_ACTIONS(press(logic, 5'000, 3'000),
                    {event("button-press"), kStop[0], kStop[1], kStop[2]});
    REQUIRE(logic.state() == RecorderState::Sealing);
    REQUIRE_ACTIONS(press(logic, 8'500, 100), {tone(ToneId::Rejected), event("button-press")});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 9'000), {tone(ToneId::Rejected), event("button-press")});
    REQUIRE_ACTIONS(logic.tick(13'000), {}); // a long hold while sealing stops nothing
    REQUIRE(logic.state() == RecorderState::Sealing);
    REQUIRE_ACTIONS(logic.clipSealed(true, 13'100), kSealed);
    // Still held from sealing: releasing in idle starts nothing.
    REQUIRE_ACTIONS(logic.buttonEdge(false, 14'000), {});
    REQUIRE(logic.state() == RecorderState::Idle);
}

TEST_CASE("the clip could not start: back to idle with the error signal")
{
    RecorderLogic logic;
    REQUIRE_ACTIONS(logic.buttonEdge(true, 1'000), kStart);
    REQUIRE_ACTIONS(
        logic.clipStarted(false, 1'050),
        {led(LedId::Record, LedMode::Off), tone(ToneId::Error), event("record-start-failed")});
    REQUIRE(logic.state() == RecorderState::Idle);
    REQUIRE_ACTIONS(logic.buttonEdge(false, 1'300), {});
    REQUIRE_ACTIONS(tickThrough(logic, 1'300, 130'000), {});
    // Reports that do not belong to the state are ignored.
    REQUIRE_ACTIONS(logic.clipStarted(false, 130'100), {});
    REQUIRE_ACTIONS(logic.clipSealed(true, 130'200), {});
    REQUIRE_ACTIONS(logic.buttonEdge(true, 131'000), kStart);
}

TEST_CASE("sealing failed: back to idle with the error signal")
{
    RecorderLogic logic = recordingLogic();
    REQUIRE_ACTIONS(press(logic, 5'000, 3'500),
                    {event("button-press"), kStop[0], kStop[1], kStop[2]});
    REQUIRE_ACTIONS(
        logic.clipSealed(false, 9'000),
        {led(LedId::Record, LedMode::Off), tone(ToneId::Error), event("clip-seal-failed")});
    REQUIRE(logic.state() == RecorderState::Idle);
    REQUIRE_ACTIONS(logic.clipSealed(false, 9'100), {});
}

TEST_CASE("the haptic pulse length comes from the settings")
{
    RecorderSettings settings;
    settings.hapticMs = 150;
    RecorderLogic logic(settings);
    Actions start = logic.buttonEdge(true, 1'000);
    REQUIRE(start.at(2) == haptic(150));
    logic.buttonEdge(false, 1'100);
    REQUIRE_ACTIONS(press(logic, 2'000, 100),
                    {event("button-press"), haptic(150), event("short-press-ignored")});
}
