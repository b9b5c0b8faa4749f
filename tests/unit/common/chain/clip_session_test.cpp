#include "common/chain/clip_session.h"

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/checkpoint.h"
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

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

constexpr size_t kAppend = 20 * 1024;
constexpr size_t kMetaAppend = 180;

// A camera: identity, chain and clip directory; records with deterministic data.
struct Camera {
    const crypto::Backend &backend;
    TempDir dir;
    crypto::P256KeyPair key = generateKey(backend);
    crypto::P256KeyPair recipient = generateKey(backend);
    ManualClock clock;
    std::string clips = dir.file("clips");
    std::string chainDir = dir.file("chain");
    std::unique_ptr<SoftwareIdentity> identity;
    std::unique_ptr<ChainState> chain;
    uint64_t media = 0;
    uint64_t metadata = 0;

    explicit Camera(const crypto::Backend &b) : backend(b)
    {
        must(makeDirectories(clips));
        boot();
    }
    void boot()
    {
        chain.reset();
        identity = makeIdentity(backend, "cam-0001", key, dir.file("counter"));
        chain = must(ChainState::open(backend, *identity, chainDir, clock));
    }
    std::unique_ptr<ClipSession> start()
    {
        media = metadata = 0;
        return must(ClipSession::create(backend, *identity,
                                        sessionOptions(clips, recipient.pub, clock.utcMs())));
    }
    // One second of recording: two 20 KiB media appends, one metadata record, a checkpoint.
    void second(ClipSession &s, bool checkpoint = true)
    {
        for (int i = 0; i < 2; ++i) {
            must(s.append(container::kMediaStreamId, patternBytes(media, kAppend, 0)));
            media += kAppend;
        }
        must(s.append(container::kMetadataStreamId, patternBytes(metadata, kMetaAppend, 0x5c)));
        metadata += kMetaAppend;
        clock.advanceMs(1000);
        if (checkpoint)
            must(s.checkpoint(clock.utcMs()));
    }
    std::vector<RecoveredClip> recover()
    {
        return must(recoverUnfinishedClips(backend, *identity, *chain, clips));
    }
};

} // namespace

TEST_CASE("clip session: a sealed clip verifies and opens on either backend", "[clip_session]")
{
    BWC_CHAIN_EACH_BACKEND(device);
    BWC_CHAIN_EACH_BACKEND(dock);
    Camera cam(device);
    const int64_t start = cam.clock.utcMs();
    auto session = cam.start();
    CHECK(session->checkpointCount() == 1);
    CHECK(pathExists(session->checkpointPath()));
    for (int i = 0; i < 4; ++i)
        cam.second(*session);
    CHECK(session->checkpointCount() == 5);
    CheckpointLog log = must(readCheckpointLog(session->checkpointPath()));
    CHECK(log.records.size() == 5);

    v1::SignedManifest sm = must(session->seal(*cam.chain, cam.clock.utcMs()));
    CHECK(session->sealed());
    CHECK_FALSE(pathExists(session->checkpointPath()));

    v1::Manifest m = must(verifySignedManifest(dock, cam.key.pub, sm));
    CHECK(m.kind() == v1::MANIFEST_KIND_CLIP);
    CHECK(m.seq() == 1);
    CHECK(m.device_id() == "cam-0001");
    CHECK(m.officer_id() == "officer-17");
    CHECK(m.trigger() == v1::TRIGGER_BUTTON);
    CHECK(m.prerecord_ms() == 30000);
    CHECK(m.start_utc_ms() == start);
    CHECK(m.end_utc_ms() == cam.clock.utcMs());
    CHECK(m.fw_version() == "bwc-camd 0.1.0-test");
    CHECK(m.config_sha256() == std::string(32, '\xc5'));
    CHECK(m.clock_source() == v1::CLOCK_SOURCE_DOCK);
    CHECK(m.clock_error_ms() == 40);
    CHECK(m.clip_uuid() == std::string(asChars(ByteView(session->clipUuid()))));
    REQUIRE(m.streams_size() == 2);
    CHECK(m.streams(0).plaintext_bytes() == cam.media);
    CHECK(m.streams(1).plaintext_bytes() == cam.metadata);
    CHECK(digestEquals(cam.chain->head().manifest_sha256(), manifestSha256(dock, sm)));

    OpenedClip opened = openClip(dock, m, session->clipPath(), cam.recipient);
    CHECK(opened.media == patternBytes(0, cam.media, 0));
    CHECK(opened.metadata == patternBytes(0, cam.metadata, 0x5c));

    auto after = session->append(container::kMediaStreamId, patternBytes(0, 10, 0));
    REQUIRE_FALSE(after.ok());
    CHECK(contains(after.error().message, "already sealed"));

    // Nothing to recover.
    CHECK(cam.recover().empty());
}

TEST_CASE("recovery: the leftover log of a clip already sealed is only removed", "[clip_session]")
{
    Camera cam(deviceBackend());
    auto session = cam.start();
    cam.second(*session);
    Bytes logBytes = readAll(session->checkpointPath());
    v1::SignedManifest sm = must(session->seal(*cam.chain, cam.clock.utcMs()));
    // The power went after the manifest was durable and before the log was removed.
    writeBytes(session->checkpointPath(), logBytes);

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::AlreadySealed);
    CHECK(recovered[0].seq == 1);
    CHECK(cam.chain->head().seq() == 1);
    CHECK_FALSE(pathExists(session->checkpointPath()));
    CHECK(pathExists(session->clipPath()));
    openClip(dockBackend(), must(parseManifest(sm)), session->clipPath(), cam.recipient);
}

TEST_CASE("recovery: an unfinished clip is cut back to its last checkpoint", "[clip_session]")
{
    BWC_CHAIN_EACH_BACKEND(device);
    Camera cam(device);
    auto session = cam.start();
    cam.second(*session);
    cam.second(*session);
    const uint64_t mediaAtCheckpoint = cam.media;
    const uint64_t metaAtCheckpoint = cam.metadata;
    const int64_t checkpointTime = cam.clock.utcMs();
    // More than a chunk after the last checkpoint reaches the file, then the power goes.
    cam.second(*session, false);
    cam.second(*session, false);
    const std::string clipPath = session->clipPath();
    const uint64_t sizeAtCut = must(fileSize(clipPath));
    session.reset();

    cam.boot();
    CHECK(cam.chain->recoveryNotes().empty());
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    const RecoveredClip &rc = recovered[0];
    CHECK(rc.outcome == RecoveryOutcome::Interrupted);
    CHECK(rc.checkpointIndex == 2);
    CHECK(rc.discardedBytes > 0);
    CHECK(rc.keptBytes + rc.discardedBytes == sizeAtCut);
    CHECK(contains(rc.note, "up to checkpoint 2"));

    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == 1);
    const v1::Manifest &m = all[0];
    CHECK(m.kind() == v1::MANIFEST_KIND_INTERRUPTED);
    CHECK(m.end_utc_ms() == checkpointTime);
    CHECK(m.officer_id() == "officer-17");
    CHECK(m.prerecord_ms() == 30000);
    CHECK(m.ciphertext_bytes() == rc.keptBytes);
    CHECK(must(fileSize(clipPath)) == rc.keptBytes);

    OpenedClip opened = openClip(dockBackend(), m, clipPath, cam.recipient);
    CHECK(opened.media == patternBytes(0, mediaAtCheckpoint, 0));
    CHECK(opened.metadata == patternBytes(0, metaAtCheckpoint, 0x5c));

    // Without the manifest's counts a reader refuses the streams that end without a final
    // chunk.
    auto reader = must(container::ClipReader::open(dockBackend(), clipPath));
    must(reader->unlock(cam.recipient));
    container::ReadOptions strict;
    strict.decrypt = true;
    CHECK_FALSE(reader->read(strict).ok());

    CHECK_FALSE(pathExists(checkpointFilePath(cam.clips, rc.clipUuid)));
    CHECK(cam.recover().empty());
}

TEST_CASE("recovery: without a durable checkpoint the header-only file is removed",
          "[clip_session]")
{
    Camera cam(deviceBackend());
    // Find the step that appends checkpoint 0 to the log.
    uint64_t checkpointStep = 0;
    {
        PowerCut dryRun;
        must(ClipSession::create(cam.backend, *cam.identity,
                                 sessionOptions(cam.clips, cam.recipient.pub, 0),
                                 dryRun.factory()));
        for (size_t i = 0; i < dryRun.trace().size() && !checkpointStep; ++i) {
            const std::string &line = dryRun.trace()[i];
            if (contains(line, "append") && contains(line, ".ckpt"))
                checkpointStep = i + 1;
        }
        REQUIRE(checkpointStep > 0);
    }
    cam.boot();
    REQUIRE(cam.recover().size() == 1); // the dry run's clip, unsealed
    const uint64_t seqBefore = cam.chain->head().seq();

    // The power goes while checkpoint 0 is written; only synced bytes survive.
    PowerCut power(checkpointStep, CutVariant::SyncedOnly);
    auto session =
        ClipSession::create(cam.backend, *cam.identity,
                            sessionOptions(cam.clips, cam.recipient.pub, 0), power.factory());
    REQUIRE_FALSE(session.ok());
    REQUIRE(power.cut());
    power.applyToFlash();
    power.applyToFlash();

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::NoMedia);
    CHECK_FALSE(pathExists(recovered[0].clipPath));
    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == seqBefore + 1);
    CHECK(all.back().kind() == v1::MANIFEST_KIND_BOOT);
    CHECK(contains(all.back().note(), "held no media"));
    CHECK(contains(all.back().note(), container::uuidToString(recovered[0].clipUuid)));
}

TEST_CASE("recovery: a clip file that matches no checkpoint is kept for examination",
          "[clip_session]")
{
    Camera cam(deviceBackend());
    auto session = cam.start();
    cam.second(*session);
    cam.second(*session);
    const std::string clipPath = session->clipPath();
    const std::string ckptPath = session->checkpointPath();
    session.reset();
    // A byte inside the header (covered by every checkpoint) changes on flash.
    Bytes file = readAll(clipPath);
    file[20] ^= 0x01;
    writeBytes(clipPath, file);

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::Quarantined);
    CHECK(readAll(clipPath + ".unrecoverable") == file);
    CHECK(pathExists(ckptPath + ".unrecoverable"));
    CHECK_FALSE(pathExists(clipPath));
    CHECK_FALSE(pathExists(ckptPath));
    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == 1);
    CHECK(all[0].kind() == v1::MANIFEST_KIND_BOOT);
    CHECK(contains(all[0].note(), "nothing was deleted"));
}

TEST_CASE("recovery: a damaged log record stops the log; earlier checkpoints are used",
          "[clip_session]")
{
    Camera cam(deviceBackend());
    auto session = cam.start();
    cam.second(*session);
    const uint64_t mediaAtCheckpoint1 = cam.media;
    cam.second(*session);
    cam.second(*session);
    const std::string clipPath = session->clipPath();
    const std::string ckptPath = session->checkpointPath();
    session.reset();

    Bytes logBytes = readAll(ckptPath);
    CheckpointLog log = must(parseCheckpointLog(logBytes, ckptPath));
    REQUIRE(log.records.size() == 4);
    // Zero the length of record 2.
    size_t off = 0;
    for (int i = 0; i < 2; ++i)
        off += kCheckpointRecordHeaderLen + getU32(logBytes.data() + off);
    std::fill(logBytes.begin() + ptrdiff_t(off), logBytes.begin() + ptrdiff_t(off) + 4, 0);
    writeBytes(ckptPath, logBytes);

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::Interrupted);
    CHECK(recovered[0].checkpointIndex == 1);
    CHECK(contains(recovered[0].note, "damaged"));
    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == 1);
    OpenedClip opened = openClip(dockBackend(), all[0], clipPath, cam.recipient);
    CHECK(opened.media == patternBytes(0, mediaAtCheckpoint1, 0));
}

TEST_CASE("clip session: a failed write stops the session", "[clip_session]")
{
    Camera cam(deviceBackend());
    PowerCut power;
    auto counting =
        must(ClipSession::create(cam.backend, *cam.identity,
                                 sessionOptions(cam.clips, cam.recipient.pub, 0), power.factory()));
    const uint64_t createSteps = power.steps();
    CHECK(createSteps >= 5);

    // Fail the sync of the next checkpoint's flush (after its two chunk appends).
    PowerCut failing(createSteps + 3, CutVariant::AllWritten);
    auto session = must(ClipSession::create(cam.backend, *cam.identity,
                                            sessionOptions(cam.clips, cam.recipient.pub, 0),
                                            failing.factory()));
    must(session->append(container::kMediaStreamId, patternBytes(0, 1000, 0)));
    must(session->append(container::kMetadataStreamId, patternBytes(0, 100, 0)));
    auto r = session->checkpoint(1000);
    REQUIRE_FALSE(r.ok());
    REQUIRE(failing.cut());
    auto next = session->append(container::kMediaStreamId, patternBytes(0, 10, 0));
    REQUIRE_FALSE(next.ok());
    auto sealed = session->seal(*cam.chain, 2000);
    REQUIRE_FALSE(sealed.ok());
    CHECK(cam.chain->head().seq() == 0);
}

TEST_CASE("clip session: a start refused for its options leaves no files", "[clip_session]")
{
    Camera cam(deviceBackend());
    SessionOptions options = sessionOptions(cam.clips, cam.recipient.pub, 0);
    options.writer.recipients.clear();
    auto session = ClipSession::create(cam.backend, *cam.identity, options);
    REQUIRE_FALSE(session.ok());
    CHECK(session.error().code != Errc::Io);
    CHECK(must(listFiles(cam.clips)).empty());
    CHECK(cam.recover().empty());
    CHECK(cam.chain->head().seq() == 0);

    SessionOptions badHash = sessionOptions(cam.clips, cam.recipient.pub, 0);
    badHash.configSha256 = Bytes(5, 1);
    auto refused = ClipSession::create(cam.backend, *cam.identity, badHash);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::Config);
    CHECK(must(listFiles(cam.clips)).empty());
}

TEST_CASE("recovery: a checkpoint signed by another key is never used", "[clip_session]")
{
    Camera cam(deviceBackend());
    auto session = cam.start();
    cam.second(*session);
    cam.second(*session);
    const uint64_t mediaAtLast = cam.media;
    const std::string clipPath = session->clipPath();
    const std::string ckptPath = session->checkpointPath();
    session.reset();

    // A forged last record: a correct hash of a shorter prefix of the file (which would
    // cut most of the media), signed by a key that is not the device's.
    CheckpointLog log = must(readCheckpointLog(ckptPath));
    v1::Checkpoint first = must(verifyCheckpoint(cam.backend, cam.key.pub, log.records.front()));
    auto forger = makeIdentity(cam.backend, "cam-0001", generateKey(cam.backend),
                               cam.dir.file("forger-counter"));
    v1::Checkpoint forged = first;
    forged.set_index(99);
    auto file = must(openForAppend(ckptPath));
    must(appendCheckpoint(*file, must(signCheckpoint(cam.backend, *forger, forged))));
    file.reset();

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::Interrupted);
    CHECK(recovered[0].checkpointIndex == 2);
    CHECK(contains(recovered[0].note, "did not verify"));
    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == 1);
    OpenedClip opened = openClip(dockBackend(), all[0], clipPath, cam.recipient);
    CHECK(opened.media == patternBytes(0, mediaAtLast, 0));
}

TEST_CASE("recovery: a missing clip file with a genuine log is reported, not hidden",
          "[clip_session]")
{
    Camera cam(deviceBackend());
    auto session = cam.start();
    cam.second(*session);
    const std::string clipPath = session->clipPath();
    const std::string ckptPath = session->checkpointPath();
    session.reset();
    must(removeFile(clipPath));

    cam.boot();
    auto recovered = cam.recover();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].outcome == RecoveryOutcome::Quarantined);
    CHECK(pathExists(ckptPath + ".unrecoverable"));
    auto all = checkWholeChain(dockBackend(), *cam.chain, cam.key.pub);
    REQUIRE(all.size() == 1);
    CHECK(all[0].kind() == v1::MANIFEST_KIND_BOOT);
    CHECK(contains(all[0].note(), "the clip file is missing although its checkpoint log verifies"));
}
