// End-to-end tests of bwc-camd on the synthetic source and the simulated board.

#include <signal.h>
#include <time.h>

#include <catch2/catch_test_macros.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/base/clock.h"
#include "common/chain/chain_rules.h"
#include "common/crypto/crypto.h"
#include "firmware/camd/packet_router.h"
#include "firmware/camd/pipeline.h"
#include "firmware/capture/video_source.h"
#include "firmware/overlay/watermark.h"
#include "firmware/prerecord/packet_ring.h"
#include "tests/integration/camd/camd_harness.h"

using namespace bwc;
using namespace bwc::test;
namespace fs = std::filesystem;

namespace {

void sleepMs(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

uint64_t filesUnder(const std::string &dir)
{
    uint64_t n = 0;
    if (fs::exists(dir))
        for (const auto &e : fs::recursive_directory_iterator(dir))
            n += e.is_regular_file() ? 1 : 0;
    return n;
}

// Every counter read back, in order and without a gap: no frame was lost or repeated.
void requireConsecutive(const std::vector<uint64_t> &counters)
{
    REQUIRE(!counters.empty());
    for (size_t i = 0; i < counters.size(); ++i) {
        INFO("frame " << i << " of " << counters.size());
        REQUIRE(counters[i] != UINT64_MAX);
        if (i > 0)
            REQUIRE(counters[i] == counters[i - 1] + 1);
    }
}

} // namespace

TEST_CASE("camd: 130 s of capture without a press fills the pre-record ring and writes nothing")
{
    // The daemon's own capture path (synthetic source, watermark, x264, AAC, router, ring)
    // driven on simulated time, 130 s of it.
    fw::RingLimits limits;
    limits.maxDurationMs = 120'000;
    limits.maxBytes = fw::ringBytesFor(120, 600 + 64, 30);
    auto ring = fw::PacketRing::create(limits);
    REQUIRE(ring.ok());
    fw::PacketRouter router(std::move(*ring), 64ull << 20);
    fw::PipelineOptions po;
    po.video.kind = "synthetic";
    po.video.format = {320, 240, 30};
    po.video.paced = false;
    po.encoder.codec = "libx264";
    po.encoder.preset = "ultrafast";
    po.encoder.bitrateKbps = 600;
    fw::AudioSourceOptions audio;
    audio.kind = "synthetic";
    audio.paced = false;
    po.audio = audio;
    po.audioBitrateKbps = 64;
    auto pipeline = fw::Pipeline::create(po, router, [](int64_t monoNs) {
        fw::WatermarkFields f;
        f.deviceId = "CAM-T1";
        f.utcMs = 1'760'000'000'000 + monoNs / 1'000'000;
        return f;
    });
    if (!pipeline)
        INFO(pipeline.error().message);
    REQUIRE(pipeline.ok());
    for (int second = 0; second < 130; ++second) {
        REQUIRE((*pipeline)->runVideoFrames(30).ok());
        REQUIRE((*pipeline)->runAudioBlocks(50).ok());
    }
    const fw::PipelineStats ps = (*pipeline)->stats();
    CHECK(ps.frames == 3900);
    CHECK(ps.droppedFrames == 0);
    // The watermark text is rendered once per second of capture, not per frame.
    CHECK(ps.watermarkRenders <= 131);

    // Nothing was handed to the clip writer: no byte could have reached storage.
    const fw::RouterStats rs = router.stats();
    CHECK(!rs.recording);
    CHECK(rs.queuedBytes == 0);
    CHECK(!router.pop(0).has_value());
    // The ring holds the last 120 s (whole GOPs), older GOPs were evicted.
    CHECK(rs.ring.durationMs <= 120'000);
    CHECK(rs.ring.durationMs >= 119'000);
    CHECK(rs.ring.evictedGops >= 9);

    // A press now would start the clip with exactly that pre-roll, on a keyframe.
    router.startRecording(130'000'000'000);
    auto first = router.pop(0);
    REQUIRE(first.has_value());
    REQUIRE(std::holds_alternative<fw::StartClip>(*first));
    uint64_t videoPackets = 0;
    bool firstIsKey = false;
    while (auto item = router.pop(0)) {
        const auto *p = std::get_if<fw::OwnedPacket>(&*item);
        REQUIRE(p != nullptr);
        if (videoPackets == 0)
            firstIsKey = p->track == fw::Track::Video && p->keyframe;
        CHECK(p->track == fw::Track::Video); // audio is not kept in the ring by default
        ++videoPackets;
    }
    CHECK(firstIsKey);
    CHECK(videoPackets >= 119 * 30);
    CHECK(videoPackets <= 121 * 30);
}

TEST_CASE(
    "camd: press then record 10 s then long press: the clip verifies and decrypts to the recording")
{
    CameraSettings settings;
    settings.prerecordSeconds = 5;
    Camera cam(settings);
    cam.start();
    cam.waitFor("duration_ms", 5000, 20'000);
    sleepMs(500);
    // Buffering only: nothing on storage yet.
    CHECK(filesUnder(cam.dir() + "/data/clips") == 0);

    cam.request("press");
    sleepMs(150);
    cam.request("release");
    std::string st = cam.status();
    INFO(st);
    CHECK(jsonString(st, "state") == "recording");
    CHECK(jsonString(st, "record") == "on");
    // The start tone began within 100 ms of the button edge.
    const int64_t press = jsonInt(st, "last_press_mono_ns").value_or(0);
    CHECK(st.find("\"tone\":\"start\"") != std::string::npos);
    const auto toneAt = st.find("\"tone\":\"start\"");
    const std::string toneRecord = st.substr(toneAt);
    const int64_t firstSample = jsonInt(toneRecord, "first_sample_mono_ns").value_or(0);
    CHECK(firstSample > press);
    CHECK(firstSample - press < 100'000'000);

    sleepMs(10'000);
    cam.request("hold 3000");
    cam.waitFor("clips_sealed", 1, 20'000);
    cam.waitForState("idle", 10'000);
    st = cam.status();
    CHECK(jsonString(st, "record") == "off");
    CHECK(st.find("\"tone\":\"stop\"") != std::string::npos);
    CHECK(cam.stop() == 0);

    const auto clips = cam.clips();
    REQUIRE(clips.size() == 1);
    const Camera::Clip &clip = clips[0];
    CHECK(clip.manifest.kind() == v1::MANIFEST_KIND_CLIP);
    CHECK(clip.manifest.officer_id() == settings.officerId);
    CHECK(clip.manifest.device_id() == Camera::kDeviceId);
    CHECK(clip.manifest.trigger() == v1::TRIGGER_BUTTON);
    // Pre-roll: the configured 5 s, give or take one GOP.
    CHECK(clip.manifest.prerecord_ms() >= 4000);
    CHECK(clip.manifest.prerecord_ms() <= 6100);

    CommandResult noKey = cam.verify(clip, false);
    INFO(noKey.output);
    CHECK(noKey.exitCode == 0);
    CommandResult withKey = cam.verify(clip, true);
    INFO(withKey.output);
    CHECK(withKey.exitCode == 0);

    // The metadata stream: the time state, the fixed location once a second, the events.
    {
        auto backend = crypto::makeMbedtlsBackend();
        const auto records = openClip(*backend, cam.agencyKey(*backend), clip.clipPath,
                                      cam.dir() + "/in-process.mp4");
        size_t fixes = 0, times = 0;
        std::vector<std::string> events;
        for (const v1::MetadataRecord &r : records) {
            if (r.has_location()) {
                ++fixes;
                CHECK(r.location().latitude_deg() == 52.52);
                CHECK(r.location().longitude_deg() == 13.405);
                CHECK(r.location().source() == "fixed");
            }
            times += r.has_time() ? 1 : 0;
            if (r.has_event())
                events.push_back(r.event().name());
        }
        CHECK(times == 1);
        CHECK(fixes >= 11);
        for (const char *name : {"record-start", "button-press", "record-stop"})
            CHECK(std::find(events.begin(), events.end(), name) != events.end());
    }

    const std::string mp4 = cam.open(clip, "clip");
#ifdef BWC_FFPROBE
    CommandResult probe = runCommand(
        {BWC_FFPROBE, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", mp4});
    CHECK(probe.exitCode == 0);
    CHECK(probe.output == "h264\naac\n");
#endif
    std::vector<uint64_t> counters;
    DecodedMedia media = decodeMp4(mp4, counters, 15);
    REQUIRE(media.codecs == std::vector<std::string>{"h264", "aac"});
    CHECK(media.firstPacketKey);
    REQUIRE(!media.frames.empty());
    CHECK(media.frames[0].keyframe);
    CHECK(media.audioPackets > 0);
    requireConsecutive(counters);
    // 5 s pre-roll + about 10 s + the 3 s long press.
    const double seconds = double(counters.size()) / settings.fps;
    CHECK(seconds >= 16.5);
    CHECK(seconds <= 20.5);

    // The watermark: each kept frame differs from the synthetic picture the camera saw
    // only where the text box is, and matches that picture with the text drawn on it.
    fw::WatermarkOptions wmOptions; // the daemon's default font
    wmOptions.frameWidth = settings.width;
    wmOptions.frameHeight = settings.height;
    auto wm = fw::Watermark::create(wmOptions);
    REQUIRE(wm.ok());
    const std::string clockSource = jsonString(st, "clock_source").value_or("");
    size_t checked = 0;
    for (size_t i = 0; i < media.frames.size(); i += 8) {
        const DecodedFrame &decoded = media.frames[i];
        const uint64_t n = counters[i * 15];
        fw::Frame plain(settings.width, settings.height);
        fw::renderSyntheticFrame(n, settings.fps, plain);
        const uint32_t w = settings.width, h = settings.height;
        // Top half: no watermark there.
        CHECK(lumaPsnr(decoded.frame, plain, 0, 0, w, h / 2) > 30.0);
        // Bottom-left, where the text is: far from the plain picture.
        const double plainBox = lumaPsnr(decoded.frame, plain, 0, h * 3 / 4, w / 2, h);
        CHECK(plainBox < 22.0);
        // With the text rendered for the frame's second (try the neighbouring seconds),
        // the bottom-left matches.
        double best = 0;
        const int64_t frameUtc =
            clip.manifest.start_utc_ms() + int64_t(i * 15) * 1000 / settings.fps;
        for (int64_t d = -2000; d <= 2000; d += 1000) {
            fw::WatermarkFields f;
            f.deviceId = Camera::kDeviceId;
            f.officerId = settings.officerId;
            f.utcMs = frameUtc + d;
            f.clockSource =
                clockSource == "CLOCK_SOURCE_NTP" ? v1::CLOCK_SOURCE_NTP : v1::CLOCK_SOURCE_UNKNOWN;
            f.latitudeDeg = 52.52;
            f.longitudeDeg = 13.405;
            fw::Frame marked(settings.width, settings.height);
            fw::renderSyntheticFrame(n, settings.fps, marked);
            (*wm)->setLines(fw::watermarkLines(f));
            (*wm)->apply(marked);
            best = std::max(best, lumaPsnr(decoded.frame, marked, 0, h * 3 / 4, w / 2, h));
        }
        INFO("frame " << i * 15 << ": box PSNR vs plain " << plainBox << " dB, vs watermarked "
                      << best << " dB");
        CHECK(best > 28.0);
        CHECK(best > plainBox + 8.0);
        ++checked;
    }
    CHECK(checked >= 3);
}

TEST_CASE(
    "camd: a power cut (SIGKILL) while recording loses at most a second and leaves no chain gap")
{
    const char *env = std::getenv("BWC_POWER_CUT_TRIALS");
    const int trials = env != nullptr ? std::atoi(env) : 3;
    std::random_device rd;
    const unsigned seed = rd();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    CameraSettings settings;
    settings.prerecordSeconds = 2;
    Camera cam(settings);
    double worstLoss = 0;
    for (int trial = 0; trial < trials; ++trial) {
        INFO("trial " << trial);
        cam.start();
        cam.waitFor("duration_ms", 1000, 20'000);
        cam.request("press");
        cam.request("release");
        cam.waitFor("checkpoints", 1, 10'000);
        sleepMs(std::uniform_int_distribution<int>(1200, 5000)(rng));
        const std::string before = cam.status();
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        cam.kill();
        const int64_t killMonoNs = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
        // The frame being captured at the cut, from the source's paced clock.
        const int64_t lastIndex = jsonInt(before, "last_frame_index").value_or(0);
        const int64_t lastMono = jsonInt(before, "last_frame_mono_ns").value_or(0);
        const double indexAtCut =
            double(lastIndex) + double(killMonoNs - lastMono) * settings.fps / 1e9;

        cam.start(); // boot recovery seals the clip as INTERRUPTED
        cam.waitForState("idle", 10'000);
        CHECK(cam.stop() == 0);

        const auto clips = cam.clips();
        REQUIRE(clips.size() == size_t(trial + 1));
        const Camera::Clip &clip = clips.back();
        CHECK(clip.manifest.kind() == v1::MANIFEST_KIND_INTERRUPTED);
        CommandResult v = cam.verify(clip, true);
        INFO(v.output);
        REQUIRE(v.exitCode == 0);
        const std::string mp4 = cam.open(clip, "cut" + std::to_string(trial));
        std::vector<uint64_t> counters;
        decodeMp4(mp4, counters, 0);
        requireConsecutive(counters);
        const double loss = (indexAtCut - double(counters.back() + 1)) / settings.fps;
        INFO("lost " << loss << " s");
        worstLoss = std::max(worstLoss, loss);
        CHECK(loss >= 0.0);
        // At most the GOP in progress (1 s), plus the encoder and checkpoint latency.
        CHECK(loss <= 1.1);
    }
    // Every clip verifies (CLIP or INTERRUPTED) and the chain is contiguous and linked.
    for (const Camera::Clip &clip : cam.clips()) {
        CommandResult v = cam.verify(clip, false);
        INFO(v.output);
        CHECK(v.exitCode == 0);
    }
    const auto segment = cam.chainSegment();
    REQUIRE(!segment.empty());
    CHECK(segment.front().first.seq() == 1);
    Expected<void> chainOk = chain::verifyChainSegment(segment);
    if (!chainOk)
        INFO(chainOk.error().message);
    CHECK(chainOk.ok());
    WARN("power cut: " << trials << " trials, worst loss " << worstLoss << " s");
}

TEST_CASE("camd: a full store refuses to record with the storage-full signal")
{
    CameraSettings settings;
    settings.prerecordSeconds = 1;
    settings.reserveBytes = uint64_t(1) << 50; // more than any disk here
    Camera cam(settings);
    cam.start();
    cam.request("press");
    cam.request("release");
    sleepMs(300);
    const std::string st = cam.status();
    INFO(st);
    CHECK(jsonString(st, "state") == "idle");
    CHECK(st.find("\"tone\":\"storage-full\"") != std::string::npos);
    CHECK(st.find("\"tone\":\"start\"") == std::string::npos);
    CHECK(jsonString(st, "level") == "full");
    CHECK(cam.stop() == 0);
    CHECK(filesUnder(cam.dir() + "/data/clips") == 0);
}

TEST_CASE("camd: an invalid configuration stops start-up naming the field")
{
    char tmpl[] = "/tmp/bwc-camd-conf-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string conf = std::string(tmpl) + "/camd.conf";
    {
        std::ofstream out(conf);
        out << "format_version: 1\nvideo { fps: 500 }\n";
    }
    CommandResult r = runCommand({BWC_CAMD, "--config", conf});
    fs::remove_all(tmpl);
    INFO(r.output);
    CHECK(r.exitCode == 2);
    CHECK(r.output.find("video.fps = 500") != std::string::npos);
}
