#pragma once

// The capture side of the camera: video source -> watermark -> H.264 encoder, and audio
// source -> AAC encoder, each on its own thread, both feeding the packet router. Nothing
// here touches storage.
//
// Timestamps: each track's packets carry 90 kHz timestamps from its own sample clock
// (frame index, sample index). The pipeline anchors both on CLOCK_MONOTONIC at their
// first packet, so video and audio share one timeline without per-packet jitter.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "firmware/audio/aac_encoder.h"
#include "firmware/audio/audio_source.h"
#include "firmware/camd/packet_router.h"
#include "firmware/capture/video_source.h"
#include "firmware/encode/video_encoder.h"
#include "firmware/overlay/watermark.h"

namespace bwc::fw {

struct PipelineOptions {
    VideoSourceOptions video;
    VideoEncoderOptions encoder;
    std::optional<AudioSourceOptions> audio; // nullopt: no audio track
    uint32_t audioBitrateKbps = 96;
    std::string fontPath;
};

struct PipelineStats {
    std::string videoSource;
    std::string audioSource;
    uint64_t frames = 0;        // frames encoded
    uint64_t droppedFrames = 0; // gaps in the source's frame index
    uint64_t lastFrameIndex = 0;
    int64_t lastFrameMonoNs = 0;
    uint64_t audioBlocks = 0;
    uint64_t sourceErrors = 0;
    uint64_t watermarkRenders = 0;
    std::string lastError;
};

class Pipeline
{
public:
    // Opens the sources and encoders (their errors name the config field to fix).
    // `fields` gives the watermark's content for a frame's capture time; it is called at
    // most once per second of capture time.
    static Expected<std::unique_ptr<Pipeline>>
    create(const PipelineOptions &options, PacketRouter &router,
           std::function<WatermarkFields(int64_t frameMonoNs)> fields);
    ~Pipeline();
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;

    const StreamParams &videoParams() const;
    std::optional<StreamParams> audioParams() const;

    // Starts the capture threads.
    Expected<void> start();
    void stop();

    // Runs the video path on the calling thread for `frames` frames (tests and benchmarks,
    // with unpaced sources; do not mix with start()).
    Expected<void> runVideoFrames(uint64_t frames);
    // Same for the audio path, `blocks` blocks.
    Expected<void> runAudioBlocks(uint64_t blocks);

    PipelineStats stats() const;

private:
    Pipeline(PacketRouter &router, std::function<WatermarkFields(int64_t)> fields);
    Expected<bool> videoStep(int timeoutMs);
    Expected<bool> audioStep(int timeoutMs);
    void videoLoop();
    void audioLoop();
    void noteError(const Error &error);
    void forward(const PacketView &packet, std::optional<int64_t> &offset);

    PacketRouter &router_;
    std::function<WatermarkFields(int64_t)> fields_;
    std::unique_ptr<VideoSource> video_;
    std::unique_ptr<VideoEncoder> encoder_;
    std::unique_ptr<Watermark> watermark_;
    std::unique_ptr<AudioSource> audio_;
    std::unique_ptr<AacEncoder> aac_;
    int64_t lastWatermarkSecond_ = INT64_MIN;
    std::optional<int64_t> videoOffset_; // ticks added to the video track's timestamps
    std::optional<int64_t> audioOffset_;
    int64_t epochMonoNs_ = 0; // the shared timeline's zero
    std::optional<uint64_t> prevIndex_;
    PacketSink videoSink_;
    PacketSink audioSink_;

    std::thread videoThread_;
    std::thread audioThread_;
    std::atomic<bool> running_{false};
    mutable std::mutex statsMutex_;
    PipelineStats stats_;
};

} // namespace bwc::fw
