// The `bwc` evidence commands on a real store: an agency PKI, a camera sealing real clips
// (mbedTLS) and a dock committing them (OpenSSL); the commands run as functions with
// their output captured, and the catalog, objects and audit log are checked afterwards.

#include <catch2/catch_test_macros.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "common/crypto/pem.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/commands.h"
#include "dock/store/evidence_store.h"
#include "dock/verify/verify.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/dock/agency_test_util.h"

namespace bwc::cli {
namespace {

using chain::test::must;
using dock::test::contains;

constexpr int64_t kDayMs = 86'400'000;

// A dock with its store and config next to the test agency; clips are offloaded with a
// store opened by the test, closed before the commands run (as bwc-dockd and `bwc` are
// separate processes).
class Dock : public dock::test::Agency
{
public:
    Dock()
    {
        dockCert = must(pki->issueDock("dock-01", 365));
        aekPath = pki->keyPath(pki::CertKind::Recipient, "aek");
        configPath = dir.file("etc/dockd.conf");
        must(makeDirectories(dir.file("etc")));
        writeConfig(true);
        openStore();
        store.reset();
    }

    void writeConfig(bool withAek)
    {
        std::ofstream(configPath) << "format_version: 1\n"
                                  << "dock_id: \"dock-01\"\n"
                                  << "store_path: \"../store\"\n"
                                  << "key_path: \"" << dockCert.keyPath << "\"\n"
                                  << "cert_path: \"" << dockCert.certPath << "\"\n"
                                  << "ca_path: \"../pki/ca.pem\"\n"
                                  << "crl_path: \"../pki/crl.pem\"\n"
                                  << (withAek ? "aek_key_path: \"" + aekPath + "\"\n" : "");
    }

    void openStore()
    {
        store::DockIdentity dockIdentity{dock::test::loadKey(dockCert.keyPath),
                                     must(crypto::readPemFile(dockCert.certPath, "CERTIFICATE"))};
        store = must(store::EvidenceStore::open(dir.file("store"), std::move(dockIdentity),
                                                dock::test::dockBackend(), clock));
    }

    // Seals a clip and commits it into the store; returns its uuid as 8-4-4-4-12.
    std::string offload(size_t mediaBytes = 60000)
    {
        const Clip c = seal(mediaBytes);
        const store::CommitResult r = commit(c);
        REQUIRE(r.stored);
        openStore();
        must(store->issueReceipt(c.parsed.device_id()));
        store.reset();
        sealed.push_back(c);
        return formatClipUuid(c.parsed.clip_uuid());
    }

    // Commits a sealed clip as the offload server does, whatever the outcome.
    store::CommitResult commit(const Clip &c)
    {
        openStore();
        const Bytes data = must(readFile(c.clipPath));
        auto in = must(store->beginIncoming(c.parsed.device_id(), c.parsed.seq(), data.size(), aek));
        must(in->write(0, data));
        store::TrustMaterial trust{identity->certChainDer(), pki->caCertDer(), pki->crlDer()};
        const store::CommitResult r = must(store->commitClip(std::move(in), c.manifest, trust));
        store.reset();
        return r;
    }

    // The store as the commands left it, for checks.
    store::EvidenceStore &reopen()
    {
        openStore();
        return *store;
    }

    template <typename Args> Args args(std::string reason = "case 2026-0042")
    {
        Args a;
        a.dockConfig = configPath;
        a.actor = "examiner-1";
        a.reason = std::move(reason);
        return a;
    }

    struct Run {
        int code;
        std::string out, err;
    };
    template <typename Args> Run run(int (*command)(const Args &, Console &), const Args &a)
    {
        std::ostringstream out, err;
        Console console{out, err, clock, false};
        const int code = command(a, console);
        return Run{code, out.str(), err.str()};
    }

    int64_t count(const std::string &sql)
    {
        auto n = must(reopen().catalog().database().queryInt(sql));
        store.reset();
        REQUIRE(n.has_value());
        return *n;
    }

    pki::IssuedCert dockCert;
    std::string aekPath;
    std::string configPath;
    std::unique_ptr<store::EvidenceStore> store;
    std::vector<Clip> sealed;
};

std::string rawUuid(const std::string &text)
{
    auto raw = parseClipUuid(text);
    REQUIRE(raw.has_value());
    return *raw;
}

TEST_CASE("evidence cli: clip uuids and verify targets", "[cli][evidence]")
{
    const std::string raw = rawUuid("0123456789abcdef0123456789ABCDEF");
    CHECK(formatClipUuid(raw) == "01234567-89ab-cdef-0123-456789abcdef");
    CHECK(parseClipUuid("01234567-89ab-cdef-0123-456789abcdef") == raw);
    CHECK_FALSE(parseClipUuid("01234567-89ab-cdef-0123-456789abcdeg"));
    CHECK_FALSE(parseClipUuid("0123456789abcdef0123456789abcde"));
    CHECK_FALSE(parseClipUuid("0123456789ab-cdef-0123-456789abcdef0"));

    chain::test::TempDir dir;
    CHECK(must(classifyVerifyTarget(dir.path())) == VerifyTarget::Path);
    CHECK(must(classifyVerifyTarget("0123456789abcdef0123456789abcdef")) ==
          VerifyTarget::StoredClip);
    auto neither = classifyVerifyTarget(dir.file("nothing-here.bwcclip"));
    REQUIRE_FALSE(neither.ok());
    CHECK(neither.error().code == Errc::Usage);
    CHECK(contains(neither.error().message, "not a clip uuid"));

    CHECK(must(parseUtcArgument("--from", "2026-11-23")) ==
          must(parseUtcArgument("--from", "2026-11-23T00:00:00Z")));
    CHECK(must(parseUtcArgument("--from", "2026-11-23 09:30")) ==
          must(parseUtcArgument("--from", "2026-11-23T09:30:00.000Z")));
    CHECK_FALSE(parseUtcArgument("--from", "yesterday").ok());
    CHECK(jsonString("a\"b\\\n\x01") == "\"a\\\"b\\\\\\n\\u0001\"");
}

TEST_CASE("evidence cli: list filters and audits the listing", "[cli][evidence]")
{
    Dock d;
    const std::string a = d.offload();
    d.clock.advanceMs(3'600'000);
    const std::string b = d.offload();
    const std::string officer = d.sealed[0].parsed.officer_id();

    auto all = d.run(runList, d.args<ListArgs>(""));
    REQUIRE(all.code == kExitOk);
    CHECK(contains(all.out, a));
    CHECK(contains(all.out, b));
    CHECK(contains(all.out, "2 clip(s)"));
    CHECK(contains(all.out, "uncategorised"));

    auto byDevice = d.args<ListArgs>("");
    byDevice.device = "cam-0002";
    CHECK(contains(d.run(runList, byDevice).out, "0 clip(s)"));
    byDevice.device = "cam-0001";
    CHECK(contains(d.run(runList, byDevice).out, "2 clip(s)"));

    auto byOfficer = d.args<ListArgs>("");
    byOfficer.officer = officer;
    CHECK(contains(d.run(runList, byOfficer).out, "2 clip(s)"));
    byOfficer.officer = "nobody";
    CHECK(contains(d.run(runList, byOfficer).out, "0 clip(s)"));

    // The second clip started an hour after the first ended.
    auto byTime = d.args<ListArgs>("");
    byTime.from = formatUtcMs(d.sealed[1].parsed.start_utc_ms() - 60'000);
    auto late = d.run(runList, byTime);
    CHECK(contains(late.out, "1 clip(s)"));
    CHECK(contains(late.out, b));
    CHECK_FALSE(contains(late.out, a));
    byTime.from.clear();
    byTime.to = formatUtcMs(d.sealed[1].parsed.start_utc_ms() - 60'000);
    auto early = d.run(runList, byTime);
    CHECK(contains(early.out, "1 clip(s)"));
    CHECK(contains(early.out, a));

    auto defined = d.args<CategoryDefineArgs>();
    defined.name = "evidence";
    defined.days = 3650;
    REQUIRE(d.run(runCategoryDefine, defined).code == kExitOk);
    auto cat = d.args<CategorizeArgs>();
    cat.uuid = b;
    cat.category = "evidence";
    REQUIRE(d.run(runCategorize, cat).code == kExitOk);
    auto byCategory = d.args<ListArgs>("");
    byCategory.category = "evidence";
    byCategory.json = true;
    auto json = d.run(runList, byCategory);
    CHECK(contains(json.out, "\"count\": 1"));
    CHECK(contains(json.out, "\"uuid\": \"" + b + "\""));

    auto byState = d.args<ListArgs>("");
    byState.state = "purged";
    CHECK(contains(d.run(runList, byState).out, "0 clip(s)"));
    byState.state = "gone";
    auto badState = d.run(runList, byState);
    CHECK(badState.code == kExitUsage);
    CHECK(contains(badState.err, "--state gone"));
    auto alarms = d.args<ListArgs>("");
    alarms.alarmsOnly = true;
    CHECK(contains(d.run(runList, alarms).out, "0 clip(s)"));

    CHECK(d.count("SELECT COUNT(*) FROM audit WHERE action = 'list' AND actor = 'examiner-1' "
                  "AND reason = 'catalog listing'") == 10);
}

TEST_CASE("evidence cli: show prints the clip, its manifest and custody", "[cli][evidence]")
{
    Dock d;
    const std::string uuid = d.offload();
    auto show = d.args<ShowArgs>();
    show.uuid = uuid;
    auto r = d.run(runShow, show);
    REQUIRE(r.code == kExitOk);
    CHECK(contains(r.out, "clip " + uuid));
    CHECK(contains(r.out, "cam-0001 seq " + std::to_string(d.sealed[0].parsed.seq())));
    CHECK(contains(r.out, toHex(asBytes(d.sealed[0].parsed.ciphertext_sha256()))));
    CHECK(contains(r.out, "verification at offload: PASS"));
    CHECK(contains(r.out, "receipt "));
    CHECK(contains(r.out, "dock store"));
    CHECK(contains(r.out, "examiner-1 show"));

    show.json = true;
    auto json = d.run(runShow, show);
    REQUIRE(json.code == kExitOk);
    CHECK(contains(json.out, "\"uuid\": \"" + uuid + "\""));
    CHECK(contains(json.out, "\"offload_report\": {"));

    SECTION("a missing reason is a usage error and nothing is recorded")
    {
        const int64_t before = d.count("SELECT COUNT(*) FROM audit");
        show.reason = " ";
        auto noReason = d.run(runShow, show);
        CHECK(noReason.code == kExitUsage);
        CHECK(contains(noReason.err, "--reason is required"));
        CHECK(d.count("SELECT COUNT(*) FROM audit") == before);
    }
    SECTION("an unknown uuid is named")
    {
        show.uuid = "00000000-0000-0000-0000-000000000000";
        auto unknown = d.run(runShow, show);
        CHECK(unknown.code == kExitUsage);
        CHECK(contains(unknown.err, "clip 00000000-0000-0000-0000-000000000000 is not in the "
                                    "evidence store"));
        show.uuid = "not-a-uuid";
        CHECK(contains(d.run(runShow, show).err, "not-a-uuid: not a clip uuid"));
    }
}

TEST_CASE("evidence cli: verify a stored clip passes, and fails once its object is altered",
          "[cli][evidence]")
{
    Dock d;
    d.offload();
    const std::string uuid = d.offload();
    auto v = d.args<VerifyArgs>();
    v.path = uuid;
    auto ok = d.run(runVerifyAny, v);
    INFO(ok.err);
    REQUIRE(ok.code == kExitOk);
    CHECK(contains(ok.out, "PASS"));
    CHECK(contains(ok.out, "contiguous and linked")); // the chain from the catalog
    CHECK(contains(ok.out, "plaintext_sha256"));
    // The device's chain comes from the catalog, as the device presented it.
    CHECK(contains(ok.out, "as the device presented it to the dock"));
    CHECK(contains(ok.out, "examiner-1 verify"));
    CHECK(d.count("SELECT COUNT(*) FROM audit WHERE action = 'verify' AND result = 'PASS'") == 1);

    SECTION("without the agency PKI's copy of the device certificate")
    {
        std::filesystem::remove(d.device.certPath);
        auto again = d.run(runVerifyAny, v);
        INFO(again.err);
        CHECK(again.code == kExitOk);
        CHECK(contains(again.out, "as the device presented it to the dock"));
    }
    SECTION("a flipped byte in the stored object")
    {
        auto row = must(d.reopen().catalog().clip(rawUuid(uuid)));
        d.store.reset();
        REQUIRE(row.has_value());
        std::filesystem::permissions(row->objectPath, std::filesystem::perms::owner_write,
                                     std::filesystem::perm_options::add);
        Bytes data = must(readFile(row->objectPath));
        data[data.size() / 2] ^= 0x01;
        must(atomicReplace(row->objectPath, data));
        v.json = true;
        v.reportOut = d.dir.file("report.json");
        auto bad = d.run(runVerifyAny, v);
        CHECK(bad.code == kExitCheckFailed);
        CHECK(contains(bad.out, "\"FAIL\""));
        CHECK(contains(must(readTextFile(v.reportOut)), "ciphertext_sha256"));
        CHECK(d.count("SELECT COUNT(*) FROM audit WHERE action = 'verify' AND result = 'FAIL'") ==
              1);
    }
    SECTION("usage errors")
    {
        v.reason.clear();
        auto noReason = d.run(runVerifyAny, v);
        CHECK(noReason.code == kExitUsage);
        CHECK(contains(noReason.err, "--reason is required"));
        v.reason = "check";
        v.path = d.dir.file("no-such-clip.bwcclip");
        auto neither = d.run(runVerifyAny, v);
        CHECK(neither.code == kExitUsage);
        CHECK(contains(neither.err, "not a clip uuid"));
        v.path = "ffffffffffffffffffffffffffffffff";
        auto unknown = d.run(runVerifyAny, v);
        CHECK(unknown.code == kExitUsage);
        CHECK(contains(unknown.err, "is not in the evidence store"));
        v.path = uuid;
        v.dockConfig = d.dir.file("etc/missing.conf");
        auto noConfig = d.run(runVerifyAny, v);
        CHECK(noConfig.code == kExitUsage);
        CHECK(contains(noConfig.err, "missing.conf"));
        CHECK(contains(noConfig.err, "--dock-config"));
    }
}

TEST_CASE("evidence cli: export writes a bundle that verifies offline", "[cli][evidence]")
{
    Dock d;
    const std::string a = d.offload();
    const std::string b = d.offload();
    const std::string c = d.offload();
    auto e = d.args<ExportArgs>();
    e.uuids = {c, a}; // any order; the segment covers a..c, b's manifest included
    e.out = d.dir.file("bundle");
    const bool plaintext = GENERATE(false, true);
    e.plaintext = plaintext;
    auto r = d.run(runExport, e);
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK(contains(r.out, "exported 2 clip(s) of device cam-0001"));
    CHECK(contains(must(readTextFile(e.out + "/report.txt")), "examiner-1 export"));
    CHECK(pathExists(e.out + "/report.json"));
    for (const auto &s : {d.sealed[0], d.sealed[2]}) {
        const std::string name = formatClipUuid(s.parsed.clip_uuid());
        CHECK(must(readFile(e.out + "/clips/" + name + ".bwcclip")) == must(readFile(s.clipPath)));
        CHECK(pathExists(e.out + "/clips/" + name + ".mp4") == plaintext);
    }
    CHECK(pathExists(e.out + "/manifests/" + chain::manifestFileName(d.sealed[1].parsed.seq())));

    verify::BundleInputs in;
    in.bundleDir = e.out;
    in.trustAnchorsDer = {d.pki->caCertDer()};
    in.evidenceKey = d.aek;
    in.nowUtcMs = d.clock.utcMs();
    const verify::Report report = verify::verifyBundle(dock::test::dockBackend(), in);
    INFO(verify::renderText(report));
    CHECK(report.passed());
    CHECK(report.clips.size() == 2);

    // `bwc verify DIR --ca ...` on the bundle.
    VerifyArgs offline;
    offline.path = e.out;
    offline.ca = d.pki->caCertPath();
    offline.key = d.aekPath;
    CHECK(d.run(runVerifyAny, offline).code == kExitOk);

    CHECK(d.count("SELECT COUNT(*) FROM audit WHERE action = 'export'") == 2);

    SECTION("an existing non-empty --out is refused")
    {
        auto again = d.run(runExport, e);
        CHECK(again.code == kExitUsage);
        CHECK(contains(again.err, "not an empty directory"));
    }
}

TEST_CASE("evidence cli: export refuses purged clips and needs the AEK for --plaintext",
          "[cli][evidence]")
{
    Dock d;
    const std::string a = d.offload();
    auto e = d.args<ExportArgs>();
    e.uuids = {a};
    e.out = d.dir.file("bundle");

    d.writeConfig(false);
    e.plaintext = true;
    auto noKey = d.run(runExport, e);
    CHECK(noKey.code == kExitUsage);
    CHECK(contains(noKey.err, "--plaintext needs the agency evidence key"));
    CHECK_FALSE(pathExists(e.out));

    must(d.reopen().purgeClip(rawUuid(a), "examiner-1", "test"));
    d.store.reset();
    e.plaintext = false;
    auto purged = d.run(runExport, e);
    CHECK(purged.code == kExitUsage);
    CHECK(contains(purged.err, "was purged"));
    CHECK(contains(purged.err, "tombstone"));
    CHECK_FALSE(pathExists(e.out));

    e.reason.clear();
    CHECK(contains(d.run(runExport, e).err, "--reason is required"));
}

TEST_CASE("evidence cli: retention dry run, hold, apply, tombstone and audit chain",
          "[cli][evidence]")
{
    Dock d;
    const std::string kept = d.offload();
    const std::string due = d.offload();
    const std::string fresh = d.offload();
    // `fresh` is in a long category; the others reach the 31-day default deadline.
    auto defined = d.args<CategoryDefineArgs>();
    defined.name = "evidence";
    defined.days = 365;
    REQUIRE(d.run(runCategoryDefine, defined).code == kExitOk);
    auto cat = d.args<CategorizeArgs>();
    cat.uuid = fresh;
    cat.category = "evidence";
    REQUIRE(d.run(runCategorize, cat).code == kExitOk);

    auto hold = d.args<HoldArgs>("court order 17");
    hold.uuid = kept;
    auto held = d.run(runHold, hold);
    REQUIRE(held.code == kExitOk);
    CHECK(contains(held.out, "hold #"));

    d.clock.advanceMs(32 * kDayMs);
    auto dry = d.args<RetentionArgs>("monthly retention");
    auto dryRun = d.run(runRetention, dry);
    REQUIRE(dryRun.code == kExitOk);
    CHECK(contains(dryRun.out, "would purge " + due));
    CHECK_FALSE(contains(dryRun.out, "would purge " + kept));
    CHECK(contains(dryRun.out, "keep   " + kept));
    CHECK_FALSE(contains(dryRun.out, fresh));
    CHECK(d.count("SELECT COUNT(*) FROM clips WHERE state = 'purged'") == 0);
    for (const auto &s : d.sealed) {
        auto row = must(d.reopen().catalog().clip(s.parsed.clip_uuid()));
        d.store.reset();
        CHECK(pathExists(row->objectPath));
    }

    auto apply = dry;
    apply.apply = true;
    auto applied = d.run(runRetention, apply);
    REQUIRE(applied.code == kExitOk);
    CHECK(contains(applied.out, "purged " + due));
    CHECK(contains(applied.out, "1 clip(s) purged"));

    store::EvidenceStore &st = d.reopen();
    auto purgedRow = must(st.catalog().clip(rawUuid(due)));
    REQUIRE(purgedRow.has_value());
    CHECK(purgedRow->state == store::ClipState::Purged);
    CHECK_FALSE(pathExists(purgedRow->objectPath));
    // The manifest stays as a tombstone.
    CHECK(must(st.catalog().manifest("cam-0001", purgedRow->seq)).has_value());
    auto keptRow = must(st.catalog().clip(rawUuid(kept)));
    CHECK(keptRow->state == store::ClipState::Stored);
    CHECK(pathExists(keptRow->objectPath));
    d.store.reset();

    auto audit = d.run(runAudit, d.args<AuditArgs>(""));
    CHECK(audit.code == kExitOk);
    CHECK(contains(audit.out, "examiner-1 purge"));
    CHECK(contains(audit.out, "hash chain and dock signatures verified"));

    // Releasing the hold lets the next run purge it.
    auto release = d.args<HoldArgs>("case closed");
    release.uuid = kept;
    release.place = false;
    REQUIRE(d.run(runHold, release).code == kExitOk);
    CHECK(contains(d.run(runRetention, apply).out, "purged " + kept));

    // The purged clip is shown as a tombstone and not verified.
    auto show = d.args<ShowArgs>();
    show.uuid = due;
    CHECK(contains(d.run(runShow, show).out, "tombstone"));
    auto v = d.args<VerifyArgs>();
    v.path = due;
    auto verifyPurged = d.run(runVerifyAny, v);
    CHECK(verifyPurged.code == kExitUsage);
    CHECK(contains(verifyPurged.err, "was purged"));
}

TEST_CASE("evidence cli: audit detects a tampered entry", "[cli][evidence]")
{
    Dock d;
    d.offload();
    auto a = d.args<AuditArgs>("");
    a.json = true;
    auto clean = d.run(runAudit, a);
    REQUIRE(clean.code == kExitOk);
    CHECK(contains(clean.out, "\"chain_verified\": true"));

    sqlite3 *db = nullptr;
    REQUIRE(sqlite3_open(d.dir.file("store/catalog.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE audit SET reason = 'nothing to see' WHERE seq = 2", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);

    a.json = false;
    auto tampered = d.run(runAudit, a);
    CHECK(tampered.code == kExitCheckFailed);
    CHECK(contains(tampered.err, "audit entry 2"));
    CHECK(contains(tampered.out, "#1 ")); // the entries are still listed
}

TEST_CASE("evidence cli: assign, alarms and missing reasons", "[cli][evidence]")
{
    Dock d;
    d.offload();
    auto assign = d.args<AssignArgs>("shift change");
    assign.device = "cam-0001";
    assign.officer = "officer-99";
    auto r = d.run(runAssign, assign);
    REQUIRE(r.code == kExitOk);
    auto assignment = must(d.reopen().catalog().assignment("cam-0001"));
    d.store.reset();
    REQUIRE(assignment.has_value());
    CHECK(assignment->officerId == "officer-99");
    CHECK(assignment->assignedBy == "examiner-1");
    CHECK(d.count("SELECT COUNT(*) FROM audit WHERE action = 'assign' AND reason = 'shift "
                  "change'") == 1);

    const int64_t before = d.count("SELECT COUNT(*) FROM audit");
    assign.reason.clear();
    auto noReason = d.run(runAssign, assign);
    CHECK(noReason.code == kExitUsage);
    CHECK(contains(noReason.err, "bwc assign: --reason is required"));
    auto hold = d.args<HoldArgs>("");
    hold.uuid = formatClipUuid(d.sealed[0].parsed.clip_uuid());
    CHECK(d.run(runHold, hold).code == kExitUsage);
    auto retention = d.args<RetentionArgs>("");
    CHECK(d.run(runRetention, retention).code == kExitUsage);
    auto cat = d.args<CategorizeArgs>("");
    cat.uuid = hold.uuid;
    cat.category = store::kDefaultCategory;
    CHECK(d.run(runCategorize, cat).code == kExitUsage);
    auto ack = d.args<AlarmAckArgs>("");
    ack.id = 1;
    CHECK(d.run(runAlarmAck, ack).code == kExitUsage);
    CHECK(d.count("SELECT COUNT(*) FROM audit") == before);

    auto undefined = d.args<CategorizeArgs>();
    undefined.uuid = hold.uuid;
    undefined.category = "no-such-category";
    auto notDefined = d.run(runCategorize, undefined);
    CHECK(notDefined.code == kExitUsage);
    CHECK(contains(notDefined.err, "bwc category define"));

    auto alarms = d.run(runAlarms, d.args<AlarmsArgs>(""));
    CHECK(alarms.code == kExitOk);
    CHECK(contains(alarms.out, "0 open alarm(s)"));
}

TEST_CASE("evidence cli: alarms accept-gap stores the examined clip and records the gap",
          "[cli][evidence]")
{
    Dock d;
    d.offload();
    d.seal(); // seq 2 never reaches the dock
    const Dock::Clip c3 = d.seal();
    const store::CommitResult quarantined = d.commit(c3);
    REQUIRE(quarantined.alarm == store::AlarmKind::Gap);

    auto alarms = d.run(runAlarms, d.args<AlarmsArgs>(""));
    CHECK(contains(alarms.out, "#1 GAP"));
    CHECK(contains(alarms.out, "bwc alarms accept-gap ID --reason TEXT"));

    auto accept = d.args<AlarmAcceptGapArgs>("");
    accept.id = 1;
    auto noReason = d.run(runAlarmAcceptGap, accept);
    CHECK(noReason.code == kExitUsage);
    CHECK(contains(noReason.err, "--reason is required"));
    accept.reason = "seq 2 was a test recording deleted by the vendor, ticket 311";
    auto r = d.run(runAlarmAcceptGap, accept);
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK(contains(r.out, "alarm #1 accepted by examiner-1: device cam-0001 seq 2 recorded as "
                          "missing; seq 3 verified and stored"));
    CHECK(contains(d.run(runAlarms, d.args<AlarmsArgs>("")).out, "0 open alarm(s)"));

    // The stored clip verifies; its report names the accepted gap among its custody.
    auto v = d.args<VerifyArgs>();
    v.path = formatClipUuid(c3.parsed.clip_uuid());
    auto verified = d.run(runVerifyAny, v);
    INFO(verified.err);
    CHECK(verified.code == kExitOk);
    CHECK(contains(verified.out, "chain gap"));
    CHECK(contains(verified.out, "seq 2..2 never reached the dock; accepted by examiner-1"));
    CHECK(contains(verified.out, "ticket 311"));

    auto twice = d.run(runAlarmAcceptGap, accept);
    CHECK(twice.code != kExitOk);
    CHECK(contains(twice.err, "already acknowledged by examiner-1"));
}

} // namespace
} // namespace bwc::cli
