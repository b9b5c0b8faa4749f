#pragma once

// The evidence catalog (DESIGN.md section 10): one SQLite database, <store>/catalog.db,
// opened with journal_mode=WAL, synchronous=FULL and foreign_keys=ON. The schema is
// versioned by PRAGMA user_version and upgraded by the migrations in catalog.cpp, applied
// in order, each in its own transaction.
//
// Tables (version 1):
//   devices      id, cert_sha256, first_seen_utc_ms, last_seen_utc_ms
//   chain_heads  device_id, seq, manifest_sha256          the head the dock accepted
//   manifests    device_id, seq, kind, signed_manifest (exact SignedManifest bytes),
//                manifest_sha256, clip_uuid, received_utc_ms   kept after purge (tombstone)
//   categories   name, retention_days                       "uncategorised" 31 by default
//   officers     id, added_utc_ms
//   assignments  device_id, officer_id, assigned_by, assigned_utc_ms   the next shift's
//   clips        id, uuid, device_id, seq, object_sha256, size, officer_id, start/end_utc_ms,
//                category, retention_deadline_utc_ms, state (stored|quarantined|purged),
//                verified, verify_report (JSON), alarm, stored_utc_ms, object_path
//                (one non-quarantined row per uuid; every quarantined attempt has its row)
//   holds        id, clip_uuid, reason, placed_by, since_utc_ms, released_utc_ms,
//                released_by, release_reason
//   receipts     id, device_id, first_seq, last_seq, head_sha256, signed_receipt, issued_utc_ms
//   alarms       id, kind (GAP|FORK|ROLLBACK|VERIFY_FAILED|DEVICE_MISMATCH), device_id, seq,
//                clip_uuid, detail, utc_ms, acknowledged, acknowledged_by
//   audit        see dock/audit/audit_log.h
//
// Version 2 adds:
//   device_certs cert_sha256 (of the leaf), device_id, chain_der, first_seen_utc_ms
//                every certificate chain a device presented, kept so that the evidence can
//                be re-verified and exported without the agency PKI folder
//
// Version 3 adds:
//   chain_gaps   id, device_id, first_missing_seq, last_missing_seq, resumed_seq,
//                resumed_manifest_sha256, alarm_id, accepted_by, reason, utc_ms
//                a GAP an examiner accepted (`bwc alarms accept-gap`): the manifests
//                first..last missing were never received, and the device's chain resumes
//                at the examined manifest resumed_seq

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "dock/audit/database.h"

namespace bwc::store {

constexpr int kCatalogSchemaVersion = 3;
constexpr const char *kDefaultCategory = "uncategorised";
constexpr int64_t kDayMs = 86'400'000;

enum class ClipState { Stored, Quarantined, Purged };
const char *clipStateName(ClipState state); // "stored", "quarantined", "purged"

enum class AlarmKind { Gap, Fork, Rollback, VerifyFailed, DeviceMismatch };
const char *alarmKindName(AlarmKind kind); // "GAP", "FORK", ...

struct ManifestRow {
    std::string deviceId;
    uint64_t seq = 0;
    std::string kind; // "CLIP", "BOOT", ...
    Bytes signedManifest;
    crypto::Digest manifestSha256{};
    std::string clipUuid; // 16 raw bytes or empty
    int64_t receivedUtcMs = 0;
};

struct ClipRow {
    int64_t id = 0;
    std::string uuid; // 16 raw bytes
    std::string deviceId;
    uint64_t seq = 0;
    std::string objectSha256; // hex
    uint64_t size = 0;
    std::string officerId;
    int64_t startUtcMs = 0, endUtcMs = 0;
    std::string category = kDefaultCategory;
    int64_t retentionDeadlineUtcMs = 0;
    ClipState state = ClipState::Stored;
    bool verified = false;
    std::string verifyReportJson;
    std::string alarm; // "" or the alarm kind
    int64_t storedUtcMs = 0;
    std::string objectPath;
};

struct ClipFilter {
    std::optional<std::string> deviceId;
    std::optional<std::string> officerId;
    std::optional<int64_t> fromUtcMs; // clips ending at or after
    std::optional<int64_t> toUtcMs;   // clips starting before
    std::optional<std::string> category;
    std::optional<ClipState> state;
    bool alarmsOnly = false;
};

struct HoldRow {
    int64_t id = 0;
    std::string clipUuid;
    std::string reason, placedBy;
    int64_t sinceUtcMs = 0;
    std::optional<int64_t> releasedUtcMs;
    std::string releasedBy, releaseReason;
};

struct AlarmRow {
    int64_t id = 0;
    AlarmKind kind = AlarmKind::Gap;
    std::string deviceId;
    uint64_t seq = 0;
    std::string clipUuid;
    std::string detail;
    int64_t utcMs = 0;
    bool acknowledged = false;
    std::string acknowledgedBy;
};

struct GapRow {
    int64_t id = 0;
    std::string deviceId;
    uint64_t firstMissingSeq = 0, lastMissingSeq = 0;
    uint64_t resumedSeq = 0;
    crypto::Digest resumedManifestSha256{};
    int64_t alarmId = 0;
    std::string acceptedBy, reason;
    int64_t utcMs = 0;
};

struct ReceiptRow {
    std::string deviceId;
    uint64_t firstSeq = 0, lastSeq = 0;
    crypto::Digest headSha256{};
    Bytes signedReceipt;
    int64_t issuedUtcMs = 0;
};

struct Assignment {
    std::string deviceId, officerId, assignedBy;
    int64_t assignedUtcMs = 0;
};

// Writes take the caller's open Transaction, so that they commit with the audit entry
// that records them.
class Catalog
{
public:
    static Expected<std::unique_ptr<Catalog>> open(const std::string &path);

    Catalog(const Catalog &) = delete;
    Catalog &operator=(const Catalog &) = delete;

    db::Database &database() { return db_; }
    Expected<db::Transaction> begin() { return db::Transaction::begin(db_); }

    // Devices and chain heads. `certChainDer` (leaf first) is recorded in device_certs when
    // given and not yet known.
    Expected<void> touchDevice(db::Transaction &txn, const std::string &deviceId,
                               const crypto::Digest &certSha256, int64_t utcMs,
                               const std::vector<Bytes> &certChainDer = {});
    // The chain whose leaf has this SHA-256, as the device presented it.
    Expected<std::optional<std::vector<Bytes>>> deviceCertChain(ByteView leafSha256);
    // The SHA-256 of the leaf the device presented last.
    Expected<std::optional<Bytes>> deviceCertSha256(const std::string &deviceId);
    Expected<std::optional<v1::ChainHead>> chainHead(const std::string &deviceId);
    Expected<void> setChainHead(db::Transaction &txn, const v1::ChainHead &head);

    // Manifests.
    Expected<void> insertManifest(db::Transaction &txn, const ManifestRow &row);
    Expected<std::optional<crypto::Digest>> manifestHash(const std::string &deviceId, uint64_t seq);
    Expected<std::optional<ManifestRow>> manifest(const std::string &deviceId, uint64_t seq);
    // The lowest seq of the contiguous run of stored manifests ending at `lastSeq`.
    Expected<uint64_t> runStart(const std::string &deviceId, uint64_t lastSeq);

    // Clips.
    Expected<int64_t> insertClip(db::Transaction &txn, const ClipRow &row);
    // The stored or purged row of a clip (not quarantined attempts).
    Expected<std::optional<ClipRow>> clip(const std::string &uuid);
    Expected<std::vector<ClipRow>> listClips(const ClipFilter &filter);
    Expected<void> setClipState(db::Transaction &txn, int64_t clipId, ClipState state);
    // Sets the category and recomputes the deadline: the clip's end time plus the
    // category's retention days. Errc::NotFound for an unknown clip or category.
    Expected<ClipRow> setClipCategory(db::Transaction &txn, const std::string &uuid,
                                      const std::string &category);
    // Stored clips whose deadline is before `nowUtcMs` and that have no active hold.
    Expected<std::vector<ClipRow>> clipsPastDeadline(int64_t nowUtcMs);

    // Categories, officers, assignments.
    Expected<void> setCategory(db::Transaction &txn, const std::string &name, int retentionDays);
    Expected<std::optional<int>> categoryRetentionDays(const std::string &name);
    Expected<void> setAssignment(db::Transaction &txn, const Assignment &assignment);
    Expected<std::optional<Assignment>> assignment(const std::string &deviceId);

    // Holds.
    Expected<int64_t> addHold(db::Transaction &txn, const HoldRow &hold);
    // Releases every active hold on the clip; returns how many were released.
    Expected<int> releaseHolds(db::Transaction &txn, const std::string &clipUuid,
                               const std::string &by, const std::string &reason, int64_t utcMs);
    Expected<std::vector<HoldRow>> activeHolds(const std::string &clipUuid);

    // Alarms.
    Expected<int64_t> insertAlarm(db::Transaction &txn, const AlarmRow &alarm);
    Expected<std::vector<AlarmRow>> listAlarms(bool unacknowledgedOnly);
    Expected<std::optional<AlarmRow>> alarm(int64_t alarmId);
    Expected<void> acknowledgeAlarm(db::Transaction &txn, int64_t alarmId, const std::string &by);

    // Accepted chain gaps, oldest first.
    Expected<int64_t> insertGap(db::Transaction &txn, const GapRow &gap);
    Expected<std::vector<GapRow>> gaps(const std::string &deviceId);

    // Quarantined attempts of one clip (device, seq, uuid), newest first, and their removal
    // once the clip is stored (the alarms and the audit log keep their history).
    Expected<std::vector<ClipRow>> quarantinedAttempts(const std::string &deviceId, uint64_t seq,
                                                       const std::string &clipUuid);
    Expected<void> removeQuarantinedAttempts(db::Transaction &txn, const std::string &deviceId,
                                             uint64_t seq, const std::string &clipUuid);

    // Receipts.
    Expected<void> insertReceipt(db::Transaction &txn, const ReceiptRow &row);
    Expected<std::vector<ReceiptRow>> receipts(const std::string &deviceId);

    Expected<int> schemaVersion();

private:
    explicit Catalog(db::Database db) : db_(std::move(db)) {}
    Expected<void> migrate();

    db::Database db_;
};

} // namespace bwc::store
