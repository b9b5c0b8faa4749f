#pragma once

// The pre-record ring (DESIGN.md section 7): encoded packets kept in RAM while the camera
// is not recording, so that a clip starts with the seconds before the button press.
// One allocation made at start-up (mmap, mlock'ed so it never reaches swap), a fixed
// header in front of each packet, bounded both by bytes and by duration, evicting whole
// GOPs from the oldest end so the retained pre-roll always starts on a video keyframe.
// Evicted and discarded bytes are zeroised. Not thread-safe: one thread owns it.

#include <cstdint>
#include <functional>
#include <memory>

#include "common/base/error.h"
#include "firmware/media/packet.h"

namespace bwc::fw {

struct RingLimits {
    // Size of the single allocation. 0 disables the ring (pre-record off).
    uint64_t maxBytes = 0;
    // Longest span kept, from the oldest retained keyframe's pts to the newest video
    // packet's end (pts + duration); audio does not extend it. A GOP longer than this on
    // its own is discarded like one that outgrows the bytes. 0 disables the ring.
    uint32_t maxDurationMs = 120'000;
    // Video packets only unless set (audio in the pre-record is a setting, default off).
    bool includeAudio = false;
};

struct RingStats {
    uint64_t capacityBytes = 0;
    uint64_t usedBytes = 0; // headers included
    uint64_t packets = 0;
    uint64_t gops = 0;
    uint32_t durationMs = 0;
    uint64_t evictedGops = 0;
    uint64_t droppedPackets = 0; // refused: larger than the ring, or no keyframe to hang on
    bool locked = false;         // mlock succeeded
};

class PacketRing
{
public:
    // Errc::NoSpace when the allocation fails. A failed mlock is not an error (it is
    // reported in stats().locked and logged once): the ring still works, swappable.
    static Expected<std::unique_ptr<PacketRing>> create(const RingLimits &limits);
    ~PacketRing();
    PacketRing(const PacketRing &) = delete;
    PacketRing &operator=(const PacketRing &) = delete;

    // Copies the packet in, first evicting whole GOPs from the oldest end until both
    // limits hold. Never blocks, never allocates. A video non-keyframe with no GOP to
    // belong to, an audio packet when audio is off or before the first keyframe, and a
    // packet that cannot fit even in an empty ring are dropped (counted); a GOP that
    // cannot be completed because one of its packets was dropped is discarded whole.
    void push(const PacketView &packet);
    // Passes every retained packet to `sink`, oldest first (the first is a video
    // keyframe), then empties the ring and zeroises it. The views point into the ring:
    // `sink` copies what it keeps and must not call back into the ring. Afterwards the
    // ring waits for the next keyframe (the rest of the drained GOP has nothing to hang on).
    void drain(const PacketSink &sink);
    // Empties the ring and zeroises every byte that held a packet.
    void discard();

    RingStats stats() const;
    // The bytes of the allocation, for tests that check nothing readable is left.
    ByteView rawMemoryForTest() const;

private:
    struct Impl;
    explicit PacketRing(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The ring size for a bitrate and duration: bytes for `seconds` at the given total bitrate
// plus 25 % headroom for bitrate overshoot, plus per-packet headers.
uint64_t ringBytesFor(uint32_t seconds, uint32_t totalBitrateKbps, uint32_t packetsPerSecond);

} // namespace bwc::fw
