#pragma once

// The dock's audit log (DESIGN.md section 10): an append-only chain of AuditEntry
// messages (proto/bwc/v1/audit.proto), each naming the SHA-256 of the previous entry's
// exact bytes and signed by the dock key (ECDSA P-256 over SHA-256 of the exact entry
// bytes, DER). Entries live in the `audit` table of the catalog database and are
// appended inside the caller's transaction, so an audited change and its entry commit
// together or not at all.
//
// Table audit (created by the catalog's schema from kAuditSchemaSql):
//   seq           INTEGER PRIMARY KEY  the entry's seq (1, 2, 3, ...)
//   entry         BLOB                 exact SignedAuditEntry.entry bytes
//   signature     BLOB                 SignedAuditEntry.signature
//   entry_sha256  BLOB                 SHA-256 of `entry` (what the next entry links to)
//   utc_ms, actor, action, device_id, manifest_seq, clip_uuid, reason, result
//                                      copies of the entry's fields for queries; the
//                                      verifier checks that they equal the signed bytes

#include <cstdint>
#include <string>
#include <vector>

#include "bwc/v1/audit.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "dock/audit/database.h"

namespace bwc::audit {

constexpr uint32_t kAuditFormatVersion = 1;
extern const char *const kAuditSchemaSql;

// What an audited action says; seq, time and linkage are filled in by the log.
struct AuditRecord {
    std::string actor;  // "dock", an officer's or examiner's name, or a device id
    std::string action; // "store", "receipt", "wipe", "verify", "export", "assign", ...
    std::string reason; // why, as the actor gave it
    std::string deviceId;
    uint64_t manifestSeq = 0;
    std::string clipUuid; // 16 raw bytes, or empty
    std::string result;   // "ok", "quarantined", "alarm GAP", ...
    std::string detail;
};

struct StoredAuditEntry {
    v1::AuditEntry entry;
    v1::SignedAuditEntry signedEntry;
};

class AuditLog
{
public:
    // The database, backend and clock must outlive the log.
    AuditLog(db::Database &database, const crypto::Backend &backend, crypto::P256KeyPair dockKey,
             const Clock &clock);

    // Appends the next entry inside `txn` (which must be open on this log's database).
    Expected<v1::AuditEntry> append(db::Transaction &txn, const AuditRecord &record);

    // Entries with seq >= fromSeq, oldest first, at most `limit`.
    Expected<std::vector<StoredAuditEntry>> entries(uint64_t fromSeq = 1,
                                                    uint64_t limit = UINT64_MAX) const;
    // Entries about one clip (clip_uuid) or one device (device_id), oldest first.
    Expected<std::vector<StoredAuditEntry>> entriesForClip(const std::string &clipUuid) const;

    const crypto::P256Point &publicKey() const { return key_.pub; }

private:
    db::Database &db_;
    const crypto::Backend &backend_;
    crypto::P256KeyPair key_;
    const Clock &clock_;
};

// "#12 2026-11-23T09:34:51.123Z dock store cam-0001 seq 3 clip 3f2a...: ok": one line per
// entry for reports and the CLI.
std::string describeEntry(const v1::AuditEntry &entry);

// Walks the whole audit table: seqs contiguous from 1, each prev_entry_sha256 equal to
// the SHA-256 of the previous entry's bytes, the stored hash and query columns equal to
// the signed bytes, and every signature valid under `dockKey`. Returns the number of
// entries; Errc::Chain naming the first entry that breaks.
Expected<uint64_t> verifyAuditChain(db::Database &database, const crypto::Backend &backend,
                                    const crypto::P256Point &dockKey);

} // namespace bwc::audit
