#include "common/crypto/hpke.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/crypto/hpke_internal.h"

// RFC 9180, base mode, single shot, DHKEM(P-256, HKDF-SHA256) with HKDF-SHA256.
// Section numbers below refer to RFC 9180.

namespace bwc::crypto {

namespace hpke_internal {

namespace {

constexpr uint16_t kKemId = 0x0010; // DHKEM(P-256, HKDF-SHA256)
constexpr uint16_t kKdfId = 0x0001; // HKDF-SHA256
constexpr uint8_t kModeBase = 0x00;
constexpr size_t kNsecret = 32;
constexpr size_t kNh = 32;
constexpr size_t kNsk = 32;
constexpr uint8_t kDeriveKeyPairBitmask = 0xff;

constexpr std::string_view kVersionLabel = "HPKE-v1";

// suite_id of the KEM (section 4.1): "KEM" || I2OSP(kem_id, 2).
using KemSuiteId = std::array<uint8_t, 5>;
// suite_id of the whole scheme (section 5.1): "HPKE" || kem_id || kdf_id || aead_id.
using HpkeSuiteId = std::array<uint8_t, 10>;

KemSuiteId kemSuiteId()
{
    KemSuiteId id{'K', 'E', 'M', 0, 0};
    putU16(id.data() + 3, kKemId);
    return id;
}

HpkeSuiteId hpkeSuiteId(const Aead &aead)
{
    HpkeSuiteId id{'H', 'P', 'K', 'E', 0, 0, 0, 0, 0, 0};
    putU16(id.data() + 4, kKemId);
    putU16(id.data() + 6, kKdfId);
    putU16(id.data() + 8, aead.id);
    return id;
}

// Concatenation into zeroised memory: the parts often carry secrets (dh, shared_secret).
SecretBytes concat(std::initializer_list<ByteView> parts)
{
    size_t total = 0;
    for (ByteView p : parts)
        total += p.size();
    SecretBytes out(total);
    uint8_t *at = out.data();
    for (ByteView p : parts) {
        std::copy(p.begin(), p.end(), at);
        at += p.size();
    }
    return out;
}

// LabeledExtract(salt, label, ikm) of section 4.
Expected<SecretBytes> labeledExtract(const Backend &backend, ByteView suiteId, ByteView salt,
                                     std::string_view label, ByteView ikm)
{
    SecretBytes labeledIkm = concat({asBytes(kVersionLabel), suiteId, asBytes(label), ikm});
    return backend.hkdfExtract(salt, labeledIkm.view());
}

// LabeledExpand(prk, label, info, L) of section 4.
Expected<SecretBytes> labeledExpand(const Backend &backend, ByteView suiteId, ByteView prk,
                                    std::string_view label, ByteView info, size_t length)
{
    std::array<uint8_t, 2> lengthBytes{};
    putU16(lengthBytes.data(), uint16_t(length));
    SecretBytes labeledInfo =
        concat({lengthBytes, asBytes(kVersionLabel), suiteId, asBytes(label), info});
    return backend.hkdfExpand(prk, labeledInfo.view(), length);
}

// ExtractAndExpand(dh, kem_context) of section 4.1.
Expected<SecretBytes> extractAndExpand(const Backend &backend, ByteView dh, ByteView kemContext)
{
    const KemSuiteId suite = kemSuiteId();
    BWC_ASSIGN(eaePrk, labeledExtract(backend, suite, {}, "eae_prk", dh));
    return labeledExpand(backend, suite, eaePrk.view(), "shared_secret", kemContext, kNsecret);
}

// kem_context = enc || pkRm (both uncompressed points).
std::array<uint8_t, 2 * kP256PointLen> kemContext(const P256Point &enc, const P256Point &pkRm)
{
    std::array<uint8_t, 2 * kP256PointLen> context{};
    std::copy(enc.begin(), enc.end(), context.begin());
    std::copy(pkRm.begin(), pkRm.end(), context.begin() + kP256PointLen);
    return context;
}

struct Encapsulation {
    SecretBytes sharedSecret;
    P256Point enc{};
};

// Encap(pkR) of section 4.1, optionally with a caller-chosen ephemeral key pair.
Expected<Encapsulation> encap(const Backend &backend, const P256Point &recipientPublic,
                              const P256KeyPair *ephemeral)
{
    if (!backend.p256CheckPoint(recipientPublic))
        return Error(Errc::Crypto, "HPKE recipient public key is not a valid P-256 point; "
                                   "check the recipient's certificate or key file");

    P256KeyPair eph;
    if (ephemeral) {
        eph.priv = ephemeral->priv;
        auto pub = backend.p256PublicFromPrivate(eph.priv);
        if (!pub)
            return Error(Errc::Crypto, "HPKE ephemeral private key is not a valid P-256 scalar");
        if (*pub != ephemeral->pub)
            return Error(Errc::Crypto, "HPKE ephemeral key pair is inconsistent: its public key "
                                       "does not belong to its private key");
        eph.pub = *pub;
    } else {
        auto generated = backend.p256Generate();
        if (!generated)
            return std::move(generated).error().context("HPKE ephemeral key");
        eph = std::move(*generated);
    }

    BWC_ASSIGN(dh, backend.p256Ecdh(eph.priv, recipientPublic));
    const auto context = kemContext(eph.pub, recipientPublic);
    BWC_ASSIGN(sharedSecret, extractAndExpand(backend, dh.view(), context));
    return Encapsulation{std::move(sharedSecret), eph.pub};
}

// Decap(enc, skR) of section 4.1.
Expected<SecretBytes> decap(const Backend &backend, const P256Point &enc,
                            const P256KeyPair &recipient)
{
    if (!backend.p256CheckPoint(enc))
        return Error(Errc::Crypto, "invalid HPKE encapsulated key (not a P-256 point)");
    // pkRm is recomputed from skR rather than trusted from the caller's key pair.
    auto recipientPublic = backend.p256PublicFromPrivate(recipient.priv);
    if (!recipientPublic)
        return Error(Errc::Crypto, "HPKE recipient private key is not a valid P-256 scalar; "
                                   "check the key file");
    BWC_ASSIGN(dh, backend.p256Ecdh(recipient.priv, enc));
    const auto context = kemContext(enc, *recipientPublic);
    return extractAndExpand(backend, dh.view(), context);
}

// KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = "") of section 5.1.
Expected<KeySchedule> keySchedule(const Backend &backend, const Aead &aead,
                                  SecretBytes sharedSecret, ByteView info)
{
    const HpkeSuiteId suite = hpkeSuiteId(aead);
    BWC_ASSIGN(pskIdHash, labeledExtract(backend, suite, {}, "psk_id_hash", {}));
    BWC_ASSIGN(infoHash, labeledExtract(backend, suite, {}, "info_hash", info));
    const uint8_t mode[] = {kModeBase};
    SecretBytes context = concat({mode, pskIdHash.view(), infoHash.view()});

    BWC_ASSIGN(secret, labeledExtract(backend, suite, sharedSecret.view(), "secret", {}));
    BWC_ASSIGN(key,
               labeledExpand(backend, suite, secret.view(), "key", context.view(), aead.keyLen));
    BWC_ASSIGN(baseNonce, labeledExpand(backend, suite, secret.view(), "base_nonce", context.view(),
                                        kGcmNonceLen));
    BWC_ASSIGN(exporterSecret,
               labeledExpand(backend, suite, secret.view(), "exp", context.view(), kNh));

    KeySchedule schedule;
    schedule.sharedSecret = std::move(sharedSecret);
    schedule.key = std::move(key);
    std::copy(baseNonce.data(), baseNonce.data() + kGcmNonceLen, schedule.baseNonce.begin());
    schedule.exporterSecret = std::move(exporterSecret);
    return schedule;
}

} // namespace

Expected<SenderSetup> setupBaseSenderWithAead(const Backend &backend, const Aead &aead,
                                              const P256Point &recipientPublic, ByteView info,
                                              const P256KeyPair *ephemeral)
{
    BWC_ASSIGN(encapsulation, encap(backend, recipientPublic, ephemeral));
    BWC_ASSIGN(schedule, keySchedule(backend, aead, std::move(encapsulation.sharedSecret), info));
    return SenderSetup{encapsulation.enc, std::move(schedule)};
}

Expected<KeySchedule> setupBaseRecipientWithAead(const Backend &backend, const Aead &aead,
                                                 const P256KeyPair &recipient, const P256Point &enc,
                                                 ByteView info)
{
    BWC_ASSIGN(sharedSecret, decap(backend, enc, recipient));
    return keySchedule(backend, aead, std::move(sharedSecret), info);
}

Expected<HpkeSealed> sealBaseWithAead(const Backend &backend, const Aead &aead,
                                      const P256Point &recipientPublic, ByteView info, ByteView aad,
                                      ByteView plaintext, const P256KeyPair *ephemeral)
{
    BWC_ASSIGN(setup, setupBaseSenderWithAead(backend, aead, recipientPublic, info, ephemeral));
    BWC_ASSIGN(gcm, backend.newAesGcm(setup.schedule.key.view()));
    HpkeSealed sealed;
    sealed.enc = setup.enc;
    sealed.ciphertext.resize(plaintext.size() + kGcmTagLen);
    // Sequence number 0: the nonce is base_nonce itself (section 5.2).
    BWC_TRY(gcm->seal(setup.schedule.baseNonce, aad, plaintext, sealed.ciphertext));
    return sealed;
}

Expected<SecretBytes> openBaseWithAead(const Backend &backend, const Aead &aead,
                                       const P256KeyPair &recipient, const P256Point &enc,
                                       ByteView info, ByteView aad, ByteView ciphertext)
{
    if (ciphertext.size() < kGcmTagLen)
        return Error(Errc::Format, "HPKE ciphertext is " + std::to_string(ciphertext.size()) +
                                       " bytes, shorter than its 16-byte tag (truncated)");
    BWC_ASSIGN(schedule, setupBaseRecipientWithAead(backend, aead, recipient, enc, info));
    BWC_ASSIGN(gcm, backend.newAesGcm(schedule.key.view()));
    SecretBytes plaintext(ciphertext.size() - kGcmTagLen);
    auto opened = gcm->open(schedule.baseNonce, aad, ciphertext, plaintext.span());
    if (!opened) {
        if (opened.error().code == Errc::Auth)
            return Error(Errc::Auth,
                         "HPKE ciphertext failed authentication (wrong recipient key, or the "
                         "encapsulated key, ciphertext, info or aad was altered)");
        return std::move(opened).error();
    }
    return plaintext;
}

} // namespace hpke_internal

Expected<HpkeSealed> hpkeSealBase(const Backend &backend, const P256Point &recipientPublic,
                                  ByteView info, ByteView aad, ByteView plaintext,
                                  const P256KeyPair *ephemeral)
{
    return hpke_internal::sealBaseWithAead(backend, hpke_internal::kAes256Gcm, recipientPublic,
                                           info, aad, plaintext, ephemeral);
}

Expected<SecretBytes> hpkeOpenBase(const Backend &backend, const P256KeyPair &recipient,
                                   const P256Point &enc, ByteView info, ByteView aad,
                                   ByteView ciphertext)
{
    return hpke_internal::openBaseWithAead(backend, hpke_internal::kAes256Gcm, recipient, enc, info,
                                           aad, ciphertext);
}

Expected<P256KeyPair> hpkeDeriveKeyPair(const Backend &backend, ByteView ikm)
{
    // DeriveKeyPair(ikm) for P-256, section 7.1.3: rejection sampling over candidates
    // until one is a valid scalar (1 <= sk < n), which p256PublicFromPrivate checks.
    const auto suite = hpke_internal::kemSuiteId();
    BWC_ASSIGN(dkpPrk, hpke_internal::labeledExtract(backend, suite, {}, "dkp_prk", ikm));
    for (unsigned counter = 0; counter <= 255; ++counter) {
        const uint8_t counterByte[] = {uint8_t(counter)};
        BWC_ASSIGN(candidate,
                   hpke_internal::labeledExpand(backend, suite, dkpPrk.view(), "candidate",
                                                counterByte, hpke_internal::kNsk));
        candidate.data()[0] &= hpke_internal::kDeriveKeyPairBitmask;
        P256KeyPair pair;
        pair.priv = P256Scalar(candidate.view());
        auto pub = backend.p256PublicFromPrivate(pair.priv);
        if (pub) {
            pair.pub = *pub;
            return pair;
        }
        if (pub.error().code != Errc::Crypto)
            return std::move(pub).error();
    }
    return Error(Errc::Crypto, "HPKE DeriveKeyPair found no valid P-256 scalar in 256 "
                               "candidates; use different input keying material");
}

} // namespace bwc::crypto
