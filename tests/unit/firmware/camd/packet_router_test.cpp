// The packet router between the capture threads, the pre-record ring and the clip
// writer's queue: pre-roll joins live packets with no gap and no duplicate, control items
// stay in order with the packets, and a writer that falls behind costs dropped packets
// (never a blocked capture thread), resuming only at a keyframe.

#include <catch2/catch_test_macros.hpp>

#include <variant>

#include "firmware/camd/packet_router.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

constexpr int64_t kFrameTicks = kTicksPerSecond / 30;

// Video frame `i` of a 30 fps stream with 1 s GOPs; its bytes carry the index.
Bytes frameBytes(uint64_t i, size_t size)
{
    Bytes b(size, uint8_t(i));
    b[0] = uint8_t(i >> 8);
    return b;
}

void pushFrame(PacketRouter &router, uint64_t i, size_t size = 1000)
{
    const Bytes data = frameBytes(i, size);
    PacketView p;
    p.track = Track::Video;
    p.keyframe = i % 30 == 0;
    p.pts = p.dts = int64_t(i) * kFrameTicks;
    p.duration = kFrameTicks;
    p.monoNs = int64_t(i) * 1'000'000'000 / 30;
    p.data = data;
    router.push(p);
}

std::unique_ptr<PacketRing> ring(uint32_t seconds)
{
    RingLimits limits;
    limits.maxDurationMs = seconds * 1000;
    limits.maxBytes = ringBytesFor(seconds, 1000, 30);
    auto r = PacketRing::create(limits);
    REQUIRE(r.ok());
    return std::move(*r);
}

// Everything queued, in order: 'S' start, 'P' packet (index in `frames`), 'X' stop,
// 'R' roll-over, 'M' metadata.
std::string drainQueue(PacketRouter &router, std::vector<uint64_t> &frames)
{
    std::string kinds;
    while (auto item = router.pop(0)) {
        if (const auto *p = std::get_if<OwnedPacket>(&*item)) {
            kinds += 'P';
            frames.push_back(uint64_t(p->pts / kFrameTicks));
            REQUIRE(p->data == frameBytes(frames.back(), p->data.size()));
        } else if (std::holds_alternative<StartClip>(*item)) {
            kinds += 'S';
        } else if (std::holds_alternative<StopClip>(*item)) {
            kinds += 'X';
        } else if (std::holds_alternative<RollOver>(*item)) {
            kinds += 'R';
        } else {
            kinds += 'M';
        }
    }
    return kinds;
}

} // namespace

TEST_CASE("router: while idle packets go to the ring and nothing reaches the writer")
{
    PacketRouter router(ring(5), 1 << 20);
    for (uint64_t i = 0; i < 200; ++i)
        pushFrame(router, i);
    CHECK(!router.pop(0).has_value());
    const RouterStats s = router.stats();
    CHECK(!s.recording);
    CHECK(s.queuedBytes == 0);
    CHECK(s.ring.packets > 0);
    // Metadata while idle is not kept (there is no clip to hold it).
    router.metadata(v1::MetadataRecord());
    CHECK(!router.pop(0).has_value());
}

TEST_CASE("router: the pre-roll and live packets join with no gap and no duplicate")
{
    PacketRouter router(ring(2), 1 << 20);
    for (uint64_t i = 0; i < 100; ++i) // 3.3 s: the ring keeps whole GOPs of the last 2 s
        pushFrame(router, i);
    router.startRecording(100ll * 1'000'000'000 / 30);
    for (uint64_t i = 100; i < 130; ++i)
        pushFrame(router, i);
    router.metadata(v1::MetadataRecord());
    router.rollOver(0);
    for (uint64_t i = 130; i < 140; ++i)
        pushFrame(router, i);
    router.stopRecording(0);
    pushFrame(router, 140); // back to the ring

    std::vector<uint64_t> frames;
    const std::string kinds = drainQueue(router, frames);
    REQUIRE(!frames.empty());
    CHECK(frames.front() % 30 == 0); // the pre-roll starts on a keyframe
    CHECK(frames.front() >= 30);
    for (size_t i = 1; i < frames.size(); ++i)
        REQUIRE(frames[i] == frames[i - 1] + 1);
    CHECK(frames.back() == 139);
    // Control items in order with the packets around them.
    const size_t live = 130 - frames.front();
    CHECK(kinds == "S" + std::string(live, 'P') + "MR" + std::string(10, 'P') + "X");
    CHECK(!router.recording());
    CHECK(router.stats().ring.packets == 0); // frame 140 is not a keyframe: dropped by the ring
}

TEST_CASE(
    "router: a writer that falls behind costs dropped packets and video resumes at a keyframe")
{
    // Room for about 40 frames of 10 KB.
    PacketRouter router(ring(1), 400'000);
    router.startRecording(0);
    for (uint64_t i = 0; i < 120; ++i)
        pushFrame(router, i, 10'000);
    const RouterStats full = router.stats();
    CHECK(full.queueDropped > 0);
    CHECK(full.queuedBytes <= 400'000);

    // What was queued is an unbroken run from the start.
    std::vector<uint64_t> before;
    drainQueue(router, before);
    REQUIRE(!before.empty());
    CHECK(before.front() == 0);
    CHECK(before.back() == before.size() - 1);
    CHECK(full.queueDropped == 120 - before.size());

    // The writer has caught up; capture went on. Frames 120.. are queued again, starting
    // with 120 because it is a keyframe.
    for (uint64_t i = 120; i < 160; ++i)
        pushFrame(router, i, 10'000);
    std::vector<uint64_t> after;
    drainQueue(router, after);
    REQUIRE(after.size() == 40);
    CHECK(after.front() == 120);
    CHECK(router.stats().queueDropped == full.queueDropped);

    // Behind again in the middle of a GOP: nothing until a keyframe arrives with room.
    for (uint64_t i = 160; i < 205; ++i)
        pushFrame(router, i, 10'000); // fills at about 199, drops 200..204
    std::vector<uint64_t> third;
    drainQueue(router, third);
    const uint64_t lastQueued = third.back();
    CHECK(lastQueued < 204);
    for (uint64_t i = 205; i < 210; ++i)
        pushFrame(router, i, 10'000); // not keyframes: still dropped though the queue is empty
    CHECK(!router.pop(0).has_value());
    pushFrame(router, 210, 10'000); // the next keyframe resumes
    std::vector<uint64_t> fourth;
    drainQueue(router, fourth);
    CHECK(fourth == std::vector<uint64_t>{210});
}

TEST_CASE("router: starting twice or stopping while idle changes nothing")
{
    PacketRouter router(ring(2), 1 << 20);
    router.stopRecording(0);
    CHECK(!router.pop(0).has_value());
    router.startRecording(0);
    router.startRecording(0);
    std::vector<uint64_t> frames;
    CHECK(drainQueue(router, frames) == "S");
    router.rollOver(0);
    router.stopRecording(0);
    router.stopRecording(0);
    CHECK(drainQueue(router, frames) == "RX");
}
