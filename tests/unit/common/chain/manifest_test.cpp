#include "common/chain/manifest.h"

#include <catch2/catch_test_macros.hpp>

#include <functional>

#include "common/base/file.h"
#include "tests/unit/common/chain/chain_test_util.h"

using namespace bwc;
using namespace bwc::chain;
using namespace bwc::chain::test;

namespace
{

v1::SignedManifest withBytes(const std::string &manifestBytes, const std::string &signature)
{
    v1::SignedManifest sm;
    sm.set_manifest(manifestBytes);
    sm.set_signature(signature);
    return sm;
}

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("manifest: signed by one backend, verified by each", "[manifest]")
{
    BWC_CHAIN_EACH_BACKEND(signer);
    BWC_CHAIN_EACH_BACKEND(verifier);
    TempDir dir;
    auto key = generateKey(signer);
    auto id = makeIdentity(signer, "cam-0001", key, dir.file("counter"));

    v1::Manifest m = sampleClipManifest("cam-0001", 7, std::string(32, '\x44'));
    v1::SignedManifest sm = must(signManifest(signer, *id, m));
    CHECK(sm.manifest() == m.SerializeAsString());

    v1::Manifest back = must(verifySignedManifest(verifier, key.pub, sm));
    CHECK(back.seq() == 7);
    CHECK(back.device_id() == "cam-0001");
    CHECK(back.clip_uuid() == m.clip_uuid());
    CHECK(manifestSha256(signer, sm) == manifestSha256(verifier, sm));
    CHECK(manifestSha256(verifier, sm) == verifier.sha256(asBytes(sm.manifest())));

    // Through the wire form and back.
    v1::SignedManifest parsed = must(parseSignedManifest(serializeSignedManifest(sm)));
    CHECK(parsed.manifest() == sm.manifest());
    must(verifySignedManifest(verifier, key.pub, parsed));

    // Another key does not verify it.
    auto other = generateKey(verifier);
    auto wrong = verifySignedManifest(verifier, other.pub, sm);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::Auth);
    CHECK(contains(wrong.error().message, "manifest seq 7 of device cam-0001: signature does "
                                          "not verify"));
}

TEST_CASE("manifest: every bit flip in the signed bytes is refused", "[manifest]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    auto key = generateKey(backend);
    auto id = makeIdentity(backend, "cam-0001", key, dir.file("counter"));
    v1::SignedManifest sm =
        must(signManifest(backend, *id, sampleClipManifest("cam-0001", 3, zeroHash())));
    const std::string original = sm.manifest();
    size_t auth = 0;
    for (size_t i = 0; i < original.size(); ++i) {
        std::string flipped = original;
        flipped[i] = char(uint8_t(flipped[i]) ^ uint8_t(1u << (i % 8)));
        v1::SignedManifest bad = withBytes(flipped, sm.signature());
        auto r = verifySignedManifest(backend, key.pub, bad);
        INFO("byte " << i);
        REQUIRE_FALSE(r.ok());
        v1::Manifest probe;
        if (probe.ParseFromString(flipped)) {
            CHECK(r.error().code == Errc::Auth);
            ++auth;
        } else {
            CHECK(r.error().code == Errc::Format);
        }
    }
    // Most flips land in hashes and strings, which still parse.
    CHECK(auth > original.size() / 2);

    // A flipped note is the simplest case: the bytes parse, the signature fails.
    v1::Manifest noted = sampleClipManifest("cam-0001", 4, zeroHash());
    noted.set_note("all well");
    v1::SignedManifest ns = must(signManifest(backend, *id, noted));
    std::string bytes = ns.manifest();
    auto pos = bytes.find("all well");
    REQUIRE(pos != std::string::npos);
    bytes[pos] = 'b';
    auto r = verifySignedManifest(backend, key.pub, withBytes(bytes, ns.signature()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Auth);
}

TEST_CASE("manifest: a malformed DER signature is a format error", "[manifest]")
{
    BWC_CHAIN_EACH_BACKEND(backend);
    TempDir dir;
    auto key = generateKey(backend);
    auto id = makeIdentity(backend, "cam-0001", key, dir.file("counter"));
    v1::SignedManifest sm =
        must(signManifest(backend, *id, sampleClipManifest("cam-0001", 3, zeroHash())));
    const std::string sig = sm.signature();
    std::vector<std::pair<std::string, std::string>> cases = {
        {"not DER at all", "this is not a signature"},
        {"truncated", sig.substr(0, sig.size() - 1)},
        {"trailing garbage", sig + '\0'},
        {"wrong outer tag", '\x31' + sig.substr(1)},
    };
    for (const auto &[name, bad] : cases) {
        INFO(name);
        auto r = verifySignedManifest(backend, key.pub, withBytes(sm.manifest(), bad));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, "manifest seq 3 of device cam-0001"));
    }
    auto empty = verifySignedManifest(backend, key.pub, withBytes(sm.manifest(), ""));
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().code == Errc::Format);
}

TEST_CASE("manifest: verification uses the exact bytes, never a re-serialisation", "[manifest]")
{
    BWC_CHAIN_EACH_BACKEND(signer);
    BWC_CHAIN_EACH_BACKEND(verifier);
    TempDir dir;
    auto key = generateKey(signer);
    auto id = makeIdentity(signer, "cam-0001", key, dir.file("counter"));

    // A valid manifest followed by seq encoded again as a padded (non-minimal) varint,
    // and by an unknown field 1000: both parse, neither survives re-serialisation.
    std::string bytes = sampleClipManifest("cam-0001", 9, zeroHash()).SerializeAsString();
    bytes += std::string("\x18\x85\x80\x00", 4); // field 3 (seq) = 5, three-byte varint
    bytes += std::string("\xc0\x3e\x2a", 3);     // field 1000, varint 42
    v1::Manifest parsed;
    REQUIRE(parsed.ParseFromString(bytes));
    REQUIRE(parsed.seq() == 5);
    REQUIRE(parsed.SerializeAsString() != bytes);

    Bytes sig = must(id->signDigest(signer.sha256(asBytes(bytes))));
    v1::SignedManifest sm = withBytes(bytes, std::string(sig.begin(), sig.end()));
    v1::Manifest m = must(verifySignedManifest(verifier, key.pub, sm));
    CHECK(m.seq() == 5);
    CHECK(manifestSha256(verifier, sm) == verifier.sha256(asBytes(bytes)));

    // The canonical re-serialisation is not what was signed.
    v1::SignedManifest reserialised = withBytes(parsed.SerializeAsString(), sm.signature());
    auto r = verifySignedManifest(verifier, key.pub, reserialised);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Auth);
}

TEST_CASE("manifest: parseSignedManifest refuses garbage", "[manifest]")
{
    auto check = [](ByteView data, const std::string &what) {
        INFO(what);
        auto r = parseSignedManifest(data);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
    };
    check({}, "empty");
    check(asBytes("\xff\xff\xff\xff"), "not protobuf");
    v1::SignedManifest noSig;
    noSig.set_manifest("x");
    check(asBytes(noSig.SerializeAsString()), "no signature");
    v1::SignedManifest noBytes;
    noBytes.set_signature("x");
    check(asBytes(noBytes.SerializeAsString()), "no manifest");
    v1::SignedManifest huge;
    huge.set_manifest(std::string(kMaxSignedManifestBytes, 'a'));
    huge.set_signature("x");
    check(asBytes(huge.SerializeAsString()), "over 1 MiB");
}

TEST_CASE("manifest: parseManifest names the field that fails its sanity check", "[manifest]")
{
    struct Case {
        const char *field;
        std::function<void(v1::Manifest &)> mutate;
    };
    const std::vector<Case> cases = {
        {"format_version", [](v1::Manifest &m) { m.set_format_version(2); }},
        {"device_id", [](v1::Manifest &m) { m.set_device_id(""); }},
        {"device_id", [](v1::Manifest &m) { m.set_device_id("cam\x01"); }},
        {"seq", [](v1::Manifest &m) { m.set_seq(0); }},
        {"prev_manifest_sha256", [](v1::Manifest &m) { m.set_prev_manifest_sha256("short"); }},
        {"kind", [](v1::Manifest &m) { m.set_kind(v1::MANIFEST_KIND_UNSPECIFIED); }},
        {"kind", [](v1::Manifest &m) { m.set_kind(v1::ManifestKind(99)); }},
        {"config_sha256", [](v1::Manifest &m) { m.set_config_sha256("abc"); }},
        {"clip_uuid", [](v1::Manifest &m) { m.set_clip_uuid(std::string(15, 'u')); }},
        {"header_sha256", [](v1::Manifest &m) { m.clear_header_sha256(); }},
        {"ciphertext_sha256", [](v1::Manifest &m) { m.set_ciphertext_sha256("x"); }},
        {"plaintext_sha256", [](v1::Manifest &m) { m.clear_plaintext_sha256(); }},
        {"streams", [](v1::Manifest &m) { m.clear_streams(); }},
        {"streams", [](v1::Manifest &m) { m.add_streams()->set_stream_id(0); }},
        {"streams", [](v1::Manifest &m) { m.mutable_streams(0)->set_stream_id(256); }},
        {"wiped", [](v1::Manifest &m) { m.set_kind(v1::MANIFEST_KIND_WIPE); }},
        {"wiped[0].clip_uuid",
         [](v1::Manifest &m) {
             m.set_kind(v1::MANIFEST_KIND_WIPE);
             m.add_wiped()->set_seq(3);
         }},
    };
    for (const auto &c : cases) {
        v1::Manifest m = sampleClipManifest("cam-0001", 5, zeroHash());
        c.mutate(m);
        auto r = parseManifest(withBytes(m.SerializeAsString(), "sig"));
        INFO("field " << c.field);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
        CHECK(contains(r.error().message, c.field));
    }

    // Kinds without clip fields need none of them.
    v1::Manifest boot;
    boot.set_format_version(1);
    boot.set_device_id("cam-0001");
    boot.set_seq(1);
    boot.set_prev_manifest_sha256(zeroHash());
    boot.set_kind(v1::MANIFEST_KIND_BOOT);
    must(parseManifest(withBytes(boot.SerializeAsString(), "sig")));
    v1::Manifest wipe = boot;
    wipe.set_kind(v1::MANIFEST_KIND_WIPE);
    auto *w = wipe.add_wiped();
    w->set_seq(1);
    w->set_clip_uuid(std::string(16, 'c'));
    must(parseManifest(withBytes(wipe.SerializeAsString(), "sig")));

    auto garbage = parseManifest(withBytes("\xff\xff\xff", "sig"));
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().code == Errc::Format);
}

TEST_CASE("manifest: signManifest refuses another device's or a malformed manifest", "[manifest]")
{
    const crypto::Backend &backend = deviceBackend();
    TempDir dir;
    auto id = makeIdentity(backend, "cam-0001", generateKey(backend), dir.file("counter"));
    auto other = signManifest(backend, *id, sampleClipManifest("cam-0002", 1, zeroHash()));
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == Errc::Internal);
    v1::Manifest bad = sampleClipManifest("cam-0001", 1, zeroHash());
    bad.clear_streams();
    auto malformed = signManifest(backend, *id, bad);
    REQUIRE_FALSE(malformed.ok());
    CHECK(malformed.error().code == Errc::Format);
}

TEST_CASE("manifest: files are named by 20-digit seq and read back byte for byte", "[manifest]")
{
    const crypto::Backend &backend = deviceBackend();
    TempDir dir;
    auto key = generateKey(backend);
    auto id = makeIdentity(backend, "cam-0001", key, dir.file("counter"));

    CHECK(manifestFileName(17) == "00000000000000000017.bwcm");
    CHECK(manifestFileName(UINT64_MAX) == "18446744073709551615.bwcm");
    CHECK(manifestSeqFromFileName("00000000000000000017.bwcm") == 17u);
    CHECK(manifestSeqFromFileName("18446744073709551615.bwcm") == UINT64_MAX);
    CHECK_FALSE(manifestSeqFromFileName("99999999999999999999.bwcm").has_value());
    CHECK_FALSE(manifestSeqFromFileName("0000000000000000017.bwcm").has_value());
    CHECK_FALSE(manifestSeqFromFileName("00000000000000000017.bwcm.tmp").has_value());
    CHECK_FALSE(manifestSeqFromFileName("0000000000000000001x.bwcm").has_value());

    v1::SignedManifest sm =
        must(signManifest(backend, *id, sampleClipManifest("cam-0001", 17, zeroHash())));
    std::string path = must(writeManifestFile(dir.path(), sm));
    CHECK(path == dir.file("00000000000000000017.bwcm"));
    v1::SignedManifest back = must(readManifestFile(path));
    CHECK(back.manifest() == sm.manifest());
    CHECK(back.signature() == sm.signature());
    must(verifySignedManifest(backend, key.pub, back));

    writeBytes(dir.file("broken.bwcm"), asBytes("\x0a\xff"));
    auto broken = readManifestFile(dir.file("broken.bwcm"));
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.error().code == Errc::Format);
    CHECK(contains(broken.error().message, dir.file("broken.bwcm")));
}
