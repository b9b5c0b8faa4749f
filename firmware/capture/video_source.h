#pragma once

// Video sources behind one interface: V4L2 (USB and CSI bridges), libcamera (ISP cameras),
// a deterministic synthetic source and a file source (libavformat replay) for tests.
// Every source delivers I420 frames of the negotiated size.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/error.h"
#include "firmware/media/frame.h"

namespace bwc::fw {

class VideoSource
{
public:
    virtual ~VideoSource() = default;
    // "synthetic", "file:<path>", "v4l2:/dev/video0 YUYV", "libcamera:<id>": for logs and status.
    virtual std::string describe() const = 0;
    // The format actually negotiated (may differ from what was asked, e.g. the frame rate).
    virtual VideoFormat format() const = 0;
    virtual Expected<void> start() = 0;
    // Waits up to timeoutMs for the next frame. nullptr on timeout. The frame stays valid
    // (and the caller may draw on it) until the next call to next() or stop().
    // Errc::Device when the device failed or disappeared; the source then tries to reopen
    // it on later calls (at most once a second), so the caller just keeps calling.
    virtual Expected<Frame *> next(int timeoutMs) = 0;
    virtual void stop() = 0;
};

struct VideoSourceOptions {
    // "synthetic", "file", "v4l2" or "libcamera".
    std::string kind = "synthetic";
    // File path (file), device node (v4l2), camera id or empty for the first (libcamera).
    std::string device;
    VideoFormat format{1280, 720, 30};
    // V4L2 only: "YUYV", "NV12", "MJPEG", or empty to take the best the device offers.
    std::string pixelFormat;
    // Synthetic and file sources: true delivers frames in real time (the daemon); false as
    // fast as they are asked for, with timestamps of a simulated clock (tests, benchmarks).
    bool paced = true;
    // File source: start again at the end instead of reporting the end (a nullptr frame
    // forever).
    bool loop = true;
};

Expected<std::unique_ptr<VideoSource>> openVideoSource(const VideoSourceOptions &options);

// The synthetic source's picture for frame `index`, drawn into `frame` (the frame's own
// size): a moving colour pattern, the frame counter as a row of 32 black/white blocks
// along the top edge (readable back after lossy encoding with readFrameCounter) and the
// simulated clock. A pure function of (index, size, fps): tests render the frame the
// camera must have recorded and compare.
void renderSyntheticFrame(uint64_t index, uint32_t fps, Frame &frame);

// Reads the counter written by renderSyntheticFrame from a decoded luma plane; nullopt
// when the blocks do not decode cleanly (not a synthetic frame).
std::optional<uint64_t> readFrameCounter(const uint8_t *luma, int stride, uint32_t width,
                                         uint32_t height);

} // namespace bwc::fw
