// The V4L2 source: single-planar video capture with MMAP streaming I/O (USB cameras, CSI
// bridges, the kernel's vivid test driver). NV12 and YUYV are converted to I420 with our own
// loops, MJPEG is decoded with libavcodec; a size the driver adjusted is scaled back to the
// requested one with libswscale. A device that fails or disappears is closed and reopened on
// later next() calls, at most once a second.

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "firmware/capture/av_util.h"
#include "firmware/capture/mapped_buffer.h"
#include "firmware/capture/pacer.h"
#include "firmware/capture/platform/v4l2/v4l2_convert.h"
#include "firmware/capture/sources.h"

namespace bwc::fw {

namespace {

constexpr unsigned kBufferCount = 4;
constexpr int64_t kNsPerSecond = 1'000'000'000;

int xioctl(int fd, unsigned long request, void *arg)
{
    int r = 0;
    do {
        r = ::ioctl(fd, request, arg);
    } while (r == -1 && errno == EINTR);
    return r;
}

std::string errnoText(int err)
{
    return std::strerror(err);
}

bool isMjpeg(uint32_t fourcc)
{
    return fourcc == V4L2_PIX_FMT_MJPEG || fourcc == V4L2_PIX_FMT_JPEG;
}

class V4l2Source final : public VideoSource
{
public:
    static Expected<std::unique_ptr<VideoSource>> open(const VideoSourceOptions &options);
    ~V4l2Source() override { closeDevice(); }

    std::string describe() const override;
    VideoFormat format() const override { return format_; }
    Expected<void> start() override;
    Expected<Frame *> next(int timeoutMs) override;
    void stop() override;

private:
    explicit V4l2Source(const VideoSourceOptions &options)
        : device_(options.device), pixelFormat_(options.pixelFormat), requested_(options.format),
          format_(options.format), frame_(options.format.width, options.format.height)
    {
    }

    std::string prefix() const { return "v4l2 " + device_ + ": "; }
    Error ioctlError(const char *request, int err, const std::string &hint = {}) const
    {
        return Error(Errc::Device, prefix() + request + " failed: " + errnoText(err) + hint);
    }
    // Opens the node and negotiates format and frame rate.
    Expected<void> openDevice();
    Expected<void> negotiateFrameRate();
    Expected<void> startStreaming();
    void stopStreaming();
    void closeDevice();
    // Closes everything after a failure and schedules the reopen.
    Error lose(const std::string &what, int err);
    // Reopens a lost device when the reopen interval allows, waiting at most until deadline.
    Expected<void> reopen(int64_t deadlineNs);
    // Converts the dequeued buffer into frame_; false when the buffer holds no usable picture.
    Expected<bool> convert(const v4l2_buffer &buffer);
    void assignIndex(const v4l2_buffer &buffer);

    std::string device_;
    std::string pixelFormat_;
    VideoFormat requested_;
    VideoFormat format_; // requested size, the frame rate the driver accepted

    UniqueFd fd_;
    std::string driver_;
    std::string card_;
    std::vector<MappedBuffer> buffers_;
    bool streaming_ = false;
    uint32_t fourcc_ = 0;
    uint32_t captureWidth_ = 0;
    uint32_t captureHeight_ = 0;
    uint32_t bytesPerLine_ = 0;

    Frame frame_;
    FrameScaler scaler_;
    AvCodecContextPtr mjpeg_;
    AvPacketPtr packet_;
    AvFramePtr decoded_;

    bool started_ = false;
    ReopenGate gate_;

    SequenceIndexer indexer_;
};

std::string V4l2Source::describe() const
{
    std::string text = "v4l2:" + device_;
    if (fourcc_ != 0) {
        text += " " + v4l2::fourccName(fourcc_) + " " + std::to_string(captureWidth_) + "x" +
                std::to_string(captureHeight_) + "@" + std::to_string(format_.fps);
        if (captureWidth_ != format_.width || captureHeight_ != format_.height)
            text += " scaled to " + std::to_string(format_.width) + "x" +
                    std::to_string(format_.height);
    }
    if (!card_.empty())
        text += " (" + card_ + ")";
    if (gate_.lost())
        text += " [lost]";
    return text;
}

Expected<std::unique_ptr<VideoSource>> V4l2Source::open(const VideoSourceOptions &options)
{
    auto source = std::unique_ptr<V4l2Source>(new V4l2Source(options));
    source->packet_.reset(av_packet_alloc());
    source->decoded_.reset(av_frame_alloc());
    if (!source->packet_ || !source->decoded_)
        return Error(Errc::Internal, source->prefix() + "out of memory allocating frames");
    BWC_TRY(source->openDevice());
    return std::unique_ptr<VideoSource>(std::move(source));
}

Expected<void> V4l2Source::openDevice()
{
    UniqueFd fd(::open(device_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.isValid()) {
        const int err = errno;
        std::string hint;
        if (err == ENOENT || err == ENODEV || err == ENXIO)
            hint = "; check video.device in the board config and that the camera is connected";
        else if (err == EACCES || err == EPERM)
            hint = "; give the service user access (group video)";
        else if (err == EBUSY)
            hint = "; another program is using the camera";
        return Error(Errc::Device, prefix() + "cannot open: " + errnoText(err) + hint);
    }

    v4l2_capability cap{};
    if (xioctl(fd.get(), VIDIOC_QUERYCAP, &cap) != 0) {
        const int err = errno;
        if (err == ENOTTY || err == EINVAL)
            return Error(Errc::Device,
                         prefix() + "is not a V4L2 device (VIDIOC_QUERYCAP: " + errnoText(err) +
                             "); check video.device in the board config");
        return ioctlError("VIDIOC_QUERYCAP", err);
    }
    driver_.assign(reinterpret_cast<const char *>(cap.driver),
                   strnlen(reinterpret_cast<const char *>(cap.driver), sizeof cap.driver));
    card_.assign(reinterpret_cast<const char *>(cap.card),
                 strnlen(reinterpret_cast<const char *>(cap.card), sizeof cap.card));
    const uint32_t caps =
        (cap.capabilities & V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities;
    const std::string identity = " (driver " + driver_ + ", card " + card_ + ")";
    if ((caps & V4L2_CAP_VIDEO_CAPTURE) == 0) {
        const bool mplane = (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0;
        return Error(Errc::Device,
                     prefix() + "is not a single-planar video capture device" + identity +
                         (mplane ? "; it is multi-planar: use the libcamera source for it"
                                 : "; check video.device (metadata and output nodes share "
                                   "the /dev/video numbering)"));
    }
    if ((caps & V4L2_CAP_STREAMING) == 0)
        return Error(Errc::Device, prefix() + "does not support streaming I/O" + identity);

    std::vector<uint32_t> offered;
    for (uint32_t i = 0; i < 64; ++i) {
        v4l2_fmtdesc desc{};
        desc.index = i;
        desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (xioctl(fd.get(), VIDIOC_ENUM_FMT, &desc) != 0)
            break; // EINVAL past the last format
        offered.push_back(desc.pixelformat);
    }
    auto chosen = v4l2::chooseCaptureFormat(offered, pixelFormat_);
    if (!chosen)
        return std::move(chosen).error().context("v4l2 " + device_);

    v4l2_format fmt{};
    fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    fmt.fmt.pix.width = requested_.width;
    fmt.fmt.pix.height = requested_.height;
    fmt.fmt.pix.pixelformat = *chosen;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    if (xioctl(fd.get(), VIDIOC_S_FMT, &fmt) != 0)
        return ioctlError("VIDIOC_S_FMT", errno,
                          "; check video.width, video.height and video.pixel_format in the "
                          "board config");
    const v4l2_pix_format &pix = fmt.fmt.pix;
    if (pix.pixelformat != *chosen)
        return Error(Errc::Device, prefix() + "the driver replaced pixel format " +
                                       v4l2::fourccName(*chosen) + " by " +
                                       v4l2::fourccName(pix.pixelformat) +
                                       "; set video.pixel_format to a format it keeps");
    if (pix.width < 2 || pix.height < 2)
        return Error(Errc::Device, prefix() + "the driver set an unusable size " +
                                       std::to_string(pix.width) + "x" +
                                       std::to_string(pix.height));
    uint32_t minLine = pix.width;
    if (pix.pixelformat == V4L2_PIX_FMT_YUYV)
        minLine = pix.width * 2;
    bytesPerLine_ = isMjpeg(pix.pixelformat) ? 0 : std::max(pix.bytesperline, minLine);
    fourcc_ = pix.pixelformat;
    captureWidth_ = pix.width;
    captureHeight_ = pix.height;
    if (captureWidth_ != requested_.width || captureHeight_ != requested_.height)
        log::info(prefix() + "the driver set " + std::to_string(captureWidth_) + "x" +
                  std::to_string(captureHeight_) + " instead of " +
                  std::to_string(requested_.width) + "x" + std::to_string(requested_.height) +
                  "; frames are scaled to the requested size");

    if (isMjpeg(fourcc_) && !mjpeg_) {
        const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
        if (codec == nullptr)
            return Error(Errc::Config, prefix() + "this FFmpeg has no MJPEG decoder; set "
                                                  "video.pixel_format to YUYV or NV12");
        AvCodecContextPtr ctx(avcodec_alloc_context3(codec));
        if (!ctx)
            return Error(Errc::Internal, prefix() + "out of memory allocating the decoder");
        ctx->thread_count = 1;
        const int err = avcodec_open2(ctx.get(), codec, nullptr);
        if (err < 0)
            return Error(Errc::Internal,
                         prefix() + "cannot open the MJPEG decoder: " + avErrorText(err));
        mjpeg_ = std::move(ctx);
    }

    fd_ = std::move(fd);
    BWC_TRY(negotiateFrameRate());
    return {};
}

Expected<void> V4l2Source::negotiateFrameRate()
{
    v4l2_streamparm parm{};
    parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    parm.parm.capture.timeperframe.numerator = 1;
    parm.parm.capture.timeperframe.denominator = requested_.fps;
    bool known = false;
    if (xioctl(fd_.get(), VIDIOC_S_PARM, &parm) == 0 &&
        (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) != 0)
        known = true;
    if (!known) {
        parm = v4l2_streamparm{};
        parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        known = xioctl(fd_.get(), VIDIOC_G_PARM, &parm) == 0;
    }
    const v4l2_fract &tpf = parm.parm.capture.timeperframe;
    if (known && tpf.numerator != 0 && tpf.denominator != 0) {
        const double fps = static_cast<double>(tpf.denominator) / tpf.numerator;
        format_.fps = static_cast<uint32_t>(std::clamp(std::lround(fps), 1L, 120L));
    } else {
        format_.fps = requested_.fps;
        log::info(prefix() + "the driver does not report its frame rate; assuming " +
                  std::to_string(format_.fps) + " fps");
    }
    if (format_.fps != requested_.fps)
        log::warn(prefix() + "the driver set " + std::to_string(format_.fps) + " fps instead of " +
                  std::to_string(requested_.fps));
    return {};
}

Expected<void> V4l2Source::startStreaming()
{
    v4l2_requestbuffers req{};
    req.count = kBufferCount;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    if (xioctl(fd_.get(), VIDIOC_REQBUFS, &req) != 0)
        return ioctlError("VIDIOC_REQBUFS", errno);
    if (req.count < 2)
        return Error(Errc::Device, prefix() + "the driver granted only " +
                                       std::to_string(req.count) + " capture buffer(s)");
    buffers_.clear();
    buffers_.reserve(req.count);
    for (uint32_t i = 0; i < req.count; ++i) {
        v4l2_buffer buf{};
        buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        buf.memory = V4L2_MEMORY_MMAP;
        buf.index = i;
        if (xioctl(fd_.get(), VIDIOC_QUERYBUF, &buf) != 0)
            return ioctlError("VIDIOC_QUERYBUF", errno);
        void *addr = ::mmap(nullptr, buf.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                            buf.m.offset);
        if (addr == MAP_FAILED)
            return Error(Errc::Device, prefix() + "mmap of capture buffer " + std::to_string(i) +
                                           " failed: " + errnoText(errno));
        buffers_.emplace_back(addr, buf.length);
    }
    for (uint32_t i = 0; i < buffers_.size(); ++i) {
        v4l2_buffer buf{};
        buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        buf.memory = V4L2_MEMORY_MMAP;
        buf.index = i;
        if (xioctl(fd_.get(), VIDIOC_QBUF, &buf) != 0)
            return ioctlError("VIDIOC_QBUF", errno);
    }
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd_.get(), VIDIOC_STREAMON, &type) != 0)
        return ioctlError("VIDIOC_STREAMON", errno);
    streaming_ = true;
    indexer_.newSession();
    return {};
}

void V4l2Source::stopStreaming()
{
    if (fd_.isValid() && streaming_) {
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        xioctl(fd_.get(), VIDIOC_STREAMOFF, &type);
    }
    streaming_ = false;
    const bool hadBuffers = !buffers_.empty();
    buffers_.clear(); // unmap before releasing, or REQBUFS(0) reports EBUSY
    if (fd_.isValid() && hadBuffers) {
        v4l2_requestbuffers req{};
        req.count = 0;
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        req.memory = V4L2_MEMORY_MMAP;
        xioctl(fd_.get(), VIDIOC_REQBUFS, &req);
    }
}

void V4l2Source::closeDevice()
{
    stopStreaming();
    fd_.reset();
}

Error V4l2Source::lose(const std::string &what, int err)
{
    closeDevice();
    return gate_.lose(Error(Errc::Device, prefix() + "device lost (" + what + ": " +
                                              errnoText(err) + "); reopening it every second"));
}

Expected<void> V4l2Source::reopen(int64_t deadlineNs)
{
    return gate_.attempt(
        deadlineNs,
        [this]() -> Expected<void> {
            auto opened = fd_.isValid() ? Expected<void>() : openDevice();
            if (opened)
                opened = startStreaming();
            if (!opened)
                closeDevice();
            return opened;
        },
        describe());
}

Expected<void> V4l2Source::start()
{
    if (started_)
        return {};
    if (!fd_.isValid()) {
        BWC_TRY(openDevice());
        gate_.clear();
    }
    if (auto streaming = startStreaming(); !streaming) {
        stopStreaming();
        return streaming;
    }
    started_ = true;
    return {};
}

void V4l2Source::stop()
{
    stopStreaming();
    started_ = false;
}

Expected<bool> V4l2Source::convert(const v4l2_buffer &buffer)
{
    const MappedBuffer &mapped = buffers_[buffer.index];
    const size_t used =
        buffer.bytesused != 0 ? std::min<size_t>(buffer.bytesused, mapped.length()) : 0;
    const uint8_t *data = mapped.data();
    const bool sameSize = captureWidth_ == frame_.width() && captureHeight_ == frame_.height();
    const auto w = static_cast<int>(captureWidth_);
    const auto h = static_cast<int>(captureHeight_);
    const auto line = static_cast<int>(bytesPerLine_);
    Expected<void> scaled;

    if (fourcc_ == V4L2_PIX_FMT_YUYV) {
        if (used < static_cast<size_t>(bytesPerLine_) * captureHeight_)
            return false; // short frame
        if (sameSize) {
            v4l2::yuyvToI420(data, bytesPerLine_, frame_);
        } else {
            const uint8_t *planes[4] = {data, nullptr, nullptr, nullptr};
            const int strides[4] = {line, 0, 0, 0};
            scaled = scaler_.scale(planes, strides, w, h, AV_PIX_FMT_YUYV422, frame_);
        }
    } else if (fourcc_ == V4L2_PIX_FMT_NV12) {
        const size_t lumaSize = static_cast<size_t>(bytesPerLine_) * captureHeight_;
        if (used < lumaSize + lumaSize / 2)
            return false;
        if (sameSize) {
            v4l2::nv12ToI420(data, bytesPerLine_, data + lumaSize, bytesPerLine_, frame_);
        } else {
            const uint8_t *planes[4] = {data, data + lumaSize, nullptr, nullptr};
            const int strides[4] = {line, line, 0, 0};
            scaled = scaler_.scale(planes, strides, w, h, AV_PIX_FMT_NV12, frame_);
        }
    } else {
        if (used == 0)
            return false;
        // Not reference-counted: libavcodec copies the data into its own padded buffer.
        av_packet_unref(packet_.get());
        packet_->data = const_cast<uint8_t *>(data);
        packet_->size = static_cast<int>(used);
        int err = avcodec_send_packet(mjpeg_.get(), packet_.get());
        packet_->data = nullptr;
        packet_->size = 0;
        if (err == AVERROR_INVALIDDATA)
            return false; // a damaged JPEG from the camera: drop it
        if (err < 0)
            return Error(Errc::Device, prefix() + "MJPEG decoding failed: " + avErrorText(err));
        err = avcodec_receive_frame(mjpeg_.get(), decoded_.get());
        if (err == AVERROR(EAGAIN) || err == AVERROR_INVALIDDATA)
            return false;
        if (err < 0)
            return Error(Errc::Device, prefix() + "MJPEG decoding failed: " + avErrorText(err));
        scaled = scaler_.scale(*decoded_, frame_);
        av_frame_unref(decoded_.get());
    }
    if (!scaled)
        return std::move(scaled).error().context("v4l2 " + device_);
    return true;
}

void V4l2Source::assignIndex(const v4l2_buffer &buffer)
{
    int64_t monoNs = 0;
    if ((buffer.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        monoNs = static_cast<int64_t>(buffer.timestamp.tv_sec) * kNsPerSecond +
                 static_cast<int64_t>(buffer.timestamp.tv_usec) * 1000;
    else
        monoNs = monoNowNs();
    frame_.index = indexer_.assign(buffer.sequence, monoNs, format_.fps);
    frame_.monoNs = monoNs;
}

Expected<Frame *> V4l2Source::next(int timeoutMs)
{
    if (!started_)
        return Error(Errc::Internal, prefix() + "next() called before start()");
    const int64_t deadlineNs =
        monoNowNs() + static_cast<int64_t>(std::max(timeoutMs, 0)) * 1'000'000;
    if (gate_.lost() || !streaming_)
        BWC_TRY(reopen(deadlineNs));

    for (;;) {
        const int64_t remainingNs = std::max<int64_t>(deadlineNs - monoNowNs(), 0);
        pollfd pfd{fd_.get(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>((remainingNs + 999'999) / 1'000'000));
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return lose("poll", errno);
        }
        if (ready == 0)
            return static_cast<Frame *>(nullptr);
        if ((pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
            return lose("poll", (pfd.revents & POLLNVAL) != 0 ? EBADF : EIO);

        v4l2_buffer buf{};
        buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        buf.memory = V4L2_MEMORY_MMAP;
        if (xioctl(fd_.get(), VIDIOC_DQBUF, &buf) != 0) {
            if (errno == EAGAIN)
                continue;
            return lose("VIDIOC_DQBUF", errno);
        }
        Expected<bool> converted = false;
        if ((buf.flags & V4L2_BUF_FLAG_ERROR) == 0 && buf.index < buffers_.size())
            converted = convert(buf);
        else
            log::debug(prefix() + "dropped a buffer the driver marked as damaged");
        const uint32_t index = buf.index;
        v4l2_buffer requeue{};
        requeue.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        requeue.memory = V4L2_MEMORY_MMAP;
        requeue.index = index;
        if (index < buffers_.size() && xioctl(fd_.get(), VIDIOC_QBUF, &requeue) != 0)
            return lose("VIDIOC_QBUF", errno);
        if (!converted)
            return std::move(converted).error();
        if (!*converted) {
            // Not delivered: the next index shows the gap.
            if (monoNowNs() >= deadlineNs)
                return static_cast<Frame *>(nullptr);
            continue;
        }
        assignIndex(buf);
        return &frame_;
    }
}

} // namespace

Expected<std::unique_ptr<VideoSource>> openV4l2Source(const VideoSourceOptions &options)
{
    return V4l2Source::open(options);
}

} // namespace bwc::fw
