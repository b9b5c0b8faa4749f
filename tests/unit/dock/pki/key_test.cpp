// ECDSA signatures of the OpenSSL backend and private key files of both backends.

#include "pki_test_util.h"

namespace bwc::pki::test {
namespace {

TEST_CASE("ecdsa: OpenSSL signatures verify; altered ones and non-DER ones do not")
{
    const crypto::Backend &backend = openssl();
    auto key = newKey();
    crypto::Digest digest = backend.sha256(asBytes("manifest bytes"));
    auto sig = backend.ecdsaSignDigest(key.priv, digest);
    REQUIRE(sig.ok());
    REQUIRE(backend.ecdsaVerifyDigest(key.pub, digest, *sig).ok());
    // Both backends accept it.
    for (const std::string &name : backendNames()) {
        INFO("verified by " << name);
        auto verified = backendNamed(name).ecdsaVerifyDigest(key.pub, digest, *sig);
        INFO((verified.ok() ? std::string() : verified.error().message));
        CHECK(verified.ok());
    }

    crypto::Digest otherDigest = digest;
    otherDigest[5] ^= 0x10;
    requireError(backend.ecdsaVerifyDigest(key.pub, otherDigest, *sig), Errc::Auth, {});

    Bytes flipped = *sig;
    flipped.back() ^= 0x01; // inside s: still DER
    requireError(backend.ecdsaVerifyDigest(key.pub, digest, flipped), Errc::Auth, {});

    auto otherKey = newKey();
    requireError(backend.ecdsaVerifyDigest(otherKey.pub, digest, *sig), Errc::Auth, {});

    Bytes trailing = *sig;
    trailing.push_back(0);
    requireError(backend.ecdsaVerifyDigest(key.pub, digest, trailing), Errc::Format, {"DER"});
    requireError(backend.ecdsaVerifyDigest(key.pub, digest, toBytes("not a signature")),
                 Errc::Format, {"DER"});
    requireError(backend.ecdsaVerifyDigest(key.pub, digest, Bytes{}), Errc::Format, {});
    // A long-form length where the short form is required: BER, not DER.
    Bytes nonMinimal = *sig;
    nonMinimal.erase(nonMinimal.begin(), nonMinimal.begin() + 2);
    nonMinimal.insert(nonMinimal.begin(), {0x30, 0x81, uint8_t(sig->size() - 2)});
    requireError(backend.ecdsaVerifyDigest(key.pub, digest, nonMinimal), Errc::Format, {"DER"});

    crypto::P256Point offCurve = key.pub;
    offCurve[64] ^= 0x01;
    requireError(backend.ecdsaVerifyDigest(offCurve, digest, *sig), Errc::Crypto,
                 {"invalid curve point"});
}

TEST_CASE("keys: PKCS#8 and SEC1 P-256 keys load; other keys are refused")
{
    BWC_PKI_EACH_BACKEND(backend);
    auto key = newKey();

    auto pkcs8 = backend.parsePrivateKeyDer(crypto::p256Pkcs8Der(key));
    INFO((pkcs8.ok() ? std::string() : pkcs8.error().message));
    REQUIRE(pkcs8.ok());
    CHECK(pkcs8->pub == key.pub);
    CHECK(constantTimeEqual(pkcs8->priv.view(), key.priv.view()));

    auto pkey = keyOf(key);
    unsigned char *sec1 = nullptr;
    int len = i2d_PrivateKey(pkey.get(), &sec1);
    crypto::ossl::OpensslBuf owner(sec1);
    REQUIRE(len > 0);
    auto fromSec1 = backend.parsePrivateKeyDer(ByteView(sec1, size_t(len)));
    INFO((fromSec1.ok() ? std::string() : fromSec1.error().message));
    REQUIRE(fromSec1.ok());
    CHECK(fromSec1->pub == key.pub);
    CHECK(constantTimeEqual(fromSec1->priv.view(), key.priv.view()));

    auto p384 = generateKey("EC", "P-384", 0);
    unsigned char *p384Der = nullptr;
    int p384Len = i2d_PrivateKey(p384.get(), &p384Der);
    crypto::ossl::OpensslBuf p384Owner(p384Der);
    REQUIRE(p384Len > 0);
    auto refused = backend.parsePrivateKeyDer(ByteView(p384Der, size_t(p384Len)));
    REQUIRE_FALSE(refused.ok());
    INFO(refused.error().message);
    CHECK(containsNoCase(refused.error().message, "P-256"));

    requireError(backend.parsePrivateKeyDer(toBytes("garbage")), Errc::Format, {});
}

} // namespace
} // namespace bwc::pki::test
