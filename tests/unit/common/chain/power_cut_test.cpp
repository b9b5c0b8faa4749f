// A power cut at every step of a recording session, in three variants, followed by a
// reboot: boot recovery must leave a chain without gaps and a clip that verifies, holding
// a prefix of what was recorded that loses nothing a durable checkpoint covered.

#include <catch2/catch_test_macros.hpp>

#include <filesystem>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/dir_util.h"
#include "common/chain/manifest.h"
#include "common/chain/recovery.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/common/chain/power_cut.h"

using namespace bwc;
using namespace bwc::chain;
using namespace bwc::chain::test;

namespace
{

constexpr int kSeconds = 10;
constexpr size_t kMediaAppend = 20 * 1024;
constexpr size_t kMetaAppend = 150;

// What the recorder did before the power went.
struct Recording {
    uint64_t mediaAppended = 0;
    uint64_t metaAppended = 0;
    // Media and metadata bytes covered by the last checkpoint that was durable (its
    // checkpoint() call returned).
    uint64_t mediaDurable = 0;
    uint64_t metaDurable = 0;
    bool anyCheckpointDurable = false;
    bool sealed = false;
    std::optional<container::ClipUuid> uuid;
};

struct Keys {
    const crypto::Backend &device;
    crypto::P256KeyPair deviceKey;
    crypto::P256KeyPair recipient;
    // A device that has booted before: "chain" holds one BOOT manifest, "counter" is 1.
    std::string bootedDevice;
};

void prepareBootedDevice(Keys &keys, const std::string &dir)
{
    keys.bootedDevice = dir;
    ManualClock clock;
    auto id = makeIdentity(keys.device, "cam-0001", keys.deviceKey, dir + "/counter");
    auto chain = must(ChainState::open(keys.device, *id, dir + "/chain", clock));
    v1::Manifest boot;
    boot.set_kind(v1::MANIFEST_KIND_BOOT);
    must(chain->issue(boot));
}

// One recording through `power`; stops at the first failure.
Expected<void> record(const Keys &keys, DeviceIdentity &identity, ChainState &chain,
                      const std::string &clipDir, ManualClock &clock, PowerCut &power,
                      Recording &rec)
{
    SessionOptions options = sessionOptions(clipDir, keys.recipient.pub, clock.utcMs());
    BWC_ASSIGN(session, ClipSession::create(keys.device, identity, options, power.factory()));
    rec.uuid = session->clipUuid();
    rec.anyCheckpointDurable = true; // checkpoint 0, written by create()
    for (int second = 0; second < kSeconds; ++second) {
        for (int i = 0; i < 2; ++i) {
            BWC_TRY(session->append(container::kMediaStreamId,
                                    patternBytes(rec.mediaAppended, kMediaAppend, 0)));
            rec.mediaAppended += kMediaAppend;
        }
        BWC_TRY(session->append(container::kMetadataStreamId,
                                patternBytes(rec.metaAppended, kMetaAppend, 0x5c)));
        rec.metaAppended += kMetaAppend;
        clock.advanceMs(1000);
        BWC_TRY(session->checkpoint(clock.utcMs()));
        rec.mediaDurable = rec.mediaAppended;
        rec.metaDurable = rec.metaAppended;
    }
    BWC_TRY(session->seal(chain, clock.utcMs()));
    rec.sealed = true;
    return {};
}

bool isPrefix(const Bytes &part, const Bytes &whole)
{
    return part.size() <= whole.size() && std::equal(part.begin(), part.end(), whole.begin());
}

// Runs the session with a cut at `step` (0: never), reboots, recovers and checks.
// Returns the steps the session took.
std::vector<std::string> runOnce(const Keys &keys, uint64_t step, CutVariant variant)
{
    const crypto::Backend &backend = keys.device;
    TempDir dir;
    const std::string clips = dir.file("clips");
    const std::string chainDir = dir.file("chain");
    const std::string counter = dir.file("counter");
    must(makeDirectories(clips));
    ManualClock clock;

    std::filesystem::copy(keys.bootedDevice, dir.path(), std::filesystem::copy_options::recursive);

    PowerCut power(step, variant);
    Recording rec;
    {
        auto software = makeIdentity(backend, "cam-0001", keys.deviceKey, counter);
        DeviceIdentity &id = power.identity(*software);
        auto chain = must(ChainState::open(backend, id, chainDir, clock));
        auto r = record(keys, id, *chain, clips, clock, power, rec);
        INFO("cut at step " << step << " (" << cutVariantName(variant) << ")"
                            << (power.trace().empty() ? "" : ": " + power.trace().back()));
        if (step == 0 || step > power.steps()) {
            INFO((r.ok() ? std::string() : r.error().message));
            REQUIRE(r.ok());
            REQUIRE(rec.sealed);
        } else {
            REQUIRE_FALSE(r.ok());
            REQUIRE(power.cut());
            CHECK(r.error().code == Errc::Io);
        }
    }
    power.applyToFlash();

    // Reboot.
    INFO("cut at step " << step << " (" << cutVariantName(variant)
                        << "): " << (power.cut() ? power.trace().back() : "no cut"));
    auto id = makeIdentity(backend, "cam-0001", keys.deviceKey, counter);
    auto chain = must(ChainState::open(backend, *id, chainDir, clock));
    auto recovered = must(recoverUnfinishedClips(backend, *id, *chain, clips));
    CHECK(recovered.size() <= 1);
    for (const auto &rc : recovered) {
        INFO(rc.note);
        CHECK(
            (rc.outcome == RecoveryOutcome::Interrupted || rc.outcome == RecoveryOutcome::NoMedia));
    }

    // No gap: every seq the counter handed out has a manifest, all verify and link.
    const crypto::Backend &dock = dockBackend();
    auto all = checkWholeChain(dock, *chain, keys.deviceKey.pub);
    CHECK(chain->head().seq() == id->counterValue());

    // No checkpoint log is left; no clip file without a manifest is left.
    for (const auto &name : must(listFiles(clips))) {
        INFO(name);
        CHECK_FALSE(endsWith(name, ".ckpt"));
        CHECK_FALSE(endsWith(name, ".unrecoverable"));
    }

    std::vector<const v1::Manifest *> clipManifests;
    for (const auto &m : all) {
        if (m.kind() == v1::MANIFEST_KIND_CLIP || m.kind() == v1::MANIFEST_KIND_INTERRUPTED)
            clipManifests.push_back(&m);
    }
    REQUIRE(clipManifests.size() <= 1);
    if (rec.sealed) {
        REQUIRE(clipManifests.size() == 1);
        CHECK(clipManifests[0]->kind() == v1::MANIFEST_KIND_CLIP);
    }
    std::vector<std::string> clipFiles;
    for (const auto &name : must(listFiles(clips))) {
        if (endsWith(name, std::string(kClipFileSuffix)))
            clipFiles.push_back(name);
    }
    if (clipManifests.empty()) {
        // Only a clip whose checkpoint 0 never reached flash may vanish, and then its
        // file held no media and is gone.
        CHECK_FALSE(rec.anyCheckpointDurable);
        CHECK(clipFiles.empty());
        return power.trace();
    }

    // The clip may have been recovered from a checkpoint 0 written before create() could
    // report it, so its id comes from the manifest.
    const v1::Manifest &m = *clipManifests[0];
    container::ClipUuid uuid{};
    REQUIRE(m.clip_uuid().size() == uuid.size());
    std::copy(m.clip_uuid().begin(), m.clip_uuid().end(), uuid.begin());
    if (rec.uuid)
        CHECK(*rec.uuid == uuid);
    const std::string clipPath = clipFilePath(clips, uuid);
    REQUIRE(clipFiles == std::vector<std::string>{baseName(clipPath)});
    OpenedClip opened = openClip(dock, m, clipPath, keys.recipient);

    const Bytes allMedia = patternBytes(0, rec.mediaAppended + kMediaAppend, 0);
    const Bytes allMeta = patternBytes(0, rec.metaAppended + kMetaAppend, 0x5c);
    CHECK(isPrefix(opened.media, allMedia));
    CHECK(isPrefix(opened.metadata, allMeta));
    CHECK(opened.media.size() >= rec.mediaDurable);
    CHECK(opened.metadata.size() >= rec.metaDurable);
    CHECK(opened.media.size() <= rec.mediaAppended);
    if (rec.sealed) {
        CHECK(opened.media.size() == rec.mediaAppended);
        CHECK(opened.metadata.size() == rec.metaAppended);
    }

    // Recovery is done: running it again changes nothing.
    const uint64_t head = chain->head().seq();
    CHECK(must(recoverUnfinishedClips(backend, *id, *chain, clips)).empty());
    CHECK(chain->head().seq() == head);
    return power.trace();
}

} // namespace

TEST_CASE("power cut at every step of a recording, three variants", "[power_cut]")
{
    BWC_CHAIN_EACH_BACKEND(device);
    Keys keys{device, generateKey(device), generateKey(device), {}};
    TempDir booted;
    prepareBootedDevice(keys, booted.path());

    // A run without a cut lists the steps (and must seal).
    const std::vector<std::string> steps = runOnce(keys, 0, CutVariant::AllWritten);
    const uint64_t total = steps.size();
    INFO("a recording takes " << total << " steps");
    REQUIRE(total > 5 * uint64_t(kSeconds));

    for (CutVariant variant :
         {CutVariant::SyncedOnly, CutVariant::AllWritten, CutVariant::TornLastWrite}) {
        for (uint64_t step = 1; step <= total; ++step) {
            // A sync cannot be torn: that run would repeat the AllWritten one.
            if (variant == CutVariant::TornLastWrite &&
                steps[step - 1].find(": sync ") != std::string::npos)
                continue;
            runOnce(keys, step, variant);
        }
    }
}
