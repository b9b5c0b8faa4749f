#include "firmware/prerecord/packet_ring.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <sys/mman.h>
#include <type_traits>
#include <unistd.h>

#include "common/base/bytes.h"
#include "common/base/file.h"
#include "common/base/log.h"

namespace bwc::fw {

namespace {

// Layout of the allocation: records laid end to end, each a RecordHeader followed by the
// packet bytes padded to 8. A record never straddles the end of the allocation: when the
// next one does not fit before the end, the rest of the allocation becomes a gap (marked
// with a Pad header when there is room for one, else implicitly: fewer bytes than a header
// left) and the record goes to offset 0. Every byte outside a live record is zero.
enum class RecordKind : uint32_t {
    Empty = 0,           // zeroised memory
    Packet = 0x504b5452, // "PKTR"
    Pad = 0x50414452,    // "PADR": skip to offset 0
};

struct RecordHeader {
    uint32_t kind;   // RecordKind
    uint32_t length; // packet bytes that follow the header (Pad: 0)
    uint64_t gopSeq; // the GOP the packet belongs to, counting from 1
    int64_t pts;
    int64_t dts;
    int64_t duration;
    int64_t monoNs;
    uint8_t track;    // Track
    uint8_t keyframe; // 0 or 1
    uint8_t reserved[6];
};
static_assert(std::is_trivially_copyable_v<RecordHeader>);
static_assert(std::is_standard_layout_v<RecordHeader>);
static_assert(sizeof(RecordHeader) == 56);
static_assert(alignof(RecordHeader) == 8);
static_assert(offsetof(RecordHeader, length) == 4);
static_assert(offsetof(RecordHeader, gopSeq) == 8);
static_assert(offsetof(RecordHeader, pts) == 16);
static_assert(offsetof(RecordHeader, dts) == 24);
static_assert(offsetof(RecordHeader, duration) == 32);
static_assert(offsetof(RecordHeader, monoNs) == 40);
static_assert(offsetof(RecordHeader, track) == 48);
static_assert(offsetof(RecordHeader, keyframe) == 49);

constexpr uint64_t kAlign = 8;
constexpr uint64_t kHeaderBytes = sizeof(RecordHeader);
static_assert(kHeaderBytes % kAlign == 0);
constexpr int64_t kTicksPerMs = kTicksPerSecond / 1000;

constexpr uint64_t roundUp(uint64_t value, uint64_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

uint64_t pageSize()
{
    long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? uint64_t(page) : 4096;
}

std::string mib(uint64_t bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / double(1 << 20));
    return text;
}

} // namespace

struct PacketRing::Impl {
    RingLimits limits;
    uint8_t *base = nullptr; // nullptr when the ring is disabled
    uint64_t mapBytes = 0;
    uint64_t capacity = 0; // usable bytes, a multiple of 8, at most limits.maxBytes
    int64_t limitTicks = 0;
    bool locked = false;

    uint64_t head = 0; // oldest live record (never a gap while used > 0)
    uint64_t tail = 0; // where the next record goes (before wrapping)
    uint64_t used = 0; // live records plus gaps between them
    uint64_t packets = 0;
    uint64_t gops = 0;
    uint64_t gopSeq = 0;        // the newest GOP's sequence number
    int64_t newestVideoEnd = 0; // max(pts + duration) of the retained video packets
    bool waitingForKey = true;  // no GOP to add to: drop until a video keyframe
    uint64_t evictedGops = 0;
    uint64_t dropped = 0;

    ~Impl()
    {
        if (base == nullptr)
            return;
        clear();
        ::munmap(base, mapBytes);
    }

    RecordHeader headerAt(uint64_t offset) const
    {
        RecordHeader header;
        std::memcpy(&header, base + offset, kHeaderBytes);
        return header;
    }

    // The offset is at a gap (Pad header, or too close to the end for any header).
    bool gapAt(uint64_t offset) const
    {
        if (capacity - offset < kHeaderBytes)
            return true;
        uint32_t kind;
        std::memcpy(&kind, base + offset, sizeof kind);
        return kind == uint32_t(RecordKind::Pad);
    }

    static uint64_t recordBytes(uint64_t length) { return kHeaderBytes + roundUp(length, kAlign); }

    // Where a record of `bytes` would go without evicting anything, and the gap it leaves
    // at the end of the allocation when it wraps.
    bool findSlot(uint64_t bytes, uint64_t &offset, uint64_t &gap) const
    {
        gap = 0;
        if (bytes > capacity)
            return false;
        if (used == 0) {
            offset = 0;
            return true;
        }
        if (tail > head) {
            if (capacity - tail >= bytes) {
                offset = tail;
                return true;
            }
            if (head >= bytes) {
                offset = 0;
                gap = capacity - tail;
                return true;
            }
            return false;
        }
        // Wrapped (tail < head) or full (tail == head).
        if (head - tail >= bytes) {
            offset = tail;
            return true;
        }
        return false;
    }

    // Skips (and zeroises) a gap at the head so that it points at a packet record.
    void normaliseHead()
    {
        while (used > 0 && gapAt(head)) {
            uint64_t gap = capacity - head;
            secureZero(base + head, gap);
            used -= gap;
            head = 0;
        }
        if (used == 0)
            head = tail = 0;
    }

    void evictOldestGop()
    {
        uint64_t seq = headerAt(head).gopSeq;
        do {
            uint64_t bytes = recordBytes(headerAt(head).length);
            secureZero(base + head, bytes);
            head += bytes;
            used -= bytes;
            --packets;
            normaliseHead();
        } while (used > 0 && headerAt(head).gopSeq == seq);
        --gops;
        ++evictedGops;
    }

    // Zeroises every live byte and empties the ring.
    void clear()
    {
        if (used > 0) {
            if (tail > head) {
                secureZero(base + head, tail - head);
            } else {
                secureZero(base + head, capacity - head);
                secureZero(base, tail);
            }
        }
        head = tail = used = 0;
        packets = gops = 0;
        newestVideoEnd = 0;
        waitingForKey = true;
    }

    // Whether the packet (of `bytes` as a record) could be added now within both limits.
    bool fits(uint64_t bytes, bool video, int64_t pts, int64_t end) const
    {
        uint64_t offset, gap;
        if (!findSlot(bytes, offset, gap))
            return false;
        if (!video)
            return true; // audio never extends the video span
        int64_t newest = packets > 0 ? std::max(newestVideoEnd, end) : end;
        int64_t oldest = packets > 0 ? headerAt(head).pts : pts;
        return newest - oldest <= limitTicks;
    }

    void write(const PacketView &packet, uint64_t bytes)
    {
        uint64_t offset = 0, gap = 0;
        findSlot(bytes, offset, gap);
        if (gap > 0) {
            if (gap >= kHeaderBytes) {
                RecordHeader pad{};
                pad.kind = uint32_t(RecordKind::Pad);
                std::memcpy(base + tail, &pad, kHeaderBytes);
            }
            used += gap;
        }
        RecordHeader header{};
        header.kind = uint32_t(RecordKind::Packet);
        header.length = uint32_t(packet.data.size());
        header.gopSeq = gopSeq;
        header.pts = packet.pts;
        header.dts = packet.dts;
        header.duration = packet.duration;
        header.monoNs = packet.monoNs;
        header.track = uint8_t(packet.track);
        header.keyframe = packet.keyframe ? 1 : 0;
        std::memcpy(base + offset, &header, kHeaderBytes);
        if (!packet.data.empty())
            std::memcpy(base + offset + kHeaderBytes, packet.data.data(), packet.data.size());
        // The alignment padding after the packet is free memory, hence already zero.
        tail = offset + bytes;
        used += bytes;
    }

    void push(const PacketView &packet)
    {
        const bool video = packet.track == Track::Video;
        const bool key = video && packet.keyframe;
        if (base == nullptr || (!video && !limits.includeAudio) || (!key && waitingForKey) ||
            packet.data.size() > std::numeric_limits<uint32_t>::max()) {
            ++dropped;
            return;
        }
        const uint64_t bytes = recordBytes(packet.data.size());
        const int64_t end = packet.pts + packet.duration;
        // A keyframe starts a new GOP, so every retained GOP may go; any other packet
        // belongs to the newest GOP, which must stay.
        const uint64_t keep = key ? 0 : 1;
        while (gops > keep && !fits(bytes, video, packet.pts, end))
            evictOldestGop();
        if (!fits(bytes, video, packet.pts, end)) {
            // A keyframe: the ring is empty now and the keyframe alone exceeds it.
            // Otherwise: the packet's own GOP alone exceeds the ring, so it can never be
            // completed; it goes too, and the ring waits for the next keyframe.
            if (gops > 0)
                ++evictedGops;
            clear();
            ++dropped;
            return;
        }
        if (key) {
            ++gopSeq;
            ++gops;
            waitingForKey = false;
        }
        const bool wasEmpty = packets == 0;
        write(packet, bytes);
        ++packets;
        if (video)
            newestVideoEnd = wasEmpty ? end : std::max(newestVideoEnd, end);
    }

    void drain(const PacketSink &sink)
    {
        uint64_t offset = head;
        uint64_t remaining = used;
        while (remaining > 0) {
            if (gapAt(offset)) {
                remaining -= capacity - offset;
                offset = 0;
                continue;
            }
            RecordHeader header = headerAt(offset);
            PacketView view;
            view.track = Track(header.track);
            view.keyframe = header.keyframe != 0;
            view.pts = header.pts;
            view.dts = header.dts;
            view.duration = header.duration;
            view.monoNs = header.monoNs;
            view.data = ByteView(base + offset + kHeaderBytes, header.length);
            sink(view);
            uint64_t bytes = recordBytes(header.length);
            offset += bytes;
            remaining -= bytes;
        }
        clear();
    }

    RingStats stats() const
    {
        RingStats s;
        s.capacityBytes = capacity;
        s.usedBytes = used;
        s.packets = packets;
        s.gops = gops;
        if (packets > 0)
            s.durationMs = uint32_t((newestVideoEnd - headerAt(head).pts) / kTicksPerMs);
        s.evictedGops = evictedGops;
        s.droppedPackets = dropped;
        s.locked = locked;
        return s;
    }
};

Expected<std::unique_ptr<PacketRing>> PacketRing::create(const RingLimits &limits)
{
    auto impl = std::make_unique<Impl>();
    impl->limits = limits;
    impl->limitTicks = int64_t(limits.maxDurationMs) * kTicksPerMs;
    const uint64_t capacity = limits.maxBytes / kAlign * kAlign;
    if (capacity > 0 && limits.maxDurationMs > 0) {
        const uint64_t mapBytes = roundUp(capacity, pageSize());
        if (mapBytes > std::numeric_limits<size_t>::max())
            return Error(Errc::NoSpace, "pre-record ring: " + mib(mapBytes) +
                                            " does not fit in the address space; lower "
                                            "prerecord.seconds or prerecord.max_bytes");
        void *addr =
            ::mmap(nullptr, mapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (addr == MAP_FAILED)
            return Error(Errc::NoSpace, "pre-record ring: cannot allocate " + mib(mapBytes) +
                                            " (mmap: " + errnoText(errno) +
                                            "); lower prerecord.seconds or prerecord.max_bytes");
        impl->base = static_cast<uint8_t *>(addr);
        impl->mapBytes = mapBytes;
        impl->capacity = capacity;
        if (::madvise(addr, mapBytes, MADV_DONTDUMP) != 0)
            log::warn("pre-record ring: madvise(MADV_DONTDUMP) failed (" + errnoText(errno) +
                      "); a core dump may contain pre-recorded video");
        impl->locked = ::mlock(addr, mapBytes) == 0;
        if (!impl->locked)
            log::warn("pre-record ring: mlock of " + mib(mapBytes) + " failed (" +
                      errnoText(errno) +
                      "); the pre-roll may be swapped to flash; raise RLIMIT_MEMLOCK "
                      "(LimitMEMLOCK= in the service unit) or grant CAP_IPC_LOCK");
    }
    return std::unique_ptr<PacketRing>(new PacketRing(std::move(impl)));
}

PacketRing::PacketRing(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PacketRing::~PacketRing() = default;

void PacketRing::push(const PacketView &packet)
{
    impl_->push(packet);
}

void PacketRing::drain(const PacketSink &sink)
{
    impl_->drain(sink);
}

void PacketRing::discard()
{
    impl_->clear();
}

RingStats PacketRing::stats() const
{
    return impl_->stats();
}

ByteView PacketRing::rawMemoryForTest() const
{
    if (impl_->base == nullptr)
        return {};
    return ByteView(impl_->base, impl_->mapBytes);
}

uint64_t ringBytesFor(uint32_t seconds, uint32_t totalBitrateKbps, uint32_t packetsPerSecond)
{
    // kbit/s * 1000 / 8 = 125 bytes/s per kbit/s; plus 25 % rounded up.
    const uint64_t media = uint64_t(seconds) * totalBitrateKbps * 125;
    const uint64_t withHeadroom = (media * 5 + 3) / 4;
    const uint64_t headers = uint64_t(seconds) * packetsPerSecond * kHeaderBytes;
    return roundUp(withHeadroom + headers, pageSize());
}

} // namespace bwc::fw
