#include "dock/store/catalog.h"

#include <algorithm>
#include <array>

#include "dock/audit/audit_log.h"

namespace bwc::store {

namespace {

const char *const kSchemaV1 = R"sql(
CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    cert_sha256       BLOB NOT NULL,
    first_seen_utc_ms INTEGER NOT NULL,
    last_seen_utc_ms  INTEGER NOT NULL
);
CREATE TABLE chain_heads (
    device_id       TEXT PRIMARY KEY REFERENCES devices (id),
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    manifest_sha256 BLOB NOT NULL CHECK (length(manifest_sha256) = 32)
);
CREATE TABLE manifests (
    device_id       TEXT NOT NULL REFERENCES devices (id),
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    kind            TEXT NOT NULL,
    signed_manifest BLOB NOT NULL,
    manifest_sha256 BLOB NOT NULL CHECK (length(manifest_sha256) = 32),
    clip_uuid       BLOB,
    received_utc_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE categories (
    name           TEXT PRIMARY KEY,
    retention_days INTEGER NOT NULL CHECK (retention_days >= 0)
);
INSERT INTO categories (name, retention_days) VALUES ('uncategorised', 31);
CREATE TABLE officers (
    id           TEXT PRIMARY KEY,
    added_utc_ms INTEGER NOT NULL
);
CREATE TABLE assignments (
    device_id       TEXT PRIMARY KEY,
    officer_id      TEXT NOT NULL REFERENCES officers (id),
    assigned_by     TEXT NOT NULL,
    assigned_utc_ms INTEGER NOT NULL
);
CREATE TABLE clips (
    id                        INTEGER PRIMARY KEY,
    uuid                      BLOB NOT NULL CHECK (length(uuid) = 16),
    device_id                 TEXT NOT NULL,
    seq                       INTEGER NOT NULL,
    object_sha256             TEXT NOT NULL,
    size                      INTEGER NOT NULL,
    officer_id                TEXT NOT NULL,
    start_utc_ms              INTEGER NOT NULL,
    end_utc_ms                INTEGER NOT NULL,
    category                  TEXT NOT NULL REFERENCES categories (name),
    retention_deadline_utc_ms INTEGER NOT NULL,
    state                     TEXT NOT NULL CHECK (state IN ('stored', 'quarantined', 'purged')),
    verified                  INTEGER NOT NULL,
    verify_report             TEXT NOT NULL,
    alarm                     TEXT NOT NULL,
    stored_utc_ms             INTEGER NOT NULL,
    object_path               TEXT NOT NULL
);
CREATE UNIQUE INDEX clips_uuid_kept ON clips (uuid) WHERE state <> 'quarantined';
CREATE INDEX clips_device ON clips (device_id, seq);
CREATE TABLE holds (
    id              INTEGER PRIMARY KEY,
    clip_uuid       BLOB NOT NULL,
    reason          TEXT NOT NULL,
    placed_by       TEXT NOT NULL,
    since_utc_ms    INTEGER NOT NULL,
    released_utc_ms INTEGER,
    released_by     TEXT NOT NULL DEFAULT '',
    release_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX holds_clip ON holds (clip_uuid);
CREATE TABLE receipts (
    id             INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    first_seq      INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL,
    head_sha256    BLOB NOT NULL,
    signed_receipt BLOB NOT NULL,
    issued_utc_ms  INTEGER NOT NULL
);
CREATE TABLE alarms (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL
        CHECK (kind IN ('GAP', 'FORK', 'ROLLBACK', 'VERIFY_FAILED', 'DEVICE_MISMATCH')),
    device_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    clip_uuid       BLOB NOT NULL,
    detail          TEXT NOT NULL,
    utc_ms          INTEGER NOT NULL,
    acknowledged    INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT NOT NULL DEFAULT ''
);
)sql";

const char *const kSchemaV2 = R"sql(
CREATE TABLE device_certs (
    cert_sha256       BLOB PRIMARY KEY CHECK (length(cert_sha256) = 32),
    device_id         TEXT NOT NULL REFERENCES devices (id),
    chain_der         BLOB NOT NULL,
    first_seen_utc_ms INTEGER NOT NULL
);
)sql";

const char *const kSchemaV3 = R"sql(
CREATE TABLE chain_gaps (
    id                      INTEGER PRIMARY KEY,
    device_id               TEXT NOT NULL REFERENCES devices (id),
    first_missing_seq       INTEGER NOT NULL CHECK (first_missing_seq >= 1),
    last_missing_seq        INTEGER NOT NULL CHECK (last_missing_seq >= first_missing_seq),
    resumed_seq             INTEGER NOT NULL CHECK (resumed_seq = last_missing_seq + 1),
    resumed_manifest_sha256 BLOB NOT NULL CHECK (length(resumed_manifest_sha256) = 32),
    alarm_id                INTEGER NOT NULL REFERENCES alarms (id),
    accepted_by             TEXT NOT NULL,
    reason                  TEXT NOT NULL,
    utc_ms                  INTEGER NOT NULL
);
CREATE INDEX chain_gaps_device ON chain_gaps (device_id);
)sql";

// Migration i takes the schema from version i to i + 1.
std::array<std::string, kCatalogSchemaVersion> migrations()
{
    return {std::string(kSchemaV1) + audit::kAuditSchemaSql, kSchemaV2, kSchemaV3};
}

// A certificate chain as one blob: each DER certificate preceded by its length (u32 BE).
Bytes packChain(const std::vector<Bytes> &chain)
{
    Bytes out;
    for (const Bytes &cert : chain) {
        const uint32_t n = uint32_t(cert.size());
        for (int shift = 24; shift >= 0; shift -= 8)
            out.push_back(uint8_t(n >> shift));
        out.insert(out.end(), cert.begin(), cert.end());
    }
    return out;
}

Expected<std::vector<Bytes>> unpackChain(ByteView blob)
{
    std::vector<Bytes> chain;
    size_t at = 0;
    while (at < blob.size()) {
        if (blob.size() - at < 4)
            return Error(Errc::Format, "device_certs.chain_der: truncated length");
        const uint32_t n = uint32_t(blob[at]) << 24 | uint32_t(blob[at + 1]) << 16 |
                           uint32_t(blob[at + 2]) << 8 | uint32_t(blob[at + 3]);
        at += 4;
        if (blob.size() - at < n)
            return Error(Errc::Format, "device_certs.chain_der: truncated certificate");
        chain.emplace_back(blob.begin() + long(at), blob.begin() + long(at + n));
        at += n;
    }
    return chain;
}

constexpr const char *kClipColumns =
    "SELECT id, uuid, device_id, seq, object_sha256, size, officer_id, start_utc_ms, "
    "end_utc_ms, category, retention_deadline_utc_ms, state, verified, verify_report, alarm, "
    "stored_utc_ms, object_path FROM clips ";

std::string blobString(const Bytes &b)
{
    return std::string(asChars(b));
}

std::optional<ClipState> parseState(const std::string &s)
{
    for (ClipState st : {ClipState::Stored, ClipState::Quarantined, ClipState::Purged})
        if (s == clipStateName(st))
            return st;
    return std::nullopt;
}

std::optional<AlarmKind> parseAlarmKind(const std::string &s)
{
    for (AlarmKind k : {AlarmKind::Gap, AlarmKind::Fork, AlarmKind::Rollback,
                        AlarmKind::VerifyFailed, AlarmKind::DeviceMismatch})
        if (s == alarmKindName(k))
            return k;
    return std::nullopt;
}

Expected<std::vector<ClipRow>> readClips(db::Statement &stmt)
{
    std::vector<ClipRow> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        ClipRow c;
        c.id = stmt.columnInt(0);
        c.uuid = blobString(stmt.columnBlob(1));
        c.deviceId = stmt.columnText(2);
        c.seq = uint64_t(stmt.columnInt(3));
        c.objectSha256 = stmt.columnText(4);
        c.size = uint64_t(stmt.columnInt(5));
        c.officerId = stmt.columnText(6);
        c.startUtcMs = stmt.columnInt(7);
        c.endUtcMs = stmt.columnInt(8);
        c.category = stmt.columnText(9);
        c.retentionDeadlineUtcMs = stmt.columnInt(10);
        const auto state = parseState(stmt.columnText(11));
        if (!state)
            return Error(Errc::Format, "catalog: clip row " + std::to_string(c.id) +
                                           " has an unknown state \"" + stmt.columnText(11) + "\"");
        c.state = *state;
        c.verified = stmt.columnInt(12) != 0;
        c.verifyReportJson = stmt.columnText(13);
        c.alarm = stmt.columnText(14);
        c.storedUtcMs = stmt.columnInt(15);
        c.objectPath = stmt.columnText(16);
        out.push_back(std::move(c));
    }
}

crypto::Digest toDigest(const Bytes &b)
{
    crypto::Digest d{};
    if (b.size() == d.size())
        std::copy(b.begin(), b.end(), d.begin());
    return d;
}

} // namespace

const char *clipStateName(ClipState state)
{
    switch (state) {
    case ClipState::Stored:
        return "stored";
    case ClipState::Quarantined:
        return "quarantined";
    case ClipState::Purged:
        return "purged";
    }
    return "?";
}

const char *alarmKindName(AlarmKind kind)
{
    switch (kind) {
    case AlarmKind::Gap:
        return "GAP";
    case AlarmKind::Fork:
        return "FORK";
    case AlarmKind::Rollback:
        return "ROLLBACK";
    case AlarmKind::VerifyFailed:
        return "VERIFY_FAILED";
    case AlarmKind::DeviceMismatch:
        return "DEVICE_MISMATCH";
    }
    return "?";
}

Expected<std::unique_ptr<Catalog>> Catalog::open(const std::string &path)
{
    BWC_ASSIGN(database, db::Database::open(path));
    std::unique_ptr<Catalog> catalog(new Catalog(std::move(database)));
    BWC_ASSIGN(mode, catalog->db_.queryText("PRAGMA journal_mode=WAL"));
    if (!mode || *mode != "wal")
        return Error(Errc::Io, "catalog " + path + ": cannot switch to WAL journal mode (got " +
                                   mode.value_or("nothing") +
                                   "); the store must be on a local file system");
    BWC_TRY(catalog->db_.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
    BWC_TRY(catalog->migrate());
    return catalog;
}

Expected<int> Catalog::schemaVersion()
{
    BWC_ASSIGN(v, db_.queryInt("PRAGMA user_version"));
    return int(v.value_or(0));
}

Expected<void> Catalog::migrate()
{
    BWC_ASSIGN(version, schemaVersion());
    if (version > kCatalogSchemaVersion)
        return Error(Errc::Format,
                     "catalog " + db_.path() + ": schema version " + std::to_string(version) +
                         " is newer than this dock understands (" +
                         std::to_string(kCatalogSchemaVersion) + "); upgrade bwc-dockd");
    const auto steps = migrations();
    for (int v = version; v < kCatalogSchemaVersion; ++v) {
        BWC_ASSIGN(txn, db::Transaction::begin(db_));
        if (auto r = db_.exec(steps[size_t(v)]); !r)
            return Error(r.error().code, r.error().message + " (migrating schema to version " +
                                             std::to_string(v + 1) + ")");
        BWC_TRY(db_.exec("PRAGMA user_version=" + std::to_string(v + 1)));
        BWC_TRY(txn.commit());
    }
    return {};
}

Expected<void> Catalog::touchDevice(db::Transaction &, const std::string &deviceId,
                                    const crypto::Digest &certSha256, int64_t utcMs,
                                    const std::vector<Bytes> &certChainDer)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO devices (id, cert_sha256, first_seen_utc_ms, "
                              "last_seen_utc_ms) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (id) DO "
                              "UPDATE SET cert_sha256 = ?2, last_seen_utc_ms = ?3"));
    stmt.bind(1, deviceId).bindBlob(2, certSha256).bind(3, utcMs);
    BWC_TRY(stmt.run());
    if (certChainDer.empty())
        return {};
    BWC_ASSIGN(certs, db::Statement::prepare(
                          db_, "INSERT INTO device_certs (cert_sha256, device_id, chain_der, "
                               "first_seen_utc_ms) VALUES (?1, ?2, ?3, ?4) "
                               "ON CONFLICT (cert_sha256) DO NOTHING"));
    const Bytes packed = packChain(certChainDer);
    certs.bindBlob(1, certSha256).bind(2, deviceId).bindBlob(3, packed).bind(4, utcMs);
    return certs.run();
}

Expected<std::optional<std::vector<Bytes>>> Catalog::deviceCertChain(ByteView leafSha256)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT chain_der FROM device_certs WHERE cert_sha256 = ?1"));
    stmt.bindBlob(1, leafSha256);
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<std::vector<Bytes>>();
    BWC_ASSIGN(chain, unpackChain(stmt.columnBlob(0)));
    return std::optional<std::vector<Bytes>>(std::move(chain));
}

Expected<std::optional<Bytes>> Catalog::deviceCertSha256(const std::string &deviceId)
{
    BWC_ASSIGN(stmt,
               db::Statement::prepare(db_, "SELECT cert_sha256 FROM devices WHERE id = ?1"));
    stmt.bind(1, deviceId);
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<Bytes>();
    return std::optional<Bytes>(stmt.columnBlob(0));
}

Expected<std::optional<v1::ChainHead>> Catalog::chainHead(const std::string &deviceId)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT seq, manifest_sha256 FROM chain_heads WHERE device_id = ?1"));
    stmt.bind(1, deviceId);
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<v1::ChainHead>();
    v1::ChainHead head;
    head.set_device_id(deviceId);
    head.set_seq(uint64_t(stmt.columnInt(0)));
    head.set_manifest_sha256(blobString(stmt.columnBlob(1)));
    return std::optional<v1::ChainHead>(std::move(head));
}

Expected<void> Catalog::setChainHead(db::Transaction &, const v1::ChainHead &head)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO chain_heads (device_id, seq, manifest_sha256) VALUES "
                              "(?1, ?2, ?3) ON CONFLICT (device_id) DO UPDATE SET seq = ?2, "
                              "manifest_sha256 = ?3"));
    stmt.bind(1, head.device_id())
        .bind(2, int64_t(head.seq()))
        .bindBlob(3, asBytes(head.manifest_sha256()));
    return stmt.run();
}

Expected<void> Catalog::insertManifest(db::Transaction &, const ManifestRow &row)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO manifests (device_id, seq, kind, signed_manifest, "
                              "manifest_sha256, clip_uuid, received_utc_ms) VALUES (?1, ?2, ?3, "
                              "?4, ?5, ?6, ?7)"));
    stmt.bind(1, row.deviceId)
        .bind(2, int64_t(row.seq))
        .bind(3, row.kind)
        .bindBlob(4, row.signedManifest)
        .bindBlob(5, row.manifestSha256)
        .bind(7, row.receivedUtcMs);
    if (row.clipUuid.empty())
        stmt.bindNull(6);
    else
        stmt.bindBlob(6, asBytes(row.clipUuid));
    return stmt.run();
}

Expected<std::optional<ManifestRow>> Catalog::manifest(const std::string &deviceId, uint64_t seq)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT kind, signed_manifest, manifest_sha256, clip_uuid, "
                              "received_utc_ms FROM manifests WHERE device_id = ?1 AND seq = ?2"));
    stmt.bind(1, deviceId).bind(2, int64_t(seq));
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<ManifestRow>();
    ManifestRow m;
    m.deviceId = deviceId;
    m.seq = seq;
    m.kind = stmt.columnText(0);
    m.signedManifest = stmt.columnBlob(1);
    m.manifestSha256 = toDigest(stmt.columnBlob(2));
    m.clipUuid = blobString(stmt.columnBlob(3));
    m.receivedUtcMs = stmt.columnInt(4);
    return std::optional<ManifestRow>(std::move(m));
}

Expected<std::optional<crypto::Digest>> Catalog::manifestHash(const std::string &deviceId,
                                                              uint64_t seq)
{
    BWC_ASSIGN(row, manifest(deviceId, seq));
    if (!row)
        return std::optional<crypto::Digest>();
    return std::optional<crypto::Digest>(row->manifestSha256);
}

Expected<uint64_t> Catalog::runStart(const std::string &deviceId, uint64_t lastSeq)
{
    // The largest stored seq s <= lastSeq whose predecessor is missing starts the run.
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT MAX(m.seq) FROM manifests m WHERE m.device_id = ?1 AND "
                              "m.seq <= ?2 AND NOT EXISTS (SELECT 1 FROM manifests p WHERE "
                              "p.device_id = m.device_id AND p.seq = m.seq - 1)"));
    stmt.bind(1, deviceId).bind(2, int64_t(lastSeq));
    BWC_ASSIGN(row, stmt.step());
    if (!row || stmt.columnIsNull(0))
        return Error(Errc::NotFound, "catalog: no manifests stored for device " + deviceId);
    return uint64_t(stmt.columnInt(0));
}

Expected<int64_t> Catalog::insertClip(db::Transaction &, const ClipRow &c)
{
    BWC_ASSIGN(stmt,
               db::Statement::prepare(
                   db_, "INSERT INTO clips (uuid, device_id, seq, object_sha256, size, officer_id, "
                        "start_utc_ms, end_utc_ms, category, retention_deadline_utc_ms, state, "
                        "verified, verify_report, alarm, stored_utc_ms, object_path) VALUES (?1, "
                        "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
    stmt.bindBlob(1, asBytes(c.uuid))
        .bind(2, c.deviceId)
        .bind(3, int64_t(c.seq))
        .bind(4, c.objectSha256)
        .bind(5, int64_t(c.size))
        .bind(6, c.officerId)
        .bind(7, c.startUtcMs)
        .bind(8, c.endUtcMs)
        .bind(9, c.category)
        .bind(10, c.retentionDeadlineUtcMs)
        .bind(11, clipStateName(c.state))
        .bind(12, int64_t(c.verified ? 1 : 0))
        .bind(13, c.verifyReportJson)
        .bind(14, c.alarm)
        .bind(15, c.storedUtcMs)
        .bind(16, c.objectPath);
    BWC_TRY(stmt.run());
    return db_.lastInsertRowid();
}

Expected<std::optional<ClipRow>> Catalog::clip(const std::string &uuid)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, std::string(kClipColumns) +
                                                     "WHERE uuid = ?1 AND state <> 'quarantined'"));
    stmt.bindBlob(1, asBytes(uuid));
    BWC_ASSIGN(rows, readClips(stmt));
    if (rows.empty())
        return std::optional<ClipRow>();
    return std::optional<ClipRow>(std::move(rows.front()));
}

Expected<std::vector<ClipRow>> Catalog::listClips(const ClipFilter &f)
{
    std::string sql = std::string(kClipColumns) + "WHERE 1";
    if (f.deviceId)
        sql += " AND device_id = ?1";
    if (f.officerId)
        sql += " AND officer_id = ?2";
    if (f.fromUtcMs)
        sql += " AND end_utc_ms >= ?3";
    if (f.toUtcMs)
        sql += " AND start_utc_ms < ?4";
    if (f.category)
        sql += " AND category = ?5";
    if (f.state)
        sql += " AND state = ?6";
    if (f.alarmsOnly)
        sql += " AND alarm <> ''";
    sql += " ORDER BY device_id, seq, id";
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, sql));
    if (f.deviceId)
        stmt.bind(1, *f.deviceId);
    if (f.officerId)
        stmt.bind(2, *f.officerId);
    if (f.fromUtcMs)
        stmt.bind(3, *f.fromUtcMs);
    if (f.toUtcMs)
        stmt.bind(4, *f.toUtcMs);
    if (f.category)
        stmt.bind(5, *f.category);
    if (f.state)
        stmt.bind(6, clipStateName(*f.state));
    return readClips(stmt);
}

Expected<void> Catalog::setClipState(db::Transaction &, int64_t clipId, ClipState state)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, "UPDATE clips SET state = ?1 WHERE id = ?2"));
    stmt.bind(1, clipStateName(state)).bind(2, clipId);
    BWC_TRY(stmt.run());
    if (db_.changes() != 1)
        return Error(Errc::NotFound, "catalog: no clip row " + std::to_string(clipId));
    return {};
}

Expected<ClipRow> Catalog::setClipCategory(db::Transaction &, const std::string &uuid,
                                           const std::string &category)
{
    BWC_ASSIGN(days, categoryRetentionDays(category));
    if (!days)
        return Error(Errc::NotFound, "category \"" + category +
                                         "\" does not exist; create it with its retention days "
                                         "first");
    BWC_ASSIGN(existing, clip(uuid));
    if (!existing)
        return Error(Errc::NotFound, "clip " + toHex(asBytes(uuid)) + " is not in the catalog");
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "UPDATE clips SET category = ?1, retention_deadline_utc_ms = ?2 "
                              "WHERE id = ?3"));
    const int64_t deadline = existing->endUtcMs + int64_t(*days) * kDayMs;
    stmt.bind(1, category).bind(2, deadline).bind(3, existing->id);
    BWC_TRY(stmt.run());
    existing->category = category;
    existing->retentionDeadlineUtcMs = deadline;
    return *existing;
}

Expected<std::vector<ClipRow>> Catalog::clipsPastDeadline(int64_t nowUtcMs)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, std::string(kClipColumns) +
                                  "WHERE state = 'stored' AND retention_deadline_utc_ms < ?1 AND "
                                  "NOT EXISTS (SELECT 1 FROM holds h WHERE h.clip_uuid = "
                                  "clips.uuid AND h.released_utc_ms IS NULL) ORDER BY "
                                  "retention_deadline_utc_ms"));
    stmt.bind(1, nowUtcMs);
    return readClips(stmt);
}

Expected<void> Catalog::setCategory(db::Transaction &, const std::string &name, int retentionDays)
{
    if (name.empty() || retentionDays < 0)
        return Error(Errc::Usage, "category \"" + name +
                                      "\": a name and retention days >= 0 "
                                      "are required");
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO categories (name, retention_days) VALUES (?1, ?2) ON "
                              "CONFLICT (name) DO UPDATE SET retention_days = ?2"));
    stmt.bind(1, name).bind(2, int64_t(retentionDays));
    return stmt.run();
}

Expected<std::optional<int>> Catalog::categoryRetentionDays(const std::string &name)
{
    BWC_ASSIGN(
        stmt, db::Statement::prepare(db_, "SELECT retention_days FROM categories WHERE name = ?1"));
    stmt.bind(1, name);
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<int>();
    return std::optional<int>(int(stmt.columnInt(0)));
}

Expected<void> Catalog::setAssignment(db::Transaction &, const Assignment &a)
{
    BWC_ASSIGN(officer, db::Statement::prepare(
                            db_, "INSERT INTO officers (id, added_utc_ms) VALUES (?1, ?2) ON "
                                 "CONFLICT (id) DO NOTHING"));
    officer.bind(1, a.officerId).bind(2, a.assignedUtcMs);
    BWC_TRY(officer.run());
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO assignments (device_id, officer_id, assigned_by, "
                              "assigned_utc_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id) "
                              "DO UPDATE SET officer_id = ?2, assigned_by = ?3, "
                              "assigned_utc_ms = ?4"));
    stmt.bind(1, a.deviceId).bind(2, a.officerId).bind(3, a.assignedBy).bind(4, a.assignedUtcMs);
    return stmt.run();
}

Expected<std::optional<Assignment>> Catalog::assignment(const std::string &deviceId)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT officer_id, assigned_by, assigned_utc_ms FROM assignments "
                              "WHERE device_id = ?1"));
    stmt.bind(1, deviceId);
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<Assignment>();
    return std::optional<Assignment>(
        Assignment{deviceId, stmt.columnText(0), stmt.columnText(1), stmt.columnInt(2)});
}

Expected<int64_t> Catalog::addHold(db::Transaction &, const HoldRow &h)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO holds (clip_uuid, reason, placed_by, since_utc_ms) "
                              "VALUES (?1, ?2, ?3, ?4)"));
    stmt.bindBlob(1, asBytes(h.clipUuid))
        .bind(2, h.reason)
        .bind(3, h.placedBy)
        .bind(4, h.sinceUtcMs);
    BWC_TRY(stmt.run());
    return db_.lastInsertRowid();
}

Expected<int> Catalog::releaseHolds(db::Transaction &, const std::string &clipUuid,
                                    const std::string &by, const std::string &reason, int64_t utcMs)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "UPDATE holds SET released_utc_ms = ?1, released_by = ?2, "
                              "release_reason = ?3 WHERE clip_uuid = ?4 AND released_utc_ms IS "
                              "NULL"));
    stmt.bind(1, utcMs).bind(2, by).bind(3, reason).bindBlob(4, asBytes(clipUuid));
    BWC_TRY(stmt.run());
    return db_.changes();
}

Expected<std::vector<HoldRow>> Catalog::activeHolds(const std::string &clipUuid)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT id, reason, placed_by, since_utc_ms FROM holds WHERE "
                              "clip_uuid = ?1 AND released_utc_ms IS NULL ORDER BY id"));
    stmt.bindBlob(1, asBytes(clipUuid));
    std::vector<HoldRow> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        HoldRow h;
        h.id = stmt.columnInt(0);
        h.clipUuid = clipUuid;
        h.reason = stmt.columnText(1);
        h.placedBy = stmt.columnText(2);
        h.sinceUtcMs = stmt.columnInt(3);
        out.push_back(std::move(h));
    }
}

Expected<int64_t> Catalog::insertAlarm(db::Transaction &, const AlarmRow &a)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO alarms (kind, device_id, seq, clip_uuid, detail, "
                              "utc_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    stmt.bind(1, alarmKindName(a.kind))
        .bind(2, a.deviceId)
        .bind(3, int64_t(a.seq))
        .bindBlob(4, asBytes(a.clipUuid))
        .bind(5, a.detail)
        .bind(6, a.utcMs);
    BWC_TRY(stmt.run());
    return db_.lastInsertRowid();
}

Expected<std::vector<AlarmRow>> Catalog::listAlarms(bool unacknowledgedOnly)
{
    std::string sql = "SELECT id, kind, device_id, seq, clip_uuid, detail, utc_ms, acknowledged, "
                      "acknowledged_by FROM alarms";
    if (unacknowledgedOnly)
        sql += " WHERE acknowledged = 0";
    sql += " ORDER BY id";
    BWC_ASSIGN(stmt, db::Statement::prepare(db_, sql));
    std::vector<AlarmRow> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        AlarmRow a;
        a.id = stmt.columnInt(0);
        const auto kind = parseAlarmKind(stmt.columnText(1));
        if (!kind)
            return Error(Errc::Format,
                         "catalog: alarm " + std::to_string(a.id) + " has an unknown kind");
        a.kind = *kind;
        a.deviceId = stmt.columnText(2);
        a.seq = uint64_t(stmt.columnInt(3));
        a.clipUuid = blobString(stmt.columnBlob(4));
        a.detail = stmt.columnText(5);
        a.utcMs = stmt.columnInt(6);
        a.acknowledged = stmt.columnInt(7) != 0;
        a.acknowledgedBy = stmt.columnText(8);
        out.push_back(std::move(a));
    }
}

Expected<std::optional<AlarmRow>> Catalog::alarm(int64_t alarmId)
{
    BWC_ASSIGN(all, listAlarms(false));
    for (AlarmRow &a : all)
        if (a.id == alarmId)
            return std::optional<AlarmRow>(std::move(a));
    return std::optional<AlarmRow>();
}

Expected<int64_t> Catalog::insertGap(db::Transaction &, const GapRow &g)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO chain_gaps (device_id, first_missing_seq, "
                              "last_missing_seq, resumed_seq, resumed_manifest_sha256, alarm_id, "
                              "accepted_by, reason, utc_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                              "?8, ?9)"));
    stmt.bind(1, g.deviceId)
        .bind(2, int64_t(g.firstMissingSeq))
        .bind(3, int64_t(g.lastMissingSeq))
        .bind(4, int64_t(g.resumedSeq))
        .bindBlob(5, g.resumedManifestSha256)
        .bind(6, g.alarmId)
        .bind(7, g.acceptedBy)
        .bind(8, g.reason)
        .bind(9, g.utcMs);
    BWC_TRY(stmt.run());
    return db_.lastInsertRowid();
}

Expected<std::vector<GapRow>> Catalog::gaps(const std::string &deviceId)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT id, device_id, first_missing_seq, last_missing_seq, "
                              "resumed_seq, resumed_manifest_sha256, alarm_id, accepted_by, "
                              "reason, utc_ms FROM chain_gaps WHERE device_id = ?1 ORDER BY id"));
    stmt.bind(1, deviceId);
    std::vector<GapRow> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        GapRow g;
        g.id = stmt.columnInt(0);
        g.deviceId = stmt.columnText(1);
        g.firstMissingSeq = uint64_t(stmt.columnInt(2));
        g.lastMissingSeq = uint64_t(stmt.columnInt(3));
        g.resumedSeq = uint64_t(stmt.columnInt(4));
        const Bytes sha = stmt.columnBlob(5);
        if (sha.size() != g.resumedManifestSha256.size())
            return Error(Errc::Format, "catalog: chain gap " + std::to_string(g.id) +
                                           " has a malformed manifest hash");
        std::copy(sha.begin(), sha.end(), g.resumedManifestSha256.begin());
        g.alarmId = stmt.columnInt(6);
        g.acceptedBy = stmt.columnText(7);
        g.reason = stmt.columnText(8);
        g.utcMs = stmt.columnInt(9);
        out.push_back(std::move(g));
    }
}

Expected<std::vector<ClipRow>> Catalog::quarantinedAttempts(const std::string &deviceId,
                                                            uint64_t seq,
                                                            const std::string &clipUuid)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, std::string(kClipColumns) +
                                  "WHERE state = 'quarantined' AND device_id = ?1 AND seq = ?2 "
                                  "AND uuid = ?3 ORDER BY id DESC"));
    stmt.bind(1, deviceId).bind(2, int64_t(seq)).bindBlob(3, asBytes(clipUuid));
    return readClips(stmt);
}

Expected<void> Catalog::removeQuarantinedAttempts(db::Transaction &, const std::string &deviceId,
                                                  uint64_t seq, const std::string &clipUuid)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "DELETE FROM clips WHERE state = 'quarantined' AND device_id = ?1 "
                              "AND seq = ?2 AND uuid = ?3"));
    stmt.bind(1, deviceId).bind(2, int64_t(seq)).bindBlob(3, asBytes(clipUuid));
    return stmt.run();
}

Expected<void> Catalog::acknowledgeAlarm(db::Transaction &, int64_t alarmId, const std::string &by)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "UPDATE alarms SET acknowledged = 1, acknowledged_by = ?1 WHERE "
                              "id = ?2"));
    stmt.bind(1, by).bind(2, alarmId);
    BWC_TRY(stmt.run());
    if (db_.changes() != 1)
        return Error(Errc::NotFound, "alarm " + std::to_string(alarmId) + " does not exist");
    return {};
}

Expected<void> Catalog::insertReceipt(db::Transaction &, const ReceiptRow &r)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "INSERT INTO receipts (device_id, first_seq, last_seq, head_sha256, "
                              "signed_receipt, issued_utc_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    stmt.bind(1, r.deviceId)
        .bind(2, int64_t(r.firstSeq))
        .bind(3, int64_t(r.lastSeq))
        .bindBlob(4, r.headSha256)
        .bindBlob(5, r.signedReceipt)
        .bind(6, r.issuedUtcMs);
    return stmt.run();
}

Expected<std::vector<ReceiptRow>> Catalog::receipts(const std::string &deviceId)
{
    BWC_ASSIGN(stmt, db::Statement::prepare(
                         db_, "SELECT first_seq, last_seq, head_sha256, signed_receipt, "
                              "issued_utc_ms FROM receipts WHERE device_id = ?1 ORDER BY id"));
    stmt.bind(1, deviceId);
    std::vector<ReceiptRow> out;
    for (;;) {
        BWC_ASSIGN(row, stmt.step());
        if (!row)
            return out;
        ReceiptRow r;
        r.deviceId = deviceId;
        r.firstSeq = uint64_t(stmt.columnInt(0));
        r.lastSeq = uint64_t(stmt.columnInt(1));
        r.headSha256 = toDigest(stmt.columnBlob(2));
        r.signedReceipt = stmt.columnBlob(3);
        r.issuedUtcMs = stmt.columnInt(4);
        out.push_back(std::move(r));
    }
}

} // namespace bwc::store
