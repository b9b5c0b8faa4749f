// HPKE base mode (RFC 9180) over both backends: the published vectors, round trips
// between backends, and every way an unwrap must fail.

#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/crypto/hpke.h"
#include "common/crypto/hpke_internal.h"
#include "tests/unit/common/crypto/test_backends.h"

using namespace bwc;
using namespace bwc::crypto;
using namespace bwc::crypto::test;

namespace {

// The fields of one mode_base entry of the CFRG HPKE test vectors (test-vectors.json
// accompanying RFC 9180), with its first encryption (sequence number 0).
struct HpkeVector {
    const char *name;
    const hpke_internal::Aead *aead;
    const char *info;
    const char *ikmE, *pkEm, *skEm;
    const char *ikmR, *pkRm, *skRm;
    const char *enc;
    const char *sharedSecret;
    const char *key;
    const char *baseNonce;
    const char *exporterSecret;
    const char *aad, *pt, *ct;
};

constexpr const char *kInfo = "4f6465206f6e2061204772656369616e2055726e"; // "Ode on a Grecian Urn"
constexpr const char *kAad0 = "436f756e742d30";                           // "Count-0"
constexpr const char *kPt = "4265617574792069732074727574682c20747275746820626561757479";

// RFC 9180 A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
const HpkeVector kRfc9180A3 = {
    "RFC 9180 A.3.1 (AES-128-GCM)",
    &hpke_internal::kAes128Gcm,
    kInfo,
    "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
    "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325a"
    "c98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
    "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
    "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
    "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a"
    "826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
    "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
    "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325a"
    "c98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
    "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8",
    "868c066ef58aae6dc589b6cfdd18f97e",
    "4e0bc5018beba4bf004cca59",
    "14ad94af484a7ad3ef40e9f3be99ecc6fa9036df9d4920548424df127ee0d99f",
    kAad0,
    kPt,
    "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f"
    "9076ac232e3ab2523f39513434",
};

// The CFRG test-vectors.json entry for exactly our suite: mode 0, kem_id 16, kdf_id 1,
// aead_id 2 (AES-256-GCM).
const HpkeVector kCfrgP256Aes256 = {
    "CFRG mode 0 kem 16 kdf 1 aead 2 (AES-256-GCM)",
    &hpke_internal::kAes256Gcm,
    kInfo,
    "a90d3417c3da9cb6c6ae19b4b5dd6cc9529a4cc24efb7ae0ace1f31887a8cd6c",
    "04c06b4f6bebc7bb495cb797ab753f911aff80aefb86fd8b6fcc35525f3ab5f0"
    "3e0b21bd31a86c6048af3cb2d98e0d3bf01da5cc4c39ff5370d331a4f1f7d5a4e0",
    "90345e3a1d116c1dd39ae76d95ab858c142223a63e44f8f85318cfa91a84858e",
    "a0ce15d49e28bd47a18a97e147582d814b08cbe00109fed5ec27d1b4e9f6f5e3",
    "04abc7e49a4c6b3566d77d0304addc6ed0e98512ffccf505e6a8e3eb25c68513"
    "6f853148544876de76c0f2ef99cdc3a05ccf5ded7860c7c021238f9e2073d2356c",
    "317f915db7bc629c48fe765587897e01e282d3e8445f79f27f65d031a88082b2",
    "04c06b4f6bebc7bb495cb797ab753f911aff80aefb86fd8b6fcc35525f3ab5f0"
    "3e0b21bd31a86c6048af3cb2d98e0d3bf01da5cc4c39ff5370d331a4f1f7d5a4e0",
    "48893fecd82f7c3456af6a42d8f56325d21e08c10fa81299986aaff54cde7b49",
    "ee16802a936d5f544771131900ee6973d0551de9e852ece2ef34bf0d5f9e1d1d",
    "9bc50980832a7b4b58c40161",
    "a8e9a7e62621879fdc89cea7da8e6153458f463e2851baaf009a7461d699cfb6",
    kAad0,
    kPt,
    "58c61a45059d0c5704560e9d88b564a8b63f1364b8d1fcb3c4c6ddc1d2917424"
    "65e902cd216f8908da49f8f96f",
};

std::string secretHex(const SecretBytes &s)
{
    return toHex(s.view());
}

// The DEK wrapping of DESIGN section 4: info "bwc/v1/dek", aad the 16-byte clip uuid.
constexpr std::string_view kDekInfo = "bwc/v1/dek";
const Bytes kClipUuid = {0x3f, 0x2a, 0x90, 0x11, 0x42, 0x7e, 0x4b, 0x8c,
                         0x9d, 0x01, 0x5e, 0x6f, 0x70, 0x81, 0x92, 0xa3};

} // namespace

TEST_CASE("HPKE DeriveKeyPair matches the published vectors")
{
    BWC_EACH_BACKEND(b);
    for (const HpkeVector *v : {&kRfc9180A3, &kCfrgP256Aes256}) {
        INFO(v->name);
        auto e = hpkeDeriveKeyPair(b, hex(v->ikmE));
        REQUIRE(e);
        CHECK(toHex(e->priv.view()) == v->skEm);
        CHECK(hexOf(e->pub) == v->pkEm);
        auto r = hpkeDeriveKeyPair(b, hex(v->ikmR));
        REQUIRE(r);
        CHECK(toHex(r->priv.view()) == v->skRm);
        CHECK(hexOf(r->pub) == v->pkRm);
    }
}

TEST_CASE("HPKE key schedule and first ciphertext match the published vectors")
{
    BWC_EACH_BACKEND(b);
    for (const HpkeVector *v : {&kRfc9180A3, &kCfrgP256Aes256}) {
        INFO(v->name);
        const P256KeyPair ephemeral = keyPair(v->skEm, v->pkEm);
        const P256KeyPair recipient = keyPair(v->skRm, v->pkRm);
        const Bytes info = hex(v->info);

        auto sender =
            hpke_internal::setupBaseSenderWithAead(b, *v->aead, recipient.pub, info, &ephemeral);
        REQUIRE(sender);
        CHECK(hexOf(sender->enc) == v->enc);
        CHECK(secretHex(sender->schedule.sharedSecret) == v->sharedSecret);
        CHECK(secretHex(sender->schedule.key) == v->key);
        CHECK(hexOf(sender->schedule.baseNonce) == v->baseNonce);
        CHECK(secretHex(sender->schedule.exporterSecret) == v->exporterSecret);

        auto receiver = hpke_internal::setupBaseRecipientWithAead(
            b, *v->aead, recipient, hexArray<kP256PointLen>(v->enc), info);
        REQUIRE(receiver);
        CHECK(secretHex(receiver->sharedSecret) == v->sharedSecret);
        CHECK(secretHex(receiver->key) == v->key);
        CHECK(hexOf(receiver->baseNonce) == v->baseNonce);
        CHECK(secretHex(receiver->exporterSecret) == v->exporterSecret);

        auto sealed = hpke_internal::sealBaseWithAead(b, *v->aead, recipient.pub, info, hex(v->aad),
                                                      hex(v->pt), &ephemeral);
        REQUIRE(sealed);
        CHECK(hexOf(sealed->enc) == v->enc);
        CHECK(toHex(sealed->ciphertext) == v->ct);

        auto opened = hpke_internal::openBaseWithAead(
            b, *v->aead, recipient, hexArray<kP256PointLen>(v->enc), info, hex(v->aad), hex(v->ct));
        REQUIRE(opened);
        CHECK(secretHex(*opened) == v->pt);
    }
}

TEST_CASE("HPKE public API seals and opens our suite's CFRG vector byte for byte")
{
    BWC_EACH_BACKEND(b);
    const HpkeVector &v = kCfrgP256Aes256;
    auto ephemeral = hpkeDeriveKeyPair(b, hex(v.ikmE));
    auto recipient = hpkeDeriveKeyPair(b, hex(v.ikmR));
    REQUIRE(ephemeral);
    REQUIRE(recipient);

    auto sealed = hpkeSealBase(b, recipient->pub, hex(v.info), hex(v.aad), hex(v.pt), &*ephemeral);
    REQUIRE(sealed);
    CHECK(hexOf(sealed->enc) == v.enc);
    CHECK(toHex(sealed->ciphertext) == v.ct);

    auto opened = hpkeOpenBase(b, *recipient, hexArray<kP256PointLen>(v.enc), hex(v.info),
                               hex(v.aad), hex(v.ct));
    REQUIRE(opened);
    CHECK(secretHex(*opened) == v.pt);
}

TEST_CASE("HPKE the AES-128 vector does not open as our AES-256 suite")
{
    // The suite id enters the key schedule: the same KEM output under another AEAD id
    // gives other keys.
    BWC_EACH_BACKEND(b);
    const HpkeVector &v = kRfc9180A3;
    auto opened = hpkeOpenBase(b, keyPair(v.skRm, v.pkRm), hexArray<kP256PointLen>(v.enc),
                               hex(v.info), hex(v.aad), hex(v.ct));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::Auth);
}

TEST_CASE("HPKE round trip: sealed by one backend, opened by the other")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto recipient = to.p256Generate();
    REQUIRE(recipient);
    Bytes dek(32);
    REQUIRE(from.randomBytes(dek));

    auto sealed = hpkeSealBase(from, recipient->pub, asBytes(kDekInfo), kClipUuid, dek);
    REQUIRE(sealed);
    // DESIGN section 4: enc is the 65-byte point, wrapped_dek 48 bytes.
    CHECK(sealed->enc[0] == 0x04);
    CHECK(sealed->ciphertext.size() == 48);

    auto opened =
        hpkeOpenBase(to, *recipient, sealed->enc, asBytes(kDekInfo), kClipUuid, sealed->ciphertext);
    REQUIRE(opened);
    CHECK(secretHex(*opened) == toHex(dek));

    // A fresh ephemeral key every time: the same DEK never wraps to the same bytes.
    auto again = hpkeSealBase(from, recipient->pub, asBytes(kDekInfo), kClipUuid, dek);
    REQUIRE(again);
    CHECK(again->enc != sealed->enc);
    CHECK(again->ciphertext != sealed->ciphertext);
}

TEST_CASE("HPKE round trip of other sizes, empty info and aad")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto recipient = from.p256Generate();
    REQUIRE(recipient);
    for (size_t len : {0, 1, 16, 1000}) {
        INFO("plaintext of " << len << " bytes");
        Bytes pt(len, 0x5a);
        auto sealed = hpkeSealBase(from, recipient->pub, {}, {}, pt);
        REQUIRE(sealed);
        CHECK(sealed->ciphertext.size() == len + 16);
        auto opened = hpkeOpenBase(to, *recipient, sealed->enc, {}, {}, sealed->ciphertext);
        REQUIRE(opened);
        CHECK(secretHex(*opened) == toHex(pt));
    }
}

TEST_CASE("HPKE DeriveKeyPair is the same on both backends")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    for (size_t len : {0, 1, 32, 64}) {
        Bytes ikm(len, uint8_t(len + 1));
        auto x = hpkeDeriveKeyPair(from, ikm);
        auto y = hpkeDeriveKeyPair(to, ikm);
        REQUIRE(x);
        REQUIRE(y);
        CHECK(toHex(x->priv.view()) == toHex(y->priv.view()));
        CHECK(x->pub == y->pub);
        CHECK(from.p256CheckPoint(x->pub));
    }
}

TEST_CASE("HPKE open fails: wrong key, altered data, invalid or foreign points")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto recipient = to.p256Generate();
    auto stranger = to.p256Generate();
    REQUIRE(recipient);
    REQUIRE(stranger);
    Bytes dek(32, 0x11);
    auto sealed = hpkeSealBase(from, recipient->pub, asBytes(kDekInfo), kClipUuid, dek);
    REQUIRE(sealed);
    const P256Point enc = sealed->enc;
    const Bytes ct = sealed->ciphertext;

    auto expectAuth = [&](const P256KeyPair &key, const P256Point &e, ByteView info, ByteView aad,
                          ByteView c) {
        auto r = hpkeOpenBase(to, key, e, info, aad, c);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Auth);
        CHECK(r.error().message.find("failed authentication") != std::string::npos);
    };

    SECTION("wrong recipient key")
    {
        expectAuth(*stranger, enc, asBytes(kDekInfo), kClipUuid, ct);
    }
    SECTION("altered aad (another clip's uuid)")
    {
        Bytes otherUuid = kClipUuid;
        otherUuid[15] ^= 0x01;
        expectAuth(*recipient, enc, asBytes(kDekInfo), otherUuid, ct);
        expectAuth(*recipient, enc, asBytes(kDekInfo), {}, ct);
    }
    SECTION("altered info")
    {
        expectAuth(*recipient, enc, asBytes("bwc/v1/deK"), kClipUuid, ct);
        expectAuth(*recipient, enc, {}, kClipUuid, ct);
    }
    SECTION("altered ciphertext or tag")
    {
        for (size_t i : {size_t(0), size_t(31), size_t(32), size_t(47)}) {
            Bytes bad = ct;
            bad[i] ^= 0x01;
            expectAuth(*recipient, enc, asBytes(kDekInfo), kClipUuid, bad);
        }
        expectAuth(*recipient, enc, asBytes(kDekInfo), kClipUuid,
                   ByteView(ct.data(), ct.size() - 1));
    }
    SECTION("another valid point as enc")
    {
        expectAuth(*recipient, stranger->pub, asBytes(kDekInfo), kClipUuid, ct);
    }
    SECTION("enc that is not a curve point")
    {
        std::vector<std::pair<std::string, P256Point>> invalid;
        P256Point p = enc;
        p[64] ^= 0x01;
        invalid.emplace_back("off the curve", p);
        p = enc;
        p[0] = 0x02;
        invalid.emplace_back("compressed prefix", p);
        p.fill(0);
        invalid.emplace_back("all zero", p);
        for (const auto &[name, point] : invalid) {
            INFO(name);
            auto r = hpkeOpenBase(to, *recipient, point, asBytes(kDekInfo), kClipUuid, ct);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == Errc::Crypto);
            CHECK(r.error().message == "invalid HPKE encapsulated key (not a P-256 point)");
        }
    }
    SECTION("ciphertext shorter than a tag")
    {
        auto r = hpkeOpenBase(to, *recipient, enc, asBytes(kDekInfo), kClipUuid,
                              ByteView(ct.data(), 15));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(r.error().message.find("shorter than its 16-byte tag") != std::string::npos);
    }
}

TEST_CASE("HPKE seal refuses an invalid recipient key or an inconsistent ephemeral")
{
    BWC_EACH_BACKEND(b);
    auto recipient = b.p256Generate();
    REQUIRE(recipient);
    P256Point offCurve = recipient->pub;
    offCurve[64] ^= 0x01;
    auto sealed = hpkeSealBase(b, offCurve, {}, {}, asBytes("x"));
    REQUIRE_FALSE(sealed);
    CHECK(sealed.error().code == Errc::Crypto);
    CHECK(sealed.error().message.find("recipient public key") != std::string::npos);

    auto ephemeral = b.p256Generate();
    REQUIRE(ephemeral);
    P256KeyPair mismatched = *ephemeral;
    mismatched.pub = recipient->pub;
    auto refused = hpkeSealBase(b, recipient->pub, {}, {}, asBytes("x"), &mismatched);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::Crypto);
    CHECK(refused.error().message.find("inconsistent") != std::string::npos);

    // A recipient key pair whose private key is out of range cannot open anything.
    P256KeyPair zero;
    zero.pub = recipient->pub;
    auto withZero = hpkeOpenBase(b, zero, ephemeral->pub, {}, {}, Bytes(32, 0));
    REQUIRE_FALSE(withZero);
    CHECK(withZero.error().code == Errc::Crypto);
}
