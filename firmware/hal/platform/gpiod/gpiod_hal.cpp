#include "firmware/hal/platform/gpiod/gpiod_hal.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <optional>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "firmware/hal/output_timer.h"
#include "firmware/hal/platform/alsa/alsa_tone_player.h"
#include "firmware/hal/platform/gpiod/gpiod_handles.h"

namespace bwc::fw {

namespace {

constexpr const char *kConsumer = "bwc-camd";
constexpr uint64_t kDebounceUs = 10'000;
constexpr size_t kEventBatch = 16;
// Up to this many lines, an unknown line name lists the chip's line names.
constexpr size_t kListLinesMax = 64;

constexpr size_t kRecordLed = 0, kStatusLed = 1, kHaptic = 2, kOutputs = 3;

std::string quoted(const std::string &s)
{
    return "\"" + s + "\"";
}

std::string errnoText(int err)
{
    return std::strerror(err);
}

// The line names of a chip for an error message: all of them when there are few.
std::string describeLines(gpiod_chip *chip, const std::string &chipName)
{
    gpio::ChipInfo info(gpiod_chip_get_info(chip));
    if (!info)
        return "its lines could not be listed";
    const size_t count = gpiod_chip_info_get_num_lines(info.get());
    if (count > kListLinesMax)
        return std::to_string(count) + " lines; gpioinfo " + chipName + " lists them";
    std::string names;
    for (unsigned offset = 0; offset < count; ++offset) {
        gpio::LineInfo line(gpiod_chip_get_line_info(chip, offset));
        const char *name = line ? gpiod_line_info_get_name(line.get()) : nullptr;
        if (!name || !*name)
            continue;
        names += (names.empty() ? "" : ", ") + quoted(name);
    }
    if (names.empty())
        return "none of its " + std::to_string(count) + " lines has a name";
    return "lines: " + names;
}

Expected<unsigned> findLine(gpiod_chip *chip, const std::string &chipName, const char *field,
                            const std::string &name)
{
    errno = 0;
    const int offset = gpiod_chip_get_line_offset_from_name(chip, name.c_str());
    if (offset >= 0)
        return unsigned(offset);
    if (errno != ENOENT && errno != 0)
        return Error(Errc::Device, std::string("hal.") + field + " = " + quoted(name) +
                                       ": looking it up on " + chipName +
                                       " failed: " + errnoText(errno));
    return Error(Errc::Config, std::string("hal.") + field + " = " + quoted(name) +
                                   ": no such line on " + chipName + " (" +
                                   describeLines(chip, chipName) + "); check the board config");
}

// Tones on a board without a speaker: recorded by the Hal's history, never started.
class SilentTonePlayer final : public TonePlayer
{
public:
    Expected<void> play(ToneId, const std::vector<ToneStep> &,
                        std::function<void(int64_t)>) override
    {
        return {};
    }
};

class GpiodButton final : public Button
{
public:
    GpiodButton(gpio::LineRequest request, unsigned offset, std::string line, UniqueFd stopFd,
                gpio::EdgeEventBuffer events)
        : request_(std::move(request)), offset_(offset), line_(std::move(line)),
          stopFd_(std::move(stopFd)), events_(std::move(events))
    {
    }
    ~GpiodButton() override { stop(); }

    Expected<void> start(std::function<void(const ButtonEdge &)> onEdge) override
    {
        if (thread_.joinable())
            return Error(Errc::Internal, "gpiod button: start() called twice without stop()");
        const gpiod_line_value v = gpiod_line_request_get_value(request_.get(), offset_);
        if (v == GPIOD_LINE_VALUE_ERROR)
            return Error(Errc::Device, "hal.button_line = " + quoted(line_) +
                                           ": reading the line failed: " + errnoText(errno));
        pressed_ = v == GPIOD_LINE_VALUE_ACTIVE;
        onEdge_ = std::move(onEdge);
        thread_ = std::thread([this] { run(); });
        return {};
    }

    void stop() override
    {
        if (!thread_.joinable())
            return;
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(stopFd_.get(), &one, sizeof one);
        thread_.join();
        uint64_t drained = 0;
        n = ::read(stopFd_.get(), &drained, sizeof drained);
        onEdge_ = nullptr;
    }

    bool pressed() const override { return pressed_.load(); }

private:
    void run()
    {
        std::array<pollfd, 2> fds{};
        fds[0] = {gpiod_line_request_get_fd(request_.get()), POLLIN, 0};
        fds[1] = {stopFd_.get(), POLLIN, 0};
        for (;;) {
            fds[0].revents = fds[1].revents = 0;
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR)
                    continue;
                log::error("hal.button_line = " + quoted(line_) +
                           ": poll failed: " + errnoText(errno) + "; the button is dead");
                return;
            }
            if (fds[1].revents & POLLIN)
                return;
            if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                log::error("hal.button_line = " + quoted(line_) +
                           ": the line request failed (GPIO chip gone?); the button is dead");
                return;
            }
            if (!(fds[0].revents & POLLIN))
                continue;
            const int n =
                gpiod_line_request_read_edge_events(request_.get(), events_.get(), kEventBatch);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                log::error("hal.button_line = " + quoted(line_) + ": reading edge events failed: " +
                           errnoText(errno) + "; the button is dead");
                return;
            }
            for (int i = 0; i < n; ++i) {
                gpiod_edge_event *ev = gpiod_edge_event_buffer_get_event(events_.get(), i);
                if (!ev)
                    continue;
                // The line is active-low: rising = became active = pressed.
                const bool down =
                    gpiod_edge_event_get_event_type(ev) == GPIOD_EDGE_EVENT_RISING_EDGE;
                const auto ts = int64_t(gpiod_edge_event_get_timestamp_ns(ev));
                pressed_ = down;
                onEdge_(ButtonEdge{down, ts});
            }
        }
    }

    gpio::LineRequest request_;
    unsigned offset_;
    std::string line_;
    UniqueFd stopFd_;
    gpio::EdgeEventBuffer events_;
    std::atomic<bool> pressed_{false};
    std::function<void(const ButtonEdge &)> onEdge_;
    std::thread thread_;
};

struct OutputLine {
    const char *field;
    std::string name;
    std::optional<unsigned> offset;
};

class GpiodHal final : public Hal
{
public:
    GpiodHal(std::string chipName, std::unique_ptr<GpiodButton> button, gpio::LineRequest outputs,
             std::array<OutputLine, kOutputs> lines, std::unique_ptr<TonePlayer> tone)
        : chipName_(std::move(chipName)), button_(std::move(button)),
          outputRequest_(std::move(outputs)), lines_(std::move(lines)),
          timer_(kOutputs, [this](size_t ch, bool on) { return writeLine(ch, on); }), led_(timer_),
          haptic_(timer_), tone_(std::move(tone))
    {
    }

    ~GpiodHal() override
    {
        button_->stop();
        for (size_t ch = 0; ch < kOutputs; ++ch)
            [[maybe_unused]] auto r = timer_.set(ch, false);
    }

    Button &button() override { return *button_; }
    Led &led() override { return led_; }
    TonePlayer &tone() override { return *tone_; }
    Haptic &haptic() override { return haptic_; }
    std::string describe() const override { return "gpiod:" + chipName_; }

private:
    class GpiodLed final : public Led
    {
    public:
        explicit GpiodLed(OutputTimer &timer) : timer_(timer) {}
        Expected<void> set(LedId led, LedMode mode) override
        {
            return setLedMode(timer_, led == LedId::Record ? kRecordLed : kStatusLed, mode);
        }

    private:
        OutputTimer &timer_;
    };

    class GpiodHaptic final : public Haptic
    {
    public:
        explicit GpiodHaptic(OutputTimer &timer) : timer_(timer) {}
        Expected<void> pulse(uint32_t ms) override { return timer_.pulse(kHaptic, ms); }

    private:
        OutputTimer &timer_;
    };

    // Called by the timer with its lock held, so the request is never used concurrently.
    Expected<void> writeLine(size_t channel, bool on)
    {
        const OutputLine &line = lines_[channel];
        if (!line.offset)
            return {}; // the board has no such output
        if (gpiod_line_request_set_value(outputRequest_.get(), *line.offset,
                                         on ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) <
            0)
            return Error(Errc::Device, std::string("hal.") + line.field + " = " +
                                           quoted(line.name) + ": setting the line " +
                                           (on ? "high" : "low") + " failed: " + errnoText(errno));
        return {};
    }

    std::string chipName_;
    std::unique_ptr<GpiodButton> button_;
    gpio::LineRequest outputRequest_;
    std::array<OutputLine, kOutputs> lines_;
    OutputTimer timer_; // after the request it writes to: destroyed first
    GpiodLed led_;
    GpiodHaptic haptic_;
    std::unique_ptr<TonePlayer> tone_;
};

Expected<gpio::LineSettings> newSettings()
{
    gpio::LineSettings s(gpiod_line_settings_new());
    if (!s)
        return Error(Errc::Internal, "gpiod_line_settings_new failed: " + errnoText(errno));
    return s;
}

Expected<gpio::LineRequest> requestLines(gpiod_chip *chip, gpiod_line_settings *settings,
                                         const std::vector<unsigned> &offsets,
                                         const std::string &consumer, size_t eventBufferSize,
                                         const std::string &what, const std::string &chipName)
{
    gpio::LineConfig lineConfig(gpiod_line_config_new());
    gpio::RequestConfig requestConfig(gpiod_request_config_new());
    if (!lineConfig || !requestConfig)
        return Error(Errc::Internal, "allocating a libgpiod config failed: " + errnoText(errno));
    if (gpiod_line_config_add_line_settings(lineConfig.get(), offsets.data(), offsets.size(),
                                            settings) < 0)
        return Error(Errc::Internal, what + ": invalid line settings: " + errnoText(errno));
    gpiod_request_config_set_consumer(requestConfig.get(), consumer.c_str());
    if (eventBufferSize > 0)
        gpiod_request_config_set_event_buffer_size(requestConfig.get(), eventBufferSize);
    gpio::LineRequest request(
        gpiod_chip_request_lines(chip, requestConfig.get(), lineConfig.get()));
    if (!request) {
        const int err = errno;
        return Error(Errc::Device, what + ": requesting the line(s) on " + chipName +
                                       " failed: " + errnoText(err) +
                                       (err == EBUSY ? "; another program holds them (gpioinfo " +
                                                           chipName + " shows the consumer)"
                                                     : "; check the board config"));
    }
    return request;
}

} // namespace

Expected<std::string> findGpioChip(const std::string &spec, const std::string &devDir)
{
    if (spec.empty())
        return Error(Errc::Config, "hal.gpio_chip is empty; set it to the GPIO chip's path "
                                   "(/dev/gpiochip0) or label (gpiodetect lists them)");
    if (spec.front() == '/')
        return spec;

    std::unique_ptr<DIR, int (*)(DIR *)> dir(::opendir(devDir.c_str()), ::closedir);
    if (!dir)
        return Error(Errc::Device, "hal.gpio_chip = " + quoted(spec) + ": cannot list " + devDir +
                                       ": " + errnoText(errno));
    std::vector<std::string> paths;
    while (const dirent *e = ::readdir(dir.get())) {
        if (std::strncmp(e->d_name, "gpiochip", 8) == 0)
            paths.push_back(devDir + "/" + e->d_name);
    }
    std::sort(paths.begin(), paths.end());

    std::string searched;
    for (const std::string &path : paths) {
        std::string seen;
        if (!gpiod_is_gpiochip_device(path.c_str())) {
            seen = path + " (not a GPIO chip)";
        } else if (gpio::Chip chip(gpiod_chip_open(path.c_str())); !chip) {
            seen = path + " (cannot open: " + errnoText(errno) + ")";
        } else if (gpio::ChipInfo info(gpiod_chip_get_info(chip.get())); !info) {
            seen = path + " (no chip info: " + errnoText(errno) + ")";
        } else {
            const std::string label = gpiod_chip_info_get_label(info.get());
            const std::string name = gpiod_chip_info_get_name(info.get());
            if (label == spec || name == spec)
                return path;
            seen = path + " " + quoted(label);
        }
        searched += (searched.empty() ? "" : ", ") + seen;
    }
    return Error(Errc::Device, "hal.gpio_chip = " + quoted(spec) +
                                   ": no GPIO chip with that label or name (searched " + devDir +
                                   "/gpiochip*: " + (searched.empty() ? "none found" : searched) +
                                   "); check the board config and that the GPIO driver is "
                                   "loaded");
}

Expected<std::unique_ptr<Hal>> openGpiodHal(const v1::HalConfig &config)
{
    BWC_ASSIGN(path, findGpioChip(config.gpio_chip()));
    gpio::Chip chip(gpiod_chip_open(path.c_str()));
    if (!chip) {
        const int err = errno;
        return Error(Errc::Device,
                     "hal.gpio_chip = " + quoted(config.gpio_chip()) + ": cannot open " +
                         quoted(path) + ": " +
                         (err == ENODEV ? std::string("not a GPIO chip device") : errnoText(err)) +
                         "; check the board config, that the GPIO driver is loaded and that "
                         "bwc-camd may open it");
    }
    std::string chipName = path;
    if (gpio::ChipInfo info(gpiod_chip_get_info(chip.get())); info)
        chipName = gpiod_chip_info_get_name(info.get());

    if (config.button_line().empty())
        return Error(Errc::Config, "hal.button_line is empty; the gpiod backend needs the name "
                                   "of the record button's line (gpioinfo lists them)");
    BWC_ASSIGN(buttonOffset, findLine(chip.get(), chipName, "button_line", config.button_line()));

    std::array<OutputLine, kOutputs> lines = {
        OutputLine{"record_led_line", config.record_led_line(), std::nullopt},
        OutputLine{"status_led_line", config.status_led_line(), std::nullopt},
        OutputLine{"haptic_line", config.haptic_line(), std::nullopt},
    };
    std::vector<unsigned> outputOffsets;
    for (OutputLine &line : lines) {
        if (line.name.empty())
            continue;
        BWC_ASSIGN(offset, findLine(chip.get(), chipName, line.field, line.name));
        if (offset == buttonOffset)
            return Error(Errc::Config, std::string("hal.") + line.field + " = " +
                                           quoted(line.name) +
                                           ": the same line as hal.button_line; each function "
                                           "needs its own line");
        for (const OutputLine &other : lines) {
            if (&other == &line)
                break;
            if (other.offset == offset)
                return Error(Errc::Config, std::string("hal.") + line.field + " = " +
                                               quoted(line.name) + ": the same line as hal." +
                                               other.field + "; each function needs its own line");
        }
        line.offset = offset;
        outputOffsets.push_back(offset);
    }

    // The button: active-low against a pull-up, both edges, debounced by the kernel.
    BWC_ASSIGN(in, newSettings());
    if (gpiod_line_settings_set_direction(in.get(), GPIOD_LINE_DIRECTION_INPUT) < 0 ||
        gpiod_line_settings_set_edge_detection(in.get(), GPIOD_LINE_EDGE_BOTH) < 0 ||
        gpiod_line_settings_set_bias(in.get(), GPIOD_LINE_BIAS_PULL_UP) < 0 ||
        gpiod_line_settings_set_event_clock(in.get(), GPIOD_LINE_CLOCK_MONOTONIC) < 0)
        return Error(Errc::Internal,
                     "gpiod: building the button's line settings failed: " + errnoText(errno));
    gpiod_line_settings_set_active_low(in.get(), true);
    gpiod_line_settings_set_debounce_period_us(in.get(), kDebounceUs);
    BWC_ASSIGN(buttonRequest,
               requestLines(chip.get(), in.get(), {buttonOffset},
                            std::string(kConsumer) + " button", 64,
                            "hal.button_line = " + quoted(config.button_line()), chipName));
    gpio::EdgeEventBuffer events(gpiod_edge_event_buffer_new(kEventBatch));
    if (!events)
        return Error(Errc::Internal, "gpiod_edge_event_buffer_new failed: " + errnoText(errno));
    UniqueFd stopFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stopFd.isValid())
        return Error(Errc::Internal, "eventfd failed: " + errnoText(errno));
    auto button =
        std::make_unique<GpiodButton>(std::move(buttonRequest), buttonOffset, config.button_line(),
                                      std::move(stopFd), std::move(events));

    // The outputs: active-high, off at the start, in one request.
    gpio::LineRequest outputRequest;
    if (!outputOffsets.empty()) {
        BWC_ASSIGN(out, newSettings());
        if (gpiod_line_settings_set_direction(out.get(), GPIOD_LINE_DIRECTION_OUTPUT) < 0 ||
            gpiod_line_settings_set_output_value(out.get(), GPIOD_LINE_VALUE_INACTIVE) < 0)
            return Error(Errc::Internal,
                         "gpiod: building the output line settings failed: " + errnoText(errno));
        std::string what;
        for (const OutputLine &line : lines)
            if (line.offset)
                what += (what.empty() ? "hal." : ", hal.") + std::string(line.field) + " = " +
                        quoted(line.name);
        BWC_ASSIGN(request, requestLines(chip.get(), out.get(), outputOffsets, kConsumer, 0, what,
                                         chipName));
        outputRequest = std::move(request);
    }

    std::unique_ptr<TonePlayer> tone;
    if (config.tone_device().empty()) {
        log::info("hal: hal.tone_device is empty: tones are recorded but silent");
        tone = std::make_unique<SilentTonePlayer>();
    } else {
        BWC_ASSIGN(alsa, AlsaTonePlayer::open(config.tone_device()));
        tone = std::move(alsa);
    }
    // The line requests stay valid after the chip is closed.
    return std::unique_ptr<Hal>(std::make_unique<GpiodHal>(
        chipName, std::move(button), std::move(outputRequest), std::move(lines), std::move(tone)));
}

} // namespace bwc::fw
