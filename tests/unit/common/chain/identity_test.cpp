#include "common/chain/identity.h"

#include <catch2/catch_test_macros.hpp>

#include "common/base/file.h"
#include "tests/unit/common/chain/chain_test_util.h"

using namespace bwc;
using namespace bwc::chain;
using namespace bwc::chain::test;

namespace
{

std::string dataFile(const std::string &name)
{
    return std::string(BWC_CHAIN_TEST_DATA) + "/" + name;
}

} // namespace

TEST_CASE("software identity: the counter is durable and monotonic", "[identity]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    auto key = generateKey(backend);
    const std::string counter = dir.file("counter");
    {
        auto id = makeIdentity(backend, "cam-0001", key, counter);
        CHECK(id->counterValue() == 0);
        CHECK(must(id->counterIncrement()) == 1);
        CHECK(must(id->counterIncrement()) == 2);
        CHECK(id->counterValue() == 2);
    }
    CHECK(must(readTextFile(counter)) == "2\n");
    auto again = makeIdentity(backend, "cam-0001", key, counter);
    CHECK(again->counterValue() == 2);
    CHECK(must(again->counterIncrement()) == 3);
}

TEST_CASE("software identity: a damaged counter file is refused", "[identity]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    auto key = generateKey(backend);
    const std::string counter = dir.file("counter");
    for (std::string text : {"", "12a\n", "-3\n", " 4\n", "99999999999999999999999\n"}) {
        INFO("counter file \"" << text << "\"");
        writeBytes(counter, asBytes(text));
        auto id = SoftwareIdentity::fromParts(backend, "cam-0001", key, {}, counter);
        REQUIRE_FALSE(id.ok());
        CHECK(id.error().code == Errc::Format);
        CHECK(id.error().message.find(counter) != std::string::npos);
    }
}

TEST_CASE("software identity: fromParts checks the device id and the key pair", "[identity]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    auto key = generateKey(backend);
    auto other = generateKey(backend);
    const std::string counter = dir.file("counter");

    for (std::string bad :
         {std::string(), std::string(" cam"), std::string("cam\n1"), std::string(200, 'a')}) {
        auto id = SoftwareIdentity::fromParts(backend, bad, key, {}, counter);
        REQUIRE_FALSE(id.ok());
        CHECK(id.error().code == Errc::Config);
    }
    crypto::P256KeyPair mixed = key;
    mixed.pub = other.pub;
    auto id = SoftwareIdentity::fromParts(backend, "cam-0001", mixed, {}, counter);
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == Errc::Config);

    auto good = makeIdentity(backend, "cam-0001", key, counter);
    CHECK(good->id() == "cam-0001");
    CHECK(good->publicKey() == key.pub);
    crypto::Digest digest = backend.sha256(asBytes("message"));
    Bytes sig = must(good->signDigest(digest));
    must(backend.ecdsaVerifyDigest(key.pub, digest, sig));
}

TEST_CASE("software identity: load from PEM files", "[identity]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    const std::string counter = dir.file("counter");
    const std::string cert = dataFile("device_cert.pem");

    for (const char *keyName : {"device_key_pkcs8.pem", "device_key_sec1.pem"}) {
        INFO(keyName);
        auto id = must(SoftwareIdentity::load(backend, dataFile(keyName), cert, counter));
        CHECK(id->id() == "cam-test-0001");
        REQUIRE(id->certChainDer().size() == 1);
        crypto::CertInfo info = must(backend.parseCertificateDer(id->certChainDer()[0]));
        CHECK(info.publicKey == id->publicKey());
        crypto::Digest digest = backend.sha256(asBytes("hello"));
        must(backend.ecdsaVerifyDigest(id->publicKey(), digest, must(id->signDigest(digest))));
    }

    const std::string otherKey = dataFile("other_key_pkcs8.pem");
    auto mismatch = SoftwareIdentity::load(backend, otherKey, cert, counter);
    REQUIRE_FALSE(mismatch.ok());
    CHECK(mismatch.error().code == Errc::Config);
    CHECK(mismatch.error().message.find("key " + otherKey + " does not belong to certificate " +
                                        cert) != std::string::npos);

    // A certificate file given as the key, and a key file given as the certificate.
    auto swapped = SoftwareIdentity::load(backend, cert, dataFile("device_key_pkcs8.pem"), counter);
    REQUIRE_FALSE(swapped.ok());
    CHECK(swapped.error().code == Errc::Format);
    auto missing = SoftwareIdentity::load(backend, dir.file("nope.pem"), cert, counter);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::NotFound);
}
