#include "firmware/hal/hal.h"

#include <string>
#include <utility>

#include "common/base/clock.h"
#include "firmware/hal/platform/gpiod/gpiod_hal.h"
#include "firmware/hal/platform/sim/sim_hal.h"

namespace bwc::fw {

namespace {

constexpr size_t kHistoryLimit = 256;

// Records what the outputs were told in front of a backend. Led::set is recorded once
// the backend accepted it; a tone when play() is called, and its first sample when the
// backend's player reports it.
class RecordingHal final : public Hal
{
public:
    RecordingHal(std::unique_ptr<Hal> inner, HalHistory &history)
        : inner_(std::move(inner)), led_(*inner_, history), tone_(*inner_, history)
    {
    }

    Button &button() override { return inner_->button(); }
    Led &led() override { return led_; }
    TonePlayer &tone() override { return tone_; }
    Haptic &haptic() override { return inner_->haptic(); }
    std::string describe() const override { return inner_->describe(); }
    SimButton *simButton() override { return inner_->simButton(); }

private:
    class RecordingLed final : public Led
    {
    public:
        RecordingLed(Hal &inner, HalHistory &history) : inner_(inner), history_(history) {}
        Expected<void> set(LedId led, LedMode mode) override
        {
            BWC_TRY(inner_.led().set(led, mode));
            history_.ledChanged(led, mode, monoNowNs());
            return {};
        }

    private:
        Hal &inner_;
        HalHistory &history_;
    };

    class RecordingTone final : public TonePlayer
    {
    public:
        RecordingTone(Hal &inner, HalHistory &history) : inner_(inner), history_(history) {}
        Expected<void> play(ToneId id, const std::vector<ToneStep> &pattern,
                            std::function<void(int64_t monoNs)> onFirstSample) override
        {
            const uint64_t index = history_.toneRequested(id, monoNowNs());
            HalHistory *history = &history_;
            return inner_.tone().play(
                id, pattern, [history, index, cb = std::move(onFirstSample)](int64_t monoNs) {
                    history->toneStarted(index, monoNs);
                    if (cb)
                        cb(monoNs);
                });
        }

    private:
        Hal &inner_;
        HalHistory &history_;
    };

    std::unique_ptr<Hal> inner_;
    RecordingLed led_;
    RecordingTone tone_;
};

} // namespace

void HalHistory::ledChanged(LedId led, LedMode mode, int64_t monoNs)
{
    std::lock_guard lock(mutex_);
    if (leds_.size() >= kHistoryLimit)
        leds_.erase(leds_.begin());
    leds_.push_back({led, mode, monoNs});
    (led == LedId::Record ? record_ : status_) = mode;
}

uint64_t HalHistory::toneRequested(ToneId tone, int64_t monoNs)
{
    std::lock_guard lock(mutex_);
    if (tones_.size() >= kHistoryLimit) {
        tones_.erase(tones_.begin());
        toneBase_++;
    }
    tones_.push_back({tone, monoNs, 0});
    return toneBase_ + tones_.size() - 1;
}

void HalHistory::toneStarted(uint64_t index, int64_t firstSampleMonoNs)
{
    std::lock_guard lock(mutex_);
    // A record that already fell out of the window is simply gone.
    if (index < toneBase_ || index - toneBase_ >= tones_.size())
        return;
    tones_[size_t(index - toneBase_)].firstSampleMonoNs = firstSampleMonoNs;
}

std::vector<LedRecord> HalHistory::leds() const
{
    std::lock_guard lock(mutex_);
    return leds_;
}

std::vector<ToneRecord> HalHistory::tones() const
{
    std::lock_guard lock(mutex_);
    return tones_;
}

LedMode HalHistory::ledMode(LedId led) const
{
    std::lock_guard lock(mutex_);
    return led == LedId::Record ? record_ : status_;
}

// The signals, chosen to be told apart by ear without looking at the camera:
//   Start          2 x 80 ms at 2 kHz, 60 ms apart          (two short high beeps)
//   Stop           1 x 600 ms at 1.2 kHz                    (one long beep)
//   Reminder       1 x 60 ms at 2 kHz                       (one short high blip)
//   StorageWarning 3 x 100 ms alternating 1.5 / 1 / 1.5 kHz (a warble)
//   StorageFull    5 x 80 ms at 800 Hz, 40 ms apart         (a fast low rattle)
//   Error          2 x 250 ms at 400 Hz, 100 ms apart       (two low buzzes)
//   Rejected       1 x 40 ms at 600 Hz                      (a short low tick)
// The start pattern begins sounding as soon as it is played, so its first beep comes
// within the player's latency of the button edge (DESIGN.md section 7: within 100 ms).
const std::vector<ToneStep> &tonePattern(ToneId id)
{
    static const std::vector<ToneStep> start = {{2000, 80}, {0, 60}, {2000, 80}};
    static const std::vector<ToneStep> stop = {{1200, 600}};
    static const std::vector<ToneStep> reminder = {{2000, 60}};
    static const std::vector<ToneStep> warning = {{1500, 100}, {1000, 100}, {1500, 100}};
    static const std::vector<ToneStep> full = {{800, 80}, {0, 40},   {800, 80}, {0, 40},  {800, 80},
                                               {0, 40},   {800, 80}, {0, 40},   {800, 80}};
    static const std::vector<ToneStep> error = {{400, 250}, {0, 100}, {400, 250}};
    static const std::vector<ToneStep> rejected = {{600, 40}};
    switch (id) {
    case ToneId::Start:
        return start;
    case ToneId::Stop:
        return stop;
    case ToneId::Reminder:
        return reminder;
    case ToneId::StorageWarning:
        return warning;
    case ToneId::StorageFull:
        return full;
    case ToneId::Error:
        return error;
    case ToneId::Rejected:
        return rejected;
    }
    return error;
}

Expected<std::unique_ptr<Hal>> openHal(const v1::HalConfig &config, HalHistory &history)
{
    std::unique_ptr<Hal> inner;
    if (config.backend() == "sim") {
        BWC_ASSIGN(sim, openSimHal(config));
        inner = std::move(sim);
    } else if (config.backend() == "gpiod") {
        BWC_ASSIGN(gpiod, openGpiodHal(config));
        inner = std::move(gpiod);
    } else {
        return Error(Errc::Config, "hal.backend = \"" + config.backend() +
                                       "\": unknown backend; use \"sim\" (host simulation) "
                                       "or \"gpiod\" (GPIO lines through libgpiod)");
    }
    return std::unique_ptr<Hal>(std::make_unique<RecordingHal>(std::move(inner), history));
}

} // namespace bwc::fw
