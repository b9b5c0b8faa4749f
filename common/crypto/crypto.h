#pragma once

// One crypto interface, two complete backends: mbedTLS (the camera's) and OpenSSL 3
// (the dock's and `bwc`'s). Both produce and accept the same bytes; tests cross them.
// Everything above this layer (HPKE, container, chain) is written once against it.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::crypto {

constexpr size_t kSha256Len = 32;
constexpr size_t kAesKeyLen = 32;
constexpr size_t kGcmNonceLen = 12;
constexpr size_t kGcmTagLen = 16;
constexpr size_t kP256ScalarLen = 32;
constexpr size_t kP256PointLen = 65; // uncompressed: 0x04 || X || Y

using Digest = std::array<uint8_t, kSha256Len>;
using GcmNonce = std::array<uint8_t, kGcmNonceLen>;
using P256Point = std::array<uint8_t, kP256PointLen>;
using AesKey = SecretArray<kAesKeyLen>;
using P256Scalar = SecretArray<kP256ScalarLen>;

struct P256KeyPair {
    P256Scalar priv;
    P256Point pub{};
};

// Streaming SHA-256.
class Sha256 {
public:
    virtual ~Sha256() = default;
    virtual void update(ByteView data) = 0;
    // Returns the digest; the object must not be used afterwards.
    virtual Digest finish() = 0;
    // An independent copy of the state, e.g. to take the digest of "the file so far".
    virtual std::unique_ptr<Sha256> clone() const = 0;
};

// AES-256-GCM bound to one key, reusable for many (nonce, message) pairs.
class AesGcm {
public:
    virtual ~AesGcm() = default;
    // out.size() must be plaintext.size() + 16; writes ciphertext || tag.
    virtual Expected<void> seal(const GcmNonce &nonce, ByteView aad, ByteView plaintext,
                                MutableByteView out) = 0;
    // out.size() must be input.size() - 16. Checks the tag over the whole input before
    // anything is considered plaintext; on failure `out` is zeroed and Errc::Auth returned.
    virtual Expected<void> open(const GcmNonce &nonce, ByteView aad, ByteView ciphertextAndTag,
                                MutableByteView out) = 0;
};

// What a certificate says, in the form the rest of the code uses.
struct CertInfo {
    std::string subjectCommonName;
    std::string subject;     // one line, e.g. "CN=cam-0001,O=Agency"
    std::string issuer;      // one line
    std::string serialHex;   // lower-case hex, no leading zeros beyond one byte
    int64_t notBeforeUtcMs = 0;
    int64_t notAfterUtcMs = 0;
    bool isCa = false;
    // Only P-256 keys are accepted; any other key type is Errc::Cert.
    P256Point publicKey{};
    Digest spkiSha256{};  // SHA-256 of the DER SubjectPublicKeyInfo (the key id)
    Digest certSha256{};  // SHA-256 of the certificate DER (its fingerprint)
};

struct CrlInfo {
    std::string issuer;
    int64_t thisUpdateUtcMs = 0;
    int64_t nextUpdateUtcMs = 0;
    std::vector<std::string> revokedSerialsHex;
};

// Validate `leafDer` up to one of `trustAnchorsDer` through `intermediatesDer`.
// - Every certificate in the path must be valid at `validityTimeUtcMs`, signed by its
//   issuer, and P-256 ECDSA/SHA-256; CA certificates must have basicConstraints CA.
// - For every CA in the path there must be a CRL in `crlsDer` issued and signed by it,
//   with thisUpdate <= nowUtcMs < nextUpdate: a missing CRL is Errc::Cert ("no CRL from
//   <issuer>"), an expired one is Errc::Cert ("CRL from <issuer> expired at <time>").
// - No certificate in the path may be listed as revoked (Errc::Cert, naming the serial
//   and the revocation time).
// Returns the leaf's CertInfo.
struct ChainRequest {
    ByteView leafDer;
    std::vector<Bytes> intermediatesDer;
    std::vector<Bytes> trustAnchorsDer;
    std::vector<Bytes> crlsDer;
    int64_t validityTimeUtcMs = 0;
    int64_t nowUtcMs = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    // "openssl 3.0.19" / "mbedtls 2.28.3": library name and version, for reports.
    virtual std::string name() const = 0;

    // CSPRNG.
    virtual Expected<void> randomBytes(MutableByteView out) const = 0;

    virtual std::unique_ptr<Sha256> newSha256() const = 0;
    Digest sha256(ByteView data) const;

    // AES-256-GCM with a 32-byte key; a 16-byte key (AES-128-GCM) is accepted only so
    // that published test vectors can be checked.
    virtual Expected<std::unique_ptr<AesGcm>> newAesGcm(ByteView key) const = 0;
    // One-shot helpers over newAesGcm.
    Expected<Bytes> aesGcmSeal(ByteView key32, const GcmNonce &nonce, ByteView aad,
                               ByteView plaintext) const;
    Expected<SecretBytes> aesGcmOpen(ByteView key32, const GcmNonce &nonce, ByteView aad,
                                     ByteView ciphertextAndTag) const;

    // RFC 5869. hkdfExpand: prk is 32 bytes, len <= 255 * 32.
    virtual Expected<SecretBytes> hkdfExtract(ByteView salt, ByteView ikm) const = 0;
    virtual Expected<SecretBytes> hkdfExpand(ByteView prk, ByteView info, size_t len) const = 0;
    Expected<SecretBytes> hkdf(ByteView salt, ByteView ikm, ByteView info, size_t len) const;

    // P-256.
    virtual Expected<P256KeyPair> p256Generate() const = 0;
    // Fails (Errc::Crypto) unless 1 <= scalar < n.
    virtual Expected<P256Point> p256PublicFromPrivate(const P256Scalar &priv) const = 0;
    // Fails (Errc::Crypto, "invalid curve point") unless `point` is an uncompressed
    // point on the curve and not the point at infinity.
    virtual Expected<void> p256CheckPoint(const P256Point &point) const = 0;
    // ECDH: the 32-byte X coordinate of priv * peer. Validates the peer point.
    virtual Expected<SecretArray<32>> p256Ecdh(const P256Scalar &priv,
                                               const P256Point &peer) const = 0;

    // ECDSA P-256 over a SHA-256 digest; DER (X9.62) signatures. Deterministic (RFC 6979)
    // where the backend supports it (mbedTLS), randomized otherwise (OpenSSL 3.0).
    virtual Expected<Bytes> ecdsaSignDigest(const P256Scalar &priv, const Digest &digest) const = 0;
    // Errc::Auth for a well-formed signature that does not verify; Errc::Format for a
    // signature that is not strict DER.
    virtual Expected<void> ecdsaVerifyDigest(const P256Point &pub, const Digest &digest,
                                             ByteView derSignature) const = 0;
    Expected<Bytes> ecdsaSign(const P256Scalar &priv, ByteView message) const;
    Expected<void> ecdsaVerify(const P256Point &pub, ByteView message, ByteView derSignature) const;

    // Keys and certificates (DER; PEM is handled by pem.h above the backends).
    // Accepts PKCS#8 and SEC1 ("EC PRIVATE KEY") P-256 keys.
    virtual Expected<P256KeyPair> parsePrivateKeyDer(ByteView der) const = 0;
    virtual Expected<CertInfo> parseCertificateDer(ByteView der) const = 0;
    virtual Expected<CrlInfo> parseCrlDer(ByteView der) const = 0;
    virtual Expected<CertInfo> verifyCertChain(const ChainRequest &request) const = 0;
};

// The fixed DER SubjectPublicKeyInfo of a P-256 key (id-ecPublicKey, prime256v1).
Bytes p256SpkiDer(const P256Point &pub);
// Recipient key id: SHA-256 of the DER SubjectPublicKeyInfo.
Digest p256KeyId(const Backend &backend, const P256Point &pub);
// PKCS#8 DER of a P-256 private key (with its public key), for writing key files.
Bytes p256Pkcs8Der(const P256KeyPair &key);

// Backend factories (each defined only when its backend is built).
std::unique_ptr<Backend> makeOpensslBackend();
std::unique_ptr<Backend> makeMbedtlsBackend();

} // namespace bwc::crypto
