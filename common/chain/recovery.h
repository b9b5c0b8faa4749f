#pragma once

// Boot recovery of clips a power cut left unfinished (DESIGN.md section 6). A clip is
// unfinished while its checkpoint log "<uuid>.ckpt" exists: the log is created before the
// clip file and removed only after the clip's manifest is durable.

#include <cstdint>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

// Device facts recorded in the manifests that recovery signs.
struct RecoveryOptions {
    std::string fwVersion;
    Bytes configSha256; // 32 bytes or empty
    v1::ClockSource clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    uint32_t clockErrorMs = 0;
};

enum class RecoveryOutcome {
    // Truncated to its last valid checkpoint and sealed with an INTERRUPTED manifest.
    Interrupted,
    // Its manifest had been issued already; only the leftover log was removed.
    AlreadySealed,
    // No checkpoint was durable, so the clip file held no media: removed, noted in a BOOT
    // manifest.
    NoMedia,
    // No checkpoint verifies, but the clip file holds records: nothing is deleted; the
    // clip and its log are renamed with ".unrecoverable" for examination, noted in a BOOT
    // manifest.
    Quarantined,
};

const char *recoveryOutcomeName(RecoveryOutcome outcome);

struct RecoveredClip {
    container::ClipUuid clipUuid{};
    std::string clipPath;
    RecoveryOutcome outcome = RecoveryOutcome::Interrupted;
    // The manifest now covering the clip (INTERRUPTED, the existing one, or the BOOT note).
    uint64_t seq = 0;
    // For Interrupted: the checkpoint used, the bytes kept and the bytes cut off after it.
    uint64_t checkpointIndex = 0;
    uint64_t keptBytes = 0;
    uint64_t discardedBytes = 0;
    // One sentence for a person (also in the log and, where one was signed, the manifest).
    std::string note;
};

// Recovers every "<uuid>.ckpt" in clipDir: takes the last checkpoint whose signature
// verifies with the identity's key and whose ciphertext_sha256 matches the first
// ciphertext_bytes of the clip file, truncates the file to exactly that length and issues
// an INTERRUPTED manifest carrying that checkpoint's counts and hashes (end_utc_ms = the
// checkpoint's time); then removes the log. Media a valid checkpoint covers is never
// deleted. Safe to run again after a power cut during recovery.
Expected<std::vector<RecoveredClip>>
recoverUnfinishedClips(const crypto::Backend &backend, DeviceIdentity &identity, ChainState &chain,
                       const std::string &clipDir, const RecoveryOptions &options = {});

} // namespace bwc::chain
