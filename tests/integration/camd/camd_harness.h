#pragma once

// Runs the real bwc-camd (and the bwc tool) for the firmware's end-to-end tests: a
// provisioned agency PKI in a temp folder, a simulated-board configuration, the daemon
// as a child process operated over its control socket, and the clips it leaves behind
// verified and opened with `bwc`, then decoded with libavcodec.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/clip.pb.h"
#include "bwc/v1/manifest.pb.h"
#include "common/crypto/crypto.h"
#include "firmware/media/frame.h"

namespace bwc::test {

struct CommandResult {
    int exitCode = -1;
    std::string output; // stdout and stderr together
};
CommandResult runCommand(const std::vector<std::string> &argv);

// First occurrence of "key":<number> / "key":"<text>" in a JSON text (the status
// response's field names are unique).
std::optional<int64_t> jsonInt(const std::string &json, const std::string &key);
std::optional<std::string> jsonString(const std::string &json, const std::string &key);

struct CameraSettings {
    uint32_t width = 320;
    uint32_t height = 240;
    uint32_t fps = 30;
    uint32_t bitrateKbps = 600;
    uint32_t prerecordSeconds = 5;
    bool audio = true;
    uint64_t reserveBytes = 16ull << 20;
    std::string officerId = "OFC-7";
};

class Camera
{
public:
    // Creates <tmp>/pki (CA, device CAM-T1, recipient aek), <tmp>/camd.conf and the
    // officer assignment. REQUIREs on failure.
    explicit Camera(const CameraSettings &settings = {});
    ~Camera();
    Camera(const Camera &) = delete;
    Camera &operator=(const Camera &) = delete;

    // Starts bwc-camd and waits until its control socket answers.
    void start();
    // SIGTERM and wait (clean shutdown); returns the exit code.
    int stop();
    // SIGKILL: the power cut.
    void kill();
    bool running() const { return pid_ > 0; }

    std::string request(const std::string &line);
    std::string status() { return request("status"); }
    // Polls status until `key` (an integer field) reaches at least `value`.
    void waitFor(const std::string &key, int64_t value, int timeoutMs);
    void waitForState(const std::string &state, int timeoutMs);

    struct Clip {
        std::string clipPath;
        std::string manifestPath;
        v1::Manifest manifest;
    };
    // Every clip file with the manifest covering it, by seq.
    std::vector<Clip> clips() const;
    // Every manifest in the chain journal, by seq.
    std::vector<v1::Manifest> manifests() const;
    // The same with each manifest's hash, for chain::verifyChainSegment.
    std::vector<std::pair<v1::Manifest, crypto::Digest>> chainSegment() const;

    // `bwc verify --json` with the agency CA, CRL and (optionally) the evidence key.
    CommandResult verify(const Clip &clip, bool withKey) const;
    // The agency evidence key of the test PKI.
    crypto::P256KeyPair agencyKey(const crypto::Backend &backend) const;
    // `bwc open` to <dir>/<name>.mp4; returns the path.
    std::string open(const Clip &clip, const std::string &name) const;

    const std::string &dir() const { return dir_; }
    const std::string &logPath() const { return logPath_; }
    std::string log() const;
    const CameraSettings &settings() const { return settings_; }
    static constexpr const char *kDeviceId = "CAM-T1";

private:
    CameraSettings settings_;
    std::string dir_;
    std::string configPath_;
    std::string socketPath_;
    std::string logPath_;
    pid_t pid_ = -1;
};

// A decoded picture (I420) and whether the stream marked it a keyframe.
struct DecodedFrame {
    fw::Frame frame;
    bool keyframe = false;
    double ptsSeconds = 0;
};
struct DecodedMedia {
    std::vector<std::string> codecs; // per stream, in order: "h264", "aac"
    std::vector<DecodedFrame> frames;
    uint64_t audioPackets = 0;
    uint64_t videoPackets = 0;
    bool firstPacketKey = false; // the container marks the first video packet a keyframe
};
// Demuxes and decodes the MP4; keeps every `keepEvery`-th picture's pixels (0: none;
// counters are still read from all frames into `counters`).
DecodedMedia decodeMp4(const std::string &path, std::vector<uint64_t> &counters,
                       unsigned keepEvery = 0);

// Decrypts a clip with the agency key in-process: the media stream to `mp4Path`; returns
// the metadata stream's records.
std::vector<v1::MetadataRecord> openClip(const crypto::Backend &backend,
                                         const crypto::P256KeyPair &key,
                                         const std::string &clipPath, const std::string &mp4Path);

// PSNR of the luma of two frames over a rectangle.
double lumaPsnr(const fw::Frame &a, const fw::Frame &b, uint32_t x0, uint32_t y0, uint32_t x1,
                uint32_t y1);

} // namespace bwc::test
