#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/base/clock.h"
#include "firmware/hal/hal.h"
#include "firmware/hal/platform/alsa/alsa_tone_player.h"
#include "firmware/hal/tone_synth.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

std::string makeTempDir()
{
    char tmpl[] = "/tmp/bwc-hal-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    return tmpl;
}

// An ALSA PCM that writes the raw samples to `path` (alsa.conf's "file" PCM, slave null).
std::string filePcm(const std::string &path)
{
    return "file:FILE='" + path + "',FORMAT=raw";
}

std::vector<int16_t> readSamples(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() % 2 == 0);
    std::vector<int16_t> samples(bytes.size() / 2);
    for (size_t i = 0; i < samples.size(); ++i) // S16_LE
        samples[i] = int16_t(uint16_t(uint8_t(bytes[2 * i])) |
                             uint16_t(uint16_t(uint8_t(bytes[2 * i + 1])) << 8));
    return samples;
}

struct Segment {
    size_t begin; // first frame above the threshold
    size_t end;   // one past the last
};

// Sounding stretches: runs of samples whose magnitude exceeds `threshold`, where gaps
// shorter than `bridge` frames (the sine's own zero crossings) do not split a run.
std::vector<Segment> soundingSegments(const std::vector<int16_t> &s, int threshold, size_t bridge)
{
    std::vector<Segment> out;
    size_t lastLoud = 0;
    bool open = false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (std::abs(int(s[i])) <= threshold)
            continue;
        if (open && i - lastLoud <= bridge) {
            lastLoud = i;
            continue;
        }
        if (open)
            out.back().end = lastLoud + 1;
        out.push_back({i, i + 1});
        open = true;
        lastLoud = i;
    }
    if (open)
        out.back().end = lastLoud + 1;
    return out;
}

// Frequency from the upward zero crossings (interpolated) within [begin, end).
double measureHz(const std::vector<int16_t> &s, size_t begin, size_t end, uint32_t rate)
{
    double first = -1, last = -1;
    int crossings = 0;
    for (size_t i = begin + 1; i < end; ++i) {
        if (s[i - 1] < 0 && s[i] >= 0) {
            const double t = double(i - 1) + double(-s[i - 1]) / double(s[i] - s[i - 1]);
            if (first < 0)
                first = t;
            last = t;
            crossings++;
        }
    }
    REQUIRE(crossings >= 3);
    return double(crossings - 1) * rate / (last - first);
}

double ms(size_t frames, uint32_t rate)
{
    return double(frames) * 1000.0 / rate;
}

} // namespace

TEST_CASE("ToneSynth renders the pattern's length with 2 ms fades and the right pitch")
{
    const std::vector<ToneStep> pattern = {{1000, 50}, {0, 20}, {3000, 30}};
    ToneSynth synth(pattern, 48000, 0.5);
    REQUIRE(synth.totalFrames() == 4800);
    std::vector<int16_t> out(4800 + 100, 1234);
    size_t n = 0;
    while (size_t got = synth.render(out.data() + n, 240))
        n += got;
    REQUIRE(n == 4800);
    REQUIRE(synth.done());
    REQUIRE(out[4800] == 1234); // nothing written past the end

    int peak = 0;
    for (size_t i = 0; i < n; ++i)
        peak = std::max(peak, std::abs(int(out[i])));
    REQUIRE(peak <= 16384);
    REQUIRE(peak >= 16000);
    // Fade in: the first sample is silent and the first 2 ms stay below the ramp.
    REQUIRE(out[0] == 0);
    for (size_t i = 0; i < 96; ++i)
        REQUIRE(std::abs(int(out[i])) <= int(16384.0 * double(i) / 96.0) + 1);
    REQUIRE(out[2399] == 0); // last frame of the first step: faded out
    for (size_t i = 2400; i < 3360; ++i)
        REQUIRE(out[i] == 0);
    REQUIRE(out[3360] == 0); // first frame of the 3 kHz step
    REQUIRE(std::abs(measureHz(out, 200, 2200, 48000) - 1000.0) < 1.0);
    REQUIRE(std::abs(measureHz(out, 3500, 4700, 48000) - 3000.0) < 3.0);
}

TEST_CASE("ToneSynth fadeOut ends a tone within 2 ms without a jump")
{
    ToneSynth synth({{1200, 600}, {0, 100}, {800, 100}}, 48000, 0.6);
    std::vector<int16_t> out(48000, 0);
    size_t n = synth.render(out.data(), 4800); // 100 ms into the 600 ms step
    REQUIRE(n == 4800);
    synth.fadeOut();
    REQUIRE(synth.totalFrames() == 4800 + 96);
    size_t rest = 0;
    while (size_t got = synth.render(out.data() + n + rest, 240))
        rest += got;
    REQUIRE(rest == 96);
    REQUIRE(synth.done());
    // Sample-to-sample steps stay within what a 1.2 kHz sine at 0.6 full scale does.
    const int maxStep = int(0.6 * 32767 * 2 * M_PI * 1200 / 48000) + 2;
    for (size_t i = 1; i < n + rest; ++i)
        REQUIRE(std::abs(int(out[i]) - int(out[i - 1])) <= maxStep);
    REQUIRE(out[n + rest - 1] == 0);

    // In a silent step the pattern ends at once.
    ToneSynth quiet({{1000, 10}, {0, 50}, {1000, 10}}, 48000);
    std::vector<int16_t> buf(480 + 240);
    REQUIRE(quiet.render(buf.data(), 480 + 240) == 720);
    quiet.fadeOut();
    REQUIRE(quiet.done());
    REQUIRE(quiet.render(buf.data(), 240) == 0);
}

TEST_CASE("ALSA tone player: the start pattern through the file plugin is two 2 kHz beeps")
{
    const std::string dir = makeTempDir();
    const std::string raw = dir + "/start.raw";
    int64_t firstSample = 0;
    int64_t requested = 0;
    {
        auto player = AlsaTonePlayer::open(filePcm(raw));
        REQUIRE(player);
        REQUIRE((*player)->rateHz() == 48000);
        REQUIRE((*player)->channels() == 1);
        REQUIRE((*player)->periodFrames() == 240);
        REQUIRE((*player)->bufferFrames() == 4800);
        std::mutex m;
        requested = monoNowNs();
        REQUIRE((*player)->play(ToneId::Start, tonePattern(ToneId::Start), [&](int64_t ns) {
            std::lock_guard lock(m);
            firstSample = ns;
        }));
        REQUIRE((*player)->waitIdle(2000));
        REQUIRE_FALSE((*player)->deviceLost());
        std::lock_guard lock(m);
        REQUIRE(firstSample >= requested);
        REQUIRE(firstSample - requested < 100'000'000);
    } // closing the PCM flushes the file

    const auto samples = readSamples(raw);
    const uint32_t rate = 48000;
    // 80 ms beep, 60 ms gap, 80 ms beep, then one 100 ms buffer of silence.
    REQUIRE(samples.size() == size_t(rate) * (80 + 60 + 80 + 100) / 1000);
    const auto segs = soundingSegments(samples, 2000, 48);
    REQUIRE(segs.size() == 2);
    // Above 2000 of ~19660 peak: the beep minus ~0.2 ms of each 2 ms ramp.
    for (const Segment &s : segs) {
        CHECK(std::abs(ms(s.end - s.begin, rate) - 80.0) < 1.5);
        const double hz = measureHz(samples, s.begin + 96, s.end - 96, rate);
        CHECK(std::abs(hz - 2000.0) < 2000.0 * 0.02);
    }
    CHECK(std::abs(ms(segs[0].begin, rate) - 0.0) < 1.0);
    CHECK(std::abs(ms(segs[1].begin - segs[0].end, rate) - 60.0) < 1.5);
    for (size_t i = segs[1].end; i < samples.size(); ++i)
        REQUIRE(std::abs(int(samples[i])) < 2000);
    std::remove(raw.c_str());
    rmdir(dir.c_str());
}

TEST_CASE("ALSA tone through openHal: recorded with its first sample; stop tone at 1.2 kHz")
{
    const std::string dir = makeTempDir();
    const std::string raw = dir + "/stop.raw";
    HalHistory history;
    {
        v1::HalConfig c;
        c.set_backend("sim");
        c.set_tone_device(filePcm(raw));
        auto hal = openHal(c, history);
        REQUIRE(hal);
        REQUIRE((*hal)->tone().play(ToneId::Stop, tonePattern(ToneId::Stop), nullptr));
        for (int i = 0; i < 2000 && history.tones().at(0).firstSampleMonoNs == 0; ++i)
            usleep(1000);
        // Let the player finish writing the pattern before the Hal closes the PCM.
        usleep(50'000);
    }
    const auto tones = history.tones();
    REQUIRE(tones.size() == 1);
    REQUIRE(tones[0].tone == ToneId::Stop);
    REQUIRE(tones[0].firstSampleMonoNs >= tones[0].requestedMonoNs);

    const auto samples = readSamples(raw);
    const auto segs = soundingSegments(samples, 2000, 48);
    REQUIRE(segs.size() == 1);
    CHECK(std::abs(ms(segs[0].end - segs[0].begin, 48000) - 600.0) < 1.5);
    const double hz = measureHz(samples, segs[0].begin + 96, segs[0].end - 96, 48000);
    CHECK(std::abs(hz - 1200.0) < 1200.0 * 0.02);
    std::remove(raw.c_str());
    rmdir(dir.c_str());
}

TEST_CASE("ALSA tone player: latency from play() to the first sample, back to back tones")
{
    const std::string dir = makeTempDir();
    const std::string raw = dir + "/latency.raw";
    std::vector<int64_t> latencies;
    {
        auto player = AlsaTonePlayer::open(filePcm(raw));
        REQUIRE(player);
        for (int i = 0; i < 20; ++i) {
            std::mutex m;
            int64_t first = 0;
            const int64_t t0 = monoNowNs();
            REQUIRE(
                (*player)->play(ToneId::Reminder, tonePattern(ToneId::Reminder), [&](int64_t ns) {
                    std::lock_guard lock(m);
                    first = ns;
                }));
            REQUIRE((*player)->waitIdle(2000));
            std::lock_guard lock(m);
            REQUIRE(first >= t0);
            latencies.push_back(first - t0);
        }
    }
    std::sort(latencies.begin(), latencies.end());
    const double p50 = double(latencies[latencies.size() / 2]) / 1e6;
    const double max = double(latencies.back()) / 1e6;
    std::printf("ALSA tone player (file plugin): play() to first sample over %zu plays: "
                "p50 %.3f ms, max %.3f ms\n",
                latencies.size(), p50, max);
    REQUIRE(max < 100.0);

    // Every reminder was played whole: 20 beeps of 60 ms at 2 kHz.
    const auto samples = readSamples(raw);
    const auto segs = soundingSegments(samples, 2000, 48);
    REQUIRE(segs.size() == 20);
    for (const Segment &s : segs)
        CHECK(std::abs(ms(s.end - s.begin, 48000) - 60.0) < 1.5);
    std::remove(raw.c_str());
    rmdir(dir.c_str());
}

TEST_CASE("a tone device that cannot be opened is Errc::Device naming it")
{
    HalHistory history;
    v1::HalConfig c;
    c.set_backend("sim");
    c.set_tone_device("hw:CARD=bwcNoSuchCard");
    auto hal = openHal(c, history);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Device);
    REQUIRE(hal.error().message.find("hal.tone_device = \"hw:CARD=bwcNoSuchCard\"") !=
            std::string::npos);
    REQUIRE(hal.error().message.find("cannot open ALSA playback device") != std::string::npos);

    auto direct = AlsaTonePlayer::open("bwc_no_such_pcm");
    REQUIRE_FALSE(direct);
    REQUIRE(direct.error().code == Errc::Device);
    REQUIRE(direct.error().message.find("\"bwc_no_such_pcm\"") != std::string::npos);
}

TEST_CASE("ALSA tone player: a new tone replaces one still playing, fading it out")
{
    const std::string dir = makeTempDir();
    const std::string raw = dir + "/replace.raw";
    {
        auto player = AlsaTonePlayer::open(filePcm(raw));
        REQUIRE(player);
        // The null device takes samples as fast as they come, so hold the player thread
        // in the stop tone's first-sample callback (after its first 5 ms period) while the
        // reminder is queued: the stop tone is then still playing when it is replaced.
        std::mutex m;
        std::condition_variable cv;
        bool inCallback = false, release = false;
        int64_t reminderFirst = 0;
        REQUIRE((*player)->play(ToneId::Stop, tonePattern(ToneId::Stop), [&](int64_t) {
            std::unique_lock lock(m);
            inCallback = true;
            cv.notify_all();
            cv.wait(lock, [&] { return release; });
        }));
        {
            std::unique_lock lock(m);
            REQUIRE(cv.wait_for(lock, std::chrono::seconds(2), [&] { return inCallback; }));
        }
        REQUIRE((*player)->play(ToneId::Reminder, tonePattern(ToneId::Reminder), [&](int64_t ns) {
            std::lock_guard lock(m);
            reminderFirst = ns;
        }));
        {
            std::lock_guard lock(m);
            release = true;
        }
        cv.notify_all();
        REQUIRE((*player)->waitIdle(2000));
        std::lock_guard lock(m);
        REQUIRE(reminderFirst != 0);
    }
    const auto samples = readSamples(raw);
    // 5 ms of the stop tone, its 2 ms fade-out, then the reminder (60 ms) right behind
    // it in the same stream, then 100 ms of silence.
    REQUIRE(samples.size() == size_t(48000) * (5 + 2 + 60 + 100) / 1000);
    const auto segs = soundingSegments(samples, 2000, 48);
    REQUIRE(segs.size() == 1); // no gap between the two tones
    CHECK(std::abs(ms(segs[0].end - segs[0].begin, 48000) - 67.0) < 1.5);
    const size_t join = 48000 * 7 / 1000; // where the fade-out ended
    REQUIRE(samples[join - 1] == 0);
    REQUIRE(samples[join] == 0);
    CHECK(std::abs(measureHz(samples, 96, 240, 48000) - 1200.0) < 1200.0 * 0.02);
    CHECK(std::abs(measureHz(samples, join + 96, join + 2880 - 96, 48000) - 2000.0) <
          2000.0 * 0.02);
    // No click: sample-to-sample steps within a 2 kHz sine's at 0.6 full scale.
    const int maxStep = int(0.6 * 32767 * 2 * M_PI * 2000 / 48000) + 2;
    for (size_t i = 1; i < samples.size(); ++i)
        REQUIRE(std::abs(int(samples[i]) - int(samples[i - 1])) <= maxStep);
    std::remove(raw.c_str());
    rmdir(dir.c_str());
}

TEST_CASE("ALSA tone player: a device that fails while playing is logged once and then skipped")
{
    // The file plugin's writes to /dev/full fail (ENOSPC) once its buffer is flushed.
    auto player = AlsaTonePlayer::open("file:FILE='/dev/full',FORMAT=raw");
    REQUIRE(player);
    REQUIRE((*player)->play(ToneId::Stop, tonePattern(ToneId::Stop), nullptr));
    REQUIRE((*player)->waitIdle(2000));
    REQUIRE((*player)->deviceLost());
    bool called = false;
    REQUIRE((*player)->play(ToneId::Start, tonePattern(ToneId::Start),
                            [&](int64_t) { called = true; }));
    REQUIRE((*player)->waitIdle(2000));
    REQUIRE_FALSE(called);
}
