// pem.h: base64 (RFC 4648) and PEM blocks, including the errors a user sees for a
// broken key or certificate file.

#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <string>
#include <unistd.h>

#include "common/base/file.h"
#include "common/crypto/pem.h"

using namespace bwc;
using namespace bwc::crypto;

namespace {

std::string makeTempDir()
{
    char tmpl[] = "/tmp/bwc-pem-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    return tmpl;
}

void writeText(const std::string &path, std::string_view text)
{
    REQUIRE(atomicReplace(path, asBytes(text)));
}

bool contains(const std::string &haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("base64 matches RFC 4648 section 10, with every padding case")
{
    const std::pair<const char *, const char *> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto &[plain, encoded] : vectors) {
        INFO(plain);
        CHECK(base64Encode(asBytes(plain)) == encoded);
        auto decoded = base64Decode(encoded);
        REQUIRE(decoded);
        CHECK(*decoded == toBytes(plain));
    }
}

TEST_CASE("base64 round trips every length and byte value")
{
    Bytes data;
    for (int i = 0; i < 300; ++i)
        data.push_back(uint8_t((i * 167 + 13) & 0xff));
    for (size_t len = 0; len <= data.size(); ++len) {
        Bytes part(data.begin(), data.begin() + len);
        std::string text = base64Encode(part);
        CHECK(text.size() == (len + 2) / 3 * 4);
        auto back = base64Decode(text);
        REQUIRE(back);
        CHECK(*back == part);
    }
    // Line breaks and other whitespace between characters are ignored.
    auto wrapped = base64Decode("Zm9v\nYmFy\r\n Zm9v\tYg==\n");
    REQUIRE(wrapped);
    CHECK(*wrapped == toBytes("foobarfoob"));
}

TEST_CASE("base64 refuses malformed text")
{
    CHECK_FALSE(base64Decode("Zm9v!mFy")); // not in the alphabet
    CHECK_FALSE(base64Decode("Zm9v-_"));   // URL-safe alphabet is not PEM
    CHECK_FALSE(base64Decode("Zg==Zm8=")); // data after padding
    CHECK_FALSE(base64Decode("Zg==="));    // three padding characters
    CHECK_FALSE(base64Decode("Z"));        // six bits are no byte
    CHECK_FALSE(base64Decode("Zm9vY"));    // a dangling character
}

TEST_CASE("PEM blocks round trip in order with their labels")
{
    const Bytes certish = {0x30, 0x03, 0x02, 0x01, 0x05};
    Bytes big(1000);
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = uint8_t(i);
    std::string text = "comment before\n" + toPem("CERTIFICATE", certish) + "between\n" +
                       toPem("X509 CRL", big) + toPem("CERTIFICATE", big);
    // toPem wraps the base64 at 64 characters: 1000 bytes make 20 full lines and one of 56.
    size_t fullLines = 0;
    for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
         start = end + 1) {
        CHECK(end - start <= 64);
        fullLines += (end - start == 64);
    }
    CHECK(fullLines == 40);

    auto blocks = parsePem(text, "chain.pem");
    REQUIRE(blocks);
    REQUIRE(blocks->size() == 3);
    CHECK((*blocks)[0].label == "CERTIFICATE");
    CHECK((*blocks)[0].der == certish);
    CHECK((*blocks)[1].label == "X509 CRL");
    CHECK((*blocks)[1].der == big);
    CHECK((*blocks)[2].label == "CERTIFICATE");
    CHECK((*blocks)[2].der == big);

    auto none = parsePem("no pem here", "empty.pem");
    REQUIRE(none);
    CHECK(none->empty());
}

TEST_CASE("malformed PEM names the file and the cause")
{
    const std::string good = toPem("CERTIFICATE", Bytes{1, 2, 3, 4, 5, 6});

    SECTION("no END line")
    {
        std::string truncated = good.substr(0, good.find("-----END"));
        auto r = parsePem(truncated, "/etc/bwc/dock.pem");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "/etc/bwc/dock.pem"));
        CHECK(contains(r.error().message, "no END line"));
    }
    SECTION("END line of another label")
    {
        std::string other = "-----BEGIN CERTIFICATE-----\nAQIDBAUG\n-----END X509 CRL-----\n";
        auto r = parsePem(other, "ca.pem");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "ca.pem"));
        CHECK(contains(r.error().message, "no END line"));
    }
    SECTION("bad base64")
    {
        std::string bad = "-----BEGIN CERTIFICATE-----\nAQID*AUG\n-----END CERTIFICATE-----\n";
        auto r = parsePem(bad, "device.pem");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "device.pem"));
        CHECK(contains(r.error().message, "not valid base64"));
    }
    SECTION("empty body")
    {
        std::string empty = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
        auto r = parsePem(empty, "device.pem");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "device.pem"));
    }
    SECTION("unterminated BEGIN line")
    {
        auto r = parsePem("-----BEGIN CERTIFICATE\nAQID\n", "device.pem");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "device.pem"));
    }
}

TEST_CASE("readPemFile picks the blocks with a label and explains what is missing")
{
    const std::string dir = makeTempDir();
    const Bytes der = {0x30, 0x00};
    const std::string path = dir + "/bundle.pem";
    writeText(path, toPem("CERTIFICATE", der) + toPem("PRIVATE KEY", Bytes{9, 9}) +
                        toPem("CERTIFICATE", Bytes{0x30, 0x01, 0x00}));

    auto certs = readPemFile(path, "CERTIFICATE");
    REQUIRE(certs);
    REQUIRE(certs->size() == 2);
    CHECK((*certs)[0] == der);
    CHECK((*certs)[1] == (Bytes{0x30, 0x01, 0x00}));

    auto crl = readPemFile(path, "X509 CRL");
    REQUIRE_FALSE(crl);
    CHECK(crl.error().code == Errc::Format);
    CHECK(contains(crl.error().message, path));
    CHECK(contains(crl.error().message, "no X509 CRL block"));

    const std::string truncatedPath = dir + "/truncated.pem";
    std::string text = toPem("CERTIFICATE", Bytes(100, 7));
    writeText(truncatedPath, text.substr(0, text.size() / 2));
    auto truncated = readPemFile(truncatedPath, "CERTIFICATE");
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().code == Errc::Format);
    CHECK(contains(truncated.error().message, truncatedPath));
    CHECK(contains(truncated.error().message, "truncated"));

    const std::string missingPath = dir + "/missing.pem";
    auto missing = readPemFile(missingPath, "CERTIFICATE");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(contains(missing.error().message, missingPath));

    REQUIRE(::unlink(path.c_str()) == 0);
    REQUIRE(::unlink(truncatedPath.c_str()) == 0);
    REQUIRE(::rmdir(dir.c_str()) == 0);
}
