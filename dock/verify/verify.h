#pragma once

// Verification of clips and export bundles (DESIGN.md section 9): the same code runs in
// bwc-dockd and in `bwc verify`. It never stops at the first failure: every check is
// run that can be run and reported, so an examiner sees the whole picture.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/bundle.pb.h"
#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::verify {

enum class Status { Pass, Fail, Skipped };
std::string_view statusName(Status status); // "PASS", "FAIL", "SKIPPED"

// One named check: "certificate", "signature", "chain", "header_sha256",
// "ciphertext_sha256", "decrypt", "plaintext_sha256".
struct Check {
    std::string name;
    Status status = Status::Skipped;
    std::string detail; // what was checked and, on failure, the cause and what to do
};

struct ClipInputs {
    std::string clipPath;     // <uuid>.bwcclip
    std::string manifestPath; // SignedManifest file
    std::vector<Bytes> deviceCertChainDer; // leaf first
    std::vector<Bytes> trustAnchorsDer;    // agency CA, supplied by the examiner
    std::vector<Bytes> crlsDer;
    // Preceding manifests (exact SignedManifest bytes), oldest first, ending with the one
    // just before this clip's: checked for contiguity and linkage. Empty: not checked.
    std::vector<v1::SignedManifest> precedingManifests;
    // The agency evidence key: enables steps 4-5 (decrypt every chunk, plaintext hash).
    std::optional<crypto::P256KeyPair> evidenceKey;
    int64_t nowUtcMs = 0;
    std::function<void(uint64_t done, uint64_t total)> progress;
    // The clip's bytes as they were received and written to clipPath (the dock verifies
    // while receiving): when set, the file is not read; the pass must have been made with
    // evidenceKey (or without a key when evidenceKey is empty).
    const container::StreamedClip *streamed = nullptr;
};

struct ClipReport {
    std::string clipPath;
    std::string clipUuid;
    std::string deviceId;
    uint64_t seq = 0;
    std::string kind; // "CLIP", "INTERRUPTED", ...
    std::string officerId;
    int64_t startUtcMs = 0, endUtcMs = 0, signedUtcMs = 0;
    uint32_t prerecordMs = 0;
    std::string trigger, clockSource;
    uint32_t clockErrorMs = 0;
    std::string fwVersion;
    std::string headerSha256, ciphertextSha256, plaintextSha256, manifestSha256; // hex
    uint64_t ciphertextBytes = 0;
    std::vector<std::pair<uint32_t, uint64_t>> streamChunks; // stream id, chunks
    crypto::CertInfo deviceCert;   // when parsed
    crypto::CertInfo caCert;       // the trust anchor the chain ended at
    std::string revocationStatus;  // "not revoked (CRL #n from <issuer>, next update <t>)" or the failure
    std::vector<Check> checks;
    bool passed() const; // every check Pass or Skipped, and none of the required ones Skipped
};

struct Report {
    std::string toolVersion;  // "bwc 0.1.0 (openssl 3.0.x)"
    std::string examiner;
    int64_t createdUtcMs = 0;
    std::string subject;      // path of the clip or bundle verified
    std::vector<ClipReport> clips;
    std::vector<Check> bundleChecks; // bundle-level: index, chain segment
    std::vector<std::string> custody; // receipts and audit entries, one line each
    bool passed() const;
};

// "bwc 0.1.0 (openssl 3.0.x)": this tool's version and the crypto library, for
// Report::toolVersion.
std::string toolVersion(const crypto::Backend &backend);

// Verifies one clip; never returns early on a failed check.
ClipReport verifyClip(const crypto::Backend &backend, const ClipInputs &inputs);

struct BundleInputs {
    std::string bundleDir;
    std::vector<Bytes> trustAnchorsDer; // from the examiner, never from the bundle
    std::vector<Bytes> extraCrlsDer;    // a newer CRL than the bundle's
    std::optional<crypto::P256KeyPair> evidenceKey;
    int64_t nowUtcMs = 0;
    std::function<void(uint64_t done, uint64_t total)> progress;
};
Report verifyBundle(const crypto::Backend &backend, const BundleInputs &inputs);

// Human-readable report (for print and court) and JSON (for tools). Both carry every
// field of Report.
std::string renderText(const Report &report);
std::string renderJson(const Report &report);

// Writes a bundle directory (layout in proto/bwc/v1/bundle.proto) from sealed clips and
// the chain segment; fails with Errc::Exists if outDir exists and is not empty.
struct BundleClipSource {
    std::string clipPath;
    v1::SignedManifest manifest;
    std::vector<Bytes> deviceCertChainDer;
    std::string plaintextPath; // optional decrypted MP4 to include
};
struct BundleSource {
    std::string deviceId;
    std::vector<v1::SignedManifest> chainSegment; // every manifest first..last, in order
    std::vector<BundleClipSource> clips;
    Bytes caCertDer;
    Bytes crlDer;
    std::string exportedBy, reason, toolVersion;
    int64_t exportedUtcMs = 0;
};
Expected<void> writeBundle(const std::string &outDir, const BundleSource &source);

} // namespace bwc::verify
