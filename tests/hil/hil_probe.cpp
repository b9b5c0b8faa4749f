// bwc-hil-probe: the virtual board's instruments (board/qemu-virt). In the guest it presses
// the gpio-sim button, watches the LED and haptic lines and listens to the tones on the
// ALSA loopback, and feeds a test tone into the camera's microphone; on the host it checks
// a clip's decoded audio and frames. Exit status: 0 when every check passed, 1 when one
// failed (the reason on stderr), 2 for a bad command line or a device that cannot be used.
//
//   button --pull P --hold-ms N --listen-ms N --capture DEV --expect start|stop [...]
//       Captures DEV (the loopback side the tone device plays into), presses the button
//       by writing "pull-down" to P (a gpio-sim line's sysfs pull attribute: the button
//       is active-low), releases it ("pull-up") after hold-ms, and listens for listen-ms
//       from the press. Checks the tone is heard at the frequency of the firmware's
//       pattern (hal.h tonePattern); with --led, that the record LED line goes high; with
//       --haptic, that the haptic line pulses. The design targets (the exact pattern, tone
//       and LED within --max-delay-ms, the pulse length) are reported on "timing:" lines,
//       and fail the check only with --strict-timing.
//   play --device DEV --freq HZ --seconds S
//       Plays a sine into DEV (the loopback side the camera's microphone captures from).
//   control --device /dev/videoN --name NAME --value VALUE
//       Sets a V4L2 control found by its name; VALUE is a number or a menu entry's name
//       (vivid's "OSD Text Mode" = "None" clears vivid's text from the picture).
//   tone --file F --rate HZ --expect-hz HZ [--max-dropouts N --max-dropout-ms MS]
//       Checks raw mono S16LE audio (a clip's audio track, decoded) is the test tone from
//       start to end, with no dropout beyond the capture losses the camera reported.
//   bars --file F --width W --height H --frames N [--rows-from F --rows-to F]
//       Checks raw RGB24 frames (a clip's video, decoded) show vivid's colour bars.

#include <CLI/CLI.hpp>
#include <alsa/asoundlib.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <linux/videodev2.h>
#include <mutex>
#include <numbers>
#include <optional>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/base/clock.h"
#include "common/base/error.h"
#include "firmware/hal/hal.h"
#include "tests/hil/hil_analysis.h"

namespace {

using bwc::Errc;
using bwc::Error;
using bwc::Expected;
using bwc::monoNowNs;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kRateHz = 48000;
constexpr int64_t kMs = 1'000'000;

std::string fixed(double v, int decimals = 1)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

// ---- ALSA -------------------------------------------------------------------------------

struct PcmClose {
    void operator()(snd_pcm_t *pcm) const { snd_pcm_close(pcm); }
};
using Pcm = std::unique_ptr<snd_pcm_t, PcmClose>;

Error alsaError(const std::string &device, const std::string &what, int err)
{
    return Error(Errc::Device, "ALSA device \"" + device + "\": " + what + ": " +
                                   snd_strerror(err) +
                                   "; check that snd-aloop is loaded (cat /proc/asound/cards)");
}

// Mono S16LE at rateHz, blocking, with CLOCK_MONOTONIC timestamps.
Expected<Pcm> openPcm(const std::string &device, snd_pcm_stream_t stream, uint32_t periodMs,
                      uint32_t bufferMs, uint32_t rateHz = kRateHz)
{
    snd_pcm_t *raw = nullptr;
    int err = snd_pcm_open(&raw, device.c_str(), stream, 0);
    if (err < 0)
        return alsaError(device, "cannot open it", err);
    Pcm pcm(raw);
    snd_pcm_hw_params_t *hw = nullptr;
    snd_pcm_hw_params_alloca(&hw);
    snd_pcm_uframes_t period = rateHz * periodMs / 1000;
    snd_pcm_uframes_t buffer = rateHz * bufferMs / 1000;
    if ((err = snd_pcm_hw_params_any(pcm.get(), hw)) < 0 ||
        (err = snd_pcm_hw_params_set_access(pcm.get(), hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
        (err = snd_pcm_hw_params_set_format(pcm.get(), hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
        (err = snd_pcm_hw_params_set_channels(pcm.get(), hw, 1)) < 0 ||
        (err = snd_pcm_hw_params_set_rate(pcm.get(), hw, rateHz, 0)) < 0 ||
        (err = snd_pcm_hw_params_set_period_size_near(pcm.get(), hw, &period, nullptr)) < 0 ||
        (err = snd_pcm_hw_params_set_buffer_size_near(pcm.get(), hw, &buffer)) < 0 ||
        (err = snd_pcm_hw_params(pcm.get(), hw)) < 0)
        return alsaError(device, "setting mono S16_LE at " + std::to_string(rateHz) + " Hz", err);
    snd_pcm_sw_params_t *sw = nullptr;
    snd_pcm_sw_params_alloca(&sw);
    if ((err = snd_pcm_sw_params_current(pcm.get(), sw)) < 0 ||
        (err = snd_pcm_sw_params_set_tstamp_mode(pcm.get(), sw, SND_PCM_TSTAMP_ENABLE)) < 0 ||
        (err = snd_pcm_sw_params_set_tstamp_type(pcm.get(), sw, SND_PCM_TSTAMP_TYPE_MONOTONIC)) <
            0 ||
        (err = snd_pcm_sw_params(pcm.get(), sw)) < 0)
        return alsaError(device, "setting monotonic timestamps", err);
    return pcm;
}

// Captured samples with the CLOCK_MONOTONIC time of each block's first sample.
struct Capture {
    std::vector<int16_t> samples;
    struct Block {
        size_t frame;
        int64_t monoNs;
    };
    std::vector<Block> blocks;

    // The time of a sample, from the block it is in.
    int64_t monoAt(size_t frame) const
    {
        const Block *best = &blocks.front();
        for (const Block &b : blocks)
            if (b.frame <= frame)
                best = &b;
        return best->monoNs + int64_t(frame - best->frame) * 1'000'000'000 / kRateHz;
    }
};

// Reads one block; records when its first sample was captured.
Expected<void> readBlock(snd_pcm_t *pcm, const std::string &device, Capture &capture, size_t frames)
{
    const size_t at = capture.samples.size();
    capture.samples.resize(at + frames);
    snd_pcm_sframes_t n = snd_pcm_readi(pcm, capture.samples.data() + at, frames);
    if (n == -EPIPE)
        return Error(Errc::Device, "ALSA device \"" + device +
                                       "\": capture overrun (the probe fell behind); the "
                                       "measurement has a hole, run it again");
    if (n < 0)
        return alsaError(device, "capture failed", int(n));
    capture.samples.resize(at + size_t(n));
    snd_pcm_uframes_t avail = 0;
    snd_htimestamp_t ts{};
    int64_t mono = 0;
    if (snd_pcm_htimestamp(pcm, &avail, &ts) == 0 && (ts.tv_sec != 0 || ts.tv_nsec != 0))
        mono = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec -
               int64_t(avail + snd_pcm_uframes_t(n)) * 1'000'000'000 / kRateHz;
    else
        mono = monoNowNs() - int64_t(n) * 1'000'000'000 / kRateHz;
    capture.blocks.push_back({at, mono});
    return {};
}

// ---- GPIO lines (gpio-sim sysfs) ---------------------------------------------------------

Expected<void> writeAttr(const std::string &path, const std::string &value)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return Error(Errc::Device, path + ": cannot open: " + std::strerror(errno) +
                                       "; is the gpio-sim chip live (configfs live = 1)?");
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int err = errno;
    ::close(fd);
    if (n != ssize_t(value.size()))
        return Error(Errc::Device,
                     path + ": writing \"" + value + "\" failed: " + std::strerror(err));
    return {};
}

// Polls line values (gpio-sim sim_gpioN/value) every millisecond and keeps each change.
class LineWatcher
{
public:
    struct Change {
        int64_t monoNs;
        int value;
    };

    static Expected<std::unique_ptr<LineWatcher>> open(const std::vector<std::string> &paths)
    {
        std::unique_ptr<LineWatcher> w(new LineWatcher());
        for (const std::string &p : paths) {
            const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return Error(Errc::Device, p + ": cannot open: " + std::strerror(errno));
            w->fds_.push_back(fd);
            w->changes_.emplace_back();
        }
        for (size_t i = 0; i < w->fds_.size(); ++i) {
            BWC_ASSIGN(v, w->read(i));
            w->changes_[i].push_back({monoNowNs(), v});
        }
        w->thread_ = std::thread([self = w.get()] { self->run(); });
        return w;
    }
    ~LineWatcher()
    {
        stop();
        for (int fd : fds_)
            ::close(fd);
    }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    std::vector<Change> changes(size_t line) const
    {
        std::lock_guard lock(mutex_);
        return changes_[line];
    }
    std::string error() const
    {
        std::lock_guard lock(mutex_);
        return error_;
    }

private:
    LineWatcher() = default;
    Expected<int> read(size_t i) const
    {
        char c = 0;
        if (::pread(fds_[i], &c, 1, 0) != 1)
            return Error(Errc::Device,
                         "reading a line value failed: " + std::string(std::strerror(errno)));
        return c == '1' ? 1 : 0;
    }
    void run()
    {
        // Above every ordinary thread, so a busy guest does not delay the polling (best
        // effort: without the privilege the times are only coarser).
        sched_param param{};
        param.sched_priority = 50;
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
        while (!stop_) {
            for (size_t i = 0; i < fds_.size(); ++i) {
                auto v = read(i);
                const int64_t now = monoNowNs();
                std::lock_guard lock(mutex_);
                if (!v) {
                    error_ = v.error().message;
                    return;
                }
                if (changes_[i].back().value != *v)
                    changes_[i].push_back({now, *v});
            }
            ::usleep(1000);
        }
    }

    std::vector<int> fds_;
    mutable std::mutex mutex_;
    std::vector<std::vector<Change>> changes_;
    std::string error_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// ---- button ------------------------------------------------------------------------------

struct ButtonOptions {
    std::string pull;
    std::string capture;
    std::string led;
    std::string haptic;
    std::string expect;
    std::string report;
    std::string save;
    uint32_t holdMs = 300;
    uint32_t listenMs = 1500;
    uint32_t longPressMs = 3000;
    uint32_t maxDelayMs = 100;
    uint32_t hapticMs = 80;
    bool strictTiming = false;
};

int runButton(const ButtonOptions &o)
{
    const bool start = o.expect == "start";
    const bwc::fw::ToneId toneId = start ? bwc::fw::ToneId::Start : bwc::fw::ToneId::Stop;
    const std::vector<bwc::fw::ToneStep> &pattern = bwc::fw::tonePattern(toneId);
    auto fail = [](const Error &e) {
        std::cerr << "bwc-hil-probe: " << e.message << "\n";
        return kExitUsage;
    };

    auto pcm = openPcm(o.capture, SND_PCM_STREAM_CAPTURE, 10, 500);
    if (!pcm)
        return fail(pcm.error());
    if (int err = snd_pcm_start(pcm->get()); err < 0)
        return fail(alsaError(o.capture, "cannot start capture", err));
    const size_t block = kRateHz / 100;
    {
        Capture settle; // let the stream run before the press
        for (int i = 0; i < 10; ++i)
            if (auto r = readBlock(pcm->get(), o.capture, settle, block); !r)
                return fail(r.error());
    }
    std::vector<std::string> watched;
    if (!o.led.empty())
        watched.push_back(o.led);
    if (!o.haptic.empty())
        watched.push_back(o.haptic);
    auto watcher = LineWatcher::open(watched);
    if (!watcher)
        return fail(watcher.error());

    Capture capture;
    const int64_t edgeNs = monoNowNs();
    if (auto r = writeAttr(o.pull, "pull-down"); !r)
        return fail(r.error());
    int64_t releaseNs = 0;
    while (monoNowNs() < edgeNs + int64_t(o.listenMs) * kMs) {
        if (auto r = readBlock(pcm->get(), o.capture, capture, block); !r)
            return fail(r.error());
        if (releaseNs == 0 && monoNowNs() >= edgeNs + int64_t(o.holdMs) * kMs) {
            releaseNs = monoNowNs();
            if (auto r = writeAttr(o.pull, "pull-up"); !r)
                return fail(r.error());
        }
    }
    if (releaseNs == 0) {
        releaseNs = monoNowNs();
        if (auto r = writeAttr(o.pull, "pull-up"); !r)
            return fail(r.error());
    }
    (*watcher)->stop();
    if (!(*watcher)->error().empty())
        return fail(Error(Errc::Device, (*watcher)->error()));

    // The tone is due from the press (start) or from when the hold became a long press.
    const int64_t dueNs = edgeNs + (start ? 0 : int64_t(o.longPressMs) * kMs);
    std::vector<std::string> failures;
    std::vector<std::pair<std::string, std::string>> report = {
        {"edge_mono_ns", std::to_string(edgeNs)},
        {"release_mono_ns", std::to_string(releaseNs)},
        {"held_ms", fixed(double(releaseNs - edgeNs) / kMs)},
    };

    // Failures: what must happen (the tone at its frequency, the LED, the haptic pulse).
    // Timing: the design targets (the exact pattern, within maxDelayMs, the pulse length),
    // failures too with --strict-timing; otherwise reported, because a guest on a busy
    // host is starved at random and its audio then underruns.
    std::vector<std::string> timing;
    const std::vector<bwc::hil::Burst> bursts = bwc::hil::findBursts(capture.samples, kRateHz);
    std::cout << "tone heard: " << bwc::hil::describeBursts(bursts, kRateHz) << "\n";
    report.push_back({"tone", bwc::hil::describeBursts(bursts, kRateHz)});
    // Heard: clean sound at the pattern's frequency for at least half its longest step.
    double patternMs = 0, longestMs = 0;
    uint32_t toneHz = 0;
    for (const auto &step : pattern) {
        if (step.freqHz != 0) {
            patternMs += step.ms;
            longestMs = std::max(longestMs, double(step.ms));
            toneHz = step.freqHz;
        }
    }
    const double heardMs = bwc::hil::toneHeardMs(bursts, kRateHz, toneHz);
    report.push_back({"tone_heard_ms", fixed(heardMs)});
    if (heardMs < longestMs / 2)
        failures.push_back("the " + o.expect + " tone (" + std::to_string(toneHz) +
                           " Hz) was heard for " + fixed(heardMs) + " ms of its " +
                           fixed(patternMs, 0) + " ms; at least " + fixed(longestMs / 2, 0) +
                           " ms of clean tone are needed to tell its frequency");
    if (std::string m = bwc::hil::matchPattern(bursts, kRateHz, pattern); !m.empty())
        timing.push_back("the " + o.expect + " tone does not match the firmware's pattern (" + m +
                         "): its playback was interrupted");
    if (!bursts.empty()) {
        const int64_t onsetNs = capture.monoAt(bursts.front().startFrame);
        const double delayMs = double(onsetNs - dueNs) / kMs;
        std::cout << "tone delay: " << fixed(delayMs) << " ms after the "
                  << (start ? "press edge" : "long-press point (press + long_press_ms)") << "\n";
        report.push_back({"tone_delay_ms", fixed(delayMs)});
        if (delayMs < 0 || delayMs > o.maxDelayMs)
            timing.push_back("the " + o.expect + " tone began " + fixed(delayMs) +
                             " ms after it was due; the target is 0.." +
                             std::to_string(o.maxDelayMs) + " ms");
    }

    size_t line = 0;
    if (!o.led.empty()) {
        const auto changes = (*watcher)->changes(line++);
        std::optional<double> highMs;
        for (const auto &c : changes)
            if (c.value == 1 && c.monoNs >= edgeNs && !highMs)
                highMs = double(c.monoNs - edgeNs) / kMs;
        if (start) {
            if (!highMs)
                failures.push_back("the record LED line (" + o.led + ") did not go high");
            else {
                std::cout << "record LED: high " << fixed(*highMs) << " ms after the press edge\n";
                report.push_back({"led_delay_ms", fixed(*highMs)});
                if (*highMs > o.maxDelayMs)
                    timing.push_back("the record LED went high " + fixed(*highMs) +
                                     " ms after the press; the target is " +
                                     std::to_string(o.maxDelayMs) + " ms");
            }
        } else if (changes.back().value != 1) {
            // Stop: the LED goes off once the clip is sealed, which may be after this window.
            std::cout << "record LED: already off\n";
        }
    }
    if (!o.haptic.empty()) {
        const auto changes = (*watcher)->changes(line++);
        std::optional<double> onMs, lengthMs;
        for (size_t i = 0; i < changes.size(); ++i)
            if (changes[i].value == 1 && changes[i].monoNs >= edgeNs && !onMs) {
                onMs = double(changes[i].monoNs - edgeNs) / kMs;
                if (i + 1 < changes.size())
                    lengthMs = double(changes[i + 1].monoNs - changes[i].monoNs) / kMs;
            }
        if (start) {
            if (!onMs || !lengthMs)
                failures.push_back("the haptic line (" + o.haptic + ") gave no pulse");
            else {
                std::cout << "haptic: " << fixed(*lengthMs) << " ms pulse, " << fixed(*onMs)
                          << " ms after the press edge\n";
                report.push_back({"haptic_ms", fixed(*lengthMs)});
                if (std::abs(*lengthMs - o.hapticMs) > 20)
                    timing.push_back("the haptic pulse lasted " + fixed(*lengthMs) +
                                     " ms; the target is " + std::to_string(o.hapticMs) +
                                     " ms +- 20 ms");
            }
        }
    }
    for (const std::string &t : timing)
        std::cout << "timing: " << t << "\n";
    if (timing.empty())
        std::cout << "timing: within the design targets\n";
    report.push_back({"timing_misses", std::to_string(timing.size())});
    if (o.strictTiming)
        failures.insert(failures.end(), timing.begin(), timing.end());

    if (!o.save.empty()) {
        std::ofstream raw(o.save, std::ios::binary);
        raw.write(reinterpret_cast<const char *>(capture.samples.data()),
                  std::streamsize(capture.samples.size() * sizeof(int16_t)));
        if (!raw)
            return fail(Error(Errc::Io, o.save + ": cannot write the captured samples"));
    }
    if (!o.report.empty()) {
        std::ofstream out(o.report);
        for (const auto &[k, v] : report)
            out << k << "=" << v << "\n";
        if (!out)
            return fail(Error(Errc::Io, o.report + ": cannot write the report"));
    }
    for (const std::string &f : failures)
        std::cerr << "bwc-hil-probe: " << f << "\n";
    return failures.empty() ? kExitOk : kExitFailed;
}

// ---- play --------------------------------------------------------------------------------

std::atomic<bool> gStop{false};

int runPlay(const std::string &device, double freqHz, double seconds, uint32_t rateHz)
{
    std::signal(SIGTERM, [](int) { gStop = true; });
    std::signal(SIGINT, [](int) { gStop = true; });
    auto pcm = openPcm(device, SND_PCM_STREAM_PLAYBACK, 10, 200, rateHz);
    if (!pcm) {
        std::cerr << "bwc-hil-probe: " << pcm.error().message << "\n";
        return kExitUsage;
    }
    const size_t block = rateHz / 100;
    std::vector<int16_t> samples(block);
    const double w = 2.0 * std::numbers::pi * freqHz / rateHz;
    const auto total = uint64_t(seconds * rateHz);
    uint64_t frame = 0;
    uint64_t underruns = 0;
    while (!gStop && frame < total) {
        for (size_t i = 0; i < block; ++i)
            samples[i] = int16_t(std::lround(
                0.3 * 32767 * std::sin(std::fmod(w * double(frame + i), 2 * std::numbers::pi))));
        snd_pcm_sframes_t n = snd_pcm_writei(pcm->get(), samples.data(), block);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (n == -EPIPE)
                underruns++;
            if (int err = snd_pcm_recover(pcm->get(), int(n), 1); err < 0) {
                std::cerr << "bwc-hil-probe: " << alsaError(device, "playback failed", err).message
                          << "\n";
                return kExitFailed;
            }
            continue;
        }
        frame += uint64_t(n);
    }
    std::cout << "played " << fixed(double(frame) / rateHz, 2) << " s of " << fixed(freqHz)
              << " Hz into " << device << ", " << underruns << " underrun(s)\n";
    return kExitOk;
}

// ---- control -----------------------------------------------------------------------------

int xioctl(int fd, unsigned long request, void *arg)
{
    int r = 0;
    do {
        r = ::ioctl(fd, request, arg);
    } while (r == -1 && errno == EINTR);
    return r;
}

int runControl(const std::string &device, const std::string &name, const std::string &value)
{
    auto fail = [&](const std::string &why) {
        std::cerr << "bwc-hil-probe: " << device << ": " << why << "\n";
        return kExitUsage;
    };
    const int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(std::string("cannot open: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    v4l2_query_ext_ctrl q{};
    std::string names;
    bool found = false;
    q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
    while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
        if (name == q.name) {
            found = true;
            break;
        }
        if (q.type != V4L2_CTRL_TYPE_CTRL_CLASS)
            names += (names.empty() ? "" : ", ") + std::string(q.name);
        q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
    }
    if (!found)
        return fail("no control named \"" + name + "\" (controls: " + names + ")");
    int64_t v = 0;
    if (q.type == V4L2_CTRL_TYPE_MENU) {
        std::string entries;
        bool matched = false;
        for (int64_t i = q.minimum; i <= q.maximum; ++i) {
            v4l2_querymenu m{};
            m.id = q.id;
            m.index = uint32_t(i);
            if (xioctl(fd, VIDIOC_QUERYMENU, &m) != 0)
                continue;
            const std::string entry(reinterpret_cast<const char *>(m.name));
            if (entry == value) {
                v = i;
                matched = true;
                break;
            }
            entries += (entries.empty() ? "" : ", ") + entry;
        }
        if (!matched)
            return fail("control \"" + name + "\" has no menu entry \"" + value +
                        "\" (entries: " + entries + ")");
    } else {
        char *end = nullptr;
        v = std::strtoll(value.c_str(), &end, 0);
        if (value.empty() || *end != '\0')
            return fail("control \"" + name + "\" takes a number, not \"" + value + "\"");
    }
    v4l2_ext_control c{};
    c.id = q.id;
    c.value64 = v;
    if (q.type != V4L2_CTRL_TYPE_INTEGER64)
        c.value = int32_t(v);
    v4l2_ext_controls cs{};
    cs.which = V4L2_CTRL_WHICH_CUR_VAL;
    cs.count = 1;
    cs.controls = &c;
    if (xioctl(fd, VIDIOC_S_EXT_CTRLS, &cs) != 0)
        return fail("setting \"" + name + "\" to " + value + " failed: " + std::strerror(errno));
    std::cout << device << ": \"" << name << "\" = " << value << "\n";
    return kExitOk;
}

// ---- host checks -------------------------------------------------------------------------

Expected<std::vector<uint8_t>> readAll(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error(Errc::NotFound, path + ": cannot open");
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct ToneOptions {
    std::string file;
    uint32_t rateHz = kRateHz;
    double expectHz = 440;
    // Dropouts allowed: the losses the camera itself reported (its capture overruns).
    uint32_t maxGaps = 0;
    double maxGapMs = 0;
    // Silence allowed at the track's end: audio still in the camera's capture buffer when
    // the clip is sealed is not in it (at most the buffer's length; more is an overrun,
    // which the camera reports).
    double maxTailMs = 100;
};

int runTone(const ToneOptions &o)
{
    auto bytes = readAll(o.file);
    if (!bytes) {
        std::cerr << "bwc-hil-probe: " << bytes.error().message << "\n";
        return kExitUsage;
    }
    std::vector<int16_t> samples(bytes->size() / 2);
    std::memcpy(samples.data(), bytes->data(), samples.size() * 2);
    const uint32_t rate = o.rateHz;
    const double seconds = double(samples.size()) / rate;
    // A stretch ends only at 20 ms of quiet: AAC smears a dropout's edges over a frame.
    const auto bursts = bwc::hil::findBursts(samples, rate, {0.02, 20, 5});
    std::cout << "audio " << fixed(seconds, 2) << " s, " << bursts.size()
              << " sounding stretch(es)";
    double sounding = 0;
    for (const auto &b : bursts) {
        sounding += b.lengthMs(rate);
        std::cout << (&b == &bursts.front() ? ": " : ", ") << fixed(b.startMs(rate) / 1000, 2)
                  << " s +" << fixed(b.lengthMs(rate) / 1000, 2) << " s at " << fixed(b.freqHz)
                  << " Hz";
    }
    if (bursts.empty()) {
        std::cout << "\n";
        std::cerr << "bwc-hil-probe: the audio track is silent; expected the " << fixed(o.expectHz)
                  << " Hz test tone\n";
        return kExitFailed;
    }
    // Quiet between the stretches (the track's first and last AAC frames may fade).
    const size_t gaps = bursts.size() - 1;
    const double spanMs =
        bursts.back().startMs(rate) + bursts.back().lengthMs(rate) - bursts.front().startMs(rate);
    const double gapMs = spanMs - sounding;
    std::cout << "; " << gaps << " dropout(s) totalling " << fixed(gapMs, 0) << " ms\n";
    int status = kExitOk;
    for (const auto &b : bursts) {
        if (b.lengthMs(rate) < 500)
            continue; // too short to measure well: AAC smears the edges of a dropout
        if (std::abs(b.freqHz - o.expectHz) > 0.01 * o.expectHz || b.purity < 0.8) {
            std::cerr << "bwc-hil-probe: the audio at " << fixed(b.startMs(rate) / 1000, 2)
                      << " s is " << fixed(b.freqHz) << " Hz (purity " << fixed(b.purity, 2)
                      << "); expected the " << fixed(o.expectHz) << " Hz test tone\n";
            status = kExitFailed;
        }
    }
    const double lead = bursts.front().startMs(rate);
    const double tail =
        1000.0 * seconds - bursts.back().startMs(rate) - bursts.back().lengthMs(rate);
    if (lead > 100 || tail > o.maxTailMs) {
        std::cerr << "bwc-hil-probe: the track is silent for " << fixed(lead, 0)
                  << " ms at its start and " << fixed(tail, 0)
                  << " ms at its end; the tone played throughout\n";
        status = kExitFailed;
    }
    if (gaps > o.maxGaps || gapMs > o.maxGapMs + 100.0 * double(gaps)) {
        std::cerr << "bwc-hil-probe: " << gaps << " dropout(s) totalling " << fixed(gapMs, 0)
                  << " ms; the camera reported " << o.maxGaps << " capture loss(es) totalling "
                  << fixed(o.maxGapMs, 0) << " ms (every loss must be one it reported)\n";
        status = kExitFailed;
    }
    return status;
}

int runBars(const std::string &path, uint32_t width, uint32_t height, size_t frames,
            double rowsFrom, double rowsTo)
{
    auto bytes = readAll(path);
    if (!bytes) {
        std::cerr << "bwc-hil-probe: " << bytes.error().message << "\n";
        return kExitUsage;
    }
    const size_t frameBytes = size_t(width) * height * 3;
    if (bytes->size() % frameBytes != 0 || bytes->size() / frameBytes != frames) {
        std::cerr << "bwc-hil-probe: " << path << " holds "
                  << fixed(double(bytes->size()) / frameBytes, 2) << " frames of " << width << "x"
                  << height << " RGB24, expected " << frames << "\n";
        return kExitFailed;
    }
    const auto rowBegin = uint32_t(rowsFrom * height);
    const auto rowEnd = uint32_t(rowsTo * height);
    for (size_t i = 0; i < frames; ++i) {
        const std::span<const uint8_t> frame(bytes->data() + i * frameBytes, frameBytes);
        if (std::string m = bwc::hil::checkColourBars(frame, width, height, rowBegin, rowEnd);
            !m.empty()) {
            std::cerr << "bwc-hil-probe: frame " << i << " does not show vivid's colour bars: " << m
                      << "\n";
            return kExitFailed;
        }
    }
    std::cout << frames << " frames of " << width << "x" << height
              << ": every one shows vivid's 75% colour bars (rows " << rowBegin << ".." << rowEnd
              << ")\n";
    return kExitOk;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"bwc-hil-probe: the virtual board's instruments (board/qemu-virt)"};
    app.require_subcommand(1);

    ButtonOptions button;
    auto *b = app.add_subcommand("button", "press the gpio-sim button; check tone, LED, haptic");
    b->add_option("--pull", button.pull, "the button line's sysfs pull attribute")->required();
    b->add_option("--capture", button.capture, "ALSA capture device the tones arrive on")
        ->required();
    b->add_option("--expect", button.expect, "the tone the press must give")
        ->required()
        ->check(CLI::IsMember({"start", "stop"}));
    b->add_option("--hold-ms", button.holdMs, "how long to hold the button");
    b->add_option("--listen-ms", button.listenMs, "how long to listen from the press");
    b->add_option("--long-press-ms", button.longPressMs, "hal.long_press_ms (stop tone due)");
    b->add_option("--max-delay-ms", button.maxDelayMs, "latest tone (and LED) after it is due");
    b->add_option("--haptic-ms", button.hapticMs, "expected haptic pulse length");
    b->add_option("--led", button.led, "the record LED line's sysfs value attribute");
    b->add_option("--haptic", button.haptic, "the haptic line's sysfs value attribute");
    b->add_option("--report", button.report, "write the measurements as KEY=VALUE lines");
    b->add_option("--save", button.save, "write what was captured (raw mono S16LE, 48 kHz)");
    b->add_flag("--strict-timing", button.strictTiming,
                "fail on a missed design target (pattern, delays, pulse), not only report it");

    std::string device;
    double freqHz = 440, seconds = 60;
    auto *p = app.add_subcommand("play", "play a sine into an ALSA device");
    p->add_option("--device", device, "ALSA playback device")->required();
    p->add_option("--freq", freqHz, "frequency, Hz");
    p->add_option("--seconds", seconds, "how long (SIGTERM stops it earlier)");
    uint32_t playRate = kRateHz;
    p->add_option("--rate", playRate, "sample rate, Hz (both sides of a loopback use the same)");

    std::string ctlName, ctlValue;
    auto *v = app.add_subcommand("control", "set a V4L2 control by its name");
    v->add_option("--device", device, "V4L2 device node")->required();
    v->add_option("--name", ctlName, "the control's name (as v4l2-ctl -L shows it)")->required();
    v->add_option("--value", ctlValue, "a number, or a menu entry's name")->required();

    ToneOptions tone;
    auto *t = app.add_subcommand("tone", "check decoded audio is the test tone");
    t->add_option("--file", tone.file, "raw mono S16LE")->required();
    t->add_option("--rate", tone.rateHz, "sample rate, Hz");
    t->add_option("--expect-hz", tone.expectHz, "the test tone's frequency");
    t->add_option("--max-dropouts", tone.maxGaps,
                  "dropouts allowed (the camera's reported losses)");
    t->add_option("--max-dropout-ms", tone.maxGapMs, "their total length, ms");
    t->add_option("--max-tail-ms", tone.maxTailMs,
                  "silence allowed at the end: the camera's capture buffer, ms (default 100)");

    std::string file;
    uint32_t width = 0, height = 0;
    size_t frames = 0;
    double rowsFrom = 0.45, rowsTo = 0.8;
    auto *c = app.add_subcommand("bars", "check decoded frames show vivid's colour bars");
    c->add_option("--file", file, "raw RGB24 frames")->required();
    c->add_option("--width", width, "frame width")->required();
    c->add_option("--height", height, "frame height")->required();
    c->add_option("--frames", frames, "how many frames the file must hold")->required();
    c->add_option("--rows-from", rowsFrom, "first sampled row, fraction of the height");
    c->add_option("--rows-to", rowsTo, "end of the sampled rows, fraction of the height");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? kExitOk : kExitUsage;
    }
    if (b->parsed())
        return runButton(button);
    if (p->parsed())
        return runPlay(device, freqHz, seconds, playRate);
    if (v->parsed())
        return runControl(device, ctlName, ctlValue);
    if (t->parsed())
        return runTone(tone);
    return runBars(file, width, height, frames, rowsFrom, rowsTo);
}
