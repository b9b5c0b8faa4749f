#pragma once

// The dock's chain rules (DESIGN.md section 6) as pure functions: what to do with a
// verified manifest given the chain head the dock stores for that device.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

enum class Verdict {
    Append,         // the next manifest of the device: store it and advance the head
    Idempotent,     // already stored, byte for byte: nothing to do
    Gap,            // manifests are missing before this one (a deleted clip?): GAP alarm
    Fork,           // a different manifest for a seq already stored: FORK alarm
    Rollback,       // the next seq, but not linked to the stored head: ROLLBACK alarm
    DeviceMismatch, // the certificate's device is not the manifest's
};

const char *verdictName(Verdict verdict);

struct Decision {
    Verdict verdict;
    std::string explanation;
};

// storedHead: the dock's head for the device (nullopt when it holds nothing).
// storedManifestHash(seq): the hash of the manifest the dock stores for seq, if any.
// certDeviceId: the device id of the certificate that verified the manifest's signature.
// m, mHash: the manifest (signature already verified) and SHA-256 of its exact bytes.
Decision
evaluate(const std::optional<v1::ChainHead> &storedHead,
         const std::function<std::optional<crypto::Digest>(uint64_t seq)> &storedManifestHash,
         const std::string &certDeviceId, const v1::Manifest &m, const crypto::Digest &mHash);

// Checks that an exported run is contiguous (seq + 1 each) and linked (each
// prev_manifest_sha256 equals the hash of the manifest before it) and names one device;
// a run starting at seq 1 must start from the zero hash. Errc::Chain naming the first
// break.
Expected<void>
verifyChainSegment(const std::vector<std::pair<v1::Manifest, crypto::Digest>> &ordered);

} // namespace bwc::chain
