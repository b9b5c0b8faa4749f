#pragma once

// Where encoded packets go. The capture and audio threads push every packet here; while
// the camera is idle they go into the pre-record ring, while it records they go onto the
// clip writer's queue. Starting a recording moves the ring's contents (oldest keyframe
// first) onto the queue ahead of the live packets, under one lock, so the clip has no
// gap and no duplicate between pre-roll and live video.
//
// The producers never wait for storage: the queue is bounded by bytes, and when the
// writer falls that far behind, packets are dropped and counted (and the writer records
// the drop as an event in the clip's metadata).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>

#include "bwc/v1/clip.pb.h"
#include "firmware/media/packet.h"
#include "firmware/prerecord/packet_ring.h"

namespace bwc::fw {

struct OwnedPacket {
    Track track = Track::Video;
    bool keyframe = false;
    int64_t pts = 0;
    int64_t dts = 0;
    int64_t duration = 0;
    int64_t monoNs = 0;
    Bytes data;

    PacketView view() const { return {track, keyframe, pts, dts, duration, monoNs, data}; }
};

// Work for the clip writer, in order.
struct StartClip {
    int64_t pressMonoNs = 0; // the button edge (pre-roll is measured back from it)
    bool rollover = false;
};
struct StopClip {
    int64_t monoNs = 0;
};
struct RollOver {
    int64_t monoNs = 0;
};
using WriterItem = std::variant<OwnedPacket, StartClip, StopClip, RollOver, v1::MetadataRecord>;

struct RouterStats {
    RingStats ring;
    uint64_t queuedBytes = 0;
    uint64_t queueDropped = 0; // packets dropped because the writer fell behind
    bool recording = false;
};

class PacketRouter
{
public:
    PacketRouter(std::unique_ptr<PacketRing> ring, uint64_t maxQueueBytes);

    // Producers (capture, audio).
    void push(const PacketView &packet);

    // The daemon. startRecording queues StartClip, then the pre-roll, then routes live
    // packets to the queue; stopRecording queues StopClip and routes back to the ring.
    void startRecording(int64_t pressMonoNs);
    void stopRecording(int64_t monoNs);
    void rollOver(int64_t monoNs);
    // A metadata record, in order with the packets (dropped when not recording).
    void metadata(v1::MetadataRecord record);
    bool recording() const;

    // The writer. Waits up to timeoutMs; nullopt on timeout.
    std::optional<WriterItem> pop(int timeoutMs);
    // Wakes a waiting pop() (shutdown).
    void wake();

    RouterStats stats() const;

private:
    void enqueue(WriterItem item, uint64_t bytes);

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::unique_ptr<PacketRing> ring_;
    std::deque<WriterItem> queue_;
    uint64_t maxQueueBytes_;
    uint64_t queuedBytes_ = 0;
    uint64_t dropped_ = 0;
    bool recording_ = false;
    bool dropping_ = false; // dropping until the next video keyframe after an overflow
    bool woken_ = false;
};

} // namespace bwc::fw
