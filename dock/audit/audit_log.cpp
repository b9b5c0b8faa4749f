#include "dock/audit/audit_log.h"

#include <utility>

namespace bwc::audit {

const char *const kAuditSchemaSql = R"sql(
CREATE TABLE audit (
    seq          INTEGER PRIMARY KEY CHECK (seq >= 1),
    entry        BLOB NOT NULL,
    signature    BLOB NOT NULL,
    entry_sha256 BLOB NOT NULL CHECK (length(entry_sha256) = 32),
    utc_ms       INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    manifest_seq INTEGER NOT NULL,
    clip_uuid    BLOB NOT NULL,
    reason       TEXT NOT NULL,
    result       TEXT NOT NULL
);
CREATE INDEX audit_clip ON audit (clip_uuid);
CREATE INDEX audit_device ON audit (device_id);
)sql";

namespace {

constexpr const char *kSelectColumns =
    "SELECT seq, entry, signature, entry_sha256, utc_ms, actor, action, device_id, "
    "manifest_seq, clip_uuid, reason, result FROM audit ";

std::string digestBytes(const crypto::Digest &digest)
{
    return std::string(reinterpret_cast<const char *>(digest.data()), digest.size());
}

Expected<std::vector<StoredAuditEntry>> readEntries(db::Statement &stmt)
{
    std::vector<StoredAuditEntry> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        StoredAuditEntry stored;
        const Bytes entry = stmt.columnBlob(1);
        const Bytes signature = stmt.columnBlob(2);
        stored.signedEntry.set_entry(std::string(asChars(entry)));
        stored.signedEntry.set_signature(std::string(asChars(signature)));
        if (!stored.entry.ParseFromString(stored.signedEntry.entry()))
            return Error(Errc::Format, "audit entry " + std::to_string(stmt.columnInt(0)) +
                                           " is not a valid AuditEntry (catalog damaged)");
        out.push_back(std::move(stored));
    }
}

Error chainBreak(int64_t seq, const std::string &why)
{
    return Error(Errc::Chain, "audit entry " + std::to_string(seq) + ": " + why +
                                  "; the audit log was altered after it was written: keep the "
                                  "catalog as it is and report it");
}

} // namespace

AuditLog::AuditLog(db::Database &database, const crypto::Backend &backend,
                   crypto::P256KeyPair dockKey, const Clock &clock)
    : db_(database), backend_(backend), key_(std::move(dockKey)), clock_(clock)
{
}

Expected<v1::AuditEntry> AuditLog::append(db::Transaction &txn, const AuditRecord &record)
{
    if (&txn.database() != &db_)
        return Error(Errc::Internal, "audit log: transaction is on another database");

    v1::AuditEntry entry;
    entry.set_format_version(kAuditFormatVersion);
    std::string prev(crypto::kSha256Len, '\0');
    uint64_t seq = 1;
    {
        BWC_ASSIGN(last, db::Statement::prepare(
                             db_, "SELECT seq, entry_sha256 FROM audit ORDER BY seq DESC LIMIT 1"));
        BWC_ASSIGN(row, last.step());
        if (row) {
            seq = uint64_t(last.columnInt(0)) + 1;
            prev = std::string(asChars(last.columnBlob(1)));
        }
    }
    entry.set_seq(seq);
    entry.set_prev_entry_sha256(prev);
    entry.set_utc_ms(clock_.utcMs());
    entry.set_actor(record.actor);
    entry.set_action(record.action);
    entry.set_reason(record.reason);
    entry.set_device_id(record.deviceId);
    entry.set_manifest_seq(record.manifestSeq);
    entry.set_clip_uuid(record.clipUuid);
    entry.set_result(record.result);
    entry.set_detail(record.detail);

    std::string bytes;
    if (!entry.SerializeToString(&bytes))
        return Error(Errc::Internal, "audit entry " + std::to_string(seq) + ": serialise failed");
    const crypto::Digest digest = backend_.sha256(asBytes(bytes));
    BWC_ASSIGN(signature, backend_.ecdsaSignDigest(key_.priv, digest));

    BWC_ASSIGN(insert, db::Statement::prepare(
                           db_, "INSERT INTO audit (seq, entry, signature, entry_sha256, utc_ms, "
                                "actor, action, device_id, manifest_seq, clip_uuid, reason, "
                                "result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                "?12)"));
    insert.bind(1, int64_t(seq))
        .bindBlob(2, asBytes(bytes))
        .bindBlob(3, signature)
        .bindBlob(4, digest)
        .bind(5, entry.utc_ms())
        .bind(6, entry.actor())
        .bind(7, entry.action())
        .bind(8, entry.device_id())
        .bind(9, int64_t(entry.manifest_seq()))
        .bindBlob(10, asBytes(entry.clip_uuid()))
        .bind(11, entry.reason())
        .bind(12, entry.result());
    BWC_TRY(insert.run());
    return entry;
}

Expected<std::vector<StoredAuditEntry>> AuditLog::entries(uint64_t fromSeq, uint64_t limit) const
{
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, std::string(kSelectColumns) +
                                                     "WHERE seq >= ?1 ORDER BY seq LIMIT ?2"));
    const uint64_t cappedLimit = limit > uint64_t(INT64_MAX) ? uint64_t(INT64_MAX) : limit;
    const uint64_t cappedFrom = fromSeq > uint64_t(INT64_MAX) ? uint64_t(INT64_MAX) : fromSeq;
    stmt.bind(1, int64_t(cappedFrom)).bind(2, int64_t(cappedLimit));
    return readEntries(stmt);
}

Expected<std::vector<StoredAuditEntry>> AuditLog::entriesForClip(const std::string &clipUuid) const
{
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, std::string(kSelectColumns) +
                                                     "WHERE clip_uuid = ?1 ORDER BY seq"));
    stmt.bindBlob(1, asBytes(clipUuid));
    return readEntries(stmt);
}

std::string describeEntry(const v1::AuditEntry &entry)
{
    std::string out = "#" + std::to_string(entry.seq()) + " " + formatUtcMs(entry.utc_ms()) + " " +
                      entry.actor() + " " + entry.action();
    if (!entry.device_id().empty())
        out += " " + entry.device_id();
    if (entry.manifest_seq() != 0)
        out += " seq " + std::to_string(entry.manifest_seq());
    if (!entry.clip_uuid().empty())
        out += " clip " + toHex(asBytes(entry.clip_uuid()));
    if (!entry.result().empty())
        out += ": " + entry.result();
    if (!entry.reason().empty())
        out += " (" + entry.reason() + ")";
    return out;
}

Expected<uint64_t> verifyAuditChain(db::Database &database, const crypto::Backend &backend,
                                    const crypto::P256Point &dockKey)
{
    BWC_ASSIGN(stmt,
               db::Statement::prepare(database, std::string(kSelectColumns) + "ORDER BY seq"));
    std::string prev(crypto::kSha256Len, '\0');
    uint64_t expected = 1;
    for (;; ++expected) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return expected - 1;
        const int64_t rowSeq = stmt.columnInt(0);
        if (rowSeq != int64_t(expected))
            return chainBreak(rowSeq, "expected seq " + std::to_string(expected) +
                                          " (entries missing or renumbered)");
        const Bytes bytes = stmt.columnBlob(1);
        const Bytes signature = stmt.columnBlob(2);
        const crypto::Digest digest = backend.sha256(bytes);
        if (stmt.columnBlob(3) != Bytes(digest.begin(), digest.end()))
            return chainBreak(rowSeq, "stored entry hash does not match the entry bytes");
        if (auto verified = backend.ecdsaVerifyDigest(dockKey, digest, signature); !verified)
            return chainBreak(rowSeq, "signature does not verify with the dock key (" +
                                          verified.error().message + ")");
        v1::AuditEntry entry;
        if (!entry.ParseFromArray(bytes.data(), int(bytes.size())))
            return chainBreak(rowSeq, "signed bytes are not an AuditEntry");
        if (entry.seq() != expected)
            return chainBreak(rowSeq, "signed seq is " + std::to_string(entry.seq()));
        if (entry.prev_entry_sha256() != prev)
            return chainBreak(rowSeq, "prev_entry_sha256 does not match entry " +
                                          std::to_string(expected - 1));
        if (stmt.columnInt(4) != entry.utc_ms() || stmt.columnText(5) != entry.actor() ||
            stmt.columnText(6) != entry.action() || stmt.columnText(7) != entry.device_id() ||
            stmt.columnInt(8) != int64_t(entry.manifest_seq()) ||
            std::string(asChars(stmt.columnBlob(9))) != entry.clip_uuid() ||
            stmt.columnText(10) != entry.reason() || stmt.columnText(11) != entry.result())
            return chainBreak(rowSeq, "query columns differ from the signed entry");
        prev = digestBytes(digest);
    }
}

} // namespace bwc::audit
