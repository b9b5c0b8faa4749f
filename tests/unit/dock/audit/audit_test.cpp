// The dock's audit log over a bare SQLite database: entries chain and verify, appends
// roll back with their transaction, and every kind of edit to the table is found and
// named: a changed column, changed entry bytes, a deleted or reordered row, a signature
// by another key.

#include <catch2/catch_test_macros.hpp>

#include <sqlite3.h>

#include <string>

#include "common/base/clock.h"
#include "common/chain/manifest.h"
#include "dock/audit/audit_log.h"
#include "dock/audit/database.h"
#include "tests/unit/common/chain/chain_test_util.h"

namespace bwc::audit {
namespace {

using chain::test::must;

bool contains(const std::string &text, std::string_view needle)
{
    return text.find(needle) != std::string::npos;
}

struct Log {
    explicit Log(const crypto::Backend &b)
        : backend(b), key(chain::test::generateKey(b)), clock(1'760'000'000'000)
    {
        db.emplace(must(db::Database::open(dir.file("audit.db"))));
        must(db->exec(kAuditSchemaSql));
        log.emplace(*db, backend, key, clock);
    }

    v1::AuditEntry add(const std::string &action, const std::string &reason = "")
    {
        auto txn = must(db::Transaction::begin(*db));
        v1::AuditEntry e =
            must(log->append(txn, AuditRecord{"dock", action, reason, "cam-0001", 7,
                                              std::string(16, 'u'), "ok", "detail of " + action}));
        must(txn.commit());
        clock.advanceMs(1000);
        return e;
    }

    void sql(const std::string &statement)
    {
        // A second connection, as an attacker with file access would use.
        sqlite3 *raw = nullptr;
        REQUIRE(sqlite3_open(dir.file("audit.db").c_str(), &raw) == SQLITE_OK);
        char *err = nullptr;
        const int rc = sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, &err);
        INFO((err != nullptr ? err : ""));
        sqlite3_free(err);
        sqlite3_close(raw);
        REQUIRE(rc == SQLITE_OK);
    }

    Error broken()
    {
        auto r = verifyAuditChain(*db, backend, key.pub);
        REQUIRE_FALSE(r.ok());
        return r.error();
    }

    const crypto::Backend &backend;
    chain::test::TempDir dir;
    crypto::P256KeyPair key;
    ManualClock clock;
    std::optional<db::Database> db;
    std::optional<AuditLog> log;
};

TEST_CASE("audit: entries chain by hash, carry their fields and verify", "[audit]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    Log l(backend);
    CHECK(must(verifyAuditChain(*l.db, backend, l.key.pub)) == 0);
    const v1::AuditEntry e1 = l.add("store", "offload");
    const v1::AuditEntry e2 = l.add("receipt");
    const v1::AuditEntry e3 = l.add("hold", "case 12");
    CHECK(e1.seq() == 1);
    CHECK(e1.prev_entry_sha256() == std::string(32, '\0'));
    CHECK(e3.seq() == 3);
    CHECK(e2.utc_ms() == 1'760'000'001'000);

    auto entries = must(l.log->entries());
    REQUIRE(entries.size() == 3);
    const crypto::Digest h1 = backend.sha256(asBytes(entries[0].signedEntry.entry()));
    CHECK(chain::digestEquals(entries[1].entry.prev_entry_sha256(), h1));
    CHECK(entries[2].entry.reason() == "case 12");
    CHECK(entries[2].entry.detail() == "detail of hold");
    must(backend.ecdsaVerify(l.key.pub, asBytes(entries[1].signedEntry.entry()),
                             asBytes(entries[1].signedEntry.signature())));
    CHECK(must(l.log->entries(2, 1)).size() == 1);
    CHECK(must(l.log->entriesForClip(std::string(16, 'u'))).size() == 3);
    CHECK(must(l.log->entriesForClip(std::string(16, 'v'))).empty());
    CHECK(describeEntry(e1) == "#1 2025-10-09T08:53:20.000Z dock store cam-0001 seq 7 clip "
                               "75757575757575757575757575757575: ok (offload)");
    CHECK(must(verifyAuditChain(*l.db, backend, l.key.pub)) == 3);
}

TEST_CASE("audit: an append rolls back with its transaction", "[audit]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    Log l(backend);
    l.add("store");
    {
        auto txn = must(db::Transaction::begin(*l.db));
        must(l.log->append(txn, AuditRecord{"dock", "store", "", "cam-0001", 8, {}, "ok", ""}));
        // Destroyed without commit.
    }
    CHECK(must(l.log->entries()).size() == 1);
    CHECK(l.add("store").seq() == 2);
    CHECK(must(verifyAuditChain(*l.db, backend, l.key.pub)) == 2);

    auto txn = must(db::Transaction::begin(*l.db));
    auto nested = db::Transaction::begin(*l.db);
    REQUIRE_FALSE(nested.ok());
    CHECK(nested.error().code == Errc::Internal);
}

TEST_CASE("audit: every edit to the table is found and names the entry", "[audit]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    Log l(backend);
    for (const char *action : {"store", "receipt", "verify", "export"})
        l.add(action);
    REQUIRE(must(verifyAuditChain(*l.db, backend, l.key.pub)) == 4);

    SECTION("a query column")
    {
        l.sql("UPDATE audit SET actor = 'someone else' WHERE seq = 3");
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 3: query columns differ from the signed entry"));
    }
    SECTION("the entry bytes")
    {
        l.sql("UPDATE audit SET entry = CAST(replace(CAST(entry AS TEXT), 'verify', 'vERIFY') "
              "AS BLOB) WHERE seq = 3");
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 3: stored entry hash does not match"));
    }
    SECTION("entry bytes and hash rewritten together")
    {
        l.sql("UPDATE audit SET entry = CAST(replace(CAST(entry AS TEXT), 'verify', 'vERIFY') "
              "AS BLOB) WHERE seq = 3");
        auto rows = must(l.log->entries(3, 1));
        const crypto::Digest h = backend.sha256(asBytes(rows.at(0).signedEntry.entry()));
        l.sql("UPDATE audit SET entry_sha256 = x'" + toHex(h) + "' WHERE seq = 3");
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 3: signature does not verify with the dock key"));
    }
    SECTION("a deleted entry")
    {
        l.sql("DELETE FROM audit WHERE seq = 2");
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 3: expected seq 2"));
    }
    SECTION("the last entry deleted and re-signed by another key")
    {
        l.sql("DELETE FROM audit WHERE seq = 4");
        AuditLog forger(*l.db, backend, chain::test::generateKey(backend), l.clock);
        auto txn = must(db::Transaction::begin(*l.db));
        must(forger.append(txn, AuditRecord{"dock", "export", "", "cam-0001", 7, {}, "ok", ""}));
        must(txn.commit());
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 4: signature does not verify"));
    }
    SECTION("an entry from another log signed by the same key")
    {
        // A second log under the same dock key: its entry 3 is validly signed and has the
        // right seq, but links to that log's entry 2.
        Log other(backend);
        other.key = l.key;
        other.log.emplace(*other.db, backend, l.key, other.clock);
        other.clock.advanceMs(77);
        for (const char *action : {"assign", "categorize", "hold"})
            other.add(action);
        l.sql("DELETE FROM audit WHERE seq >= 3");
        l.sql("ATTACH '" + other.dir.file("audit.db") +
              "' AS other; INSERT INTO audit SELECT * "
              "FROM other.audit WHERE seq = 3");
        const Error e = l.broken();
        CHECK(e.code == Errc::Chain);
        CHECK(contains(e.message, "audit entry 3: prev_entry_sha256 does not match entry 2"));
    }
}

} // namespace
} // namespace bwc::audit
