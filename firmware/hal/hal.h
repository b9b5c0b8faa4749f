#pragma once

// The board: record button, LEDs, tone output and haptic motor behind small interfaces.
// Backends: libgpiod v2 (lines found by name) plus ALSA playback for tones on real
// boards; a simulation backend (board/sim) whose button is pressed over the control
// socket by `bwc-camctl`. Every backend is wrapped by HalHistory so the LED and tone
// history can be read back through `bwc-camctl status`.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bwc/v1/config.pb.h"
#include "common/base/error.h"
#include "firmware/recorder/recorder_logic.h"

namespace bwc::fw {

struct ButtonEdge {
    bool pressed = false;
    // CLOCK_MONOTONIC time of the edge (the kernel's event timestamp on gpiod), ns.
    int64_t monoNs = 0;
};

class Button
{
public:
    virtual ~Button() = default;
    // Starts delivering edges to `onEdge` from a backend thread. Edges are raw (bounce
    // is filtered by RecorderLogic, and by the kernel's debounce on gpiod).
    virtual Expected<void> start(std::function<void(const ButtonEdge &)> onEdge) = 0;
    virtual void stop() = 0;
    virtual bool pressed() const = 0;
};

class Led
{
public:
    virtual ~Led() = default;
    // Blinking is driven by the backend's own timer thread.
    virtual Expected<void> set(LedId led, LedMode mode) = 0;
};

struct ToneStep {
    uint32_t freqHz = 0; // 0 = silence
    uint32_t ms = 0;
};

class TonePlayer
{
public:
    virtual ~TonePlayer() = default;
    // Queues the pattern and returns at once; a new tone replaces one still playing.
    // `onFirstSample` (may be empty) is called from the player thread with the
    // CLOCK_MONOTONIC time the first sample was handed to the output.
    virtual Expected<void> play(ToneId id, const std::vector<ToneStep> &pattern,
                                std::function<void(int64_t monoNs)> onFirstSample) = 0;
};

class Haptic
{
public:
    virtual ~Haptic() = default;
    virtual Expected<void> pulse(uint32_t ms) = 0;
};

// What happened on the outputs, newest last (bounded), for `bwc-camctl status`.
struct LedRecord {
    LedId led;
    LedMode mode;
    int64_t monoNs;
};
struct ToneRecord {
    ToneId tone;
    int64_t requestedMonoNs;
    int64_t firstSampleMonoNs; // 0 until the player reports it
};

class Hal
{
public:
    virtual ~Hal() = default;
    virtual Button &button() = 0;
    virtual Led &led() = 0;
    virtual TonePlayer &tone() = 0;
    virtual Haptic &haptic() = 0;
    // "sim" or "gpiod:<chip>".
    virtual std::string describe() const = 0;
    // The simulation backend's button injector; nullptr on real boards.
    virtual class SimButton *simButton() { return nullptr; }
};

// Injects presses into the simulated button (bwc-camctl press/release/hold).
class SimButton
{
public:
    virtual ~SimButton() = default;
    virtual void inject(bool pressed) = 0;
};

// Records every LED change and tone (bounded to the last 256 of each) in front of
// another Hal's outputs. Thread-safe.
class HalHistory
{
public:
    void ledChanged(LedId led, LedMode mode, int64_t monoNs);
    // Returns the record's index for toneStarted.
    uint64_t toneRequested(ToneId tone, int64_t monoNs);
    void toneStarted(uint64_t index, int64_t firstSampleMonoNs);
    std::vector<LedRecord> leds() const;
    std::vector<ToneRecord> tones() const;
    LedMode ledMode(LedId led) const;

private:
    mutable std::mutex mutex_;
    std::vector<LedRecord> leds_;
    std::vector<ToneRecord> tones_;
    uint64_t toneBase_ = 0; // index of tones_[0]
    LedMode record_ = LedMode::Off;
    LedMode status_ = LedMode::Off;
};

// The tone patterns of DESIGN.md section 7: start = two short beeps, stop = one long
// beep, reminder, and distinct storage-warning, storage-full, error and rejected signals.
const std::vector<ToneStep> &tonePattern(ToneId id);

// Opens the backend named in the config ("sim" or "gpiod"). The returned Hal records
// into `history`, which must outlive it. Errc::Config naming the field for an unknown
// backend or a GPIO line name that is not on the chip; Errc::Device when the chip or the
// tone device cannot be opened.
Expected<std::unique_ptr<Hal>> openHal(const v1::HalConfig &config, HalHistory &history);

} // namespace bwc::fw
