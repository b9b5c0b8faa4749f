#pragma once

// Signed manifests (DESIGN.md section 6). A SignedManifest carries the exact bytes that
// were signed; verification always works on those bytes and never re-serialises.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

constexpr uint32_t kManifestFormatVersion = 1;
// Largest SignedManifest (and Manifest) accepted from a file or the wire.
constexpr size_t kMaxSignedManifestBytes = size_t(1) << 20;
constexpr size_t kClipUuidLen = 16;
constexpr std::string_view kManifestFileSuffix = ".bwcm";

// "manifest seq 17 of device cam-0001", with the device id made safe to print.
std::string describeManifest(const v1::Manifest &manifest);
// A string from untrusted input made safe for a message: non-printable bytes become
// '?', and it is cut at 64 characters.
std::string printableForMessage(std::string_view text);

// The sanity checks of parseManifest, on a message already parsed: format_version 1,
// printable device_id, seq >= 1, a 32-byte prev hash, a known kind; for CLIP and
// INTERRUPTED a 16-byte clip_uuid, 32-byte header/ciphertext/plaintext hashes and at
// least one stream count; for WIPE at least one wiped clip. Errc::Format naming the field.
Expected<void> checkManifest(const v1::Manifest &manifest);

// Serialises `manifest` once and signs SHA-256 of exactly those bytes with the device
// key. The manifest must pass checkManifest and name the identity's device.
Expected<v1::SignedManifest> signManifest(const crypto::Backend &backend,
                                          const DeviceIdentity &identity,
                                          const v1::Manifest &manifest);

// Parses a SignedManifest (at most 1 MiB; both fields present). Errc::Format otherwise.
Expected<v1::SignedManifest> parseSignedManifest(ByteView data);
Bytes serializeSignedManifest(const v1::SignedManifest &signedManifest);

// Parses the manifest bytes and runs checkManifest. Does not check the signature.
Expected<v1::Manifest> parseManifest(const v1::SignedManifest &signedManifest);

// Checks the signature over the exact manifest bytes with `signer`, then parses and
// checks the manifest. Errc::Auth when the signature does not verify, Errc::Format for
// a malformed signature or manifest.
Expected<v1::Manifest> verifySignedManifest(const crypto::Backend &backend,
                                            const crypto::P256Point &signer,
                                            const v1::SignedManifest &signedManifest);

// SHA-256 of the exact manifest bytes: what the next manifest's prev_manifest_sha256
// and the chain head hold.
crypto::Digest manifestSha256(const crypto::Backend &backend,
                              const v1::SignedManifest &signedManifest);

// True when `bytes` holds exactly `digest`.
bool digestEquals(std::string_view bytes, const crypto::Digest &digest);
std::string digestString(const crypto::Digest &digest);

// Manifest files: "<dir>/<seq as 20 decimal digits>.bwcm" holding a SignedManifest.
std::string manifestFileName(uint64_t seq);
std::string manifestFilePath(const std::string &dir, uint64_t seq);
// The seq of a manifest file name ("00000000000000000017.bwcm"), nullopt for anything else.
std::optional<uint64_t> manifestSeqFromFileName(std::string_view name);

// Writes the manifest file for the manifest's seq atomically (temp, fsync, rename, fsync
// directory) and returns its path. The manifest must pass parseManifest.
Expected<std::string> writeManifestFile(const std::string &dir,
                                        const v1::SignedManifest &signedManifest);
// Reads and parses a manifest file (no signature check).
Expected<v1::SignedManifest> readManifestFile(const std::string &path);

} // namespace bwc::chain
