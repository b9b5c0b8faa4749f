// The evidence store: clips sealed by the camera's backend (mbedTLS) under a test agency
// PKI, offloaded into a store run with the dock's backend (OpenSSL): storing, idempotent
// resubmission, quarantine, chain-rule alarms, resumable incoming files, receipts,
// holds and purge, the catalog's pragmas and the audit chain.

#include <catch2/catch_test_macros.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "bwc/v1/receipt.pb.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/crypto/pem.h"
#include "dock/pki/pki_store.h"
#include "dock/store/evidence_store.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/dock/agency_test_util.h"

namespace bwc::store {
namespace {

using chain::test::must;
using chain::test::patternBytes;

using dock::test::contains;
using dock::test::loadKey;
const crypto::Backend &camera()
{
    return dock::test::cameraBackend();
}
const crypto::Backend &dock()
{
    return dock::test::dockBackend();
}

using Sealed = dock::test::Agency::Clip;

// An agency PKI, the evidence key, a camera with its chain, and a dock with its store.
class World : public dock::test::Agency
{
public:
    World()
    {
        dockCert = must(pki->issueDock("dock-01", 365));
        openStore();
    }

    DockIdentity dockIdentity() const
    {
        return DockIdentity{loadKey(dockCert.keyPath),
                            must(crypto::readPemFile(dockCert.certPath, "CERTIFICATE"))};
    }

    void openStore()
    {
        store.reset();
        store = must(EvidenceStore::open(storeRoot(), dockIdentity(), dock(), clock));
    }

    std::string storeRoot() const { return dir.file("store"); }

    Sealed seal(size_t mediaBytes = 70000) { return Agency::seal(mediaBytes); }

    TrustMaterial trust() const
    {
        return TrustMaterial{identity->certChainDer(), pki->caCertDer(), pki->crlDer()};
    }

    // Offloads a clip file in two writes, as the offload server does.
    Expected<CommitResult> offload(const std::string &clipPath, const v1::SignedManifest &sm,
                                   bool withKey = true)
    {
        const v1::Manifest m = must(chain::parseManifest(sm));
        const Bytes data = must(readFile(clipPath));
        auto in = must(store->beginIncoming(m.device_id(), m.seq(), data.size(),
                                            withKey ? std::optional(aek) : std::nullopt));
        REQUIRE(in->resumeOffset() == 0);
        const size_t half = data.size() / 2;
        must(in->write(0, ByteView(data.data(), half)));
        must(in->fsync());
        must(in->write(half, ByteView(data.data() + half, data.size() - half)));
        return store->commitClip(std::move(in), sm, trust());
    }
    CommitResult offloadOk(const Sealed &s, bool withKey = true)
    {
        return must(offload(s.clipPath, s.manifest, withKey));
    }

    // A manifest re-signed by the device key after `edit`: a valid signature over bytes
    // the device's chain never held.
    v1::SignedManifest resign(const v1::SignedManifest &sm,
                              const std::function<void(v1::Manifest &)> &edit)
    {
        v1::Manifest m = must(chain::parseManifest(sm));
        edit(m);
        return must(chain::signManifest(camera(), *identity, m));
    }

    int64_t count(const std::string &sql)
    {
        auto n = must(store->catalog().database().queryInt(sql));
        REQUIRE(n.has_value());
        return *n;
    }

    pki::IssuedCert dockCert;
    std::unique_ptr<EvidenceStore> store;
};

std::string hexOf(const std::string &raw)
{
    return toHex(asBytes(raw));
}

TEST_CASE("store: a verified clip is filed by its sha256 with catalog row, audit and head",
          "[store]")
{
    World w;
    const Sealed s = w.seal();
    const CommitResult r = w.offloadOk(s);

    const Bytes original = must(readFile(s.clipPath));
    const std::string sha = toHex(dock().sha256(original));
    CHECK(r.verdict == chain::Verdict::Append);
    CHECK(r.stored);
    CHECK_FALSE(r.quarantined);
    CHECK_FALSE(r.alarm.has_value());
    CHECK(r.objectSha256 == sha);
    CHECK(r.objectPath == w.storeRoot() + "/objects/" + sha.substr(0, 2) + "/" + sha);
    CHECK(sha == hexOf(s.parsed.ciphertext_sha256()));
    // Byte for byte, never re-encrypted.
    CHECK(must(readFile(r.objectPath)) == original);
    CHECK(contains(r.reportJson, "\"plaintext_sha256\""));
    // The stored report carries the dock's chain verdict.
    CHECK(contains(r.reportJson,
                   std::string(chain::verdictName(chain::Verdict::Append)) + ": manifest seq"));

    auto row = must(w.store->catalog().clip(s.parsed.clip_uuid()));
    REQUIRE(row.has_value());
    CHECK(row->state == ClipState::Stored);
    CHECK(row->deviceId == "cam-0001");
    CHECK(row->seq == s.parsed.seq());
    CHECK(row->size == original.size());
    CHECK(row->officerId == "officer-17");
    CHECK(row->category == "uncategorised");
    CHECK(row->retentionDeadlineUtcMs == s.parsed.end_utc_ms() + 31 * kDayMs);
    CHECK(row->verified);
    CHECK(row->alarm.empty());

    auto head = must(w.store->catalog().chainHead("cam-0001"));
    REQUIRE(head.has_value());
    CHECK(head->seq() == s.parsed.seq());
    CHECK(chain::digestEquals(head->manifest_sha256(), chain::manifestSha256(dock(), s.manifest)));
    auto stored = must(w.store->catalog().manifest("cam-0001", s.parsed.seq()));
    REQUIRE(stored.has_value());
    CHECK(stored->signedManifest == chain::serializeSignedManifest(s.manifest));
    CHECK(stored->kind == "CLIP");

    auto entries = must(w.store->auditLog().entriesForClip(s.parsed.clip_uuid()));
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].entry.action() == "store");
    CHECK(entries[0].entry.actor() == "dock");
    CHECK(entries[0].entry.device_id() == "cam-0001");
    CHECK(entries[0].entry.manifest_seq() == s.parsed.seq());
    CHECK(contains(entries[0].entry.detail(), sha));
    CHECK(must(w.store->verifyAudit()) == 1);

    // Nothing left behind in tmp/.
    CHECK(w.count("SELECT COUNT(*) FROM clips") == 1);
    CHECK_FALSE(pathExists(w.storeRoot() + "/tmp/" + baseName(r.objectPath)));
}

TEST_CASE("store: an identical resubmission is idempotent and adds no rows", "[store]")
{
    World w;
    const Sealed s = w.seal();
    const CommitResult first = w.offloadOk(s);
    const CommitResult again = w.offloadOk(s, false);
    CHECK(again.verdict == chain::Verdict::Idempotent);
    CHECK(again.stored);
    CHECK(again.objectPath == first.objectPath);
    CHECK(w.count("SELECT COUNT(*) FROM clips") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM manifests") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM alarms") == 0);
    CHECK(w.count("SELECT COUNT(*) FROM audit") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM clips WHERE state = 'stored'") == 1);
}

TEST_CASE("store: a tampered clip is quarantined with a VERIFY_FAILED alarm; head unchanged",
          "[store]")
{
    World w;
    const Sealed s = w.seal();
    Bytes data = must(readFile(s.clipPath));
    data[data.size() - 40] ^= 0x01;
    const std::string tampered = w.dir.file("tampered.bwcclip");
    must(atomicReplace(tampered, data));

    const CommitResult r = must(w.offload(tampered, s.manifest));
    CHECK(r.quarantined);
    CHECK_FALSE(r.stored);
    CHECK_FALSE(r.verdict.has_value());
    REQUIRE(r.alarm == AlarmKind::VerifyFailed);
    CHECK(contains(r.explanation, "ciphertext_sha256"));
    CHECK(r.objectPath.rfind(w.storeRoot() + "/quarantine/", 0) == 0);
    CHECK(must(readFile(r.objectPath)) == data);
    CHECK_FALSE(must(w.store->catalog().chainHead("cam-0001")).has_value());
    CHECK(w.count("SELECT COUNT(*) FROM manifests") == 0);
    CHECK(w.count("SELECT COUNT(*) FROM clips WHERE state = 'quarantined' AND verified = 0 AND "
                  "alarm = 'VERIFY_FAILED'") == 1);
    CHECK_FALSE(must(w.store->catalog().clip(s.parsed.clip_uuid())).has_value());
    auto alarms = must(w.store->catalog().listAlarms(true));
    REQUIRE(alarms.size() == 1);
    CHECK(alarms[0].kind == AlarmKind::VerifyFailed);
    CHECK(alarms[0].seq == s.parsed.seq());
    ClipFilter onlyAlarms;
    onlyAlarms.alarmsOnly = true;
    CHECK(must(w.store->catalog().listClips(onlyAlarms)).size() == 1);
    CHECK(must(w.store->verifyAudit()) == 1);
    StoreStatus st = must(w.store->status());
    CHECK(st.quarantinedClips == 1);
    CHECK(st.storedClips == 0);
    CHECK(st.openAlarms == 1);
    must(w.store->acknowledgeAlarm(alarms[0].id, "sgt Lee", "reviewed: transfer damage"));
    CHECK(must(w.store->catalog().listAlarms(true)).empty());
    CHECK(must(w.store->catalog().listAlarms(false)).at(0).acknowledgedBy == "sgt Lee");
    auto missing = w.store->acknowledgeAlarm(9999, "sgt Lee", "");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(w.count("SELECT COUNT(*) FROM audit") == 2);

    // The genuine file is then accepted: quarantine did not consume the seq.
    const CommitResult good = w.offloadOk(s);
    CHECK(good.verdict == chain::Verdict::Append);
    CHECK(good.stored);
}

TEST_CASE("store: a gap (seq 1 then 3) raises GAP and is not stored", "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    w.seal();
    const Sealed s3 = w.seal();
    REQUIRE(s3.parsed.seq() == s1.parsed.seq() + 2);
    w.offloadOk(s1);
    const CommitResult r = w.offloadOk(s3);
    CHECK(r.verdict == chain::Verdict::Gap);
    CHECK(r.alarm == AlarmKind::Gap);
    CHECK(r.quarantined);
    CHECK(contains(r.explanation, "missing"));
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s1.parsed.seq());
    auto alarms = must(w.store->catalog().listAlarms(false));
    REQUIRE(alarms.size() == 1);
    CHECK(alarms[0].kind == AlarmKind::Gap);
    CHECK(alarms[0].seq == s3.parsed.seq());
    CHECK(w.count("SELECT COUNT(*) FROM clips WHERE state = 'quarantined' AND verified = 1 AND "
                  "alarm = 'GAP'") == 1);
}

TEST_CASE("store: an examined GAP is accepted: stored from quarantine, gap recorded, chain "
          "resumes",
          "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    w.seal();
    w.seal();
    const Sealed s4 = w.seal();
    const Sealed s5 = w.seal();
    w.offloadOk(s1);
    // Offered at two dockings: two quarantined attempts and two alarms of one clip.
    CHECK(w.offloadOk(s4).alarm == AlarmKind::Gap);
    CHECK(w.offloadOk(s4).alarm == AlarmKind::Gap);
    const auto alarms = must(w.store->catalog().listAlarms(true));
    REQUIRE(alarms.size() == 2);
    const int64_t alarmId = alarms.back().id;
    const std::string qpath = w.offloadOk(s5).objectPath; // seq 5: also a GAP for now
    CHECK(contains(qpath, "quarantine/"));

    const AcceptedGap accepted =
        must(w.store->acceptGap(alarmId, w.pki->caCertDer(), w.pki->crlDer(), w.aek, "sgt-lee",
                                "cards 2 and 3 were lost in the field, see incident 77"));
    CHECK(accepted.gap.firstMissingSeq == s1.parsed.seq() + 1);
    CHECK(accepted.gap.lastMissingSeq == s4.parsed.seq() - 1);
    CHECK(accepted.gap.resumedSeq == s4.parsed.seq());
    CHECK(accepted.commit.stored);
    CHECK(contains(accepted.commit.reportJson, "GAP accepted"));

    // Stored as the head, the file moved out of quarantine, the gap and audit recorded.
    auto clip = must(w.store->catalog().clip(s4.parsed.clip_uuid()));
    REQUIRE(clip.has_value());
    CHECK(clip->state == ClipState::Stored);
    CHECK(must(readFile(clip->objectPath)) == must(readFile(s4.clipPath)));
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s4.parsed.seq());
    CHECK(w.count("SELECT COUNT(*) FROM clips WHERE state = 'quarantined' AND seq = " +
                  std::to_string(s4.parsed.seq())) == 0);
    CHECK(w.count("SELECT COUNT(*) FROM chain_gaps") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM audit WHERE action = 'alarm.accept-gap' AND actor = "
                  "'sgt-lee'") == 1);
    auto gaps = must(w.store->catalog().gaps("cam-0001"));
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].alarmId == alarmId);
    CHECK(gaps[0].reason == "cards 2 and 3 were lost in the field, see incident 77");
    CHECK(must(w.store->verifyAudit()) > 0);
    auto after = must(w.store->catalog().listAlarms(true));
    REQUIRE(after.size() == 2); // the first s4 attempt's alarm and s5's stay open
    for (const AlarmRow &a : after)
        CHECK(a.id != alarmId);

    // The camera re-offers seq 4 (held), then seq 5 appends; the receipt covers 4..5.
    CHECK(w.offloadOk(s4).verdict == chain::Verdict::Idempotent);
    CHECK(w.offloadOk(s5).verdict == chain::Verdict::Append);
    v1::Receipt receipt;
    REQUIRE(receipt.ParseFromString(must(w.store->issueReceipt("cam-0001")).receipt()));
    CHECK(receipt.first_seq() == s4.parsed.seq());
    CHECK(receipt.last_seq() == s5.parsed.seq());

    // Accepting again is refused: the alarm is acknowledged.
    auto again = w.store->acceptGap(alarmId, w.pki->caCertDer(), w.pki->crlDer(), w.aek, "x", "y");
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Errc::Usage);
    CHECK(contains(again.error().message, "already acknowledged by sgt-lee"));
    // The other, older alarm of seq 4: no longer after a gap.
    auto stale = w.store->acceptGap(alarms.front().id, w.pki->caCertDer(), w.pki->crlDer(), w.aek,
                                    "x", "y");
    REQUIRE_FALSE(stale.ok());
    CHECK(contains(stale.error().message, "no longer after a gap"));
}

TEST_CASE("store: accept-gap refuses a FORK, an unknown alarm and a clip altered in quarantine",
          "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    w.seal();
    const Sealed s3 = w.seal();
    w.offloadOk(s1);
    const v1::SignedManifest forked =
        w.resign(s1.manifest, [](v1::Manifest &m) { m.set_note("a second story"); });
    CHECK(must(w.offload(s1.clipPath, forked)).alarm == AlarmKind::Fork);
    const CommitResult gap = w.offloadOk(s3);
    REQUIRE(gap.alarm == AlarmKind::Gap);
    const auto alarms = must(w.store->catalog().listAlarms(true));
    REQUIRE(alarms.size() == 2);

    auto fork = w.store->acceptGap(alarms[0].id, w.pki->caCertDer(), w.pki->crlDer(), w.aek, "x",
                                   "y");
    REQUIRE_FALSE(fork.ok());
    CHECK(fork.error().code == Errc::Usage);
    CHECK(contains(fork.error().message, "it is a FORK alarm; only a GAP"));
    auto unknown = w.store->acceptGap(999, w.pki->caCertDer(), w.pki->crlDer(), w.aek, "x", "y");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::NotFound);

    // One flipped byte in the quarantined file: refused, and nothing changes.
    Bytes data = must(readFile(gap.objectPath));
    data[data.size() / 2] ^= 0x01;
    must(atomicReplace(gap.objectPath, data, 0600));
    auto altered = w.store->acceptGap(alarms[1].id, w.pki->caCertDer(), w.pki->crlDer(), w.aek,
                                      "x", "y");
    REQUIRE_FALSE(altered.ok());
    CHECK(altered.error().code == Errc::Auth);
    CHECK(contains(altered.error().message, "fails verification"));
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s1.parsed.seq());
    CHECK(must(w.store->catalog().listAlarms(true)).size() == 2);
    CHECK(w.count("SELECT COUNT(*) FROM chain_gaps") == 0);
    CHECK(pathExists(gap.objectPath));
}

TEST_CASE("store: a second manifest for a stored seq raises FORK", "[store]")
{
    World w;
    const Sealed s = w.seal();
    w.offloadOk(s);
    const v1::SignedManifest forked =
        w.resign(s.manifest, [](v1::Manifest &m) { m.set_note("a second story"); });
    const CommitResult r = must(w.offload(s.clipPath, forked));
    CHECK(r.verdict == chain::Verdict::Fork);
    CHECK(r.alarm == AlarmKind::Fork);
    CHECK(r.quarantined);
    CHECK(contains(r.explanation, "different manifest"));
    CHECK(contains(r.reportJson, std::string(chain::verdictName(chain::Verdict::Fork)) + ": "));
    // The stored clip and manifest are untouched.
    auto stored = must(w.store->catalog().manifest("cam-0001", s.parsed.seq()));
    REQUIRE(stored.has_value());
    CHECK(stored->signedManifest == chain::serializeSignedManifest(s.manifest));
    CHECK(must(w.store->catalog().clip(s.parsed.clip_uuid()))->state == ClipState::Stored);
    CHECK(must(w.store->catalog().listAlarms(false)).at(0).kind == AlarmKind::Fork);
}

TEST_CASE("store: the next seq not linked to the head raises ROLLBACK", "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    const Sealed s2 = w.seal();
    w.offloadOk(s1);
    const v1::SignedManifest unlinked = w.resign(
        s2.manifest, [](v1::Manifest &m) { m.set_prev_manifest_sha256(std::string(32, 'r')); });
    const CommitResult r = must(w.offload(s2.clipPath, unlinked));
    CHECK(r.verdict == chain::Verdict::Rollback);
    CHECK(r.alarm == AlarmKind::Rollback);
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s1.parsed.seq());
    CHECK(must(w.store->catalog().listAlarms(false)).at(0).kind == AlarmKind::Rollback);
    // The genuine seq 2 still extends the chain.
    CHECK(w.offloadOk(s2).verdict == chain::Verdict::Append);
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s2.parsed.seq());
}

TEST_CASE("store: an incoming file resumes at its durable length after a restart", "[store]")
{
    World w;
    const Sealed s = w.seal();
    const Bytes data = must(readFile(s.clipPath));
    const size_t durable = 20000, extra = 5000;
    {
        auto in = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), data.size(), w.aek));
        must(in->write(0, ByteView(data.data(), durable)));
        must(in->fsync());
        // Written but never fsynced: not counted as durable.
        must(in->write(durable, ByteView(data.data() + durable, extra)));
        CHECK(in->size() == durable + extra);
    }
    w.openStore();
    auto in = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), data.size(), w.aek));
    CHECK(in->resumeOffset() == durable);
    CHECK(in->size() == durable);

    auto wrong = in->write(0, ByteView(data.data(), 10));
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::Protocol);
    CHECK(contains(wrong.error().message, "resume at 20000"));

    auto early = w.store->beginIncoming("cam-0001", s.parsed.seq() + 1, 10);
    REQUIRE(early.ok());
    must((*early)->write(0, ByteView(data.data(), 5)));
    auto incomplete = w.store->commitClip(std::move(*early), s.manifest, w.trust());
    REQUIRE_FALSE(incomplete.ok());
    CHECK(incomplete.error().code == Errc::Protocol);
    CHECK(contains(incomplete.error().message, "incomplete (5 of 10 bytes)"));

    must(in->write(durable, ByteView(data.data() + durable, data.size() - durable)));
    const CommitResult r = must(w.store->commitClip(std::move(in), s.manifest, w.trust()));
    CHECK(r.verdict == chain::Verdict::Append);
    CHECK(must(readFile(r.objectPath)) == data);
}

TEST_CASE("store: a flush behind the receiving records its durable length when done", "[store]")
{
    World w;
    const Sealed s = w.seal();
    const Bytes data = must(readFile(s.clipPath));
    const size_t first = 30000, second = 10000;
    {
        auto in = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), data.size(), w.aek));
        must(in->write(0, ByteView(data.data(), first)));
        must(in->syncBehind());
        // The flush runs on its own thread: wait for its durable length.
        const std::string synced = in->path().substr(0, in->path().size() - 5) + ".synced";
        const std::string expected = std::to_string(first) + " " + std::to_string(data.size());
        std::string text;
        for (int i = 0; i < 500 && text.rfind(expected, 0) != 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (auto t = readTextFile(synced, 64))
                text = *t;
        }
        CHECK(text.rfind(expected, 0) == 0);
        // Written after the flush: not durable, and the handle goes without a sync.
        must(in->write(first, ByteView(data.data() + first, second)));
    }
    w.openStore();
    auto in = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), data.size(), w.aek));
    CHECK(in->resumeOffset() == first);
    must(in->write(first, ByteView(data.data() + first, data.size() - first)));
    const CommitResult r = must(w.store->commitClip(std::move(in), s.manifest, w.trust()));
    CHECK(r.stored);
}

TEST_CASE("store: a full disk while receiving is Errc::NoSpace naming the store", "[store]")
{
    World w;
    const Sealed s = w.seal();
    // The lowest layer of a full disk: the incoming file is /dev/full.
    auto probe = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), 1000));
    const std::string part = probe->path();
    probe.reset();
    REQUIRE(::unlink(part.c_str()) == 0);
    REQUIRE(::symlink("/dev/full", part.c_str()) == 0);

    auto in = must(w.store->beginIncoming("cam-0001", s.parsed.seq(), 1000));
    auto r = in->write(0, patternBytes(0, 1000, 1));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::NoSpace);
    CHECK(contains(r.error().message, "evidence store " + w.storeRoot()));
    CHECK(contains(r.error().message, "nothing was committed"));
    CHECK(w.count("SELECT COUNT(*) FROM clips") == 0);
    CHECK(w.count("SELECT COUNT(*) FROM audit") == 0);
    CHECK_FALSE(must(w.store->catalog().chainHead("cam-0001")).has_value());
}

TEST_CASE("store: a receipt covers the contiguous run and verifies with the dock key", "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    const Sealed s2 = w.seal();
    w.offloadOk(s1);
    w.offloadOk(s2);
    const std::string nonce(16, 'n');
    const v1::SignedReceipt sr = must(w.store->issueReceipt("cam-0001", nonce));

    const auto dockChain = must(crypto::readPemFile(w.dockCert.certPath, "CERTIFICATE"));
    const crypto::CertInfo dockInfo = must(dock().parseCertificateDer(dockChain.front()));
    must(camera().ecdsaVerify(dockInfo.publicKey, asBytes(sr.receipt()), asBytes(sr.signature())));
    std::string altered = sr.receipt();
    altered[altered.size() / 2] ^= 0x01;
    auto bad = camera().ecdsaVerify(dockInfo.publicKey, asBytes(altered), asBytes(sr.signature()));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::Auth);

    v1::Receipt receipt;
    REQUIRE(receipt.ParseFromString(sr.receipt()));
    CHECK(receipt.dock_id() == "dock-01");
    CHECK(receipt.device_id() == "cam-0001");
    CHECK(receipt.first_seq() == s1.parsed.seq());
    CHECK(receipt.last_seq() == s2.parsed.seq());
    CHECK(chain::digestEquals(receipt.head_manifest_sha256(),
                              chain::manifestSha256(camera(), s2.manifest)));
    CHECK(receipt.session_nonce() == nonce);
    REQUIRE(receipt.clips_size() == 2);
    CHECK(receipt.clips(0).clip_uuid() == s1.parsed.clip_uuid());
    CHECK(receipt.clips(1).ciphertext_sha256() == s2.parsed.ciphertext_sha256());

    auto rows = must(w.store->catalog().receipts("cam-0001"));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].firstSeq == s1.parsed.seq());
    CHECK(rows[0].lastSeq == s2.parsed.seq());
    CHECK(w.count("SELECT COUNT(*) FROM audit WHERE action = 'receipt'") == 1);

    auto none = w.store->issueReceipt("cam-0404");
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::NotFound);
    CHECK(contains(none.error().message, "nothing is held for device cam-0404"));
}

TEST_CASE("store: non-clip manifests extend the chain; a forged one raises an alarm", "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    w.offloadOk(s1);
    v1::Manifest boot;
    boot.set_kind(v1::MANIFEST_KIND_BOOT);
    boot.set_fw_version("bwc-camd test");
    boot.set_config_sha256(std::string(32, 'c'));
    boot.set_note("booted");
    const v1::SignedManifest sm = must(w.chain->issue(boot));
    const CommitResult r = must(w.store->commitManifest(sm, w.trust()));
    CHECK(r.verdict == chain::Verdict::Append);
    CHECK(r.stored);
    CHECK(must(w.store->catalog().chainHead("cam-0001"))->seq() == s1.parsed.seq() + 1);
    CHECK(must(w.store->catalog().manifest("cam-0001", s1.parsed.seq() + 1))->kind == "BOOT");
    CHECK(w.count("SELECT COUNT(*) FROM audit WHERE action = 'boot'") == 1);
    CHECK(must(w.store->commitManifest(sm, w.trust())).verdict == chain::Verdict::Idempotent);

    v1::SignedManifest forged = sm;
    forged.set_signature(std::string(sm.signature()).replace(10, 1, "\x01"));
    const CommitResult f = must(w.store->commitManifest(forged, w.trust()));
    CHECK_FALSE(f.stored);
    CHECK_FALSE(f.verdict.has_value());
    CHECK(f.alarm == AlarmKind::VerifyFailed);
    CHECK(contains(f.explanation, "signature"));

    auto clip = w.store->commitManifest(s1.manifest, w.trust());
    REQUIRE_FALSE(clip.ok());
    CHECK(clip.error().code == Errc::Protocol);
}

TEST_CASE("store: purge deletes the object, keeps the manifest, refuses under a hold", "[store]")
{
    World w;
    const Sealed s = w.seal();
    const CommitResult r = w.offloadOk(s);
    const std::string uuid = s.parsed.clip_uuid();

    const int64_t hold = must(w.store->placeHold(uuid, "examiner Ana", "case 2026-0415"));
    CHECK(hold > 0);
    auto refused = w.store->purgeClip(uuid, "retention", "deadline passed");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::Exists);
    CHECK(contains(refused.error().message, "case 2026-0415"));
    CHECK(pathExists(r.objectPath));

    // Retention: past the deadline, but held clips are not listed.
    const int64_t late = s.parsed.end_utc_ms() + 32 * kDayMs;
    CHECK(must(w.store->catalog().clipsPastDeadline(late)).empty());
    CHECK(must(w.store->releaseHold(uuid, "examiner Ana", "case closed")) == 1);
    auto due = must(w.store->catalog().clipsPastDeadline(late));
    REQUIRE(due.size() == 1);
    CHECK(due[0].uuid == uuid);
    CHECK(must(w.store->catalog().clipsPastDeadline(late - 2 * kDayMs)).empty());

    must(w.store->purgeClip(uuid, "retention", "deadline passed"));
    CHECK_FALSE(pathExists(r.objectPath));
    auto row = must(w.store->catalog().clip(uuid));
    REQUIRE(row.has_value());
    CHECK(row->state == ClipState::Purged);
    auto tomb = must(w.store->catalog().manifest("cam-0001", s.parsed.seq()));
    REQUIRE(tomb.has_value());
    CHECK(tomb->signedManifest == chain::serializeSignedManifest(s.manifest));
    CHECK(must(w.store->catalog().clipsPastDeadline(late)).empty());
    auto entries = must(w.store->auditLog().entriesForClip(uuid));
    REQUIRE(entries.size() == 4);
    CHECK(entries[1].entry.action() == "hold");
    CHECK(entries[2].entry.action() == "release");
    CHECK(entries[3].entry.action() == "purge");
    CHECK(entries[3].entry.actor() == "retention");
    CHECK(must(w.store->verifyAudit()) == 4);
}

TEST_CASE("store: categories set the retention deadline; assignments are kept", "[store]")
{
    World w;
    const Sealed s = w.seal();
    w.offloadOk(s);
    const std::string uuid = s.parsed.clip_uuid();
    auto unknown = w.store->categorize(uuid, "homicide", "sgt Lee", "charged");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::NotFound);
    CHECK(contains(unknown.error().message, "category \"homicide\" does not exist"));

    must(w.store->defineCategory("homicide", 36500, "admin", "policy 7"));
    const ClipRow row = must(w.store->categorize(uuid, "homicide", "sgt Lee", "charged"));
    CHECK(row.retentionDeadlineUtcMs == s.parsed.end_utc_ms() + 36500 * kDayMs);
    CHECK(must(w.store->catalog().clip(uuid))->category == "homicide");

    ClipFilter filter;
    filter.category = "homicide";
    filter.officerId = "officer-17";
    filter.fromUtcMs = s.parsed.start_utc_ms();
    CHECK(must(w.store->catalog().listClips(filter)).size() == 1);
    filter.officerId = "officer-99";
    CHECK(must(w.store->catalog().listClips(filter)).empty());

    must(w.store->assignOfficer("cam-0001", "officer-23", "desk sgt", "night shift"));
    auto a = must(w.store->catalog().assignment("cam-0001"));
    REQUIRE(a.has_value());
    CHECK(a->officerId == "officer-23");
    CHECK(a->assignedBy == "desk sgt");
    CHECK(must(w.store->verifyAudit()) == 4);
}

TEST_CASE("store: the catalog runs in WAL mode with synchronous FULL and foreign keys", "[store]")
{
    World w;
    auto &db = w.store->catalog().database();
    CHECK(must(db.queryText("PRAGMA journal_mode")) == std::optional<std::string>("wal"));
    // FULL is 2.
    CHECK(must(db.queryInt("PRAGMA synchronous")) == std::optional<int64_t>(2));
    CHECK(must(db.queryInt("PRAGMA foreign_keys")) == std::optional<int64_t>(1));
    CHECK(must(w.store->catalog().schemaVersion()) == kCatalogSchemaVersion);
    CHECK(must(w.store->catalog().categoryRetentionDays("uncategorised")) ==
          std::optional<int>(31));
    // Reopening does not migrate twice.
    w.openStore();
    CHECK(must(w.store->catalog().schemaVersion()) == kCatalogSchemaVersion);
}

TEST_CASE("store: an audit row edited in the database is detected", "[store]")
{
    World w;
    const Sealed s1 = w.seal();
    const Sealed s2 = w.seal();
    w.offloadOk(s1);
    w.offloadOk(s2);
    must(w.store->issueReceipt("cam-0001"));
    CHECK(must(w.store->verifyAudit()) == 3);
    w.store.reset();

    sqlite3 *raw = nullptr;
    REQUIRE(sqlite3_open((w.storeRoot() + "/catalog.db").c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "UPDATE audit SET actor = 'nobody' WHERE seq = 2", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(raw);

    w.openStore();
    auto r = w.store->verifyAudit();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Chain);
    CHECK(contains(r.error().message, "audit entry 2:"));
}

TEST_CASE("store: the offload server's records: device seen, audit entry, alarm, discarded file",
          "[store]")
{
    World w;
    const crypto::Digest certSha = dock().sha256(asBytes(std::string("certificate")));
    must(w.store->touchDevice("cam-0001", certSha));
    CHECK(w.count("SELECT COUNT(*) FROM devices WHERE id = 'cam-0001'") == 1);

    must(w.store->recordAudit(audit::AuditRecord{"cam-0001", "dock-session", "start", "cam-0001",
                                                 0, {}, "ok", "fw test"}));
    const int64_t id = must(w.store->raiseAlarm(AlarmKind::DeviceMismatch, "cam-0001", 3, {},
                                                "manifest of cam-0002 offered", "cam-0001",
                                                "offer"));
    const auto alarms = must(w.store->catalog().listAlarms(true));
    REQUIRE(alarms.size() == 1);
    CHECK(alarms[0].id == id);
    CHECK(alarms[0].kind == AlarmKind::DeviceMismatch);
    CHECK(alarms[0].seq == 3);
    CHECK(alarms[0].detail == "manifest of cam-0002 offered");
    const auto entries = must(w.store->auditLog().entries());
    REQUIRE(entries.size() >= 2);
    CHECK(entries[entries.size() - 2].entry.action() == "dock-session");
    CHECK(entries.back().entry.action() == "offer");
    CHECK(entries.back().entry.result() == "alarm DEVICE_MISMATCH");
    CHECK(must(w.store->verifyAudit()) == entries.size());

    auto in = must(w.store->beginIncoming("cam-0001", 1, 100));
    must(in->write(0, patternBytes(0, 10, 1)));
    must(in->fsync());
    const std::string part = in->path();
    CHECK(pathExists(part));
    must(w.store->discardIncoming(std::move(in)));
    CHECK_FALSE(pathExists(part));
    CHECK(must(w.store->beginIncoming("cam-0001", 1, 100))->resumeOffset() == 0);
}

} // namespace
} // namespace bwc::store
