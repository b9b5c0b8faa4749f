#pragma once

// HPKE base mode, single-shot (RFC 9180), for exactly one suite:
//   KEM 0x0010 DHKEM(P-256, HKDF-SHA256), KDF 0x0001 HKDF-SHA256, AEAD 0x0002 AES-256-GCM.
// Written once over the Backend primitives, so both backends share it.

#include "common/crypto/crypto.h"

namespace bwc::crypto {

struct HpkeSealed {
    P256Point enc{}; // the sender's ephemeral public key
    Bytes ciphertext; // plaintext.size() + 16
};

// SealBase(pkR, info, aad, pt) with a fresh ephemeral key. `ephemeral`, if given, is
// used instead (known-answer tests only).
Expected<HpkeSealed> hpkeSealBase(const Backend &backend, const P256Point &recipientPublic,
                                  ByteView info, ByteView aad, ByteView plaintext,
                                  const P256KeyPair *ephemeral = nullptr);

// OpenBase(enc, skR, info, aad, ct). Errc::Crypto for an invalid `enc` point, Errc::Auth
// when the ciphertext does not authenticate (wrong key, altered data).
Expected<SecretBytes> hpkeOpenBase(const Backend &backend, const P256KeyPair &recipient,
                                   const P256Point &enc, ByteView info, ByteView aad,
                                   ByteView ciphertext);

// DeriveKeyPair(ikm) of RFC 9180 section 7.1.3 (P-256 rejection sampling).
Expected<P256KeyPair> hpkeDeriveKeyPair(const Backend &backend, ByteView ikm);

} // namespace bwc::crypto
