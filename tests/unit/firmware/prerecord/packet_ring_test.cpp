#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <linux/capability.h>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "firmware/prerecord/packet_ring.h"

using namespace bwc;
using namespace bwc::fw;

// Counting replacements of the global allocation functions: the test enables counting
// around push() and drain() to show that neither allocates.
namespace {
std::atomic<bool> gCountAllocations{false};
std::atomic<uint64_t> gAllocations{0};

void *countedAlloc(std::size_t size)
{
    if (gCountAllocations.load(std::memory_order_relaxed))
        gAllocations.fetch_add(1, std::memory_order_relaxed);
    if (void *p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}
} // namespace

void *operator new(std::size_t size)
{
    return countedAlloc(size);
}
void *operator new[](std::size_t size)
{
    return countedAlloc(size);
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete[](void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    std::free(p);
}

namespace {

// The ring's per-packet header (static_assert'ed in packet_ring.cpp) and alignment.
constexpr uint64_t kHeader = 56;
constexpr int64_t kFrameTicks = 3000; // 30 fps
constexpr int64_t kAudioTicks = 1920; // 1024 samples at 48 kHz

uint64_t recordBytes(uint64_t size)
{
    return kHeader + (size + 7) / 8 * 8;
}

struct TestPacket {
    uint64_t id = 0;
    Track track = Track::Video;
    bool key = false;
    int64_t pts = 0;
    int64_t dts = 0;
    int64_t duration = kFrameTicks;
    size_t size = 0;

    int64_t monoNs() const { return int64_t(id) * 1000 + 7; }
    int64_t end() const { return pts + duration; }
};

Bytes payloadOf(const TestPacket &p)
{
    Bytes data(p.size);
    uint32_t x = uint32_t(p.id * 2654435761u) | 1;
    for (auto &b : data) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = uint8_t(x);
    }
    return data;
}

void pushPacket(PacketRing &ring, const TestPacket &p)
{
    Bytes data = payloadOf(p);
    PacketView view;
    view.track = p.track;
    view.keyframe = p.key;
    view.pts = p.pts;
    view.dts = p.dts;
    view.duration = p.duration;
    view.monoNs = p.monoNs();
    view.data = data;
    ring.push(view);
}

struct Drained {
    Track track;
    bool key;
    int64_t pts, dts, duration, monoNs;
    Bytes data;
};

std::vector<Drained> drainAll(PacketRing &ring)
{
    std::vector<Drained> out;
    ring.drain([&](const PacketView &p) {
        out.push_back({p.track, p.keyframe, p.pts, p.dts, p.duration, p.monoNs,
                       Bytes(p.data.begin(), p.data.end())});
    });
    return out;
}

// Every drained packet equals the expected one, field by field and byte by byte.
void requireSame(const std::vector<Drained> &got, const std::vector<TestPacket> &want)
{
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO("packet " << i << " id " << want[i].id);
        REQUIRE(got[i].monoNs == want[i].monoNs());
        REQUIRE(got[i].track == want[i].track);
        REQUIRE(got[i].key == want[i].key);
        REQUIRE(got[i].pts == want[i].pts);
        REQUIRE(got[i].dts == want[i].dts);
        REQUIRE(got[i].duration == want[i].duration);
        REQUIRE(got[i].data == payloadOf(want[i]));
    }
}

bool allZero(ByteView memory)
{
    return std::all_of(memory.begin(), memory.end(), [](uint8_t b) { return b == 0; });
}

std::unique_ptr<PacketRing> makeRing(uint64_t maxBytes, uint32_t maxDurationMs,
                                     bool includeAudio = false)
{
    RingLimits limits;
    limits.maxBytes = maxBytes;
    limits.maxDurationMs = maxDurationMs;
    limits.includeAudio = includeAudio;
    auto ring = PacketRing::create(limits);
    REQUIRE(ring);
    return std::move(ring).value();
}

// A 30 fps video stream (and 48 kHz AAC audio between the frames when asked) with GOPs
// of a given length and packet sizes chosen by the caller.
class Stream
{
public:
    TestPacket video(bool key, size_t size)
    {
        TestPacket p;
        p.id = nextId_++;
        p.track = Track::Video;
        p.key = key;
        p.pts = p.dts = videoPts_;
        p.duration = kFrameTicks;
        p.size = size;
        videoPts_ += kFrameTicks;
        return p;
    }
    // The audio packet due before the next video frame, if any.
    std::optional<TestPacket> audioDue(size_t size)
    {
        if (audioPts_ >= videoPts_)
            return std::nullopt;
        TestPacket p;
        p.id = nextId_++;
        p.track = Track::Audio;
        p.pts = p.dts = audioPts_;
        p.duration = kAudioTicks;
        p.size = size;
        audioPts_ += kAudioTicks;
        return p;
    }

private:
    uint64_t nextId_ = 1;
    int64_t videoPts_ = 900'000;
    int64_t audioPts_ = 900'000;
};

// The reference: a deque of GOPs with each record's place in a flat buffer of the ring's
// capacity, following the rules of packet_ring.h plainly.
class Model
{
public:
    struct Rec {
        TestPacket packet;
        uint64_t offset;
        uint64_t bytes;
    };

    Model(uint64_t capacity, uint32_t maxDurationMs, bool includeAudio)
        : capacity_(capacity / 8 * 8), limitTicks_(int64_t(maxDurationMs) * 90),
          includeAudio_(includeAudio)
    {
    }

    void push(const TestPacket &p)
    {
        const bool video = p.track == Track::Video;
        const bool key = video && p.key;
        if ((!video && !includeAudio_) || (!key && waiting_)) {
            ++dropped_;
            return;
        }
        const uint64_t bytes = recordBytes(p.size);
        auto fits = [&] {
            if (!slot(bytes))
                return false;
            if (!video)
                return true;
            int64_t newest = p.end();
            int64_t oldest = p.pts;
            if (!gops_.empty()) {
                newest = std::max(newest, newestVideoEnd());
                oldest = gops_.front().front().packet.pts;
            }
            return newest - oldest <= limitTicks_;
        };
        const size_t keep = key ? 0 : 1;
        while (gops_.size() > keep && !fits()) {
            gops_.pop_front();
            ++evicted_;
        }
        if (!fits()) {
            if (!gops_.empty())
                ++evicted_;
            gops_.clear();
            waiting_ = true;
            ++dropped_;
            return;
        }
        const uint64_t offset = *slot(bytes);
        if (key) {
            gops_.emplace_back();
            waiting_ = false;
        }
        gops_.back().push_back({p, offset, bytes});
    }

    std::vector<TestPacket> drain()
    {
        std::vector<TestPacket> out;
        for (const auto &gop : gops_)
            for (const auto &rec : gop)
                out.push_back(rec.packet);
        gops_.clear();
        waiting_ = true;
        return out;
    }

    uint64_t packets() const
    {
        uint64_t n = 0;
        for (const auto &gop : gops_)
            n += gop.size();
        return n;
    }
    uint64_t gops() const { return gops_.size(); }
    uint64_t evicted() const { return evicted_; }
    uint64_t dropped() const { return dropped_; }
    uint64_t used() const
    {
        if (gops_.empty())
            return 0;
        const uint64_t first = gops_.front().front().offset;
        const Rec &last = gops_.back().back();
        const uint64_t lastEnd = last.offset + last.bytes;
        return last.offset >= first ? lastEnd - first : capacity_ - first + lastEnd;
    }
    uint32_t durationMs() const
    {
        if (gops_.empty())
            return 0;
        return uint32_t((newestVideoEnd() - gops_.front().front().packet.pts) / 90);
    }

private:
    int64_t newestVideoEnd() const
    {
        int64_t newest = INT64_MIN;
        for (const auto &gop : gops_)
            for (const auto &rec : gop)
                if (rec.packet.track == Track::Video)
                    newest = std::max(newest, rec.packet.end());
        return newest;
    }

    // Records are laid end to end; one that does not fit before the end goes to 0.
    std::optional<uint64_t> slot(uint64_t bytes) const
    {
        if (bytes > capacity_)
            return std::nullopt;
        if (gops_.empty())
            return 0;
        const uint64_t first = gops_.front().front().offset;
        const Rec &last = gops_.back().back();
        const uint64_t lastEnd = last.offset + last.bytes;
        if (last.offset >= first) {
            if (capacity_ - lastEnd >= bytes)
                return lastEnd;
            if (first >= bytes)
                return 0;
            return std::nullopt;
        }
        if (first - lastEnd >= bytes)
            return lastEnd;
        return std::nullopt;
    }

    uint64_t capacity_;
    int64_t limitTicks_;
    bool includeAudio_;
    std::deque<std::deque<Rec>> gops_;
    bool waiting_ = true;
    uint64_t evicted_ = 0;
    uint64_t dropped_ = 0;
};

void requireStatsMatch(const PacketRing &ring, const Model &model)
{
    RingStats s = ring.stats();
    REQUIRE(s.packets == model.packets());
    REQUIRE(s.gops == model.gops());
    REQUIRE(s.usedBytes == model.used());
    REQUIRE(s.durationMs == model.durationMs());
    REQUIRE(s.evictedGops == model.evicted());
    REQUIRE(s.droppedPackets == model.dropped());
}

uint64_t pageRoundUp(uint64_t bytes)
{
    const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) / page * page;
}

} // namespace

TEST_CASE("ringBytesFor: bitrate plus 25 % plus headers, rounded up to a page")
{
    // 10 s at 8000 kbit/s = 10,000,000 bytes, +25 % = 12,500,000; 300 headers of 56 bytes.
    REQUIRE(ringBytesFor(10, 8000, 30) == pageRoundUp(12'516'800));
    // 120 s at 4096 kbit/s video + 96 kbit/s audio, 30 video + 47 audio packets a second:
    // 120 * 4192 * 125 = 62,880,000, +25 % = 78,600,000; 120 * 77 * 56 = 517,440.
    REQUIRE(ringBytesFor(120, 4192, 77) == pageRoundUp(79'117'440));
    // 25 % of an amount that is not a multiple of 4 rounds up: 1 s at 1 kbit/s = 125 bytes,
    // 156.25 -> 157, one header -> 213 -> one page.
    REQUIRE(ringBytesFor(1, 1, 1) == pageRoundUp(213));
    REQUIRE(ringBytesFor(0, 8000, 30) == 0);
    REQUIRE(ringBytesFor(10, 8000, 30) % uint64_t(::sysconf(_SC_PAGESIZE)) == 0);
}

TEST_CASE("a disabled ring drops everything and drains nothing")
{
    for (auto [bytes, ms] : {std::pair<uint64_t, uint32_t>{0, 120'000}, {1 << 20, 0}}) {
        auto ring = makeRing(bytes, ms);
        Stream stream;
        pushPacket(*ring, stream.video(true, 1000));
        pushPacket(*ring, stream.video(false, 100));
        REQUIRE(drainAll(*ring).empty());
        RingStats s = ring->stats();
        REQUIRE(s.capacityBytes == 0);
        REQUIRE(s.packets == 0);
        REQUIRE(s.droppedPackets == 2);
        REQUIRE(ring->rawMemoryForTest().empty());
    }
}

TEST_CASE("an empty ring drains nothing")
{
    auto ring = makeRing(64 << 10, 10'000);
    REQUIRE(drainAll(*ring).empty());
    RingStats s = ring->stats();
    REQUIRE(s.capacityBytes == 64 << 10);
    REQUIRE(s.usedBytes == 0);
    REQUIRE(s.packets == 0);
    REQUIRE(s.gops == 0);
    REQUIRE(s.durationMs == 0);
    REQUIRE(ring->rawMemoryForTest().size() == pageRoundUp(64 << 10));
    REQUIRE(allZero(ring->rawMemoryForTest()));
    ring->discard();
    REQUIRE(drainAll(*ring).empty());
}

TEST_CASE("drain returns every packet oldest first with its fields and bytes, then zeroises")
{
    auto ring = makeRing(1 << 20, 120'000, true);
    Stream stream;
    std::vector<TestPacket> pushed;
    for (int gop = 0; gop < 3; ++gop) {
        for (int frame = 0; frame < 10; ++frame) {
            TestPacket v = stream.video(frame == 0, frame == 0 ? 5001 : 123 + size_t(frame));
            v.dts = v.pts - kFrameTicks; // a decode timestamp distinct from pts
            pushed.push_back(v);
            pushPacket(*ring, v);
            while (auto a = stream.audioDue(371)) {
                pushed.push_back(*a);
                pushPacket(*ring, *a);
            }
        }
    }
    REQUIRE(pushed[1].track == Track::Audio);
    RingStats s = ring->stats();
    REQUIRE(s.packets == pushed.size());
    REQUIRE(s.gops == 3);
    REQUIRE(s.durationMs == 1000); // 30 frames of 1/30 s
    uint64_t used = 0;
    for (const auto &p : pushed)
        used += recordBytes(p.size);
    REQUIRE(s.usedBytes == used);
    REQUIRE(s.droppedPackets == 0);

    requireSame(drainAll(*ring), pushed);
    s = ring->stats();
    REQUIRE(s.packets == 0);
    REQUIRE(s.usedBytes == 0);
    REQUIRE(s.gops == 0);
    REQUIRE(allZero(ring->rawMemoryForTest()));
    // After a drain the ring waits for a keyframe: the rest of the drained GOP is no use.
    pushPacket(*ring, stream.video(false, 100));
    REQUIRE(ring->stats().packets == 0);
    REQUIRE(ring->stats().droppedPackets == 1);
}

TEST_CASE("packets before the first keyframe are dropped")
{
    auto ring = makeRing(1 << 20, 120'000, true);
    Stream stream;
    pushPacket(*ring, stream.video(false, 500));
    pushPacket(*ring, *stream.audioDue(300));
    REQUIRE(ring->stats().packets == 0);
    REQUIRE(ring->stats().droppedPackets == 2);
    TestPacket key = stream.video(true, 4000);
    pushPacket(*ring, key);
    TestPacket audio = *stream.audioDue(300);
    pushPacket(*ring, audio);
    requireSame(drainAll(*ring), {key, audio});
}

TEST_CASE("audio is kept only when configured")
{
    for (bool includeAudio : {false, true}) {
        auto ring = makeRing(1 << 20, 120'000, includeAudio);
        Stream stream;
        std::vector<TestPacket> expected;
        uint64_t audioPackets = 0;
        for (int frame = 0; frame < 20; ++frame) {
            TestPacket v = stream.video(frame % 10 == 0, 700);
            pushPacket(*ring, v);
            expected.push_back(v);
            while (auto a = stream.audioDue(250)) {
                pushPacket(*ring, *a);
                ++audioPackets;
                if (includeAudio)
                    expected.push_back(*a);
            }
        }
        INFO("includeAudio " << includeAudio);
        REQUIRE(audioPackets == 32); // 20 frames of 3000 ticks = 60000, audio every 1920
        REQUIRE(ring->stats().droppedPackets == (includeAudio ? 0 : audioPackets));
        requireSame(drainAll(*ring), expected);
    }
}

TEST_CASE("the byte limit evicts whole GOPs from the oldest end")
{
    // Records: keyframe 10,000 + 56 -> 10,056; P-frame 1,000 + 56 -> 1,056.
    // A GOP of 1 keyframe and 4 P-frames is 14,280 bytes; 4 GOPs (57,120) fit in 64 KiB,
    // 5 (71,400) do not.
    auto ring = makeRing(64 << 10, 120'000);
    Stream stream;
    std::vector<std::vector<TestPacket>> gops;
    for (int g = 0; g < 4; ++g) {
        gops.emplace_back();
        for (int f = 0; f < 5; ++f) {
            gops.back().push_back(stream.video(f == 0, f == 0 ? 10'000 : 1'000));
            pushPacket(*ring, gops.back().back());
        }
    }
    REQUIRE(ring->stats().gops == 4);
    REQUIRE(ring->stats().usedBytes == 4 * 14'280);
    REQUIRE(ring->stats().evictedGops == 0);

    // The 5th keyframe (10,056 bytes) does not fit in the 8,416 bytes left at the end: the
    // first GOP goes, all of it, and the keyframe wraps to the start; its 4 P-frames then
    // fill the ring exactly.
    gops.emplace_back();
    gops.back().push_back(stream.video(true, 10'000));
    pushPacket(*ring, gops.back().back());
    REQUIRE(ring->stats().gops == 4);
    REQUIRE(ring->stats().evictedGops == 1);
    for (int f = 1; f < 5; ++f) {
        gops.back().push_back(stream.video(false, 1'000));
        pushPacket(*ring, gops.back().back());
    }
    REQUIRE(ring->stats().gops == 4);
    REQUIRE(ring->stats().evictedGops == 1);
    REQUIRE(ring->stats().droppedPackets == 0);
    REQUIRE(ring->stats().usedBytes == 64 << 10);

    std::vector<TestPacket> expected;
    for (size_t g = 1; g < gops.size(); ++g)
        expected.insert(expected.end(), gops[g].begin(), gops[g].end());
    auto drained = drainAll(*ring);
    REQUIRE(drained.front().key);
    requireSame(drained, expected);
    REQUIRE(allZero(ring->rawMemoryForTest()));
}

TEST_CASE("the duration limit evicts whole GOPs measured from the oldest keyframe")
{
    // 1 s GOPs (30 frames) and a 2 s limit, with bytes to spare.
    auto ring = makeRing(4 << 20, 2'000);
    Stream stream;
    std::vector<std::vector<TestPacket>> gops;
    auto pushGop = [&](int frames) {
        gops.emplace_back();
        for (int f = 0; f < frames; ++f) {
            gops.back().push_back(stream.video(f == 0, 2'000));
            pushPacket(*ring, gops.back().back());
        }
    };
    pushGop(30);
    pushGop(30);
    // Exactly 2 s from the first keyframe to the end of the last frame: both kept.
    REQUIRE(ring->stats().gops == 2);
    REQUIRE(ring->stats().durationMs == 2'000);
    REQUIRE(ring->stats().evictedGops == 0);
    // One more frame would make 2.033 s: the oldest GOP goes when the next keyframe comes.
    pushGop(1);
    REQUIRE(ring->stats().gops == 2);
    REQUIRE(ring->stats().evictedGops == 1);
    REQUIRE(ring->stats().durationMs == 1'033);
    for (int f = 1; f < 30; ++f) {
        gops.back().push_back(stream.video(false, 2'000));
        pushPacket(*ring, gops.back().back());
    }
    REQUIRE(ring->stats().gops == 2);
    REQUIRE(ring->stats().durationMs == 2'000);
    REQUIRE(ring->stats().usedBytes == 60 * recordBytes(2'000));

    std::vector<TestPacket> expected = gops[1];
    expected.insert(expected.end(), gops[2].begin(), gops[2].end());
    requireSame(drainAll(*ring), expected);
}

TEST_CASE("a GOP longer than the duration limit is discarded whole")
{
    auto ring = makeRing(4 << 20, 500);
    Stream stream;
    TestPacket key = stream.video(true, 100);
    pushPacket(*ring, key);
    for (int f = 1; f < 15; ++f) // 15 frames = 500 ms
        pushPacket(*ring, stream.video(false, 100));
    REQUIRE(ring->stats().packets == 15);
    REQUIRE(ring->stats().durationMs == 500);
    pushPacket(*ring, stream.video(false, 100)); // 533 ms: this GOP can never fit
    REQUIRE(ring->stats().packets == 0);
    REQUIRE(ring->stats().evictedGops == 1);
    REQUIRE(ring->stats().droppedPackets == 1);
    REQUIRE(allZero(ring->rawMemoryForTest()));
    pushPacket(*ring, stream.video(false, 100)); // still waiting for a keyframe
    REQUIRE(ring->stats().droppedPackets == 2);
    TestPacket next = stream.video(true, 100);
    pushPacket(*ring, next);
    requireSame(drainAll(*ring), {next});
}

TEST_CASE("a keyframe larger than the ring empties it and waits for one that fits")
{
    auto ring = makeRing(16 << 10, 120'000);
    Stream stream;
    pushPacket(*ring, stream.video(true, 4'000));
    pushPacket(*ring, stream.video(false, 500));
    REQUIRE(ring->stats().packets == 2);

    pushPacket(*ring, stream.video(true, 20'000)); // larger than the whole ring
    RingStats s = ring->stats();
    REQUIRE(s.packets == 0);
    REQUIRE(s.gops == 0);
    REQUIRE(s.usedBytes == 0);
    REQUIRE(s.evictedGops == 1);
    REQUIRE(s.droppedPackets == 1);
    REQUIRE(allZero(ring->rawMemoryForTest()));
    // Its P-frames have nothing to hang on.
    pushPacket(*ring, stream.video(false, 500));
    pushPacket(*ring, stream.video(false, 500));
    REQUIRE(ring->stats().droppedPackets == 3);
    // A keyframe that exactly fills the ring is accepted.
    TestPacket exact = stream.video(true, (16 << 10) - kHeader);
    pushPacket(*ring, exact);
    REQUIRE(ring->stats().usedBytes == 16 << 10);
    requireSame(drainAll(*ring), {exact});
}

TEST_CASE("a GOP that outgrows the ring is discarded whole")
{
    auto ring = makeRing(16 << 10, 120'000);
    Stream stream;
    std::vector<TestPacket> first;
    first.push_back(stream.video(true, 3'000));
    first.push_back(stream.video(false, 1'000));
    for (const auto &p : first)
        pushPacket(*ring, p);
    // Second GOP: keyframe, then P-frames until the GOP alone exceeds 16 KiB.
    pushPacket(*ring, stream.video(true, 6'000));
    pushPacket(*ring, stream.video(false, 4'000)); // 4112 + 6056 + 4056 bytes: fits
    REQUIRE(ring->stats().evictedGops == 0);
    REQUIRE(ring->stats().gops == 2);
    pushPacket(*ring, stream.video(false, 4'000)); // the first GOP goes to make room
    REQUIRE(ring->stats().evictedGops == 1);
    REQUIRE(ring->stats().gops == 1);
    REQUIRE(ring->stats().packets == 3);
    pushPacket(*ring, stream.video(false, 4'000)); // 6056 + 3 * 4056 > 16384
    RingStats s = ring->stats();
    REQUIRE(s.packets == 0);
    REQUIRE(s.gops == 0);
    REQUIRE(s.evictedGops == 2);
    REQUIRE(s.droppedPackets == 1);
    REQUIRE(allZero(ring->rawMemoryForTest()));
    pushPacket(*ring, stream.video(false, 100));
    REQUIRE(ring->stats().droppedPackets == 2);
    TestPacket key = stream.video(true, 100);
    pushPacket(*ring, key);
    requireSame(drainAll(*ring), {key});
}

TEST_CASE("discard leaves no readable byte")
{
    auto ring = makeRing(32 << 10, 120'000, true);
    Stream stream;
    for (int f = 0; f < 200; ++f) { // wraps several times
        pushPacket(*ring, stream.video(f % 7 == 0, 900 + size_t(f % 13)));
        while (auto a = stream.audioDue(301))
            pushPacket(*ring, *a);
    }
    REQUIRE(ring->stats().packets > 0);
    REQUIRE_FALSE(allZero(ring->rawMemoryForTest()));
    ring->discard();
    REQUIRE(ring->stats().packets == 0);
    REQUIRE(ring->stats().usedBytes == 0);
    REQUIRE(allZero(ring->rawMemoryForTest()));
    REQUIRE(drainAll(*ring).empty());
}

TEST_CASE("wrap-around many times with varied sizes keeps every packet intact and in order")
{
    // A small ring, many times smaller than the stream: every drain must return exactly
    // the newest complete GOPs that fit, byte for byte.
    const uint64_t capacity = 48 << 10;
    auto ring = makeRing(capacity, 120'000);
    Model model(capacity, 120'000, false);
    Stream stream;
    std::mt19937 rng(12345);
    uint64_t pushedBytes = 0;
    int drains = 0;
    int frameInGop = 0, gopLength = 1;
    for (int i = 0; i < 6'000; ++i) {
        const bool key = frameInGop == 0;
        const size_t size = key ? 2'000 + rng() % 6'000 : 1 + rng() % 1'500;
        TestPacket p = stream.video(key, size);
        pushPacket(*ring, p);
        model.push(p);
        pushedBytes += size;
        if (++frameInGop == gopLength) {
            frameInGop = 0;
            gopLength = 1 + int(rng() % 20);
        }
        if (i % 997 == 996) {
            auto drained = drainAll(*ring);
            REQUIRE(!drained.empty());
            REQUIRE(drained.front().key);
            requireSame(drained, model.drain());
            REQUIRE(allZero(ring->rawMemoryForTest()));
            ++drains;
        }
    }
    REQUIRE(pushedBytes > 50 * capacity);
    REQUIRE(drains == 6);
    requireStatsMatch(*ring, model);
    requireSame(drainAll(*ring), model.drain());
}

TEST_CASE("randomized pushes, drains and discards agree with a reference model")
{
    struct Config {
        uint64_t bytes;
        uint32_t ms;
        bool audio;
    };
    const Config configs[] = {
        {20'000, 120'000, false},  {20'000, 1'000, true}, {200'000, 3'000, true},
        {200'000, 120'000, false}, {4'096, 500, true},
    };
    uint32_t seed = 1;
    for (const Config &config : configs) {
        INFO("ring " << config.bytes << " bytes, " << config.ms << " ms, audio " << config.audio);
        auto ring = makeRing(config.bytes, config.ms, config.audio);
        Model model(config.bytes, config.ms, config.audio);
        Stream stream;
        std::mt19937 rng(seed++);
        auto chance = [&](uint32_t perMille) { return rng() % 1000 < perMille; };
        int frameInGop = 0, gopLength = 10;
        for (int i = 0; i < 3'000; ++i) {
            const bool key = frameInGop == 0 || chance(5);
            size_t size;
            if (key)
                size = chance(10) ? config.bytes + rng() % 1000 : 500 + rng() % 8'000;
            else
                size = chance(5) ? config.bytes / 2 : rng() % 2'500;
            TestPacket p = stream.video(key, size);
            pushPacket(*ring, p);
            model.push(p);
            requireStatsMatch(*ring, model);
            while (auto a = stream.audioDue(100 + rng() % 300)) {
                pushPacket(*ring, *a);
                model.push(*a);
            }
            requireStatsMatch(*ring, model);
            if (++frameInGop >= gopLength) {
                frameInGop = 0;
                gopLength = 1 + int(rng() % 45);
            }
            if (chance(8)) {
                auto drained = drainAll(*ring);
                if (!drained.empty())
                    REQUIRE(drained.front().key);
                requireSame(drained, model.drain());
                REQUIRE(allZero(ring->rawMemoryForTest()));
            } else if (chance(2)) {
                ring->discard();
                model.drain();
                REQUIRE(allZero(ring->rawMemoryForTest()));
            }
            REQUIRE(ring->stats().usedBytes <= ring->stats().capacityBytes);
            REQUIRE(ring->stats().durationMs <= config.ms);
        }
        requireSame(drainAll(*ring), model.drain());
    }
}

TEST_CASE("push and drain do not allocate")
{
    auto ring = makeRing(256 << 10, 120'000, true);
    Stream stream;
    std::vector<TestPacket> packets;
    std::vector<Bytes> payloads;
    for (int f = 0; f < 300; ++f) {
        packets.push_back(stream.video(f % 30 == 0, 1'000 + size_t(f) * 7));
        while (auto a = stream.audioDue(300))
            packets.push_back(*a);
    }
    for (const auto &p : packets)
        payloads.push_back(payloadOf(p));
    std::vector<PacketView> views;
    for (size_t i = 0; i < packets.size(); ++i) {
        const auto &p = packets[i];
        views.push_back({p.track, p.key, p.pts, p.dts, p.duration, p.monoNs(), payloads[i]});
    }
    uint64_t drainedBytes = 0, drainedPackets = 0;
    PacketSink sink = [&](const PacketView &p) {
        drainedBytes += p.data.size();
        ++drainedPackets;
    };

    gAllocations = 0;
    gCountAllocations = true;
    for (const auto &view : views)
        ring->push(view);
    const RingStats before = ring->stats();
    ring->drain(sink);
    gCountAllocations = false;

    REQUIRE(gAllocations == 0);
    REQUIRE(before.evictedGops > 0); // eviction ran too
    REQUIRE(drainedPackets == before.packets);
    REQUIRE(drainedBytes > 0);
}

TEST_CASE("a ring that cannot be locked in RAM still works and says so")
{
    // Take away CAP_IPC_LOCK (if held) and the memlock allowance, so mlock must fail.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[2]{};
    REQUIRE(::syscall(SYS_capget, &header, caps) == 0);
    const __user_cap_data_struct saved[2] = {caps[0], caps[1]};
    caps[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    REQUIRE(::syscall(SYS_capset, &header, caps) == 0);
    rlimit oldLimit{};
    REQUIRE(::getrlimit(RLIMIT_MEMLOCK, &oldLimit) == 0);
    rlimit noLock = oldLimit;
    noLock.rlim_cur = 0;
    REQUIRE(::setrlimit(RLIMIT_MEMLOCK, &noLock) == 0);

    auto unlocked = PacketRing::create({64 << 10, 120'000, false});

    REQUIRE(::setrlimit(RLIMIT_MEMLOCK, &oldLimit) == 0);
    __user_cap_data_struct restore[2] = {saved[0], saved[1]};
    REQUIRE(::syscall(SYS_capset, &header, restore) == 0);

    REQUIRE(unlocked);
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's mlock interceptor does nothing and reports success.
    REQUIRE((*unlocked)->stats().locked);
#else
    REQUIRE_FALSE((*unlocked)->stats().locked);
#endif
    Stream stream;
    TestPacket key = stream.video(true, 5'000);
    pushPacket(**unlocked, key);
    requireSame(drainAll(**unlocked), {key});

    // With the allowance back, a small ring is locked.
    auto locked = makeRing(64 << 10, 120'000);
    REQUIRE(locked->stats().locked);
}
