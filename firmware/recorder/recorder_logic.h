#pragma once

// The recorder's state machine, without I/O: button edges, clock ticks, storage levels
// and sealing results in; actions out (start or stop a clip, roll over, LEDs, tones,
// haptic). The daemon carries the actions out. Pure and deterministic, so every
// transition is tested with a manual clock.
//
// idle (buffering pre-record) --press--> recording --long press (>= 3 s)--> sealing
// sealing --sealed--> idle
// recording --4 h--> recording (roll-over: new chained clip)
// A press starts recording on its down edge (so the start beeps come within 100 ms of
// the edge); the press that started a recording never stops it, however long it is held.
//
// Signals, in the order of the returned actions (tone and LED first so the wearer hears
// and sees the response at once; Events after StartClip and before StopClip so they land
// in the clip's metadata stream):
//   idle, press:             PlayTone start, SetLed record on, Haptic, StartClip,
//                            Event "button-press", Event "record-start"
//   idle, press, storage full: PlayTone storage-full, SetLed status blink-fast,
//                            Event "button-press", Event "storage-full-refused" (stays idle)
//   recording, press:        Event "button-press"; released before the long-press time:
//                            Haptic + Event "short-press-ignored" (a pulse saying "still
//                            recording: hold to stop"); held for the long-press time (seen by
//                            tick(), or at the release when no tick came): PlayTone stop,
//                            Event "record-stop", StopClip -> sealing
//   sealing, press:          PlayTone rejected, Event "button-press"
//   clipStarted(false):      SetLed record off, PlayTone error, Event "record-start-failed"
//   clipSealed(ok):          SetLed record off, Event "clip-sealed" (not ok: SetLed record off,
//                            PlayTone error, Event "clip-seal-failed") -> idle
//   tick while recording:    every reminderMs from the recording's start PlayTone reminder;
//                            maxClipMs after the clip's start RollOver, Event "clip-rollover"
//                            (a reminderMs or maxClipMs of 0 turns that off)
// Storage levels drive the status LED: ok = off, warning = blink-slow (with the
// storage-warning tone when entered from ok), full = blink-fast (with the storage-full tone).
// Each change yields PlayTone (if any), SetLed status, Event "storage-ok", "storage-warning"
// or "storage-full"; full while recording then adds Event "record-stop", StopClip -> sealing
// (the storage-full tone stands for the stop tone).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bwc::fw {

enum class RecorderState { Idle, Recording, Sealing };
std::string_view recorderStateName(RecorderState state);

enum class StorageLevel { Ok, Warning, Full };

enum class LedId { Record, Status };
enum class LedMode { Off, On, BlinkSlow, BlinkFast };
std::string_view ledIdName(LedId id);
std::string_view ledModeName(LedMode mode);

// Distinct audible signals (DESIGN.md section 7). Patterns are in hal/tones.h.
enum class ToneId { Start, Stop, Reminder, StorageWarning, StorageFull, Error, Rejected };
std::string_view toneIdName(ToneId id);

struct RecorderAction {
    enum class Kind { StartClip, StopClip, RollOver, SetLed, PlayTone, Haptic, Event };
    Kind kind;
    LedId led = LedId::Record;
    LedMode ledMode = LedMode::Off;
    ToneId tone = ToneId::Start;
    uint32_t hapticMs = 0;
    // Kind::Event: a name for the metadata stream and the log ("button-press",
    // "storage-full-refused", ...).
    std::string event;

    bool operator==(const RecorderAction &) const = default;
};

struct RecorderSettings {
    uint32_t longPressMs = 3000;
    // Edges closer than this to the previous accepted edge are contact bounce.
    uint32_t debounceMs = 30;
    uint32_t reminderMs = 120'000;
    uint64_t maxClipMs = 4ull * 3600 * 1000;
    // Haptic pulse acknowledging a press (start, and a short press while recording).
    uint32_t hapticMs = 80;
};

class RecorderLogic
{
public:
    explicit RecorderLogic(RecorderSettings settings = {});

    std::vector<RecorderAction> buttonEdge(bool pressed, int64_t monoMs);
    // Called at least every 100 ms: long-press detection, reminders, roll-over.
    std::vector<RecorderAction> tick(int64_t monoMs);
    std::vector<RecorderAction> storageLevel(StorageLevel level, int64_t monoMs);
    // The daemon reports back after StartClip: false means the clip could not start
    // (no space, device failure): back to idle with the error signal. true changes nothing.
    std::vector<RecorderAction> clipStarted(bool ok, int64_t monoMs);
    // After StopClip the daemon seals; sealing finished (ok or not). While recording (the
    // clip closed by a roll-over) only a failure is signalled.
    std::vector<RecorderAction> clipSealed(bool ok, int64_t monoMs);

    RecorderState state() const { return state_; }
    StorageLevel storage() const { return storage_; }
    bool buttonDown() const { return buttonDown_; }

private:
    // A debounced edge: the button state the logic acts on changes.
    std::vector<RecorderAction> acceptEdge(bool pressed, int64_t monoMs);
    std::vector<RecorderAction> onPress(int64_t monoMs);
    std::vector<RecorderAction> onRelease(int64_t monoMs);
    void stopActions(std::vector<RecorderAction> &actions);

    RecorderSettings settings_;
    RecorderState state_ = RecorderState::Idle;
    StorageLevel storage_ = StorageLevel::Ok;
    bool buttonDown_ = false; // debounced
    // The last raw edge, including one ignored as bounce: when the line stays at a level
    // other than the debounced one past the debounce time, tick() accepts it (so a glitch
    // shorter than the debounce time does not leave the button "held").
    bool rawDown_ = false;
    int64_t rawEdgeMs_ = 0;
    bool pressStartedRecording_ = false;
    bool longPressHandled_ = false;
    int64_t lastEdgeMs_ = INT64_MIN / 2;
    int64_t pressDownMs_ = 0;
    int64_t clipStartMs_ = 0;
    int64_t lastReminderMs_ = 0;
};

} // namespace bwc::fw
