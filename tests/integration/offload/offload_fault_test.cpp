// Fault tests of the offload: the real camera client (mbedTLS) and the real dock server
// (OpenSSL, EvidenceStore) in one process, with a relay that drops the connection after a
// random number of bytes. Invariants after every attempt: a clip is gone from the camera
// only if the dock stores it and has receipted it; nothing is stored twice; after a clean
// session everything is stored once, verified, and wiped from the camera.
//
// BWC_OFFLOAD_FAULT_TRIALS sets the number of trials (default 5; the `fault` label runs 50).

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/base/file.h"
#include "common/chain/dir_util.h"
#include "common/net/platform/openssl/tls_client.h"
#include "tests/support/offload_rig.h"
#include "tests/unit/common/chain/chain_test_util.h"

namespace bwc::rig {
namespace {

using chain::test::must;

int trialsFromEnv(int fallback)
{
    const char *v = std::getenv("BWC_OFFLOAD_FAULT_TRIALS");
    return v ? std::max(1, std::atoi(v)) : fallback;
}

// uuid -> seq of every clip the dock stores (state stored), checking each uuid once.
std::map<std::string, uint64_t> storedClips(store::EvidenceStore &store)
{
    store::ClipFilter filter;
    filter.state = store::ClipState::Stored;
    std::map<std::string, uint64_t> out;
    for (const store::ClipRow &row : must(store.catalog().listClips(filter))) {
        INFO("clip stored twice: seq " << row.seq);
        REQUIRE(out.emplace(row.uuid, row.seq).second);
    }
    return out;
}

// The highest seq covered by a receipt for the device, 0 for none.
uint64_t receiptedThrough(store::EvidenceStore &store, const std::string &deviceId)
{
    uint64_t last = 0;
    for (const store::ReceiptRow &r : must(store.catalog().receipts(deviceId)))
        last = std::max(last, r.lastSeq);
    return last;
}

size_t objectCount(const std::string &storeRoot)
{
    size_t n = 0;
    for (const auto &entry :
         std::filesystem::recursive_directory_iterator(storeRoot + "/objects"))
        n += entry.is_regular_file() ? 1 : 0;
    return n;
}

// Every clip missing from the camera is stored by the dock and covered by a receipt.
void checkNothingLost(OffloadRig &rig, size_t cam, const std::vector<SealedClip> &clips)
{
    const auto onCamera = must(rig.clipFilesOnCamera(cam));
    const std::set<std::string> present(onCamera.begin(), onCamera.end());
    const auto stored = storedClips(rig.store());
    const uint64_t receipted = receiptedThrough(rig.store(), rig.camera(cam).id);
    for (const SealedClip &clip : clips) {
        const std::string name = clip.clipPath.substr(clip.clipPath.rfind('/') + 1);
        if (present.count(name))
            continue;
        INFO("clip seq " << clip.seq << " (" << name << ") was deleted from the camera");
        REQUIRE(stored.count(clip.uuid) == 1);
        REQUIRE(stored.at(clip.uuid) == clip.seq);
        REQUIRE(receipted >= clip.seq);
    }
}

TEST_CASE("offload: a connection dropped at random byte offsets loses and duplicates nothing")
{
    const int trials = trialsFromEnv(5);
    std::mt19937_64 rng(0xb0c0ffee ^ uint64_t(trials));
    int totalAttempts = 0, totalDropped = 0;
    for (int trial = 0; trial < trials; ++trial) {
        chain::test::TempDir dir;
        auto rig = must(OffloadRig::create(dir.path(), 1));
        std::uniform_int_distribution<size_t> size(200'000, 2'000'000);
        std::vector<SealedClip> clips;
        uint64_t total = 0;
        for (int c = 0; c < 3; ++c) {
            clips.push_back(must(rig->seal(0, size(rng))));
            total += clips.back().bytes;
        }
        must(rig->startDock());

        // Cut points anywhere from the first handshake byte to past the whole session.
        std::uniform_int_distribution<uint64_t> cutAt(0, total + 40'000);
        int attempts = 0, dropped = 0;
        bool done = false;
        while (!done) {
            REQUIRE(++attempts <= 40);
            const uint64_t cut = cutAt(rng);
            auto proxy = must(CutProxy::start(rig->dockPort(), cut));
            auto result = rig->offload(0, proxy->port(), 64 * 1024);
            INFO("trial " << trial << " attempt " << attempts << " cut after " << cut
                          << " bytes; relayed " << proxy->forwarded());
            if (result) {
                done = true;
            } else {
                ++dropped;
                REQUIRE(proxy->cut());
            }
            proxy.reset();
            checkNothingLost(*rig, 0, clips);
            // A dock restart between attempts now and then: partial files must resume.
            if (!done && attempts % 3 == 0) {
                rig->stopDock();
                must(rig->startDock());
            }
        }

        // A clean session finishes the job (it has nothing left to do if the last one did).
        auto final = must(rig->offload(0));
        INFO("trial " << trial << ": " << attempts << " attempts, " << dropped << " dropped");
        totalAttempts += attempts;
        totalDropped += dropped;
        checkNothingLost(*rig, 0, clips);
        CHECK(must(rig->clipFilesOnCamera(0)).empty());
        CHECK(must(rig->camera(0).chain->pendingManifests(0)).empty());
        const auto stored = storedClips(rig->store());
        CHECK(stored.size() == clips.size());
        CHECK(objectCount(rig->store().root()) == clips.size());
        for (const SealedClip &clip : clips) {
            auto row = must(rig->store().catalog().clip(clip.uuid));
            REQUIRE(row.has_value());
            CHECK(row->verified);
            CHECK(row->size == clip.bytes);
        }
        CHECK(must(rig->store().status()).openAlarms == 0);
        CHECK(must(rig->store().verifyAudit()) > 0);
        (void)final;
    }
    std::printf("offload drops: %d trials, %d sessions, %d dropped at a random byte, every clip "
                "stored once and wiped only after its receipt\n",
                trials, totalAttempts, totalDropped);
}

TEST_CASE("offload: eight cameras offload at once, each clip stored once and wiped")
{
    chain::test::TempDir dir;
    constexpr size_t kCameras = 8;
    auto rig = must(OffloadRig::create(dir.path(), kCameras));
    std::vector<std::vector<SealedClip>> clips(kCameras);
    for (size_t c = 0; c < kCameras; ++c) {
        for (int k = 0; k < 2; ++k)
            clips[c].push_back(must(rig->seal(c, 1'000'000 + c * 10'000 + size_t(k))));
    }
    must(rig->startDock());
    std::vector<Expected<fw::OffloadResult>> results(kCameras,
                                                     Error(Errc::Internal, "not run"));
    std::vector<std::thread> threads;
    for (size_t c = 0; c < kCameras; ++c)
        threads.emplace_back([&, c] { results[c] = rig->offload(c); });
    for (auto &t : threads)
        t.join();
    for (size_t c = 0; c < kCameras; ++c) {
        INFO("camera " << rig->camera(c).id << ": "
                       << (results[c] ? std::string("ok") : results[c].error().message));
        REQUIRE(results[c].ok());
        CHECK(results[c]->wipedSeqs.size() == clips[c].size());
        CHECK(must(rig->clipFilesOnCamera(c)).empty());
        checkNothingLost(*rig, c, clips[c]);
    }
    CHECK(storedClips(rig->store()).size() == kCameras * 2);
    CHECK(objectCount(rig->store().root()) == kCameras * 2);
    CHECK(must(rig->store().verifyAudit()) > 0);
}

TEST_CASE("offload: a full dock refuses the clip and the camera keeps everything")
{
    chain::test::TempDir dir;
    auto rig = must(OffloadRig::create(dir.path(), 1));
    const SealedClip clip = must(rig->seal(0, 500'000));
    // A reserve larger than any disk: every offered file would go below it.
    must(rig->startDock(true, uint64_t(1) << 60));
    auto result = must(rig->offload(0));
    CHECK(result.refusedReason.find("dock storage full") != std::string::npos);
    CHECK(result.wipedSeqs.empty());
    CHECK(must(rig->clipFilesOnCamera(0)).size() == 1);
    CHECK(storedClips(rig->store()).empty());
    CHECK(must(rig->camera(0).chain->pendingManifests(0)).size() == 1);
    // With room again, the same clip goes through and is wiped.
    rig->stopDock();
    must(rig->startDock());
    auto retry = must(rig->offload(0));
    CHECK(retry.wipedSeqs == std::vector<uint64_t>{clip.seq});
    CHECK(must(rig->clipFilesOnCamera(0)).empty());
}

TEST_CASE("offload: the OpenSSL client (the benchmark's) runs the same session as the camera's")
{
    chain::test::TempDir dir;
    auto rig = must(OffloadRig::create(dir.path(), 1));
    const SealedClip a = must(rig->seal(0, 300'000));
    const SealedClip b = must(rig->seal(0, 700'000));
    must(rig->startDock());
    rig->setConnect(net::tlsConnectOpenssl);
    auto result = must(rig->offload(0));
    CHECK(result.wipedSeqs == std::vector<uint64_t>{a.seq, b.seq});
    CHECK(result.bytesSent == a.bytes + b.bytes);
    CHECK(must(rig->clipFilesOnCamera(0)).empty());
    CHECK(storedClips(rig->store()).size() == 2);
}

} // namespace
} // namespace bwc::rig
