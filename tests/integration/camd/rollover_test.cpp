// The clip writer's roll-over: a long recording continues in a new clip, chained to the
// previous one, starting at the next keyframe, with no frame lost or repeated between them.

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

#include "common/base/clock.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/container/metadata.h"
#include "firmware/camd/clip_recorder.h"
#include "firmware/camd/packet_router.h"
#include "firmware/camd/pipeline.h"
#include "firmware/storage/storage.h"
#include "tests/integration/camd/camd_harness.h"

using namespace bwc;
namespace fs = std::filesystem;

TEST_CASE("camd: a roll-over continues in a new chained clip without losing a frame")
{
    char tmpl[] = "/tmp/bwc-rollover-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    auto backend = crypto::makeMbedtlsBackend();
    auto deviceKey = backend->p256Generate();
    auto agencyKey = backend->p256Generate();
    REQUIRE(deviceKey.ok());
    REQUIRE(agencyKey.ok());
    auto identity =
        chain::SoftwareIdentity::fromParts(*backend, "CAM-R1", *deviceKey, {}, dir + "/counter");
    REQUIRE(identity.ok());
    SystemClock clock;
    auto chainState = chain::ChainState::open(*backend, **identity, dir + "/chain", clock);
    REQUIRE(chainState.ok());
    fs::create_directories(dir + "/clips");
    auto storage = fw::Storage::open({dir + "/clips", 99, 1 << 20});
    REQUIRE(storage.ok());

    fw::RingLimits limits;
    limits.maxDurationMs = 1000; // keeps the GOP in progress: frames 30..44 at the press
    limits.maxBytes = fw::ringBytesFor(2, 600, 30);
    auto ring = fw::PacketRing::create(limits);
    REQUIRE(ring.ok());
    fw::PacketRouter router(std::move(*ring), 64ull << 20);
    fw::PipelineOptions po;
    po.video.kind = "synthetic";
    po.video.format = {320, 240, 30};
    po.video.paced = false;
    po.encoder.preset = "ultrafast";
    po.encoder.bitrateKbps = 600;
    auto pipeline = fw::Pipeline::create(po, router, [](int64_t) { return fw::WatermarkFields{}; });
    REQUIRE(pipeline.ok());

    fw::ClipRecorderOptions ro;
    ro.clipDir = dir + "/clips";
    ro.recipients = {agencyKey->pub};
    ro.fwVersion = "test";
    ro.video = (*pipeline)->videoParams();
    std::vector<fw::ClipEvent> events;
    std::mutex eventsMutex;
    fw::ClipRecorder recorder(*backend, **identity, **chainState, *storage, router, ro,
                              [&](const fw::ClipEvent &e) {
                                  std::lock_guard lock(eventsMutex);
                                  events.push_back(e);
                              });
    recorder.start();
    REQUIRE((*pipeline)->runVideoFrames(45).ok()); // pre-roll: frames 0..44
    router.startRecording(45ll * 1'000'000'000 / 30);
    REQUIRE((*pipeline)->runVideoFrames(50).ok()); // up to frame 94
    router.rollOver(0);                            // takes effect at the keyframe of frame 120
    REQUIRE((*pipeline)->runVideoFrames(70).ok()); // up to frame 164
    router.stopRecording(0);
    recorder.stop();

    size_t sealed = 0, rollovers = 0;
    for (const fw::ClipEvent &e : events) {
        INFO(e.detail);
        CHECK(e.kind != fw::ClipEvent::Kind::SealFailed);
        CHECK(e.kind != fw::ClipEvent::Kind::StartFailed);
        if (e.kind == fw::ClipEvent::Kind::Sealed) {
            ++sealed;
            rollovers += e.rollover ? 1 : 0;
        }
    }
    CHECK(sealed == 2);
    CHECK(rollovers == 1);

    // Two CLIP manifests, seq 1 and 2, the second a roll-over continuing the first.
    std::vector<v1::Manifest> manifests;
    for (uint64_t seq = 1; seq <= (*chainState)->head().seq(); ++seq) {
        auto sm = (*chainState)->loadManifest(seq);
        REQUIRE(sm.ok());
        auto m = chain::parseManifest(*sm);
        REQUIRE(m.ok());
        manifests.push_back(*m);
    }
    REQUIRE(manifests.size() == 2);
    CHECK(manifests[0].kind() == v1::MANIFEST_KIND_CLIP);
    CHECK(manifests[0].trigger() == v1::TRIGGER_BUTTON);
    CHECK(manifests[1].kind() == v1::MANIFEST_KIND_CLIP);
    CHECK(manifests[1].trigger() == v1::TRIGGER_ROLLOVER);
    CHECK(manifests[1].continues_clip_uuid() == manifests[0].clip_uuid());

    // Decrypted, the two clips hold frames 30..119 and 120..164: contiguous.
    std::vector<uint64_t> all;
    for (size_t i = 0; i < 2; ++i) {
        container::ClipUuid uuid{};
        std::copy(manifests[i].clip_uuid().begin(), manifests[i].clip_uuid().end(), uuid.begin());
        const std::string clip = dir + "/clips/" + container::uuidToString(uuid) + ".bwcclip";
        const std::string mp4 = dir + "/clip" + std::to_string(i) + ".mp4";
        auto records = test::openClip(*backend, *agencyKey, clip, mp4);
        bool sawStart = false;
        for (const v1::MetadataRecord &r : records)
            sawStart |= r.has_event() && r.event().name() == "record-start";
        CHECK(sawStart);
        std::vector<uint64_t> counters;
        test::DecodedMedia media = test::decodeMp4(mp4, counters, 0);
        CHECK(media.firstPacketKey);
        REQUIRE(!counters.empty());
        CHECK(counters.front() % 30 == 0); // each clip starts on a GOP boundary
        all.insert(all.end(), counters.begin(), counters.end());
    }
    REQUIRE(all.size() == 165 - 30);
    for (size_t i = 0; i < all.size(); ++i)
        CHECK(all[i] == 30 + i);
    fs::remove_all(dir);
}
