// The two backends must produce and accept the same bytes: everything one of them makes
// is taken by the other (and by itself), for every ordered pair.

#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/crypto/pem.h"
#include "tests/unit/common/crypto/test_backends.h"

using namespace bwc;
using namespace bwc::crypto;
using namespace bwc::crypto::test;

namespace {

Bytes randomBytes(const Backend &b, size_t n)
{
    Bytes out(n);
    REQUIRE(b.randomBytes(out));
    return out;
}

// A P-256 key made with the OpenSSL command line:
//   openssl ecparam -name prime256v1 -genkey -noout
constexpr const char *kCliSec1Pem = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIE8vKZSdJkVZKsYV/UZpfDGcKo5GAbLng0BBgRNxYLL8oAoGCCqGSM49
AwEHoUQDQgAE4utxOeaaRNLYh1Qvl/V/uqy1MlEa7wONwVi6wlOK/4/kq0MAjvhG
IEeG8b3/7mxjKR9JveChrAe0octuRKBOLQ==
-----END EC PRIVATE KEY-----
)";
// The same key through `openssl ec -no_public` (SEC1 without the optional public key).
constexpr const char *kCliSec1NoPublicPem = R"(-----BEGIN EC PRIVATE KEY-----
MDECAQEEIE8vKZSdJkVZKsYV/UZpfDGcKo5GAbLng0BBgRNxYLL8oAoGCCqGSM49
AwEH
-----END EC PRIVATE KEY-----
)";
// The same key through `openssl pkcs8 -topk8 -nocrypt`.
constexpr const char *kCliPkcs8Pem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTy8plJ0mRVkqxhX9
Rml8MZwqjkYBsueDQEGBE3FgsvyhRANCAATi63E55ppE0tiHVC+X9X+6rLUyURrv
A43BWLrCU4r/j+SrQwCO+EYgR4bxvf/ubGMpH0m94KGsB7Shy25EoE4t
-----END PRIVATE KEY-----
)";
// Its private scalar and public point as printed by `openssl ec -text`, and its
// SubjectPublicKeyInfo from `openssl ec -pubout -outform DER`.
constexpr const char *kCliPriv = "4f2f29949d2645592ac615fd46697c319c2a8e4601b2e783404181137160b2fc";
constexpr const char *kCliPub = "04e2eb7139e69a44d2d887542f97f57fbaacb532511aef038dc158bac2538aff8f"
                                "e4ab43008ef846204786f1bdffee6c63291f49bde0a1ac07b4a1cb6e44a04e2d";
constexpr const char *kCliSpki =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004e2eb7139e69a44d2d887542f97f57fbaac"
    "b532511aef038dc158bac2538aff8fe4ab43008ef846204786f1bdffee6c63291f49bde0a1ac07b4a1cb6e44"
    "a04e2d";
// A P-384 key (`openssl ecparam -name secp384r1 -genkey | openssl pkcs8 -topk8 -nocrypt`):
// a well-formed key of a curve we do not accept.
constexpr const char *kCliP384Pkcs8Pem = R"(-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDC7aH5juTrGbrn4OCnX
hhMCCXdZobQNo1jw/nfzeU7nBp9ji4zHukjqy88AAdgix6+hZANiAASY5v/oMeEx
YHoPj6AqQzQX+z8iyt8o7MLH0ztSqV+7Si8EDu+VS+puRkvUPibpWk7ax9E9oopO
yITW07LXMu/rmRKSq7VomHBTfoD9tWwKpLh0qrsb8qHjmDH2qPAV+Es=
-----END PRIVATE KEY-----
)";

Bytes pemDer(std::string_view pem, std::string_view label)
{
    auto blocks = parsePem(pem, "embedded test key");
    REQUIRE(blocks);
    REQUIRE(blocks->size() == 1);
    REQUIRE((*blocks)[0].label == label);
    return (*blocks)[0].der;
}

} // namespace

TEST_CASE("cross: random bytes are random")
{
    BWC_EACH_BACKEND(b);
    const Bytes a = randomBytes(b, 32);
    const Bytes c = randomBytes(b, 32);
    CHECK(a != c);
    CHECK(a != Bytes(32, 0));
    CHECK(b.randomBytes(MutableByteView{}));
}

TEST_CASE("cross: SHA-256 agrees for every length and split")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    const Bytes data = randomBytes(from, 1000);
    for (size_t len : {0, 1, 55, 56, 63, 64, 65, 119, 128, 1000}) {
        INFO("length " << len);
        ByteView part(data.data(), len);
        auto h = to.newSha256();
        h->update(part.first(len / 3));
        h->update(part.subspan(len / 3));
        CHECK(from.sha256(part) == h->finish());
    }
}

TEST_CASE("cross: AES-GCM sealed by one backend opens on the other")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    const Bytes key = randomBytes(from, 32);
    GcmNonce nonce{};
    for (size_t len : {0, 1, 15, 16, 17, 4096, 65536 + 3}) {
        INFO("plaintext of " << len << " bytes");
        REQUIRE(from.randomBytes(nonce));
        const Bytes aad = randomBytes(from, len % 40);
        const Bytes pt = randomBytes(from, len);
        auto sealed = from.aesGcmSeal(key, nonce, aad, pt);
        REQUIRE(sealed);
        REQUIRE(sealed->size() == len + kGcmTagLen);
        // AES-GCM is deterministic: both backends make the same bytes.
        auto sealedByOther = to.aesGcmSeal(key, nonce, aad, pt);
        REQUIRE(sealedByOther);
        CHECK(*sealed == *sealedByOther);

        auto opened = to.aesGcmOpen(key, nonce, aad, *sealed);
        REQUIRE(opened);
        CHECK(Bytes(opened->view().begin(), opened->view().end()) == pt);

        Bytes tampered = *sealed;
        tampered[tampered.size() / 2] ^= 0x04;
        auto refused = to.aesGcmOpen(key, nonce, aad, tampered);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::Auth);
    }
}

TEST_CASE("cross: ECDSA signed by one backend verifies on the other")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto key = from.p256Generate();
    REQUIRE(key);
    for (int i = 0; i < 8; ++i) {
        const Bytes message = randomBytes(from, size_t(i) * 37);
        auto sig = from.ecdsaSign(key->priv, message);
        REQUIRE(sig);
        CHECK(to.ecdsaVerify(key->pub, message, *sig));

        Digest digest = to.sha256(message);
        digest[0] ^= 0x80;
        auto refused = to.ecdsaVerifyDigest(key->pub, digest, *sig);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::Auth);
    }
}

TEST_CASE("cross: ECDH agrees between backends both ways")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto a = from.p256Generate();
    auto b = to.p256Generate();
    REQUIRE(a);
    REQUIRE(b);
    auto ab = from.p256Ecdh(a->priv, b->pub);
    auto ba = to.p256Ecdh(b->priv, a->pub);
    REQUIRE(ab);
    REQUIRE(ba);
    CHECK(toHex(ab->view()) == toHex(ba->view()));
    // The same computation on the other backend gives the same secret.
    auto abOther = to.p256Ecdh(a->priv, b->pub);
    REQUIRE(abOther);
    CHECK(toHex(abOther->view()) == toHex(ab->view()));
    // And both derive the same public keys.
    auto aPub = to.p256PublicFromPrivate(a->priv);
    REQUIRE(aPub);
    CHECK(*aPub == a->pub);
}

TEST_CASE("cross: HKDF outputs are equal")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    for (size_t len : {1, 31, 32, 33, 64, 100, 255 * 32}) {
        INFO("length " << len);
        const Bytes ikm = randomBytes(from, 1 + len % 70);
        const Bytes salt = randomBytes(from, len % 50);
        const Bytes info = randomBytes(from, len % 30);
        auto x = from.hkdf(salt, ikm, info, len);
        auto y = to.hkdf(salt, ikm, info, len);
        REQUIRE(x);
        REQUIRE(y);
        CHECK(toHex(x->view()) == toHex(y->view()));
    }
}

TEST_CASE("cross: PKCS#8 keys written for one backend parse on the other, as DER and PEM")
{
    BWC_EACH_BACKEND_PAIR(from, to);
    auto key = from.p256Generate();
    REQUIRE(key);
    const Bytes der = p256Pkcs8Der(*key);

    auto parsed = to.parsePrivateKeyDer(der);
    REQUIRE(parsed);
    CHECK(toHex(parsed->priv.view()) == toHex(key->priv.view()));
    CHECK(parsed->pub == key->pub);

    const std::string pem = toPem("PRIVATE KEY", der);
    auto blocks = parsePem(pem, "generated key");
    REQUIRE(blocks);
    REQUIRE(blocks->size() == 1);
    CHECK((*blocks)[0].label == "PRIVATE KEY");
    auto fromPem = to.parsePrivateKeyDer((*blocks)[0].der);
    REQUIRE(fromPem);
    CHECK(toHex(fromPem->priv.view()) == toHex(key->priv.view()));
    CHECK(fromPem->pub == key->pub);

    // The parsed key works: what it signs verifies with the original public key.
    auto sig = to.ecdsaSign(parsed->priv, asBytes("key file round trip"));
    REQUIRE(sig);
    CHECK(from.ecdsaVerify(key->pub, asBytes("key file round trip"), *sig));
}

TEST_CASE("cross: keys made by the OpenSSL command line parse on both backends")
{
    BWC_EACH_BACKEND(b);
    SECTION("SEC1 with public key")
    {
        auto key = b.parsePrivateKeyDer(pemDer(kCliSec1Pem, "EC PRIVATE KEY"));
        REQUIRE(key);
        CHECK(toHex(key->priv.view()) == kCliPriv);
        CHECK(hexOf(key->pub) == kCliPub);
    }
    SECTION("SEC1 without public key")
    {
        auto key = b.parsePrivateKeyDer(pemDer(kCliSec1NoPublicPem, "EC PRIVATE KEY"));
        REQUIRE(key);
        CHECK(toHex(key->priv.view()) == kCliPriv);
        CHECK(hexOf(key->pub) == kCliPub);
    }
    SECTION("PKCS#8, byte for byte what p256Pkcs8Der writes")
    {
        const Bytes der = pemDer(kCliPkcs8Pem, "PRIVATE KEY");
        auto key = b.parsePrivateKeyDer(der);
        REQUIRE(key);
        CHECK(toHex(key->priv.view()) == kCliPriv);
        CHECK(hexOf(key->pub) == kCliPub);
        CHECK(toHex(p256Pkcs8Der(*key)) == toHex(der));
        CHECK(toHex(p256SpkiDer(key->pub)) == kCliSpki);
        CHECK(p256KeyId(b, key->pub) == b.sha256(hex(kCliSpki)));
    }
}

TEST_CASE("cross: malformed or foreign private keys are refused")
{
    BWC_EACH_BACKEND(b);
    const Bytes sec1 = pemDer(kCliSec1Pem, "EC PRIVATE KEY");
    const Bytes pkcs8 = pemDer(kCliPkcs8Pem, "PRIVATE KEY");

    std::vector<std::pair<std::string, Bytes>> malformed;
    malformed.emplace_back("empty", Bytes{});
    malformed.emplace_back("truncated SEC1", Bytes(sec1.begin(), sec1.end() - 10));
    malformed.emplace_back("truncated PKCS#8", Bytes(pkcs8.begin(), pkcs8.begin() + 30));
    Bytes trailing = pkcs8;
    trailing.push_back(0x00);
    malformed.emplace_back("PKCS#8 with a trailing byte", trailing);
    malformed.emplace_back("not DER at all", toBytes("this is not a key"));
    for (const auto &[name, der] : malformed) {
        INFO(name);
        auto key = b.parsePrivateKeyDer(der);
        REQUIRE_FALSE(key);
        CHECK(key.error().code == Errc::Format);
    }

    // A SEC1 key whose stored public key is off the curve.
    Bytes offCurve = sec1;
    offCurve[offCurve.size() - 1] ^= 0x01;
    auto bad = b.parsePrivateKeyDer(offCurve);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::Format);

    // A SEC1 key whose stored public key is a valid point of another key (the generator):
    // using it would make signatures that never verify under the advertised key.
    const Bytes mismatched =
        hex(std::string("307702010104") + "20" + kCliPriv +
            "a00a06082a8648ce3d030107a144034200"
            "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    auto inconsistent = b.parsePrivateKeyDer(mismatched);
    REQUIRE_FALSE(inconsistent);
    CHECK((inconsistent.error().code == Errc::Format || inconsistent.error().code == Errc::Crypto));
    CHECK(inconsistent.error().message.find("public key") != std::string::npos);

    auto p384 = b.parsePrivateKeyDer(pemDer(kCliP384Pkcs8Pem, "PRIVATE KEY"));
    REQUIRE_FALSE(p384);
    // crypto.h does not fix the category of a foreign curve (the backends differ), but the
    // message must say what is accepted.
    CHECK((p384.error().code == Errc::Format || p384.error().code == Errc::Crypto));
    CHECK(p384.error().message.find("P-256") != std::string::npos);
}
