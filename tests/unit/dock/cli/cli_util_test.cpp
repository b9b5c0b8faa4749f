#include "dock/cli/cli_util.h"

#include <catch2/catch_test_macros.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "common/crypto/crypto.h"
#include "common/crypto/pem.h"

using namespace bwc;
using namespace bwc::cli;

namespace {

// A temporary directory removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "bwc-cli-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

void writeText(const std::string &path, const std::string &text)
{
    std::ofstream out(path, std::ios::binary);
    out << text;
}

} // namespace

TEST_CASE("clipSiblings derives the manifest and certificate paths")
{
    auto s = clipSiblings("/evidence/3f2a9c1e-0000-4000-8000-000000000001.bwcclip");
    REQUIRE(s.ok());
    CHECK(s->stem == "/evidence/3f2a9c1e-0000-4000-8000-000000000001");
    CHECK(s->manifestPath == "/evidence/3f2a9c1e-0000-4000-8000-000000000001.bwcm");
    CHECK(s->certPath == "/evidence/3f2a9c1e-0000-4000-8000-000000000001.cert.pem");

    auto relative = clipSiblings("a.bwcclip");
    REQUIRE(relative.ok());
    CHECK(relative->manifestPath == "a.bwcm");
}

TEST_CASE("clipSiblings refuses names that are not clip files")
{
    for (const char *bad : {"clip.mp4", ".bwcclip", "/dir/.bwcclip", "x.bwcclip.bak", ""}) {
        auto s = clipSiblings(bad);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::Usage);
        CHECK(s.error().message.find("<uuid>.bwcclip") != std::string::npos);
    }
}

TEST_CASE("sealOutputs strips trailing slashes of the output directory")
{
    auto s = sealOutputs("out//", "abc");
    CHECK(s.stem == "out/abc");
    CHECK(s.manifestPath == "out/abc.bwcm");
    CHECK(s.certPath == "out/abc.cert.pem");
    CHECK(sealOutputs("/", "u").stem == "/u");
}

TEST_CASE("parseBackendName accepts exactly the two backends")
{
    CHECK(*parseBackendName("mbedtls") == BackendKind::Mbedtls);
    CHECK(*parseBackendName("openssl") == BackendKind::Openssl);
    auto bad = parseBackendName("OpenSSL");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::Usage);
    CHECK(bad.error().message.find("use mbedtls or openssl") != std::string::npos);
}

TEST_CASE("checkDays bounds validity periods")
{
    CHECK(checkDays("--days", 1).ok());
    CHECK(checkDays("--days", 36500).ok());
    auto zero = checkDays("--days", 0);
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error().message == "--days 0: out of range; give a number of days from 1 to 36500");
    CHECK_FALSE(checkDays("--days", -5).ok());
    CHECK_FALSE(checkDays("--days", 36501).ok());
}

TEST_CASE("formatError prefixes the command")
{
    Error e(Errc::NotFound, "x.pem: no such file; give the CA");
    CHECK(formatError("verify", e) == "bwc verify: x.pem: no such file; give the CA");
    CHECK(formatError("pki init", e) == "bwc pki init: x.pem: no such file; give the CA");
    CHECK(formatError("", e) == "bwc: x.pem: no such file; give the CA");
}

TEST_CASE("requireFile names the option, the path, the cause and the hint")
{
    TempDir dir;
    const std::string file = dir.path + "/ca.pem";
    writeText(file, "x");
    CHECK(requireFile("--ca", file, "hint").ok());

    auto missing = requireFile("--ca", dir.path + "/nope.pem", "give the agency CA");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(missing.error().message ==
          "--ca " + dir.path + "/nope.pem: No such file or directory; give the agency CA");

    auto isDir = requireFile("", dir.path, "give a file");
    REQUIRE_FALSE(isDir.ok());
    CHECK(isDir.error().message == dir.path + ": is a directory, not a file; give a file");
}

TEST_CASE("isBundleDirectory needs a directory with bundle.bwcb")
{
    TempDir dir;
    CHECK_FALSE(isBundleDirectory(dir.path));
    writeText(dir.path + "/bundle.bwcb", "");
    CHECK(isBundleDirectory(dir.path));
    CHECK_FALSE(isBundleDirectory(dir.path + "/bundle.bwcb"));
    CHECK_FALSE(isBundleDirectory(dir.path + "/missing"));
}

TEST_CASE("humanBytes")
{
    CHECK(humanBytes(0) == "0 B");
    CHECK(humanBytes(1023) == "1023 B");
    CHECK(humanBytes(1024) == "1.0 KiB");
    CHECK(humanBytes(3u << 20) == "3.0 MiB");
}

TEST_CASE("selectPrivateKeyDer picks the first key block")
{
    std::vector<crypto::PemBlock> blocks = {
        {"CERTIFICATE", {1}}, {"EC PRIVATE KEY", {2}}, {"PRIVATE KEY", {3}}};
    auto der = selectPrivateKeyDer(blocks, "k.pem");
    REQUIRE(der.ok());
    CHECK(*der == Bytes{2});
    auto none = selectPrivateKeyDer({{"CERTIFICATE", {1}}}, "k.pem");
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::Format);
    CHECK(none.error().message.find("k.pem: no PRIVATE KEY block") == 0);
}

TEST_CASE("loadPrivateKey reads a PKCS#8 PEM key and rejects a certificate file")
{
    TempDir dir;
    auto backend = crypto::makeOpensslBackend();
    auto key = backend->p256Generate();
    REQUIRE(key.ok());
    const std::string keyPath = dir.path + "/k.key";
    writeText(keyPath, crypto::toPem("PRIVATE KEY", crypto::p256Pkcs8Der(*key)));
    auto loaded = loadPrivateKey(*backend, keyPath);
    REQUIRE(loaded.ok());
    CHECK(loaded->pub == key->pub);

    const std::string certPath = dir.path + "/c.pem";
    writeText(certPath, crypto::toPem("CERTIFICATE", Bytes{1, 2, 3}));
    auto wrong = loadPrivateKey(*backend, certPath);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::Format);

    auto missing = loadPrivateKey(*backend, dir.path + "/none.key");
    CHECK_FALSE(missing.ok());
}
