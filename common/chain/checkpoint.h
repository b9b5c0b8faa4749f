#pragma once

// Checkpoints (DESIGN.md section 6): signed every second while recording and appended to
// "<uuid>.ckpt". A log record is a u32 BE length followed by that many bytes of a
// SignedCheckpoint. A power cut can leave a partial last record (a torn tail), which
// readers ignore; a damaged record before the end is an error.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/base/file.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

// Largest SignedCheckpoint record accepted in a log.
constexpr size_t kMaxSignedCheckpointBytes = 64 * 1024;
constexpr size_t kCheckpointRecordHeaderLen = 4;

// "checkpoint 3 of clip 3f2a9c1e-..."
std::string describeCheckpoint(const v1::Checkpoint &checkpoint);

// Sanity checks: 16-byte clip_uuid, printable device_id, 32-byte ciphertext, header and
// plaintext hashes, at least one stream count. Errc::Format naming the field.
Expected<void> checkCheckpoint(const v1::Checkpoint &checkpoint);

// Serialises once and signs SHA-256 of exactly those bytes with the device key.
Expected<v1::SignedCheckpoint> signCheckpoint(const crypto::Backend &backend,
                                              const DeviceIdentity &identity,
                                              const v1::Checkpoint &checkpoint);

// Checks the signature over the exact checkpoint bytes, then parses and checks them.
// Errc::Auth when the signature does not verify, Errc::Format when malformed.
Expected<v1::Checkpoint> verifyCheckpoint(const crypto::Backend &backend,
                                          const crypto::P256Point &signer,
                                          const v1::SignedCheckpoint &signedCheckpoint);

// Appends one record (length and bytes in a single write) and syncs the file.
Expected<void> appendCheckpoint(WritableFile &file, const v1::SignedCheckpoint &signedCheckpoint);

struct CheckpointLog {
    std::vector<v1::SignedCheckpoint> records; // every complete record, in file order
    uint64_t validBytes = 0;                   // bytes taken by those records
    uint64_t tornBytes = 0;                    // partial record at the end, ignored
};

// What a lenient scan found: the records before the first damaged one, and the damage.
struct CheckpointLogScan {
    CheckpointLog log;
    std::optional<Error> corruption;
};

// `what` names the log in messages (usually its path).
CheckpointLogScan scanCheckpointLog(ByteView data, const std::string &what);
// Every complete record; Errc::Format when a record before the end is damaged.
Expected<CheckpointLog> parseCheckpointLog(ByteView data, const std::string &what);
Expected<CheckpointLog> readCheckpointLog(const std::string &path);

} // namespace bwc::chain
