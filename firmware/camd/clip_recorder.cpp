#include "firmware/camd/clip_recorder.h"

#include <algorithm>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/log.h"
#include "common/chain/manifest.h"
#include "common/container/metadata.h"
#include "firmware/camd/camera_clock.h"

namespace bwc::fw {

namespace {

v1::MetadataRecord eventRecord(const Clock &clock, int64_t monoNs, std::string name,
                               std::string detail)
{
    v1::MetadataRecord r;
    r.set_utc_ms(utcMsOfMono(clock, monoNs));
    r.set_mono_ms(monoNs / 1'000'000);
    r.mutable_event()->set_name(std::move(name));
    r.mutable_event()->set_detail(std::move(detail));
    return r;
}

} // namespace

struct ClipRecorder::Clip {
    std::unique_ptr<chain::ClipSession> session;
    std::unique_ptr<Fmp4Muxer> muxer;
    std::string uuid;
    uint64_t packetsSinceFlush = 0;
    bool storageFullReported = false;
};

ClipRecorder::ClipRecorder(const crypto::Backend &backend, chain::DeviceIdentity &identity,
                           chain::ChainState &chain, const Storage &storage, PacketRouter &router,
                           ClipRecorderOptions options,
                           std::function<void(const ClipEvent &)> onEvent)
    : backend_(backend), identity_(identity), chain_(chain), storage_(storage), router_(router),
      options_(std::move(options)), onEvent_(std::move(onEvent))
{
}

ClipRecorder::~ClipRecorder()
{
    stop();
}

void ClipRecorder::start()
{
    if (!thread_.joinable())
        thread_ = std::thread([this] { run(); });
}

void ClipRecorder::stop()
{
    if (!thread_.joinable())
        return;
    stopping_ = true;
    router_.wake();
    thread_.join();
}

ClipRecorderStatus ClipRecorder::status() const
{
    std::lock_guard lock(statusMutex_);
    return status_;
}

void ClipRecorder::report(ClipEvent::Kind kind, std::string detail, uint64_t seq, bool rollover)
{
    ClipEvent event{kind, clip_ ? clip_->uuid : std::string(), seq, std::move(detail), rollover};
    if (onEvent_)
        onEvent_(event);
}

void ClipRecorder::run()
{
    for (;;) {
        std::optional<WriterItem> item = router_.pop(100);
        if (item)
            handle(*item);
        else if (stopping_)
            break;
        // A checkpoint follows every fragment; this one covers a stalled video source, so
        // the metadata (and any audio) still reaches the flash.
        if (clip_ &&
            monoNowNs() - lastCheckpointMonoNs_ > options_.maxCheckpointIntervalMs * 1'500'000) {
            if (Expected<void> r = checkpoint(); !r)
                failClip(r.error());
        }
    }
    if (clip_) {
        log::warn("clip " + clip_->uuid + ": shutting down while recording; sealing it");
        sealClip(monoNowNs());
    }
}

void ClipRecorder::handle(WriterItem &item)
{
    if (auto *packet = std::get_if<OwnedPacket>(&item)) {
        onPacket(*packet);
    } else if (auto *start = std::get_if<StartClip>(&item)) {
        if (clip_ || pendingStart_)
            return;
        pendingStart_ = *start;
        discarding_ = false;
        rolloverPending_ = false;
        earlyMetadata_.clear();
    } else if (auto *record = std::get_if<v1::MetadataRecord>(&item)) {
        if (clip_) {
            if (Expected<void> r = appendMetadata(*record); !r)
                failClip(r.error());
        } else if (pendingStart_) {
            earlyMetadata_.push_back(std::move(*record));
        }
    } else if (std::holds_alternative<RollOver>(item)) {
        if (clip_)
            rolloverPending_ = true;
    } else if (auto *stopClip = std::get_if<StopClip>(&item)) {
        if (clip_) {
            sealClip(stopClip->monoNs);
        } else if (pendingStart_) {
            pendingStart_.reset();
            report(ClipEvent::Kind::SealFailed,
                   "recording stopped before any video arrived: no clip was written; check "
                   "the video source (bwc-camctl status)");
        }
        discarding_ = false;
    }
}

void ClipRecorder::onPacket(const OwnedPacket &packet)
{
    if (discarding_)
        return;
    const bool videoKey = packet.track == Track::Video && packet.keyframe;
    if (!clip_) {
        if (!pendingStart_ || !videoKey)
            return; // a clip starts on a video keyframe
        const StartClip start = *pendingStart_;
        pendingStart_.reset();
        if (Expected<void> r = openClip(start, packet, std::nullopt); !r) {
            failClip(r.error());
            return;
        }
    } else if (videoKey && clip_->packetsSinceFlush > 0) {
        // The GOP before this keyframe is complete: write it as one fragment and cover it
        // with a checkpoint.
        if (Expected<void> r = clip_->muxer->flushFragment(); !r) {
            failClip(r.error());
            return;
        }
        clip_->packetsSinceFlush = 0;
        if (Expected<void> r = checkpoint(); !r) {
            failClip(r.error());
            return;
        }
        if (rolloverPending_) {
            rolloverPending_ = false;
            const container::ClipUuid previous = clip_->session->clipUuid();
            sealClip(packet.monoNs, true);
            if (Expected<void> r = openClip(StartClip{packet.monoNs, true}, packet, previous); !r) {
                failClip(r.error());
                return;
            }
        }
    }
    if (Expected<void> r = clip_->muxer->write(packet.view()); !r) {
        failClip(r.error());
        return;
    }
    ++clip_->packetsSinceFlush;
    std::lock_guard lock(statusMutex_);
    ++status_.packetsWritten;
}

Expected<void> ClipRecorder::openClip(const StartClip &start, const OwnedPacket &firstKeyframe,
                                      std::optional<container::ClipUuid> continues)
{
    const DeviceFacts facts = options_.deviceFacts ? options_.deviceFacts() : DeviceFacts{};
    chain::SessionOptions o;
    o.clipDir = options_.clipDir;
    o.writer.streams = {
        {container::kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
        {container::kMetadataStreamId, v1::STREAM_TYPE_METADATA,
         std::string(container::kMetadataContentType)},
    };
    o.writer.recipients = options_.recipients;
    o.officerId = facts.officerId;
    o.trigger = continues ? v1::TRIGGER_ROLLOVER : v1::TRIGGER_BUTTON;
    const int64_t prerollNs = std::max<int64_t>(0, start.pressMonoNs - firstKeyframe.monoNs);
    o.prerecordMs = continues ? 0 : uint32_t(prerollNs / 1'000'000);
    o.startUtcMs = utcMsOfMono(clock(), firstKeyframe.monoNs);
    o.fwVersion = options_.fwVersion;
    o.configSha256 = options_.configSha256;
    o.clockSource = facts.clockSource;
    o.clockErrorMs = facts.clockErrorMs;
    o.continuesClipUuid = continues;

    auto clip = std::make_unique<Clip>();
    BWC_ASSIGN(session, chain::ClipSession::create(backend_, identity_, o, options_.fileFactory));
    clip->session = std::move(session);
    clip->uuid = container::uuidToString(clip->session->clipUuid());
    chain::ClipSession *sessionPtr = clip->session.get();
    BWC_ASSIGN(muxer, Fmp4Muxer::create(options_.video, options_.audio, [sessionPtr](ByteView b) {
                   return sessionPtr->append(container::kMediaStreamId, b);
               }));
    clip->muxer = std::move(muxer);
    clip_ = std::move(clip);
    lastCheckpointMonoNs_ = monoNowNs();

    v1::MetadataRecord time;
    time.set_utc_ms(o.startUtcMs);
    time.set_mono_ms(firstKeyframe.monoNs / 1'000'000);
    time.mutable_time()->set_source(facts.clockSource);
    time.mutable_time()->set_error_ms(facts.clockErrorMs);
    BWC_TRY(appendMetadata(time));
    std::string detail = continues ? "roll-over from clip " + container::uuidToString(*continues)
                                   : "button, pre-record " + std::to_string(o.prerecordMs) + " ms";
    BWC_TRY(appendMetadata(eventRecord(clock(), start.pressMonoNs, "record-start", detail)));
    for (const v1::MetadataRecord &r : earlyMetadata_)
        BWC_TRY(appendMetadata(r));
    earlyMetadata_.clear();

    {
        std::lock_guard lock(statusMutex_);
        status_.active = true;
        status_.clipUuid = clip_->uuid;
        status_.clipBytes = 0;
        status_.mediaMs = 0;
        status_.prerecordMs = o.prerecordMs;
        status_.checkpoints = clip_->session->checkpointCount();
    }
    log::info("clip " + clip_->uuid + ": recording (" + detail + ")");
    report(ClipEvent::Kind::Started, detail);
    return {};
}

Expected<void> ClipRecorder::appendMetadata(const v1::MetadataRecord &record)
{
    return clip_->session->append(container::kMetadataStreamId,
                                  container::frameMetadataRecord(record));
}

Expected<void> ClipRecorder::checkpoint()
{
    BWC_TRY(clip_->session->checkpoint(clock().utcMs()));
    lastCheckpointMonoNs_ = monoNowNs();
    {
        std::lock_guard lock(statusMutex_);
        status_.checkpoints = clip_->session->checkpointCount();
        status_.mediaMs = clip_->muxer->fragmentedDurationMs();
        if (Expected<uint64_t> size = fileSize(clip_->session->clipPath()))
            status_.clipBytes = *size;
    }
    if (!clip_->storageFullReported) {
        if (Expected<void> room = storage_.checkRecording(); !room) {
            clip_->storageFullReported = true;
            log::warn("clip " + clip_->uuid + ": " + room.error().message);
            report(ClipEvent::Kind::StorageFull, room.error().message);
        }
    }
    return {};
}

void ClipRecorder::sealClip(int64_t endMonoNs, bool rollover)
{
    auto result = [&]() -> Expected<v1::SignedManifest> {
        BWC_TRY(clip_->muxer->finish());
        BWC_TRY(appendMetadata(
            eventRecord(clock(), endMonoNs, "record-stop",
                        std::to_string(clip_->muxer->fragmentedDurationMs()) + " ms of media")));
        return clip_->session->seal(chain_, utcMsOfMono(clock(), endMonoNs));
    }();
    if (!result) {
        const std::string text = "clip " + clip_->uuid +
                                 ": sealing failed: " + result.error().message +
                                 "; the clip stays on the camera and is sealed as INTERRUPTED "
                                 "at the next start";
        log::error(text);
        report(ClipEvent::Kind::SealFailed, text, 0, rollover);
    } else {
        uint64_t seq = 0;
        if (auto m = chain::parseManifest(*result))
            seq = m->seq();
        const int64_t mediaMs = clip_->muxer->fragmentedDurationMs();
        log::info("clip " + clip_->uuid + ": sealed as seq " + std::to_string(seq) + ", " +
                  std::to_string(mediaMs) + " ms");
        {
            std::lock_guard lock(statusMutex_);
            ++status_.clipsSealed;
            status_.mediaMs = mediaMs;
        }
        report(ClipEvent::Kind::Sealed, std::to_string(mediaMs) + " ms of media", seq, rollover);
    }
    clip_.reset();
    std::lock_guard lock(statusMutex_);
    status_.active = false;
}

void ClipRecorder::failClip(const Error &error)
{
    {
        std::lock_guard lock(statusMutex_);
        status_.lastError = error.message;
    }
    if (!clip_) {
        log::error("recording could not start: " + error.message);
        report(ClipEvent::Kind::StartFailed, error.message);
        discarding_ = true;
        return;
    }
    // Keep what is already on the flash: sealing writes the final chunks and manifest if
    // the file is still writable; otherwise the checkpoint log lets boot recovery seal
    // the clip as INTERRUPTED.
    log::error("clip " + clip_->uuid + ": " + error.message + "; sealing what was recorded");
    sealClip(monoNowNs());
    discarding_ = true;
}

} // namespace bwc::fw
