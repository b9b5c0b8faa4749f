#pragma once

// The clip writer thread: takes the router's queue (StartClip, pre-roll and live packets,
// metadata, RollOver, StopClip) and turns it into sealed clips. Per clip: a ClipSession
// (BWCCLIP file, per-clip DEK wrapped to the agency recipients, checkpoint log), a
// fragmented-MP4 muxer whose bytes go into the media stream, and the metadata stream.
//
// One fragment per GOP: before every video keyframe after the first, the muxer writes
// the GOP just completed and a signed checkpoint covers it (so a power cut loses at most
// the GOP in progress, under one second). A roll-over waits for the next keyframe, seals
// the clip and starts the next one, chained to it, with that keyframe: no frame is lost.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "firmware/camd/packet_router.h"
#include "firmware/encode/fmp4_muxer.h"
#include "firmware/storage/storage.h"

namespace bwc::fw {

// What the device knows at the moment a clip starts.
struct DeviceFacts {
    std::string officerId;
    v1::ClockSource clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    uint32_t clockErrorMs = 0;
};

struct ClipRecorderOptions {
    std::string clipDir;
    std::vector<crypto::P256Point> recipients;
    std::string fwVersion;
    Bytes configSha256;
    StreamParams video;
    std::optional<StreamParams> audio;
    // Called on the writer thread when a clip starts.
    std::function<DeviceFacts()> deviceFacts;
    // Checkpoint at least this often even when no fragment completes (video stalled).
    int64_t maxCheckpointIntervalMs = 1000;
    // Tests substitute a file factory that cuts the power.
    chain::FileFactory fileFactory = createFile;
    // The camera's wall clock (steppable by the dock); null: the system clock. Must
    // outlive the recorder.
    const Clock *clock = nullptr;
};

struct ClipEvent {
    enum class Kind { Started, StartFailed, Sealed, SealFailed, StorageFull };
    Kind kind = Kind::Started;
    std::string clipUuid;
    uint64_t seq = 0;   // Sealed
    std::string detail; // error text, or a summary of the sealed clip
    // Sealed: the clip was sealed for a roll-over; recording goes on in the next clip.
    bool rollover = false;
};

struct ClipRecorderStatus {
    bool active = false;
    std::string clipUuid;
    uint64_t clipBytes = 0;
    int64_t mediaMs = 0; // media time written out in fragments
    uint32_t prerecordMs = 0;
    uint64_t checkpoints = 0;
    uint64_t clipsSealed = 0;
    uint64_t packetsWritten = 0;
    std::string lastError;
};

class ClipRecorder
{
public:
    // The backend, identity, chain, storage and router must outlive the recorder.
    ClipRecorder(const crypto::Backend &backend, chain::DeviceIdentity &identity,
                 chain::ChainState &chain, const Storage &storage, PacketRouter &router,
                 ClipRecorderOptions options, std::function<void(const ClipEvent &)> onEvent);
    ~ClipRecorder();
    ClipRecorder(const ClipRecorder &) = delete;
    ClipRecorder &operator=(const ClipRecorder &) = delete;

    void start();
    // Finishes the queue (sealing a clip in progress if a StopClip is queued) and joins.
    void stop();
    ClipRecorderStatus status() const;

private:
    struct Clip;
    void run();
    void handle(WriterItem &item);
    void onPacket(const OwnedPacket &packet);
    Expected<void> openClip(const StartClip &start, const OwnedPacket &firstKeyframe,
                            std::optional<container::ClipUuid> continues);
    Expected<void> checkpoint();
    Expected<void> appendMetadata(const v1::MetadataRecord &record);
    void sealClip(int64_t endMonoNs, bool rollover = false);
    void failClip(const Error &error);
    void report(ClipEvent::Kind kind, std::string detail, uint64_t seq = 0, bool rollover = false);
    const Clock &clock() const
    {
        return options_.clock != nullptr ? *options_.clock : systemClock_;
    }

    const crypto::Backend &backend_;
    chain::DeviceIdentity &identity_;
    chain::ChainState &chain_;
    const Storage &storage_;
    PacketRouter &router_;
    ClipRecorderOptions options_;
    SystemClock systemClock_;
    std::function<void(const ClipEvent &)> onEvent_;

    // Writer-thread state.
    std::optional<StartClip> pendingStart_; // StartClip seen, waiting for a keyframe
    bool rolloverPending_ = false;
    bool discarding_ = false; // the clip failed: drop until the next StartClip
    std::unique_ptr<Clip> clip_;
    std::vector<v1::MetadataRecord> earlyMetadata_; // before the clip file exists
    int64_t lastCheckpointMonoNs_ = 0;

    std::thread thread_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex statusMutex_;
    ClipRecorderStatus status_;
};

} // namespace bwc::fw
