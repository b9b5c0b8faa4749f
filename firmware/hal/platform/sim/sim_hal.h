#pragma once

// The simulation board (hal.backend = "sim"): a button pressed by bwc-camctl through
// SimButton, LEDs and a haptic motor kept in memory, and tones either played through
// ALSA on hal.tone_device (a simulated camera on a host with sound beeps for real) or,
// when tone_device is empty, "played" by a timing-only player.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "firmware/hal/hal.h"
#include "firmware/hal/output_timer.h"

namespace bwc::fw {

// Edges are delivered from the thread that calls inject() (in bwc-camd the control
// socket's thread), with monoNs = the time of the call (strictly increasing). Only
// changes are edges: injecting the state the button already has delivers nothing. The
// callback must not call stop(); stop() waits for a callback in progress.
class SimButtonDevice final : public Button, public SimButton
{
public:
    Expected<void> start(std::function<void(const ButtonEdge &)> onEdge) override;
    void stop() override;
    bool pressed() const override { return pressed_.load(); }
    void inject(bool pressed) override;

private:
    std::mutex mutex_; // held while the callback runs
    std::function<void(const ButtonEdge &)> onEdge_;
    std::atomic<bool> pressed_{false};
    int64_t lastNs_ = 0;
};

// Plays nothing: reports the first sample the moment a pattern starts, then waits out
// the pattern's duration on its own thread; a new tone replaces the current one at once.
class TimingTonePlayer final : public TonePlayer
{
public:
    TimingTonePlayer();
    ~TimingTonePlayer() override;
    Expected<void> play(ToneId id, const std::vector<ToneStep> &pattern,
                        std::function<void(int64_t monoNs)> onFirstSample) override;
    // Blocks until no tone is queued or sounding, or `timeoutMs` passed; true if idle.
    bool waitIdle(uint32_t timeoutMs);

private:
    struct Request {
        std::vector<ToneStep> pattern;
        std::function<void(int64_t)> onFirstSample;
    };
    void run();

    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<Request> pending_;
    bool busy_ = false;
    bool stop_ = false;
    std::thread thread_;
};

class SimHal final : public Hal
{
public:
    // Channels of the output timer.
    static constexpr size_t kRecordLed = 0, kStatusLed = 1, kHaptic = 2;

    explicit SimHal(std::unique_ptr<TonePlayer> tone);

    Button &button() override { return button_; }
    Led &led() override { return led_; }
    TonePlayer &tone() override { return *tone_; }
    Haptic &haptic() override { return haptic_; }
    std::string describe() const override { return "sim"; }
    SimButton *simButton() override { return &button_; }

    // Whether an LED is lit right now (blinking toggles it on the timer's thread).
    bool ledLit(LedId led) const;
    // How many times an LED was switched on or off so far.
    uint64_t ledChanges(LedId led) const;
    bool hapticOn() const { return outputs_.level(kHaptic); }
    // Haptic pulses asked for so far, in order (ms each).
    std::vector<uint32_t> hapticPulses() const;

private:
    class SimLed final : public Led
    {
    public:
        explicit SimLed(OutputTimer &outputs) : outputs_(outputs) {}
        Expected<void> set(LedId led, LedMode mode) override;

    private:
        OutputTimer &outputs_;
    };

    class SimHaptic final : public Haptic
    {
    public:
        explicit SimHaptic(OutputTimer &outputs) : outputs_(outputs) {}
        Expected<void> pulse(uint32_t ms) override;
        std::vector<uint32_t> pulses() const;

    private:
        OutputTimer &outputs_;
        mutable std::mutex mutex_;
        std::vector<uint32_t> pulses_;
    };

    OutputTimer outputs_;
    SimButtonDevice button_;
    SimLed led_;
    SimHaptic haptic_;
    std::unique_ptr<TonePlayer> tone_;
};

// Errc::Device when hal.tone_device is set and cannot be opened.
Expected<std::unique_ptr<SimHal>> openSimHal(const v1::HalConfig &config);

} // namespace bwc::fw
