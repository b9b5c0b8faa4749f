// The libcamera source (ISP cameras such as the Raspberry Pi camera modules): one
// VideoRecording stream in YUV420 (or NV12, converted), buffers from FrameBufferAllocator
// mapped once, one request per buffer reused for the whole session. Completed requests are
// handed from libcamera's thread to next() through a queue guarded by a mutex and condition
// variable. A camera that disappears is closed and reopened on later next() calls, at most
// once a second.

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <sys/mman.h>

#include <libcamera/camera.h>
#include <libcamera/camera_manager.h>
#include <libcamera/control_ids.h>
#include <libcamera/controls.h>
#include <libcamera/formats.h>
#include <libcamera/framebuffer.h>
#include <libcamera/framebuffer_allocator.h>
#include <libcamera/request.h>
#include <libcamera/stream.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "firmware/capture/av_util.h"
#include "firmware/capture/mapped_buffer.h"
#include "firmware/capture/pacer.h"
#include "firmware/capture/platform/v4l2/v4l2_convert.h"
#include "firmware/capture/sources.h"

namespace bwc::fw {

namespace {

namespace lc = libcamera;

// libcamera allows one CameraManager per process: every source shares it, and it stops when
// the last source goes.
Expected<std::shared_ptr<lc::CameraManager>> sharedCameraManager()
{
    static std::mutex mutex;
    static std::weak_ptr<lc::CameraManager> shared;
    std::lock_guard lock(mutex);
    if (auto manager = shared.lock())
        return manager;
    auto manager = std::make_shared<lc::CameraManager>();
    const int ret = manager->start();
    if (ret < 0)
        return Error(Errc::Device, "libcamera: the camera manager failed to start: " +
                                       std::string(std::strerror(-ret)));
    shared = manager;
    return manager;
}

class LibcameraSource final : public VideoSource
{
public:
    static Expected<std::unique_ptr<VideoSource>> open(const VideoSourceOptions &options);
    ~LibcameraSource() override { closeCamera(); }

    std::string describe() const override;
    VideoFormat format() const override { return format_; }
    Expected<void> start() override;
    Expected<Frame *> next(int timeoutMs) override;
    void stop() override;

private:
    explicit LibcameraSource(const VideoSourceOptions &options)
        : wantedId_(options.device), requested_(options.format), format_(options.format),
          frame_(options.format.width, options.format.height)
    {
    }

    std::string name() const
    {
        const std::string &id = cameraId_.empty() ? wantedId_ : cameraId_;
        return id.empty() ? std::string("libcamera") : "libcamera camera " + id;
    }
    Error deviceError(const std::string &what, int ret) const
    {
        return Error(Errc::Device, name() + ": " + what + " failed: " + std::strerror(-ret));
    }
    Expected<void> openCamera();
    Expected<void> configure();
    Expected<void> mapBuffers();
    Expected<void> startCamera();
    void stopCamera();
    void closeCamera();
    Error lose(const std::string &cause);
    Expected<void> reopen(int64_t deadlineNs);
    Expected<bool> copyOut(const lc::FrameBuffer &buffer);

    void onRequestCompleted(lc::Request *request);
    void onDisconnected();
    void onCameraRemoved(std::shared_ptr<lc::Camera> camera);

    std::string wantedId_; // empty: the first camera
    VideoFormat requested_;
    VideoFormat format_;

    std::shared_ptr<lc::CameraManager> manager_;
    std::shared_ptr<lc::Camera> camera_;
    std::string cameraId_;
    bool acquired_ = false;
    std::unique_ptr<lc::CameraConfiguration> config_;
    lc::Stream *stream_ = nullptr;
    lc::PixelFormat pixelFormat_;
    uint32_t captureWidth_ = 0;
    uint32_t captureHeight_ = 0;
    uint32_t stride_ = 0;
    std::unique_ptr<lc::FrameBufferAllocator> allocator_;
    std::vector<MappedBuffer> mappings_;
    std::map<const lc::FrameBuffer *, std::array<const uint8_t *, 3>> planes_;
    std::vector<std::unique_ptr<lc::Request>> requests_;
    bool running_ = false;
    bool frameDurationControl_ = false;

    // Shared with libcamera's thread.
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<lc::Request *> completed_;
    bool disconnected_ = false;

    Frame frame_;
    FrameScaler scaler_;
    SequenceIndexer indexer_;
    bool started_ = false;
    ReopenGate gate_;
};

std::string LibcameraSource::describe() const
{
    std::string text = "libcamera:" + (cameraId_.empty() ? wantedId_ : cameraId_);
    if (stream_ != nullptr) {
        text += " " + pixelFormat_.toString() + " " + std::to_string(captureWidth_) + "x" +
                std::to_string(captureHeight_) + "@" + std::to_string(format_.fps);
        if (captureWidth_ != format_.width || captureHeight_ != format_.height)
            text += " scaled to " + std::to_string(format_.width) + "x" +
                    std::to_string(format_.height);
    }
    if (gate_.lost())
        text += " [lost]";
    return text;
}

Expected<std::unique_ptr<VideoSource>> LibcameraSource::open(const VideoSourceOptions &options)
{
    auto source = std::unique_ptr<LibcameraSource>(new LibcameraSource(options));
    BWC_TRY(source->openCamera());
    return std::unique_ptr<VideoSource>(std::move(source));
}

Expected<void> LibcameraSource::openCamera()
{
    if (!manager_) {
        BWC_ASSIGN(manager, sharedCameraManager());
        manager_ = std::move(manager);
    }
    const auto cameras = manager_->cameras();
    if (cameras.empty())
        return Error(Errc::Device, "libcamera: no camera found (the camera manager lists "
                                   "none); check the camera cable and the board's camera "
                                   "overlay, or use the v4l2 source");
    std::shared_ptr<lc::Camera> camera =
        wantedId_.empty() ? cameras.front() : manager_->get(wantedId_);
    if (!camera) {
        std::string available;
        for (const auto &c : cameras)
            available += (available.empty() ? "" : ", ") + c->id();
        return Error(Errc::Device, "libcamera: camera '" + wantedId_ + "' not found (available: " +
                                       available + "); check video.device in the board config");
    }
    cameraId_ = camera->id();
    const int ret = camera->acquire();
    if (ret < 0)
        return deviceError("acquire (is another program using the camera?)", ret);
    camera_ = std::move(camera);
    acquired_ = true;
    camera_->requestCompleted.connect(this, &LibcameraSource::onRequestCompleted);
    camera_->disconnected.connect(this, &LibcameraSource::onDisconnected);
    manager_->cameraRemoved.connect(this, &LibcameraSource::onCameraRemoved);
    BWC_TRY(configure());
    BWC_TRY(mapBuffers());
    return {};
}

Expected<void> LibcameraSource::configure()
{
    config_ = camera_->generateConfiguration({lc::StreamRole::VideoRecording});
    if (!config_ || config_->empty())
        return Error(Errc::Device, name() + ": offers no video recording configuration");
    lc::StreamConfiguration &sc = config_->at(0);
    const lc::Size wanted(requested_.width, requested_.height);
    auto tryFormat = [&](const lc::PixelFormat &pixelFormat) {
        sc.pixelFormat = pixelFormat;
        sc.size = wanted;
        return config_->validate();
    };
    lc::CameraConfiguration::Status status = tryFormat(lc::formats::YUV420);
    if (status != lc::CameraConfiguration::Invalid && sc.pixelFormat != lc::formats::YUV420)
        status = tryFormat(lc::formats::NV12);
    if (status == lc::CameraConfiguration::Invalid ||
        (sc.pixelFormat != lc::formats::YUV420 && sc.pixelFormat != lc::formats::NV12)) {
        std::string offered;
        for (const lc::PixelFormat &f : sc.formats().pixelformats())
            offered += (offered.empty() ? "" : ", ") + f.toString();
        return Error(Errc::Device, name() + ": cannot deliver YUV420 or NV12 at " +
                                       wanted.toString() + " (offers " + offered + ")");
    }
    if (status == lc::CameraConfiguration::Adjusted)
        log::info(name() + ": configuration adjusted to " + sc.toString() + " (asked " +
                  wanted.toString() + "); frames are scaled to the requested size");
    int ret = camera_->configure(config_.get());
    if (ret < 0)
        return deviceError("configure " + sc.toString(), ret);
    stream_ = sc.stream();
    pixelFormat_ = sc.pixelFormat;
    captureWidth_ = sc.size.width;
    captureHeight_ = sc.size.height;
    stride_ = sc.stride;
    if (captureWidth_ < 2 || captureHeight_ < 2 || stride_ < captureWidth_)
        return Error(Errc::Device, name() + ": unusable configuration " + sc.toString());

    // The frame rate: what the sensor can do within FrameDurationLimits.
    format_.fps = requested_.fps;
    const auto &controls = camera_->controls();
    const auto limits = controls.find(&lc::controls::FrameDurationLimits);
    frameDurationControl_ = limits != controls.end();
    if (frameDurationControl_) {
        const int64_t minUs = limits->second.min().get<int64_t>();
        if (minUs > 0) {
            const auto maxFps = static_cast<uint32_t>(std::max<int64_t>(1'000'000 / minUs, 1));
            if (maxFps < format_.fps) {
                log::warn(name() + ": runs at most " + std::to_string(maxFps) + " fps; asked " +
                          std::to_string(requested_.fps));
                format_.fps = maxFps;
            }
        }
    }

    allocator_ = std::make_unique<lc::FrameBufferAllocator>(camera_);
    ret = allocator_->allocate(stream_);
    if (ret < 0)
        return deviceError("allocating frame buffers", ret);
    return {};
}

Expected<void> LibcameraSource::mapBuffers()
{
    const bool nv12 = pixelFormat_ == lc::formats::NV12;
    const size_t h = captureHeight_;
    // Expected plane sizes: Y, then U and V (YUV420) or interleaved UV (NV12).
    const std::array<size_t, 3> strides = {stride_, nv12 ? stride_ : stride_ / 2,
                                           nv12 ? 0 : stride_ / 2};
    const std::array<size_t, 3> rows = {h, h / 2, nv12 ? 0 : h / 2};
    const size_t planeCount = nv12 ? 2 : 3;

    for (const auto &buffer : allocator_->buffers(stream_)) {
        const auto &planes = buffer->planes();
        if (planes.empty())
            return Error(Errc::Device, name() + ": a frame buffer has no planes");
        // Map each dmabuf once, as far as its planes reach.
        std::map<int, size_t> extent;
        for (const auto &plane : planes)
            extent[plane.fd.get()] =
                std::max<size_t>(extent[plane.fd.get()], size_t(plane.offset) + plane.length);
        std::map<int, const MappedBuffer *> mapped;
        for (const auto &[fd, length] : extent) {
            void *addr = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
            if (addr == MAP_FAILED)
                return Error(Errc::Device,
                             name() + ": mmap of a frame buffer failed: " + std::strerror(errno));
            mappings_.emplace_back(addr, length);
        }
        // mappings_ may have moved its elements while growing: look them up afterwards.
        size_t m = mappings_.size() - extent.size();
        for (const auto &entry : extent)
            mapped[entry.first] = &mappings_[m++];

        std::array<const uint8_t *, 3> pointers{};
        size_t offset = planes[0].offset;
        for (size_t p = 0; p < planeCount; ++p) {
            // Planes the buffer does not list follow the previous one in the same dmabuf.
            const auto &plane = p < planes.size() ? planes[p] : planes.back();
            if (p < planes.size())
                offset = plane.offset;
            const MappedBuffer *map = mapped[plane.fd.get()];
            const size_t need = strides[p] * rows[p];
            if (offset + need > map->length())
                return Error(Errc::Device, name() + ": frame buffer plane " + std::to_string(p) +
                                               " is smaller than " + std::to_string(need) +
                                               " bytes");
            pointers[p] = map->data() + offset;
            offset += need;
        }
        planes_[buffer.get()] = pointers;
    }
    return {};
}

Expected<void> LibcameraSource::startCamera()
{
    requests_.clear();
    for (const auto &buffer : allocator_->buffers(stream_)) {
        std::unique_ptr<lc::Request> request = camera_->createRequest();
        if (!request)
            return Error(Errc::Device, name() + ": cannot create a request");
        const int ret = request->addBuffer(stream_, buffer.get());
        if (ret < 0)
            return deviceError("adding a buffer to a request", ret);
        requests_.push_back(std::move(request));
    }
    lc::ControlList controls(lc::controls::controls);
    if (frameDurationControl_) {
        const int64_t frameUs = 1'000'000 / format_.fps;
        const std::array<int64_t, 2> limits = {frameUs, frameUs};
        controls.set(lc::controls::FrameDurationLimits, lc::Span<const int64_t, 2>(limits));
    }
    int ret = camera_->start(&controls);
    if (ret < 0)
        return deviceError("start", ret);
    running_ = true;
    indexer_.newSession();
    for (auto &request : requests_) {
        ret = camera_->queueRequest(request.get());
        if (ret < 0)
            return deviceError("queueing a request", ret);
    }
    return {};
}

void LibcameraSource::stopCamera()
{
    if (running_ && camera_)
        camera_->stop(); // cancels the queued requests; their completions are ignored
    running_ = false;
    std::lock_guard lock(mutex_);
    completed_.clear();
}

void LibcameraSource::closeCamera()
{
    stopCamera();
    if (camera_) {
        camera_->requestCompleted.disconnect(this);
        camera_->disconnected.disconnect(this);
    }
    if (manager_)
        manager_->cameraRemoved.disconnect(this);
    requests_.clear();
    planes_.clear();
    mappings_.clear();
    allocator_.reset();
    config_.reset();
    stream_ = nullptr;
    if (camera_ && acquired_)
        camera_->release();
    acquired_ = false;
    camera_.reset();
    std::lock_guard lock(mutex_);
    completed_.clear();
    disconnected_ = false;
}

void LibcameraSource::onRequestCompleted(lc::Request *request)
{
    if (request->status() == lc::Request::RequestCancelled)
        return;
    {
        std::lock_guard lock(mutex_);
        completed_.push_back(request);
    }
    ready_.notify_one();
}

void LibcameraSource::onDisconnected()
{
    {
        std::lock_guard lock(mutex_);
        disconnected_ = true;
    }
    ready_.notify_one();
}

void LibcameraSource::onCameraRemoved(std::shared_ptr<lc::Camera> camera)
{
    // cameraId_ is only written while no camera is connected to this slot.
    if (camera && camera->id() == cameraId_)
        onDisconnected();
}

Error LibcameraSource::lose(const std::string &cause)
{
    closeCamera();
    return gate_.lose(
        Error(Errc::Device, name() + ": lost (" + cause + "); reopening it every second"));
}

Expected<void> LibcameraSource::reopen(int64_t deadlineNs)
{
    return gate_.attempt(
        deadlineNs,
        [this]() -> Expected<void> {
            auto opened = openCamera();
            if (opened)
                opened = startCamera();
            if (!opened)
                closeCamera();
            return opened;
        },
        describe());
}

Expected<void> LibcameraSource::start()
{
    if (started_)
        return {};
    if (!camera_) {
        BWC_TRY(openCamera());
        gate_.clear();
    }
    if (auto running = startCamera(); !running) {
        stopCamera();
        return running;
    }
    started_ = true;
    return {};
}

void LibcameraSource::stop()
{
    stopCamera();
    started_ = false;
}

Expected<bool> LibcameraSource::copyOut(const lc::FrameBuffer &buffer)
{
    const auto found = planes_.find(&buffer);
    if (found == planes_.end())
        return Error(Errc::Internal, name() + ": completed request carries an unknown buffer");
    const std::array<const uint8_t *, 3> &src = found->second;
    const bool nv12 = pixelFormat_ == lc::formats::NV12;
    const bool sameSize = captureWidth_ == frame_.width() && captureHeight_ == frame_.height();
    const auto stride = static_cast<int>(stride_);
    if (sameSize && nv12) {
        v4l2::nv12ToI420(src[0], stride_, src[1], stride_, frame_);
        return true;
    }
    if (sameSize) {
        for (int p = 0; p < 3; ++p) {
            const size_t srcStride = p == 0 ? stride_ : stride_ / 2;
            for (uint32_t y = 0; y < frame_.planeHeight(p); ++y)
                std::memcpy(frame_.plane(p) + static_cast<size_t>(y) * frame_.stride(p),
                            src[static_cast<size_t>(p)] + y * srcStride, frame_.planeWidth(p));
        }
        return true;
    }
    const uint8_t *planes[4] = {src[0], src[1], nv12 ? nullptr : src[2], nullptr};
    const int strides[4] = {stride, nv12 ? stride : stride / 2, nv12 ? 0 : stride / 2, 0};
    auto scaled = scaler_.scale(planes, strides, static_cast<int>(captureWidth_),
                                static_cast<int>(captureHeight_),
                                nv12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P, frame_);
    if (!scaled)
        return std::move(scaled).error().context(name());
    return true;
}

Expected<Frame *> LibcameraSource::next(int timeoutMs)
{
    if (!started_)
        return Error(Errc::Internal, name() + ": next() called before start()");
    const int64_t timeoutNs = static_cast<int64_t>(std::max(timeoutMs, 0)) * 1'000'000;
    const int64_t deadlineNs = monoNowNs() + timeoutNs;
    if (gate_.lost() || !running_)
        BWC_TRY(reopen(deadlineNs));

    for (;;) {
        lc::Request *request = nullptr;
        bool gone = false;
        {
            std::unique_lock lock(mutex_);
            const auto waitFor =
                std::chrono::nanoseconds(std::max<int64_t>(deadlineNs - monoNowNs(), 0));
            ready_.wait_for(lock, waitFor, [&] { return !completed_.empty() || disconnected_; });
            gone = disconnected_;
            if (!gone && !completed_.empty()) {
                request = completed_.front();
                completed_.erase(completed_.begin());
            }
        }
        if (gone)
            return lose("the camera was disconnected");
        if (request == nullptr)
            return static_cast<Frame *>(nullptr);

        const lc::FrameBuffer *buffer = request->findBuffer(stream_);
        Expected<bool> copied = false;
        uint32_t sequence = 0;
        int64_t monoNs = 0;
        if (buffer != nullptr && buffer->metadata().status == lc::FrameMetadata::FrameSuccess &&
            request->status() == lc::Request::RequestComplete) {
            sequence = buffer->metadata().sequence;
            monoNs = static_cast<int64_t>(buffer->metadata().timestamp);
            copied = copyOut(*buffer);
        }
        request->reuse(lc::Request::ReuseBuffers);
        const int ret = camera_->queueRequest(request);
        if (ret < 0)
            return lose(std::string("requeueing a request failed: ") + std::strerror(-ret));
        if (!copied)
            return std::move(copied).error();
        if (!*copied) {
            if (monoNowNs() >= deadlineNs)
                return static_cast<Frame *>(nullptr);
            continue;
        }
        if (monoNs <= 0)
            monoNs = monoNowNs();
        frame_.index = indexer_.assign(sequence, monoNs, format_.fps);
        frame_.monoNs = monoNs;
        return &frame_;
    }
}

} // namespace

Expected<std::unique_ptr<VideoSource>> openLibcameraSource(const VideoSourceOptions &options)
{
    return LibcameraSource::open(options);
}

} // namespace bwc::fw
