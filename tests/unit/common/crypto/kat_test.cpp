// Known-answer and rejection tests of each backend against the crypto.h contract, with
// published vectors: FIPS 180 (SHA-256), McGrew-Viega / SP 800-38D (AES-GCM), RFC 5869
// (HKDF), RFC 6979 A.2.5 (ECDSA P-256), NIST CAVS (ECDH P-256).

#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "tests/unit/common/crypto/test_backends.h"

using namespace bwc;
using namespace bwc::crypto;
using namespace bwc::crypto::test;

namespace {

// RFC 6979 A.2.5: the P-256 key and its SHA-256 signatures of "sample" and "test".
constexpr const char *kRfc6979Priv =
    "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
constexpr const char *kRfc6979Pub =
    "04"
    "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
// DER of (r, s); both r and s of "sample" have the high bit set (0x00 pad).
constexpr const char *kSampleSig =
    "3046"
    "022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    "022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
constexpr const char *kTestSigR =
    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367";
constexpr const char *kTestSigS =
    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083";

// Curve constants.
constexpr const char *kGenerator =
    "04"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
constexpr const char *kOrderN = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

Bytes concatHex(std::initializer_list<const char *> parts)
{
    std::string all;
    for (const char *p : parts)
        all += p;
    return hex(all);
}

Bytes testSignatureDer()
{
    return concatHex({"3045", "022100", kTestSigR, "0220", kTestSigS});
}

} // namespace

// ---------------------------------------------------------------------------------------
// SHA-256

TEST_CASE("SHA-256 matches the FIPS 180 examples")
{
    BWC_EACH_BACKEND(b);
    CHECK(hexOf(b.sha256({})) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hexOf(b.sha256(asBytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hexOf(b.sha256(asBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("SHA-256 of one million 'a' fed in uneven pieces")
{
    BWC_EACH_BACKEND(b);
    const std::string as(70000, 'a');
    // Piece sizes straddle the 64-byte block boundary in every way.
    const size_t pieces[] = {1, 63, 64, 65, 0, 127, 128, 129, 1000, 4093, 55, 56, 57, 65536};
    auto h = b.newSha256();
    size_t remaining = 1000000;
    for (size_t i = 0; remaining > 0; ++i) {
        size_t n = std::min(pieces[i % std::size(pieces)], remaining);
        h->update(asBytes(std::string_view(as).substr(0, n)));
        remaining -= n;
    }
    CHECK(hexOf(h->finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 clone() mid-stream is an independent snapshot")
{
    BWC_EACH_BACKEND(b);
    const std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    auto h = b.newSha256();
    h->update(asBytes(std::string_view(msg).substr(0, 20)));
    auto snapshot = h->clone();
    REQUIRE(snapshot);
    h->update(asBytes(std::string_view(msg).substr(20)));

    // The snapshot is "the stream so far" and the original goes on unaffected.
    auto other = snapshot->clone();
    other->update(asBytes("garbage that must not leak into the others"));
    CHECK(snapshot->finish() == b.sha256(asBytes(std::string_view(msg).substr(0, 20))));
    CHECK(hexOf(h->finish()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(other->finish() != b.sha256(asBytes(std::string_view(msg).substr(0, 20))));
}

// ---------------------------------------------------------------------------------------
// AES-GCM

namespace {

struct GcmVector {
    const char *name;
    const char *key;
    const char *iv;
    const char *plaintext;
    const char *aad;
    const char *ciphertext;
    const char *tag;
};

constexpr const char *kGcmP64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char *kGcmP60 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr const char *kGcmAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char *kGcmKey128 = "feffe9928665731c6d6a8f9467308308";
constexpr const char *kGcmKey256 =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char *kGcmIv = "cafebabefacedbaddecaf888";
constexpr const char *kZeroIv = "000000000000000000000000";

// The Galois/Counter Mode test cases of McGrew and Viega (also in NIST SP 800-38D's
// validation data) with 96-bit IVs.
const GcmVector kGcmVectors[] = {
    {"AES-128 case 1 (empty)", "00000000000000000000000000000000", kZeroIv, "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"AES-128 case 2", "00000000000000000000000000000000", kZeroIv,
     "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    {"AES-128 case 3", kGcmKey128, kGcmIv, kGcmP64, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"AES-128 case 4 (aad)", kGcmKey128, kGcmIv, kGcmP60, kGcmAad,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"AES-256 case 13 (empty)", "0000000000000000000000000000000000000000000000000000000000000000",
     kZeroIv, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"AES-256 case 14", "0000000000000000000000000000000000000000000000000000000000000000", kZeroIv,
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"AES-256 case 15", kGcmKey256, kGcmIv, kGcmP64, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"AES-256 case 16 (aad)", kGcmKey256, kGcmIv, kGcmP60, kGcmAad,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

} // namespace

TEST_CASE("AES-GCM matches the McGrew-Viega test cases")
{
    BWC_EACH_BACKEND(b);
    for (const GcmVector &v : kGcmVectors) {
        INFO(v.name);
        const Bytes key = hex(v.key);
        const GcmNonce nonce = hexArray<kGcmNonceLen>(v.iv);
        const Bytes pt = hex(v.plaintext);
        const Bytes aad = hex(v.aad);
        const Bytes expected = concatHex({v.ciphertext, v.tag});

        auto gcm = b.newAesGcm(key);
        REQUIRE(gcm);
        Bytes sealed(pt.size() + kGcmTagLen, 0xa5);
        REQUIRE((*gcm)->seal(nonce, aad, pt, sealed));
        CHECK(toHex(sealed) == toHex(expected));

        Bytes opened(expected.size() - kGcmTagLen, 0xa5);
        REQUIRE((*gcm)->open(nonce, aad, expected, opened));
        CHECK(opened == pt);

        // The same object serves another message under the same key.
        auto again = b.aesGcmOpen(key, nonce, aad, expected);
        REQUIRE(again);
        CHECK(Bytes(again->view().begin(), again->view().end()) == pt);
    }
}

TEST_CASE("AES-GCM rejects any altered bit and zeroes the output")
{
    BWC_EACH_BACKEND(b);
    const GcmVector &v = GENERATE(kGcmVectors[3], kGcmVectors[7]);
    INFO(v.name);
    const Bytes key = hex(v.key);
    const GcmNonce nonce = hexArray<kGcmNonceLen>(v.iv);
    const Bytes aad = hex(v.aad);
    const Bytes sealed = concatHex({v.ciphertext, v.tag});
    auto gcm = b.newAesGcm(key);
    REQUIRE(gcm);

    auto expectAuthFailure = [&](const GcmNonce &n, const Bytes &a, const Bytes &input) {
        Bytes out(input.size() - kGcmTagLen, 0xa5);
        auto r = (*gcm)->open(n, a, input, out);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Auth);
        CHECK(out == Bytes(out.size(), 0));
    };

    SECTION("ciphertext bit")
    {
        for (size_t i : {size_t(0), sealed.size() / 2, sealed.size() - kGcmTagLen - 1}) {
            Bytes bad = sealed;
            bad[i] ^= 0x01;
            expectAuthFailure(nonce, aad, bad);
        }
    }
    SECTION("tag bit")
    {
        for (size_t i : {sealed.size() - kGcmTagLen, sealed.size() - 1}) {
            Bytes bad = sealed;
            bad[i] ^= 0x80;
            expectAuthFailure(nonce, aad, bad);
        }
    }
    SECTION("aad bit, missing aad, extra aad")
    {
        Bytes bad = aad;
        bad[0] ^= 0x01;
        expectAuthFailure(nonce, bad, sealed);
        expectAuthFailure(nonce, {}, sealed);
        Bytes longer = aad;
        longer.push_back(0);
        expectAuthFailure(nonce, longer, sealed);
    }
    SECTION("nonce bit")
    {
        GcmNonce bad = nonce;
        bad[11] ^= 0x01;
        expectAuthFailure(bad, aad, sealed);
    }
    SECTION("wrong key")
    {
        Bytes otherKey = key;
        otherKey[0] ^= 0x01;
        auto r = b.aesGcmOpen(otherKey, nonce, aad, sealed);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Auth);
    }
    SECTION("truncated by one byte")
    {
        Bytes shorter(sealed.begin(), sealed.end() - 1);
        expectAuthFailure(nonce, aad, shorter);
    }
}

TEST_CASE("AES-GCM refuses input shorter than the tag and keys of other sizes")
{
    BWC_EACH_BACKEND(b);
    const Bytes key(32, 0x42);
    const GcmNonce nonce{};
    for (size_t len : {0, 1, 15}) {
        INFO("input of " << len << " bytes");
        auto r = b.aesGcmOpen(key, nonce, {}, Bytes(len, 0));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);

        auto gcm = b.newAesGcm(key);
        REQUIRE(gcm);
        auto direct = (*gcm)->open(nonce, {}, Bytes(len, 0), MutableByteView{});
        REQUIRE_FALSE(direct);
        CHECK(direct.error().code == Errc::Format);
    }
    // Exactly a tag and nothing else is a valid (empty) message only with the right tag.
    auto empty = b.aesGcmSeal(key, nonce, {}, {});
    REQUIRE(empty);
    CHECK(empty->size() == kGcmTagLen);
    auto opened = b.aesGcmOpen(key, nonce, {}, *empty);
    REQUIRE(opened);
    CHECK(opened->empty());

    for (size_t keyLen : {0, 8, 24, 31, 33, 64}) {
        INFO("key of " << keyLen << " bytes");
        auto gcm = b.newAesGcm(Bytes(keyLen, 0x11));
        REQUIRE_FALSE(gcm);
        CHECK(gcm.error().code == Errc::Crypto);
    }
}

// ---------------------------------------------------------------------------------------
// HKDF

namespace {

struct HkdfVector {
    const char *name;
    Bytes ikm, salt, info;
    size_t length;
    const char *prk, *okm;
};

Bytes byteRange(int from, int to)
{
    Bytes out;
    for (int i = from; i < to; ++i)
        out.push_back(uint8_t(i));
    return out;
}

std::vector<HkdfVector> rfc5869Vectors()
{
    return {
        {"RFC 5869 A.1", Bytes(22, 0x0b), hex("000102030405060708090a0b0c"),
         hex("f0f1f2f3f4f5f6f7f8f9"), 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {"RFC 5869 A.2", byteRange(0x00, 0x50), byteRange(0x60, 0xb0), byteRange(0xb0, 0x100), 82,
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
         "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
         "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {"RFC 5869 A.3 (empty salt and info)",
         Bytes(22, 0x0b),
         {},
         {},
         42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
}

} // namespace

TEST_CASE("HKDF-SHA256 matches RFC 5869 test cases 1-3")
{
    BWC_EACH_BACKEND(b);
    for (const HkdfVector &v : rfc5869Vectors()) {
        INFO(v.name);
        auto prk = b.hkdfExtract(v.salt, v.ikm);
        REQUIRE(prk);
        CHECK(toHex(prk->view()) == v.prk);
        auto okm = b.hkdfExpand(prk->view(), v.info, v.length);
        REQUIRE(okm);
        CHECK(toHex(okm->view()) == v.okm);
        auto oneShot = b.hkdf(v.salt, v.ikm, v.info, v.length);
        REQUIRE(oneShot);
        CHECK(toHex(oneShot->view()) == v.okm);
        // A shorter output is a prefix of the longer one.
        auto prefix = b.hkdfExpand(prk->view(), v.info, 7);
        REQUIRE(prefix);
        CHECK(toHex(prefix->view()) == std::string(v.okm).substr(0, 14));
    }
}

TEST_CASE("HKDF expand stops at 255 blocks")
{
    BWC_EACH_BACKEND(b);
    const Bytes prk(32, 0x07);
    auto longest = b.hkdfExpand(prk, asBytes("info"), 255 * 32);
    REQUIRE(longest);
    CHECK(longest->size() == 255 * 32);
    auto tooLong = b.hkdfExpand(prk, asBytes("info"), 255 * 32 + 1);
    REQUIRE_FALSE(tooLong);
    CHECK(tooLong.error().code == Errc::Crypto);
}

// ---------------------------------------------------------------------------------------
// P-256 keys and ECDH

TEST_CASE("P-256 public keys from private keys")
{
    BWC_EACH_BACKEND(b);
    auto rfc = b.p256PublicFromPrivate(hexScalar(kRfc6979Priv));
    REQUIRE(rfc);
    CHECK(hexOf(*rfc) == kRfc6979Pub);

    P256Scalar one;
    one[31] = 1;
    auto g = b.p256PublicFromPrivate(one);
    REQUIRE(g);
    CHECK(hexOf(*g) == kGenerator);

    // n - 1 is -1: the generator mirrored, y = p - Gy.
    Bytes nMinus1 = hex(kOrderN);
    nMinus1[31] -= 1;
    auto minusG = b.p256PublicFromPrivate(P256Scalar(nMinus1));
    REQUIRE(minusG);
    CHECK(hexOf(*minusG) == "04"
                            "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                            "b01cbd1c01e58065711814b583f061e9d431cca994cea1313449bf97c840ae0a");
}

TEST_CASE("P-256 rejects the scalars 0, n and above")
{
    BWC_EACH_BACKEND(b);
    Bytes nPlus1 = hex(kOrderN);
    nPlus1[31] += 1;
    const std::vector<std::pair<const char *, Bytes>> bad = {
        {"zero", Bytes(32, 0)},
        {"n", hex(kOrderN)},
        {"n + 1", nPlus1},
        {"2^256 - 1", Bytes(32, 0xff)},
    };
    for (const auto &[name, scalar] : bad) {
        INFO(name);
        auto pub = b.p256PublicFromPrivate(P256Scalar(scalar));
        REQUIRE_FALSE(pub);
        CHECK(pub.error().code == Errc::Crypto);
        auto dh = b.p256Ecdh(P256Scalar(scalar), hexArray<kP256PointLen>(kRfc6979Pub));
        REQUIRE_FALSE(dh);
        CHECK(dh.error().code == Errc::Crypto);
    }
}

namespace {

// Points that must never be accepted, built from the RFC 6979 public key.
std::vector<std::pair<std::string, P256Point>> invalidPoints()
{
    const P256Point valid = hexArray<kP256PointLen>(kRfc6979Pub);
    std::vector<std::pair<std::string, P256Point>> out;
    P256Point p = valid;
    p[64] ^= 0x01;
    out.emplace_back("off the curve (y altered)", p);
    p = valid;
    p[1] ^= 0x01;
    out.emplace_back("off the curve (x altered)", p);
    p = valid;
    p[0] = 0x02;
    out.emplace_back("compressed prefix 0x02", p);
    p = valid;
    p[0] = 0x00;
    out.emplace_back("prefix 0x00", p);
    p = valid;
    p[0] = 0x06;
    out.emplace_back("hybrid prefix 0x06", p);
    p.fill(0);
    out.emplace_back("all zero", p);
    p.fill(0);
    p[0] = 0x04;
    out.emplace_back("0x04 then zero coordinates", p);
    p.fill(0xff);
    p[0] = 0x04;
    out.emplace_back("coordinates not below p", p);
    return out;
}

} // namespace

TEST_CASE("P-256 refuses invalid curve points in p256CheckPoint and p256Ecdh")
{
    BWC_EACH_BACKEND(b);
    CHECK(b.p256CheckPoint(hexArray<kP256PointLen>(kRfc6979Pub)));
    CHECK(b.p256CheckPoint(hexArray<kP256PointLen>(kGenerator)));
    auto self = b.p256Generate();
    REQUIRE(self);
    for (const auto &[name, point] : invalidPoints()) {
        INFO(name);
        auto check = b.p256CheckPoint(point);
        REQUIRE_FALSE(check);
        CHECK(check.error().code == Errc::Crypto);
        CHECK(check.error().message.find("invalid curve point") != std::string::npos);
        auto dh = b.p256Ecdh(self->priv, point);
        REQUIRE_FALSE(dh);
        CHECK(dh.error().code == Errc::Crypto);
    }
}

TEST_CASE("P-256 ECDH matches the NIST CAVS example and is symmetric")
{
    BWC_EACH_BACKEND(b);
    // NIST CAVS 14.1 ECC CDH primitive, P-256, COUNT = 0.
    const P256Scalar dIut =
        hexScalar("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534");
    const P256Point qCavs =
        hexArray<kP256PointLen>("04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
                                "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac");
    auto qIut = b.p256PublicFromPrivate(dIut);
    REQUIRE(qIut);
    CHECK(hexOf(*qIut) == "04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230"
                          "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141");
    auto z = b.p256Ecdh(dIut, qCavs);
    REQUIRE(z);
    CHECK(toHex(z->view()) == "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b");

    auto alice = b.p256Generate();
    auto bob = b.p256Generate();
    REQUIRE(alice);
    REQUIRE(bob);
    CHECK(alice->pub != bob->pub);
    auto ab = b.p256Ecdh(alice->priv, bob->pub);
    auto ba = b.p256Ecdh(bob->priv, alice->pub);
    REQUIRE(ab);
    REQUIRE(ba);
    CHECK(toHex(ab->view()) == toHex(ba->view()));
}

TEST_CASE("P-256 generated keys are consistent")
{
    BWC_EACH_BACKEND(b);
    auto key = b.p256Generate();
    REQUIRE(key);
    CHECK(key->pub[0] == 0x04);
    CHECK(b.p256CheckPoint(key->pub));
    auto pub = b.p256PublicFromPrivate(key->priv);
    REQUIRE(pub);
    CHECK(*pub == key->pub);
}

// ---------------------------------------------------------------------------------------
// ECDSA P-256

TEST_CASE("ECDSA verifies the RFC 6979 A.2.5 signatures")
{
    BWC_EACH_BACKEND(b);
    const P256Point pub = hexArray<kP256PointLen>(kRfc6979Pub);
    CHECK(b.ecdsaVerify(pub, asBytes("sample"), hex(kSampleSig)));
    CHECK(b.ecdsaVerify(pub, asBytes("test"), testSignatureDer()));
    CHECK(b.ecdsaVerifyDigest(pub, b.sha256(asBytes("test")), testSignatureDer()));
}

TEST_CASE("ECDSA signing: RFC 6979 deterministic on mbedTLS, valid everywhere")
{
    BWC_EACH_BACKEND(b);
    const P256Scalar priv = hexScalar(kRfc6979Priv);
    const P256Point pub = hexArray<kP256PointLen>(kRfc6979Pub);
    auto sample = b.ecdsaSign(priv, asBytes("sample"));
    auto test = b.ecdsaSign(priv, asBytes("test"));
    REQUIRE(sample);
    REQUIRE(test);
    CHECK(b.ecdsaVerify(pub, asBytes("sample"), *sample));
    CHECK(b.ecdsaVerify(pub, asBytes("test"), *test));
    if (bKind == BackendKind::Mbedtls) {
        CHECK(toHex(*sample) == kSampleSig);
        CHECK(toHex(*test) == toHex(testSignatureDer()));
    }
    // DER of two positive 256-bit integers: 8 to 72 bytes, SEQUENCE first.
    CHECK((*sample)[0] == 0x30);
    CHECK(sample->size() <= 72);
    CHECK(size_t((*sample)[1]) + 2 == sample->size());
}

TEST_CASE("ECDSA refuses signatures that are not strict DER")
{
    BWC_EACH_BACKEND(b);
    const P256Point pub = hexArray<kP256PointLen>(kRfc6979Pub);
    const Digest digest = b.sha256(asBytes("test"));
    const Bytes good = testSignatureDer();
    REQUIRE(b.ecdsaVerifyDigest(pub, digest, good));

    std::vector<std::pair<std::string, Bytes>> bad;
    Bytes trailing = good;
    trailing.push_back(0x00);
    bad.emplace_back("trailing byte", trailing);
    bad.emplace_back("non-minimal integer (s padded with 0x00)",
                     concatHex({"3046", "022100", kTestSigR, "022100", kTestSigS}));
    bad.emplace_back("negative integer (r without its 0x00)",
                     concatHex({"3044", "0220", kTestSigR, "0220", kTestSigS}));
    Bytes longer = good;
    longer[1] += 1;
    bad.emplace_back("SEQUENCE length past the end", longer);
    Bytes shorter = good;
    shorter[1] -= 1;
    bad.emplace_back("SEQUENCE length short of the end", shorter);
    Bytes intLength = good;
    intLength[3] += 1; // r claims 34 bytes
    bad.emplace_back("INTEGER length past its SEQUENCE", intLength);
    bad.emplace_back("empty", Bytes{});
    bad.emplace_back("truncated", Bytes(good.begin(), good.begin() + 40));
    Bytes wrongTag = good;
    wrongTag[0] = 0x31;
    bad.emplace_back("SET instead of SEQUENCE", wrongTag);
    Bytes longForm = {0x30, 0x81, 0x45};
    longForm.insert(longForm.end(), good.begin() + 2, good.end());
    bad.emplace_back("long-form length below 128", longForm);

    for (const auto &[name, sig] : bad) {
        INFO(name);
        auto r = b.ecdsaVerifyDigest(pub, digest, sig);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
    }
}

TEST_CASE("ECDSA refuses a wrong key or an altered digest")
{
    BWC_EACH_BACKEND(b);
    const P256Point pub = hexArray<kP256PointLen>(kRfc6979Pub);
    const Digest digest = b.sha256(asBytes("sample"));
    const Bytes sig = hex(kSampleSig);

    auto wrongKey = b.ecdsaVerifyDigest(hexArray<kP256PointLen>(kGenerator), digest, sig);
    REQUIRE_FALSE(wrongKey);
    CHECK(wrongKey.error().code == Errc::Auth);

    Digest altered = digest;
    altered[31] ^= 0x01;
    auto alteredDigest = b.ecdsaVerifyDigest(pub, altered, sig);
    REQUIRE_FALSE(alteredDigest);
    CHECK(alteredDigest.error().code == Errc::Auth);

    auto otherMessage = b.ecdsaVerify(pub, asBytes("samplE"), sig);
    REQUIRE_FALSE(otherMessage);
    CHECK(otherMessage.error().code == Errc::Auth);

    // Well-formed DER, but r and s swapped.
    const Bytes swapped = concatHex(
        {"3046", "022100", "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
         "022100", "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"});
    auto swappedResult = b.ecdsaVerifyDigest(pub, digest, swapped);
    REQUIRE_FALSE(swappedResult);
    CHECK(swappedResult.error().code == Errc::Auth);
}
