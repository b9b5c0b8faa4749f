#pragma once

// The insides of hpke.cpp, exposed for the known-answer tests only. Product code uses
// hpke.h, which fixes the AEAD to AES-256-GCM.
//
// RFC 9180 publishes its DHKEM(P-256, HKDF-SHA256) example (appendix A.3) with
// AES-128-GCM, so here the AEAD is a parameter: the same KEM, key schedule and
// single-shot seal/open code runs with Nk = 16 against those vectors and with Nk = 32
// for our suite.

#include <cstddef>
#include <cstdint>

#include "common/crypto/crypto.h"
#include "common/crypto/hpke.h"

namespace bwc::crypto::hpke_internal {

// An AEAD of RFC 9180 section 7.3 that the Backend provides (AES-GCM only).
struct Aead {
    uint16_t id;   // aead_id
    size_t keyLen; // Nk
};
inline constexpr Aead kAes128Gcm{0x0001, 16};
inline constexpr Aead kAes256Gcm{0x0002, 32};

// The values KeySchedule() derives for mode_base (psk and psk_id empty).
struct KeySchedule {
    SecretBytes sharedSecret;   // the KEM's shared_secret (Nsecret = 32)
    SecretBytes key;            // Nk bytes
    GcmNonce baseNonce{};       // Nn = 12
    SecretBytes exporterSecret; // Nh = 32
};

struct SenderSetup {
    P256Point enc{};
    KeySchedule schedule;
};

// SetupBaseS(pkR, info): Encap (with `ephemeral` instead of a fresh key pair if given)
// followed by KeySchedule.
Expected<SenderSetup> setupBaseSenderWithAead(const Backend &backend, const Aead &aead,
                                              const P256Point &recipientPublic, ByteView info,
                                              const P256KeyPair *ephemeral);

// SetupBaseR(enc, skR, info): Decap followed by KeySchedule.
Expected<KeySchedule> setupBaseRecipientWithAead(const Backend &backend, const Aead &aead,
                                                 const P256KeyPair &recipient, const P256Point &enc,
                                                 ByteView info);

// Single-shot SealBase/OpenBase (sequence number 0) with the given AEAD.
Expected<HpkeSealed> sealBaseWithAead(const Backend &backend, const Aead &aead,
                                      const P256Point &recipientPublic, ByteView info, ByteView aad,
                                      ByteView plaintext, const P256KeyPair *ephemeral);
Expected<SecretBytes> openBaseWithAead(const Backend &backend, const Aead &aead,
                                       const P256KeyPair &recipient, const P256Point &enc,
                                       ByteView info, ByteView aad, ByteView ciphertext);

} // namespace bwc::crypto::hpke_internal
