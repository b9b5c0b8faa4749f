// Camera pipeline cost: CPU seconds per recorded second of video through the whole of
// bwc-camd's path (source, watermark, libx264, pre-record ring, router, fragmented MP4,
// encryption, checkpoints, seal), against the ffmpeg CLI doing the same encode (drawtext,
// libx264 with the same preset, rate control and GOP, fragmented MP4) in the same run.
// Goal: at most 1.10x ffmpeg's encode alone.
//
// An encoder's cost depends on the picture, so both sides encode the same one: ffmpeg's
// testsrc2, rendered once (untimed) to a raw file in /dev/shm that both then read — ffmpeg
// as its input, bwc-camd through its file source. For information the bench also runs
// bwc-camd on its own synthetic source, whose moving texture is harder to compress.
//   bench_pipeline [--seconds N] [--width W] [--height H] [--fps F] [--kbps K]
//                  [--preset P] [--ffmpeg PATH] [--font PATH]
// Both sides run as fast as they can (no real-time pacing) and are charged the CPU time
// of every thread they use, so the ratio does not depend on the machine's other load.

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "firmware/camd/clip_recorder.h"
#include "firmware/camd/packet_router.h"
#include "firmware/camd/pipeline.h"
#include "firmware/prerecord/packet_ring.h"
#include "firmware/storage/storage.h"

extern char **environ;

using namespace bwc;

namespace {

double processCpu()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

double childrenCpu()
{
    rusage ru{};
    getrusage(RUSAGE_CHILDREN, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void die(const std::string &what, const Error &e)
{
    std::fprintf(stderr, "bench_pipeline: %s: %s\n", what.c_str(), e.message.c_str());
    std::exit(1);
}

struct Args {
    int seconds = 10;
    uint32_t width = 1920, height = 1080, fps = 30, kbps = 8000;
    std::string preset = "veryfast";
    std::string ffmpeg = "ffmpeg";
    std::string font = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
};

// Our pipeline: 1 s into the pre-record ring, then recording for the rest; the clip is
// sealed at the end. Returns CPU seconds.
double runOurs(const Args &a, const std::string &dir, const std::string &rawInput)
{
    auto backend = crypto::makeMbedtlsBackend();
    auto deviceKey = backend->p256Generate();
    auto recipientKey = backend->p256Generate();
    if (!deviceKey || !recipientKey)
        die("key generation", Error(Errc::Crypto, "failed"));
    auto identity = chain::SoftwareIdentity::fromParts(*backend, "BENCH-0001", *deviceKey, {},
                                                       dir + "/counter");
    if (!identity)
        die("identity", identity.error());
    SystemClock clock;
    auto chainState = chain::ChainState::open(*backend, **identity, dir + "/chain", clock);
    if (!chainState)
        die("chain", chainState.error());
    std::filesystem::create_directories(dir + "/clips");
    auto storage = fw::Storage::open({dir + "/clips", 99, 0});
    if (!storage)
        die("storage", storage.error());

    fw::RingLimits limits;
    limits.maxDurationMs = 120'000;
    limits.maxBytes = fw::ringBytesFor(120, a.kbps, a.fps);
    auto ring = fw::PacketRing::create(limits);
    if (!ring)
        die("ring", ring.error());
    fw::PacketRouter router(std::move(*ring), 256ull << 20);

    fw::PipelineOptions po;
    po.video.kind = rawInput.empty() ? "synthetic" : "file";
    po.video.device = rawInput;
    po.video.format = {a.width, a.height, a.fps};
    po.video.paced = false;
    po.encoder.codec = "libx264";
    po.encoder.preset = a.preset;
    po.encoder.bitrateKbps = a.kbps;
    po.fontPath = a.font;
    auto pipeline = fw::Pipeline::create(po, router, [](int64_t monoNs) {
        fw::WatermarkFields f;
        f.deviceId = "BENCH-0001";
        f.officerId = "OFFICER-1234";
        f.utcMs = utcNowMs() + monoNs / 1'000'000;
        f.latitudeDeg = 52.52;
        f.longitudeDeg = 13.405;
        return f;
    });
    if (!pipeline)
        die("pipeline", pipeline.error());

    fw::ClipRecorderOptions ro;
    ro.clipDir = dir + "/clips";
    ro.recipients = {recipientKey->pub};
    ro.fwVersion = "bench";
    ro.video = (*pipeline)->videoParams();
    bool sealed = false;
    fw::ClipRecorder recorder(*backend, **identity, **chainState, *storage, router, ro,
                              [&sealed](const fw::ClipEvent &e) {
                                  if (e.kind == fw::ClipEvent::Kind::Sealed)
                                      sealed = true;
                                  if (e.kind == fw::ClipEvent::Kind::SealFailed ||
                                      e.kind == fw::ClipEvent::Kind::StartFailed)
                                      std::fprintf(stderr, "bench_pipeline: %s\n",
                                                   e.detail.c_str());
                              });
    const double cpu0 = processCpu();
    recorder.start();
    if (Expected<void> r = (*pipeline)->runVideoFrames(a.fps); !r)
        die("capture", r.error());
    router.startRecording(int64_t(a.fps) * 1'000'000'000 / a.fps);
    if (Expected<void> r = (*pipeline)->runVideoFrames(uint64_t(a.seconds - 1) * a.fps); !r)
        die("capture", r.error());
    router.stopRecording(monoNowNs());
    recorder.stop();
    const double cpu = processCpu() - cpu0;
    if (!sealed)
        die("recording", Error(Errc::Internal, "the clip was not sealed"));
    return cpu;
}

int spawnAndWait(std::vector<std::string> argv)
{
    std::vector<char *> args;
    for (std::string &s : argv)
        args.push_back(s.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
        die(argv[0], Error(Errc::NotFound, "cannot run it (apt-get install ffmpeg)"));
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// testsrc2 rendered once to raw I420 in a NUT file, the input of both sides.
std::string makeRawInput(const Args &a, const std::string &dir)
{
    const std::string path = dir + "/testsrc2.nut";
    const std::string size = std::to_string(a.width) + "x" + std::to_string(a.height);
    if (spawnAndWait({a.ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                      "testsrc2=size=" + size + ":rate=" + std::to_string(a.fps), "-frames:v",
                      std::to_string(a.seconds * int(a.fps)), "-c:v", "rawvideo", "-pix_fmt",
                      "yuv420p", "-y", path}) != 0)
        die("ffmpeg", Error(Errc::Internal, "could not render the testsrc2 input"));
    return path;
}

double runFfmpeg(const Args &a, const std::string &dir, const std::string &rawInput)
{
    const std::string kbps = std::to_string(a.kbps) + "k";
    const std::string draw = "drawtext=fontfile=" + a.font +
                             ":text='BENCH-0001  OFFICER-1234 %{gmtime}  52.52000N 13.40500E'"
                             ":fontcolor=white:fontsize=" +
                             std::to_string(a.height / 30) +
                             ":box=1:boxcolor=black@0.5:x=8:y=h-th-8";
    // clang-format off
    std::vector<std::string> argv = {
        a.ffmpeg, "-hide_banner", "-loglevel", "error", "-i", rawInput,
        "-frames:v", std::to_string(a.seconds * int(a.fps)), "-vf", draw,
        "-c:v", "libx264", "-preset", a.preset, "-tune", "zerolatency",
        "-g", std::to_string(a.fps), "-keyint_min", std::to_string(a.fps), "-sc_threshold", "0",
        "-b:v", kbps, "-maxrate", kbps, "-bufsize", kbps, "-pix_fmt", "yuv420p",
        "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4",
        "-y", dir + "/ffmpeg.mp4"};
    // clang-format on
    const double cpu0 = childrenCpu();
    if (spawnAndWait(argv) != 0)
        die("ffmpeg", Error(Errc::Internal, "ffmpeg failed"));
    return childrenCpu() - cpu0;
}

} // namespace

int main(int argc, char **argv)
{
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_pipeline: %s needs a value\n", k.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (k == "--seconds")
            a.seconds = std::max(2, std::atoi(next().c_str()));
        else if (k == "--width")
            a.width = uint32_t(std::atoi(next().c_str()));
        else if (k == "--height")
            a.height = uint32_t(std::atoi(next().c_str()));
        else if (k == "--fps")
            a.fps = uint32_t(std::atoi(next().c_str()));
        else if (k == "--kbps")
            a.kbps = uint32_t(std::atoi(next().c_str()));
        else if (k == "--preset")
            a.preset = next();
        else if (k == "--ffmpeg")
            a.ffmpeg = next();
        else if (k == "--font")
            a.font = next();
        else {
            std::fprintf(stderr, "bench_pipeline: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    log::setThreshold(log::Level::Warn);
    char tmpl[] = "/dev/shm/bwc-bench-pipeline-XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
        return 1;
    const std::string dir = tmpl;
    std::printf("%ux%u at %u fps, %u kbit/s, preset %s, %d s of video\n", a.width, a.height, a.fps,
                a.kbps, a.preset.c_str(), a.seconds);
    const std::string raw = makeRawInput(a, dir);
    const double ffmpeg = runFfmpeg(a, dir, raw);
    const double ours = runOurs(a, dir, raw);
    const double oursSynthetic = runOurs(a, dir, "");
    std::filesystem::remove_all(dir);
    const double s = a.seconds;
    std::printf("%-62s %6.3f CPU-s per recorded s  1.00x\n",
                "ffmpeg: testsrc2 + drawtext + libx264 + fragmented MP4", ffmpeg / s);
    std::printf("%-62s %6.3f CPU-s per recorded s  %.2fx (goal <= 1.10x)\n",
                "bwc-camd: testsrc2 + watermark + x264 + ring + fMP4 + seal", ours / s,
                ours / ffmpeg);
    std::printf("%-62s %6.3f CPU-s per recorded s  %.2fx (information)\n",
                "bwc-camd on its synthetic source (a harder picture)", oursSynthetic / s,
                oursSynthetic / ffmpeg);
    return 0;
}
