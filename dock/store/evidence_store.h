#pragma once

// The dock's evidence store (DESIGN.md sections 8 and 10):
//
//   <root>/objects/ab/<sha256>   device clip files, byte for byte (never re-encrypted),
//                                named by the SHA-256 of their bytes
//   <root>/tmp/                  incoming files (<device>-<seq>.part) and their durable
//                                length (<device>-<seq>.synced), resumable after a restart
//   <root>/quarantine/           files that failed verification or broke the chain rules
//                                (<device>-<seq>-<sha256>), kept for examination
//   <root>/catalog.db            the SQLite catalog and audit log (catalog.h)
//
// Verification runs while receiving: every byte written to an incoming file also goes
// through a container::ClipStreamReader (hashes, record rules, and with the agency key the
// decryption of every chunk), so a commit never reads the file back. What is verified is
// exactly what was written: the same buffer goes to the file and to the reader, and a
// resumed file's earlier bytes are read back from tmp/ into the reader first.
//
// Order of a commit: the file is fsynced in tmp/, verified (verify::verifyClip), judged by
// the chain rules against the stored head, renamed into objects/ (or quarantine/) and the
// directory fsynced, then the catalog rows, the head and the audit entry commit in one
// SQLite transaction. A crash before the commit leaves at most an object with no row;
// the camera resends it (it has no receipt) and the rename lands on the same name.
//
// Chain-rule breaks (GAP, FORK, ROLLBACK, DEVICE_MISMATCH): the clip is quarantined, not
// stored: the dock accepts only a contiguous run from the stored head (section 6), so the
// head does not move, no receipt covers the clip, and the camera keeps its copy. The
// file is kept in quarantine/ with a catalog row (state quarantined), an alarm and an
// audit entry, so nothing is lost and nothing is silently accepted.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "bwc/v1/receipt.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/base/file.h"
#include "common/chain/chain_rules.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"
#include "dock/audit/audit_log.h"
#include "dock/store/catalog.h"

namespace bwc::store {

constexpr uint32_t kReceiptFormatVersion = 1;

// The dock's signing identity: its key and certificate chain (leaf first) from the
// agency PKI (`bwc pki issue-dock`).
struct DockIdentity {
    crypto::P256KeyPair key;
    std::vector<Bytes> certChainDer;
};

// What a device presented to verify its manifests against.
struct TrustMaterial {
    std::vector<Bytes> deviceCertChainDer; // leaf first
    Bytes caDer;                           // agency CA (the dock's own trust anchor)
    Bytes crlDer;                          // the agency's current CRL
};

// A file being received. Bytes are appended at the current offset only; after a restart,
// beginIncoming for the same device and seq reopens it at resumeOffset().
class IncomingFile
{
public:
    ~IncomingFile();
    IncomingFile(const IncomingFile &) = delete;
    IncomingFile &operator=(const IncomingFile &) = delete;

    // Reads the bytes held from an earlier session (resumeOffset()) into the verifying
    // pass. Call it before the first write and outside any lock shared with other
    // sessions: it reads the whole held part. write() and commitClip do it when needed.
    Expected<void> catchUp();
    // Appends `data` at `offset`, which must equal size() (Errc::Protocol otherwise), and
    // passes it to the verifying reader.
    Expected<void> write(uint64_t offset, ByteView data);
    // Makes everything written durable and records the durable length; waits for a
    // syncBehind() in progress first.
    Expected<void> fsync();
    // The same on a background thread: returns at once while the disk catches up, so
    // receiving goes on during the flush. The durable length (what resumes after a
    // restart) is recorded when the flush is done; a failure is returned by the next call
    // of write(), syncBehind() or fsync().
    Expected<void> syncBehind();

    uint64_t size() const { return file_->size(); }
    // Bytes durable in tmp/ when this handle was opened (0 for a new file).
    uint64_t resumeOffset() const { return resumeOffset_; }
    uint64_t expectedBytes() const { return expectedBytes_; }
    const std::string &deviceId() const { return deviceId_; }
    uint64_t seq() const { return seq_; }
    const std::string &path() const { return file_->path(); }

private:
    friend class EvidenceStore;
    IncomingFile(std::string storeRoot, std::string deviceId, uint64_t seq, uint64_t expectedBytes,
                 std::unique_ptr<WritableFile> file, std::string syncedPath, uint64_t resumeOffset,
                 const crypto::Backend &backend, std::optional<crypto::P256KeyPair> evidenceKey);
    // fdatasync, then records `durable` as the durable length (on the Syncer's thread:
    // flushFile() first, on the receiving one).
    Expected<void> flushTo(uint64_t durable);
    // Hands the bytes the file still stages to the kernel.
    Expected<void> flushFile();
    // The verifying pass's result; catchUp() first. The handle is spent afterwards.
    Expected<container::StreamedClip> finishReading(const v1::Manifest &manifest);

    std::string storeRoot_;
    std::string deviceId_;
    uint64_t seq_;
    uint64_t expectedBytes_;
    std::unique_ptr<WritableFile> file_;
    std::string syncedPath_;
    uint64_t resumeOffset_;
    std::optional<crypto::P256KeyPair> evidenceKey_;
    std::unique_ptr<container::ClipStreamReader> reader_;
    class Syncer;
    std::unique_ptr<Syncer> syncer_; // last: stopped before the file goes
};

struct CommitResult {
    // The chain rules' verdict; nullopt when verification failed before they could run.
    std::optional<chain::Verdict> verdict;
    bool stored = false; // in objects/ and the catalog (new or already there)
    bool quarantined = false;
    std::string objectPath;   // objects/ab/<sha256> or quarantine/<...>
    std::string objectSha256; // hex
    std::optional<AlarmKind> alarm;
    std::string explanation; // the chain rules' or the verification's words
    std::string reportJson;  // verify::renderJson of the clip's report (clips only)
};

struct AcceptedGap {
    GapRow gap;
    CommitResult commit; // the examined clip, now stored as the device's head
};

struct StoreStatus {
    std::string root;
    uint64_t storedClips = 0, quarantinedClips = 0, purgedClips = 0, openAlarms = 0;
};

// One EvidenceStore per store directory and process; its methods are called from one
// thread at a time (the offload server serialises commits). The SQLite connection is
// opened without its own mutex.
class EvidenceStore
{
public:
    // Creates the layout under `root` when missing and opens the catalog. The dock
    // certificate's key must be the identity's key (Errc::Config otherwise). The backend
    // and clock must outlive the store.
    static Expected<std::unique_ptr<EvidenceStore>> open(const std::string &root,
                                                         DockIdentity identity,
                                                         const crypto::Backend &backend,
                                                         const Clock &clock);

    EvidenceStore(const EvidenceStore &) = delete;
    EvidenceStore &operator=(const EvidenceStore &) = delete;

    // Starts or resumes receiving the clip file for (device, seq). `evidenceKey` is the
    // agency key the bytes are decrypted with as they arrive (the one commitClip gets).
    Expected<std::unique_ptr<IncomingFile>>
    beginIncoming(const std::string &deviceId, uint64_t seq, uint64_t expectedBytes,
                  const std::optional<crypto::P256KeyPair> &evidenceKey = std::nullopt);

    // Verifies and files a received clip (see the file comment). The incoming file must be
    // complete (expectedBytes) and must be the manifest's device and seq; it was decrypted
    // with the key given to beginIncoming, if any. The handle is
    // consumed: its tmp files are gone afterwards whatever the outcome, except on an error
    // return before verification (I/O, protocol), which leaves them for a retry.
    Expected<CommitResult> commitClip(std::unique_ptr<IncomingFile> incoming,
                                      const v1::SignedManifest &manifest,
                                      const TrustMaterial &trust);

    // A manifest without a clip file (BOOT, CLOCK_SET, CONFIG, WIPE): certificate chain,
    // signature and chain rules; appended to the device's chain or alarmed.
    Expected<CommitResult> commitManifest(const v1::SignedManifest &manifest,
                                          const TrustMaterial &trust);

    // A receipt for the device's contiguous run of stored manifests ending at its head,
    // signed by the dock key; stored and audited. Errc::NotFound when nothing is held.
    Expected<v1::SignedReceipt> issueReceipt(const std::string &deviceId,
                                             const std::string &sessionNonce = {});

    // Gives up an incoming file: removes its tmp files (a refused offer that brought no
    // bytes). A file with durable bytes that should stay resumable is simply closed instead.
    Expected<void> discardIncoming(std::unique_ptr<IncomingFile> incoming);

    // The offload server's records that are not commits: a docked device seen with its
    // certificate (catalog devices), an audit entry of its own (session start and end), and
    // an alarm raised by the server (a manifest of another device offered in a session, a
    // clip manifest offered without its file) with its audit entry, in one transaction.
    Expected<void> touchDevice(const std::string &deviceId, const crypto::Digest &certSha256,
                               const std::vector<Bytes> &certChainDer = {});
    Expected<void> recordAudit(const audit::AuditRecord &record);
    Expected<int64_t> raiseAlarm(AlarmKind kind, const std::string &deviceId, uint64_t seq,
                                 const std::string &clipUuid, const std::string &detail,
                                 const std::string &actor, const std::string &action);

    // Crypto-erase (section 10): deletes the object (the clip with its wrapped keys) and
    // keeps the manifest as a tombstone. Errc::Exists while a hold is active.
    Expected<void> purgeClip(const std::string &clipUuid, const std::string &actor,
                             const std::string &reason);

    // Audited catalog changes for the `bwc` commands.
    Expected<void> assignOfficer(const std::string &deviceId, const std::string &officerId,
                                 const std::string &actor, const std::string &reason);
    Expected<ClipRow> categorize(const std::string &clipUuid, const std::string &category,
                                 const std::string &actor, const std::string &reason);
    Expected<void> defineCategory(const std::string &name, int retentionDays,
                                  const std::string &actor, const std::string &reason);
    Expected<int64_t> placeHold(const std::string &clipUuid, const std::string &actor,
                                const std::string &reason);
    Expected<int> releaseHold(const std::string &clipUuid, const std::string &actor,
                              const std::string &reason);
    Expected<void> acknowledgeAlarm(int64_t alarmId, const std::string &actor,
                                    const std::string &reason);
    // Accepts an examined GAP (section 6: a gap is never accepted silently). The alarm's
    // quarantined clip is verified again from quarantine/ (against `caDer`, `crlDer` and
    // the device's catalogued certificate; decrypted when `evidenceKey` is given), then in
    // one transaction the missing manifests are recorded (chain_gaps), the clip is stored
    // as the device's new head, the alarm is acknowledged and the audit entry written. The
    // camera's next offload finds the clip held, gets its receipt and wipes it; its later
    // clips append as usual. Errc::Usage for an alarm that is not an open GAP or whose
    // clip no longer follows a gap; Errc::Auth when the clip fails verification.
    Expected<AcceptedGap> acceptGap(int64_t alarmId, const Bytes &caDer, const Bytes &crlDer,
                                    const std::optional<crypto::P256KeyPair> &evidenceKey,
                                    const std::string &actor, const std::string &reason);

    Expected<StoreStatus> status();
    Expected<uint64_t> verifyAudit();

    Catalog &catalog() { return *catalog_; }
    audit::AuditLog &auditLog() { return *audit_; }
    const std::string &root() const { return root_; }
    const std::string &dockId() const { return dockId_; }
    std::string objectPath(const std::string &sha256Hex) const;

private:
    EvidenceStore(std::string root, DockIdentity identity, std::string dockId,
                  const crypto::Backend &backend, const Clock &clock,
                  std::unique_ptr<Catalog> catalog);

    Expected<CommitResult> quarantine(IncomingFile &incoming, const std::string &fileSha256,
                                      const v1::SignedManifest &signedManifest,
                                      const v1::Manifest *manifest, const std::string &uuid,
                                      AlarmKind kind, const std::string &detail,
                                      const std::string &reportJson,
                                      std::optional<chain::Verdict> verdict);
    // The manifest row, the stored clip row (returned in `row`) and the new chain head.
    Expected<void> insertStored(db::Transaction &txn, const v1::SignedManifest &signedManifest,
                                const v1::Manifest &m, const crypto::Digest &mHash,
                                const std::string &fileSha, uint64_t size,
                                const std::string &object, const std::string &reportJson,
                                int64_t now, ClipRow &row);
    Expected<void> removeIncoming(IncomingFile &incoming);
    void cleanUpAfterCommit(IncomingFile &incoming);

    std::string root_;
    DockIdentity identity_;
    std::string dockId_;
    const crypto::Backend &backend_;
    const Clock &clock_;
    std::unique_ptr<Catalog> catalog_;
    std::unique_ptr<audit::AuditLog> audit_;
};

} // namespace bwc::store
