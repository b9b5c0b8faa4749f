#include "tests/integration/camd/camd_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/container/metadata.h"
#include "common/crypto/pem.h"
#include "firmware/capture/video_source.h"
#include "firmware/control/control.h"

extern char **environ;

namespace bwc::test {

namespace fs = std::filesystem;

namespace {
// libav* statistics (x264's per-run summary, the AAC encoder's) are noise in test output.
const bool quietLibav = [] {
    av_log_set_level(AV_LOG_ERROR);
    return true;
}();
} // namespace

CommandResult runCommand(const std::vector<std::string> &argv)
{
    int pipeFds[2];
    REQUIRE(::pipe2(pipeFds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDERR_FILENO);
    std::vector<char *> args;
    for (const std::string &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipeFds[1]);
    CommandResult result;
    if (rc != 0) {
        ::close(pipeFds[0]);
        result.output = "cannot run " + argv[0];
        return result;
    }
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(pipeFds[0], buf, sizeof buf);
        if (n <= 0)
            break;
        result.output.append(buf, size_t(n));
    }
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::optional<int64_t> jsonInt(const std::string &json, const std::string &key)
{
    const std::regex re("\"" + key + "\":(-?[0-9]+)");
    std::smatch m;
    if (!std::regex_search(json, m, re))
        return std::nullopt;
    return std::stoll(m[1].str());
}

std::optional<std::string> jsonString(const std::string &json, const std::string &key)
{
    const std::regex re("\"" + key + "\":\"([^\"]*)\"");
    std::smatch m;
    if (!std::regex_search(json, m, re))
        return std::nullopt;
    return m[1].str();
}

Camera::Camera(const CameraSettings &settings) : settings_(settings)
{
    char tmpl[] = "/tmp/bwc-camd-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    const std::string pki = dir_ + "/pki";
    for (const std::vector<std::string> &cmd : std::vector<std::vector<std::string>>{
             {BWC_TOOL, "pki", "init", pki, "--agency", "Test Agency"},
             {BWC_TOOL, "pki", "issue-device", pki, kDeviceId},
             {BWC_TOOL, "pki", "issue-recipient", pki, "aek"}}) {
        CommandResult r = runCommand(cmd);
        INFO(r.output);
        REQUIRE(r.exitCode == 0);
    }
    configPath_ = dir_ + "/camd.conf";
    socketPath_ = dir_ + "/camd.sock";
    logPath_ = dir_ + "/camd.log";
    std::ofstream conf(configPath_);
    conf << "format_version: 1\n"
         << "device_id: \"" << kDeviceId << "\"\n"
         << "video { source: \"synthetic\" width: " << settings.width
         << " height: " << settings.height << " fps: " << settings.fps
         << " bitrate_kbps: " << settings.bitrateKbps
         << " encoder: \"libx264\" preset: \"ultrafast\" }\n"
         << "audio { enabled: " << (settings.audio ? "true" : "false")
         << " source: \"synthetic\" sample_rate: 48000 bitrate_kbps: 64 }\n"
         << "prerecord { seconds: " << settings.prerecordSeconds << " }\n"
         << "hal { backend: \"sim\" long_press_ms: 3000 }\n"
         << "storage { path: \"data\" warn_percent: 99 reserve_bytes: " << settings.reserveBytes
         << " }\n"
         << "identity { key_path: \"pki/devices/" << kDeviceId << ".key\" cert_path: \"pki/devices/"
         << kDeviceId << ".pem\" ca_path: \"pki/ca.pem\" crl_path: \"pki/crl.pem\""
         << " recipient_cert_paths: \"pki/recipients/aek.pem\" counter_path: \"data/counter\" }\n"
         << "location: \"fixed:52.52,13.405\"\n"
         << "control_socket: \"camd.sock\"\n";
    conf.close();
    fs::create_directories(dir_ + "/data");
    std::ofstream(dir_ + "/data/officer") << settings.officerId << "\n";
}

Camera::~Camera()
{
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (std::getenv("BWC_KEEP_TEST_DIRS") == nullptr) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

void Camera::start()
{
    REQUIRE(pid_ < 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> argv = {BWC_CAMD, "--config", configPath_};
    std::vector<char *> args;
    for (const std::string &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            INFO(log());
            FAIL("bwc-camd exited during start-up");
        }
        auto r = fw::controlRequest(socketPath_, "status", 2000);
        // The socket answers during start-up; the button is live once "ready" is true.
        if (r && r->find("\"ok\":true") != std::string::npos &&
            r->find("\"ready\":true") != std::string::npos)
            return;
        if (std::chrono::steady_clock::now() > deadline) {
            INFO(log());
            FAIL("bwc-camd was not ready on its control socket within 20 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

int Camera::stop()
{
    REQUIRE(pid_ > 0);
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void Camera::kill()
{
    REQUIRE(pid_ > 0);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

std::string Camera::request(const std::string &line)
{
    auto r = fw::controlRequest(socketPath_, line, 70'000);
    INFO(line);
    if (!r)
        INFO(r.error().message);
    REQUIRE(r.ok());
    return *r;
}

void Camera::waitFor(const std::string &key, int64_t value, int timeoutMs)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    std::string last;
    for (;;) {
        last = status();
        if (jsonInt(last, key).value_or(INT64_MIN) >= value)
            return;
        if (std::chrono::steady_clock::now() > deadline)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(last);
    FAIL("status field " + key + " did not reach " + std::to_string(value));
}

void Camera::waitForState(const std::string &state, int timeoutMs)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    std::string last;
    for (;;) {
        last = status();
        if (jsonString(last, "state") == state)
            return;
        if (std::chrono::steady_clock::now() > deadline)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(last);
    FAIL("state did not become " + state);
}

std::vector<v1::Manifest> Camera::manifests() const
{
    std::vector<v1::Manifest> out;
    for (auto &entry : chainSegment())
        out.push_back(entry.first);
    return out;
}

std::vector<std::pair<v1::Manifest, crypto::Digest>> Camera::chainSegment() const
{
    static const std::unique_ptr<crypto::Backend> backend = crypto::makeMbedtlsBackend();
    std::vector<std::pair<v1::Manifest, crypto::Digest>> out;
    const fs::path dir = dir_ + "/data/chain/manifests";
    if (!fs::exists(dir))
        return out;
    for (const auto &entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".bwcm")
            continue;
        auto bytes = readFile(entry.path().string());
        REQUIRE(bytes.ok());
        auto signedManifest = chain::parseSignedManifest(*bytes);
        REQUIRE(signedManifest.ok());
        auto manifest = chain::parseManifest(*signedManifest);
        REQUIRE(manifest.ok());
        out.emplace_back(*manifest, chain::manifestSha256(*backend, *signedManifest));
    }
    std::sort(out.begin(), out.end(),
              [](const auto &a, const auto &b) { return a.first.seq() < b.first.seq(); });
    return out;
}

std::vector<Camera::Clip> Camera::clips() const
{
    std::vector<Clip> out;
    for (const v1::Manifest &m : manifests()) {
        if (m.kind() != v1::MANIFEST_KIND_CLIP && m.kind() != v1::MANIFEST_KIND_INTERRUPTED)
            continue;
        container::ClipUuid uuid{};
        REQUIRE(m.clip_uuid().size() == uuid.size());
        std::copy(m.clip_uuid().begin(), m.clip_uuid().end(), uuid.begin());
        char seqName[32];
        std::snprintf(seqName, sizeof seqName, "%020llu.bwcm", (unsigned long long)m.seq());
        out.push_back({dir_ + "/data/clips/" + container::uuidToString(uuid) + ".bwcclip",
                       dir_ + "/data/chain/manifests/" + seqName, m});
    }
    return out;
}

CommandResult Camera::verify(const Clip &clip, bool withKey) const
{
    std::vector<std::string> argv = {BWC_TOOL,
                                     "verify",
                                     clip.clipPath,
                                     "--ca",
                                     dir_ + "/pki/ca.pem",
                                     "--crl",
                                     dir_ + "/pki/crl.pem",
                                     "--cert",
                                     dir_ + "/pki/devices/" + kDeviceId + ".pem",
                                     "--manifest",
                                     clip.manifestPath,
                                     "--json"};
    if (withKey) {
        argv.push_back("--key");
        argv.push_back(dir_ + "/pki/recipients/aek.key");
    }
    return runCommand(argv);
}

std::string Camera::open(const Clip &clip, const std::string &name) const
{
    const std::string out = dir_ + "/" + name + ".mp4";
    CommandResult r =
        runCommand({BWC_TOOL, "open", clip.clipPath, "--key", dir_ + "/pki/recipients/aek.key",
                    "--manifest", clip.manifestPath, "--out", out});
    INFO(r.output);
    REQUIRE(r.exitCode == 0);
    return out;
}

crypto::P256KeyPair Camera::agencyKey(const crypto::Backend &backend) const
{
    auto blocks = crypto::readPemFile(dir_ + "/pki/recipients/aek.key", "PRIVATE KEY");
    REQUIRE(blocks.ok());
    auto key = backend.parsePrivateKeyDer(blocks->front());
    REQUIRE(key.ok());
    return *key;
}

std::string Camera::log() const
{
    auto text = readTextFile(logPath_);
    return text ? *text : std::string();
}

namespace {

struct FormatCloser {
    void operator()(AVFormatContext *c) const { avformat_close_input(&c); }
};
struct CodecCloser {
    void operator()(AVCodecContext *c) const { avcodec_free_context(&c); }
};
struct FrameCloser {
    void operator()(AVFrame *f) const { av_frame_free(&f); }
};
struct PacketCloser {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};

} // namespace

DecodedMedia decodeMp4(const std::string &path, std::vector<uint64_t> &counters, unsigned keepEvery)
{
    DecodedMedia media;
    AVFormatContext *raw = nullptr;
    REQUIRE(avformat_open_input(&raw, path.c_str(), nullptr, nullptr) == 0);
    std::unique_ptr<AVFormatContext, FormatCloser> fmt(raw);
    REQUIRE(avformat_find_stream_info(fmt.get(), nullptr) >= 0);
    int videoIndex = -1;
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        media.codecs.push_back(avcodec_get_name(fmt->streams[i]->codecpar->codec_id));
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && videoIndex < 0)
            videoIndex = int(i);
    }
    REQUIRE(videoIndex >= 0);
    AVStream *stream = fmt->streams[videoIndex];
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    REQUIRE(codec != nullptr);
    std::unique_ptr<AVCodecContext, CodecCloser> dec(avcodec_alloc_context3(codec));
    REQUIRE(avcodec_parameters_to_context(dec.get(), stream->codecpar) >= 0);
    dec->thread_count = 1;
    REQUIRE(avcodec_open2(dec.get(), codec, nullptr) == 0);
    std::unique_ptr<AVFrame, FrameCloser> frame(av_frame_alloc());
    std::unique_ptr<AVPacket, PacketCloser> pkt(av_packet_alloc());
    const double tb = av_q2d(stream->time_base);
    uint64_t index = 0;
    auto drain = [&] {
        while (avcodec_receive_frame(dec.get(), frame.get()) == 0) {
            REQUIRE(frame->format == AV_PIX_FMT_YUV420P);
            auto counter = fw::readFrameCounter(frame->data[0], frame->linesize[0],
                                                uint32_t(frame->width), uint32_t(frame->height));
            counters.push_back(counter.value_or(UINT64_MAX));
            if (keepEvery != 0 && index % keepEvery == 0) {
                DecodedFrame d{fw::Frame(uint32_t(frame->width), uint32_t(frame->height)),
                               frame->pict_type == AV_PICTURE_TYPE_I,
                               double(frame->best_effort_timestamp) * tb};
                for (int p = 0; p < 3; ++p)
                    for (uint32_t y = 0; y < d.frame.planeHeight(p); ++y)
                        std::memcpy(d.frame.plane(p) + size_t(y) * size_t(d.frame.stride(p)),
                                    frame->data[p] + size_t(y) * size_t(frame->linesize[p]),
                                    d.frame.planeWidth(p));
                media.frames.push_back(std::move(d));
            }
            ++index;
        }
    };
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == videoIndex) {
            if (media.videoPackets++ == 0)
                media.firstPacketKey = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
            REQUIRE(avcodec_send_packet(dec.get(), pkt.get()) == 0);
            drain();
        } else {
            ++media.audioPackets;
        }
        av_packet_unref(pkt.get());
    }
    avcodec_send_packet(dec.get(), nullptr);
    drain();
    return media;
}

// Decrypts a clip's media stream to `mp4Path`; returns the metadata records.
std::vector<v1::MetadataRecord> openClip(const crypto::Backend &backend,
                                         const crypto::P256KeyPair &key,
                                         const std::string &clipPath, const std::string &mp4Path)
{
    auto reader = container::ClipReader::open(backend, clipPath);
    REQUIRE(reader.ok());
    REQUIRE((*reader)->unlock(key).ok());
    std::ofstream out(mp4Path, std::ios::binary);
    Bytes metadata;
    container::ReadOptions options;
    options.decrypt = true;
    options.sink = [&](uint8_t stream, ByteView plain) -> Expected<void> {
        if (stream == container::kMediaStreamId)
            out.write(reinterpret_cast<const char *>(plain.data()), std::streamsize(plain.size()));
        else
            metadata.insert(metadata.end(), plain.begin(), plain.end());
        return {};
    };
    auto read = (*reader)->read(options);
    if (!read)
        INFO(read.error().message);
    REQUIRE(read.ok());
    out.close();
    auto records = container::parseMetadataStream(metadata);
    REQUIRE(records.ok());
    return *records;
}

double lumaPsnr(const fw::Frame &a, const fw::Frame &b, uint32_t x0, uint32_t y0, uint32_t x1,
                uint32_t y1)
{
    double sse = 0;
    uint64_t n = 0;
    for (uint32_t y = y0; y < y1; ++y)
        for (uint32_t x = x0; x < x1; ++x) {
            const double d = double(a.plane(0)[size_t(y) * size_t(a.stride(0)) + x]) -
                             double(b.plane(0)[size_t(y) * size_t(b.stride(0)) + x]);
            sse += d * d;
            ++n;
        }
    if (n == 0 || sse == 0)
        return 99.0;
    return 10.0 * std::log10(255.0 * 255.0 / (sse / double(n)));
}

} // namespace bwc::test
