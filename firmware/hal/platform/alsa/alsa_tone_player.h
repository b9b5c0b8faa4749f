#pragma once

// Tones through an ALSA playback device (hal.tone_device: "default", "plughw:0",
// "hw:CARD=Headphones", or any PCM name, e.g. "file:FILE=/tmp/t.raw,FORMAT=raw" which
// writes the raw samples to a file through the null device).
//
// One thread owns the PCM (non-blocking, S16_LE, 48 kHz, mono or the nearest channel
// count the device takes, every channel carrying the same signal; ~5 ms periods in a
// ~100 ms buffer: a tone starts with its first period, and the player may stall up to
// ~100 ms (a busy CPU) without an underrun chopping the beep). The
// thread renders the pattern with ToneSynth a period at a time and writes it:
//  - onFirstSample gets CLOCK_MONOTONIC at the moment snd_pcm_writei accepted the first
//    period of the pattern. The first sample leaves the DAC snd_pcm_delay() frames later
//    (on a device that was idle: about one period, since the stream starts when the first
//    period is in).
//  - A new tone replaces one still playing: the current step fades out over 2 ms (no
//    click), then the new pattern follows in the same stream (behind what is already
//    buffered, at most the ~100 ms buffer).
//  - After a pattern the thread writes one buffer of silence and then leaves the stream
//    to run dry (the underrun stops it in silence). Nothing is written while idle. The
//    next tone drops what is left of the silence and restarts the stream, so it starts
//    at the front of an empty buffer.
//  - Underruns and suspends are recovered with snd_pcm_recover. If the device goes away
//    (unplugged USB speaker: write errors that cannot be recovered, or no progress for
//    2 s), the player logs it once and from then on accepts tones without playing them
//    (onFirstSample is never called, so the history shows them as not played).

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/unique_fd.h"
#include "firmware/hal/hal.h"

struct _snd_pcm;

namespace bwc::fw {

class ToneSynth;

class AlsaTonePlayer final : public TonePlayer
{
public:
    // Errc::Device naming the device when it cannot be opened or does not take S16_LE
    // (use a plughw: or the default device then).
    static Expected<std::unique_ptr<AlsaTonePlayer>> open(const std::string &device);
    ~AlsaTonePlayer() override;
    AlsaTonePlayer(const AlsaTonePlayer &) = delete;
    AlsaTonePlayer &operator=(const AlsaTonePlayer &) = delete;

    Expected<void> play(ToneId id, const std::vector<ToneStep> &pattern,
                        std::function<void(int64_t monoNs)> onFirstSample) override;

    // Blocks until no tone is queued or being written (the last pattern and its silence
    // were accepted by the PCM), or `timeoutMs` passed; true if idle.
    bool waitIdle(uint32_t timeoutMs);
    // True once the device was lost (see above).
    bool deviceLost() const;

    const std::string &device() const { return device_; }
    uint32_t rateHz() const { return rate_; }
    uint32_t channels() const { return channels_; }
    uint64_t periodFrames() const { return period_; }
    uint64_t bufferFrames() const { return buffer_; }

private:
    struct Request {
        std::vector<ToneStep> pattern;
        std::function<void(int64_t)> onFirstSample;
    };
    enum class WriteResult { Ok, Replaced, Stopped, Lost };

    AlsaTonePlayer() = default;
    void run();
    // Plays one pattern; returns Replaced when a new request cut it short.
    WriteResult playPattern(Request &req);
    // Writes `frames` mono frames (expanded to the device's channels).
    WriteResult writeFrames(const int16_t *mono, size_t frames);
    bool waitWritable();
    bool pendingOrStop();
    void lose(const std::string &cause);
    void wake();

    struct PcmClose {
        void operator()(_snd_pcm *pcm) const;
    };

    std::string device_;
    std::unique_ptr<_snd_pcm, PcmClose> pcm_;
    uint32_t rate_ = 48000;
    uint32_t channels_ = 1;
    uint64_t period_ = 0;
    uint64_t buffer_ = 0;
    UniqueFd wakeFd_; // eventfd: play() and the destructor interrupt the thread's poll
    std::vector<int16_t> mono_;
    std::vector<int16_t> interleaved_;
    bool silenceQueued_ = false; // only the post-pattern silence is in the buffer

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<Request> pending_;
    bool busy_ = false;
    bool stop_ = false;
    bool lost_ = false;
    std::thread thread_;
};

} // namespace bwc::fw
