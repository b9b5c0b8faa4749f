// Verification of clips and bundles: clips sealed with the camera's backend (mbedTLS)
// under a test agency PKI, verified with the dock's backend (OpenSSL).

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/chain/recovery.h"
#include "common/crypto/pem.h"
#include "dock/pki/pki_store.h"
#include "dock/verify/verify.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/dock/agency_test_util.h"

namespace bwc::verify {
namespace {

using chain::test::must;
using chain::test::patternBytes;

using dock::test::contains;
using dock::test::loadKey;
const crypto::Backend &camera()
{
    return dock::test::cameraBackend();
}
const crypto::Backend &dock()
{
    return dock::test::dockBackend();
}

const Check &checkNamed(const ClipReport &report, const std::string &name)
{
    for (const Check &check : report.checks)
        if (check.name == name)
            return check;
    FAIL("no check named " << name);
    throw std::logic_error("unreachable");
}

const Check &bundleCheck(const Report &report, const std::string &name)
{
    for (const Check &check : report.bundleChecks)
        if (check.name == name)
            return check;
    FAIL("no bundle check named " << name);
    throw std::logic_error("unreachable");
}

std::string describe(const ClipReport &report)
{
    std::string out;
    for (const Check &check : report.checks)
        out +=
            std::string(statusName(check.status)) + " " + check.name + ": " + check.detail + "\n";
    return out;
}

using SealedClip = dock::test::Agency::Clip;

// The test agency, and the clips sealed so far.
class World : public dock::test::Agency
{
public:
    void boot() { bootCamera(); }

    SealedClip seal(size_t mediaBytes = 90000)
    {
        SealedClip c = Agency::seal(mediaBytes);
        clips.push_back(c);
        return c;
    }

    SealedClip add(const std::string &clipPath, const v1::SignedManifest &sm)
    {
        v1::Manifest m = must(chain::parseManifest(sm));
        SealedClip c{clipPath, chain->manifestPath(m.seq()), sm, m};
        clips.push_back(c);
        return c;
    }

    ClipInputs inputs(const SealedClip &clip, bool withKey = true) const
    {
        ClipInputs in;
        in.clipPath = clip.clipPath;
        in.manifestPath = clip.manifestPath;
        in.deviceCertChainDer = identity->certChainDer();
        in.trustAnchorsDer = {pki->caCertDer()};
        in.crlsDer = {pki->crlDer()};
        if (withKey)
            in.evidenceKey = aek;
        return in;
    }

    std::vector<v1::SignedManifest> segment() const
    {
        std::vector<v1::SignedManifest> out;
        for (uint64_t seq = 1; seq <= chain->head().seq(); ++seq)
            out.push_back(must(chain->loadManifest(seq)));
        return out;
    }

    BundleSource bundleSource() const
    {
        BundleSource source;
        source.deviceId = "cam-0001";
        source.chainSegment = segment();
        for (const SealedClip &c : clips)
            source.clips.push_back({c.clipPath, c.manifest, identity->certChainDer(), ""});
        source.caCertDer = pki->caCertDer();
        source.crlDer = pki->crlDer();
        source.exportedBy = "evidence officer Ana Núñez";
        source.reason = "case 2026-0415, \"discovery\" request";
        source.toolVersion = "bwc test";
        source.exportedUtcMs = clock.utcMs();
        return source;
    }

    std::vector<SealedClip> clips;
};

void flipByte(const std::string &path, uint64_t offset)
{
    Bytes data = must(readFile(path));
    REQUIRE(offset < data.size());
    data[offset] ^= 0x01;
    must(atomicReplace(path, data));
}

std::string runPython(const std::string &script, const std::string &arg1, const std::string &arg2)
{
    const std::string command = "python3 -c '" + script + "' '" + arg1 + "' '" + arg2 + "'";
    REQUIRE(std::system(command.c_str()) == 0);
    return std::string(asChars(must(readFile(arg2))));
}

TEST_CASE("verify: sealed clips pass every check with the agency evidence key", "[verify]")
{
    World w;
    w.seal();
    w.seal(150000);
    for (const SealedClip &clip : w.clips) {
        ClipReport r = verifyClip(dock(), w.inputs(clip));
        INFO(describe(r));
        REQUIRE(r.checks.size() == 7);
        const char *names[] = {"certificate",       "signature", "chain",           "header_sha256",
                               "ciphertext_sha256", "decrypt",   "plaintext_sha256"};
        for (size_t i = 0; i < 7; ++i)
            CHECK(r.checks[i].name == names[i]);
        for (const Check &check : r.checks)
            if (check.name != "chain")
                CHECK(check.status == Status::Pass);
        if (r.seq == 1) {
            // The first manifest needs no predecessor: it starts from the zero hash.
            CHECK(checkNamed(r, "chain").status == Status::Pass);
            CHECK(contains(checkNamed(r, "chain").detail, "the device's first manifest"));
        } else {
            CHECK(checkNamed(r, "chain").status == Status::Skipped);
            CHECK(contains(checkNamed(r, "chain").detail, "no preceding manifests supplied"));
        }
        CHECK(r.passed());
        v1::Manifest m = must(chain::parseManifest(clip.manifest));
        CHECK(r.deviceId == "cam-0001");
        CHECK(r.seq == m.seq());
        CHECK(r.kind == "CLIP");
        CHECK(r.officerId == "officer-17");
        CHECK(r.trigger == "BUTTON");
        CHECK(r.clockSource == "DOCK");
        CHECK(r.clockErrorMs == 40);
        CHECK(r.prerecordMs == 30000);
        CHECK(r.ciphertextBytes == must(fileSize(clip.clipPath)));
        CHECK(r.ciphertextSha256 == toHex(dock().sha256(must(readFile(clip.clipPath)))));
        CHECK(r.manifestSha256 == toHex(dock().sha256(asBytes(clip.manifest.manifest()))));
        CHECK(r.deviceCert.subjectCommonName == "cam-0001");
        CHECK(r.caCert.certSha256 == w.pki->caCertInfo().certSha256);
        CHECK(contains(r.revocationStatus, "not revoked"));
        CHECK(contains(r.revocationStatus, "CRL #"));
        REQUIRE(r.streamChunks.size() == 2);
    }

    SECTION("with the preceding manifests the chain check passes")
    {
        ClipInputs in = w.inputs(w.clips[1]);
        in.precedingManifests = {w.clips[0].manifest};
        ClipReport r = verifyClip(dock(), in);
        INFO(describe(r));
        CHECK(checkNamed(r, "chain").status == Status::Pass);
        CHECK(r.passed());
    }
    SECTION("a preceding manifest that does not link fails the chain check")
    {
        // Clip 1 follows nothing: giving clip 1 itself as its predecessor breaks the run.
        ClipInputs in = w.inputs(w.clips[0]);
        in.precedingManifests = {w.clips[1].manifest};
        ClipReport r = verifyClip(dock(), in);
        CHECK(checkNamed(r, "chain").status == Status::Fail);
        CHECK_FALSE(r.passed());
    }
}

TEST_CASE("verify: without the key decrypt and plaintext are skipped, and it still passes",
          "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    ClipReport r = verifyClip(dock(), w.inputs(clip, false));
    INFO(describe(r));
    CHECK(checkNamed(r, "decrypt").status == Status::Skipped);
    CHECK(contains(checkNamed(r, "decrypt").detail, "no agency evidence key given"));
    CHECK(checkNamed(r, "plaintext_sha256").status == Status::Skipped);
    CHECK(checkNamed(r, "ciphertext_sha256").status == Status::Pass);
    CHECK(r.passed());
}

TEST_CASE("verify: a flipped byte in the clip fails the ciphertext hash and decryption", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    flipByte(clip.clipPath, must(fileSize(clip.clipPath)) - 40);

    ClipReport keyless = verifyClip(dock(), w.inputs(clip, false));
    INFO(describe(keyless));
    CHECK(checkNamed(keyless, "ciphertext_sha256").status == Status::Fail);
    CHECK(contains(checkNamed(keyless, "ciphertext_sha256").detail, "altered"));
    CHECK(checkNamed(keyless, "signature").status == Status::Pass);
    CHECK_FALSE(keyless.passed());

    ClipReport keyed = verifyClip(dock(), w.inputs(clip));
    INFO(describe(keyed));
    CHECK(checkNamed(keyed, "ciphertext_sha256").status == Status::Fail);
    CHECK(checkNamed(keyed, "decrypt").status == Status::Fail);
    CHECK(checkNamed(keyed, "plaintext_sha256").status == Status::Fail);
    CHECK(checkNamed(keyed, "header_sha256").status == Status::Pass);
    CHECK_FALSE(keyed.passed());
}

TEST_CASE("verify: a bit flipped in the manifest fails the signature", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    v1::SignedManifest altered = clip.manifest;
    // One bit of the officer id: "officer-17" becomes "officer-16".
    std::string bytes = altered.manifest();
    const size_t at = bytes.find("officer-17");
    REQUIRE(at != std::string::npos);
    bytes[at + 9] ^= 0x01;
    altered.set_manifest(bytes);
    const std::string path = w.dir.file("altered.bwcm");
    must(atomicReplace(path, chain::serializeSignedManifest(altered)));

    ClipInputs in = w.inputs(clip);
    in.manifestPath = path;
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(checkNamed(r, "signature").status == Status::Fail);
    CHECK(contains(checkNamed(r, "signature").detail, "does not verify"));
    CHECK(checkNamed(r, "ciphertext_sha256").status == Status::Pass);
    CHECK(r.officerId == "officer-16");
    CHECK_FALSE(r.passed());
}

TEST_CASE("verify: a revoked device certificate fails the certificate check", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    must(w.pki->revoke("cam-0001", "lost"));
    must(w.pki->writeCrl(30));

    ClipInputs in = w.inputs(clip);
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(checkNamed(r, "certificate").status == Status::Fail);
    CHECK(contains(checkNamed(r, "certificate").detail, "revoked"));
    CHECK(contains(r.revocationStatus, "REVOKED"));
    CHECK(checkNamed(r, "decrypt").status == Status::Pass);
    CHECK_FALSE(r.passed());
}

TEST_CASE("verify: another agency's CA fails the certificate check", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    auto other = must(pki::PkiStore::init(w.dir.file("other-pki"), "Other Agency", 3650));
    ClipInputs in = w.inputs(clip);
    in.trustAnchorsDer = {other.caCertDer()};
    in.crlsDer = {other.crlDer()};
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(checkNamed(r, "certificate").status == Status::Fail);
    CHECK(contains(checkNamed(r, "certificate").detail, "does not chain"));
    CHECK_FALSE(r.passed());
}

TEST_CASE("verify: the certificate of another device fails", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    pki::IssuedCert otherDevice = must(w.pki->issueDevice("cam-0002", 365));
    ClipInputs in = w.inputs(clip);
    in.deviceCertChainDer = must(crypto::readPemFile(otherDevice.certPath, "CERTIFICATE"));
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(checkNamed(r, "certificate").status == Status::Fail);
    CHECK(contains(checkNamed(r, "certificate").detail,
                   "certificate is for device cam-0002 but the manifest names device cam-0001"));
    CHECK(checkNamed(r, "signature").status == Status::Fail);
    CHECK_FALSE(r.passed());
}

TEST_CASE("verify: a wrong agency evidence key fails decryption", "[verify]")
{
    World w;
    SealedClip clip = w.seal();
    ClipInputs in = w.inputs(clip);
    in.evidenceKey = must(dock().p256Generate());
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(checkNamed(r, "decrypt").status == Status::Fail);
    CHECK(contains(checkNamed(r, "decrypt").detail, "no recipient entry"));
    CHECK(checkNamed(r, "plaintext_sha256").status == Status::Fail);
    CHECK(checkNamed(r, "ciphertext_sha256").status == Status::Pass);
    CHECK_FALSE(r.passed());
}

TEST_CASE("verify: an interrupted clip recovered at boot verifies", "[verify]")
{
    World w;
    w.seal();
    {
        auto session = w.record(70000);
        // Data after the last checkpoint is cut off by recovery.
        must(session->append(container::kMediaStreamId, patternBytes(70000, 5000, 7)));
    }
    w.boot();
    auto recovered =
        must(chain::recoverUnfinishedClips(camera(), *w.identity, *w.chain, w.clipsDir));
    REQUIRE(recovered.size() == 1);
    REQUIRE(recovered[0].outcome == chain::RecoveryOutcome::Interrupted);
    SealedClip clip = w.add(recovered[0].clipPath, must(w.chain->loadManifest(recovered[0].seq)));

    ClipInputs in = w.inputs(clip);
    in.precedingManifests = {w.clips[0].manifest};
    ClipReport r = verifyClip(dock(), in);
    INFO(describe(r));
    CHECK(r.kind == "INTERRUPTED");
    for (const Check &check : r.checks)
        CHECK(check.status == Status::Pass);
    CHECK(r.passed());

    SECTION("and in a bundle")
    {
        const std::string out = w.dir.file("bundle");
        must(writeBundle(out, w.bundleSource()));
        BundleInputs bi;
        bi.bundleDir = out;
        bi.trustAnchorsDer = {w.pki->caCertDer()};
        bi.evidenceKey = w.aek;
        Report report = verifyBundle(dock(), bi);
        INFO(renderText(report));
        CHECK(report.passed());
    }
}

TEST_CASE("bundle: written and verified offline", "[verify][bundle]")
{
    World w;
    w.seal();
    w.seal(120000);
    w.seal();
    const std::string out = w.dir.file("export/bundle");
    must(writeBundle(out, w.bundleSource()));
    CHECK(pathExists(out + "/bundle.bwcb"));
    CHECK(pathExists(out + "/certs/ca.pem"));
    CHECK(pathExists(out + "/certs/cam-0001.pem"));
    CHECK(pathExists(out + "/crl.pem"));
    CHECK(pathExists(out + "/manifests/00000000000000000002.bwcm"));
    for (const SealedClip &clip : w.clips)
        CHECK(must(readFile(out + "/clips/" + baseName(clip.clipPath))) ==
              must(readFile(clip.clipPath)));
    // No temporary directory is left beside it.
    size_t entries = 0;
    for (const auto &e : std::filesystem::directory_iterator(w.dir.file("export"))) {
        (void)e;
        ++entries;
    }
    CHECK(entries == 1);

    BundleInputs in;
    in.bundleDir = out;
    in.trustAnchorsDer = {w.pki->caCertDer()};
    in.evidenceKey = w.aek;
    in.nowUtcMs = utcNowMs();

    SECTION("every check passes and the reports say so")
    {
        Report report = verifyBundle(dock(), in);
        report.examiner = "Det. \"Sam\" O'Neil\\\n\t\x01 Zoë";
        const std::string text = renderText(report);
        INFO(text);
        REQUIRE(report.passed());
        REQUIRE(report.clips.size() == 3);
        CHECK(bundleCheck(report, "index").status == Status::Pass);
        CHECK(bundleCheck(report, "ca_certificate").status == Status::Pass);
        CHECK(bundleCheck(report, "chain_segment").status == Status::Pass);
        CHECK(checkNamed(report.clips[0], "chain").status ==
              (report.clips[0].seq == 1 ? Status::Pass : Status::Skipped));
        CHECK(checkNamed(report.clips[2], "chain").status == Status::Pass);
        CHECK(contains(text, "RESULT: PASS"));
        CHECK(contains(text, "PASS    signature:"));
        CHECK(contains(text, "cam-0001"));
        CHECK(contains(text, toHex(w.pki->caCertInfo().certSha256)));
        CHECK(contains(text, "evidence officer Ana Núñez"));
        CHECK(report.toolVersion == toolVersion(dock()));
        CHECK(contains(report.toolVersion, "openssl"));
        CHECK_FALSE(report.custody.empty());

        const std::string json = renderJson(report);
        const std::string jsonPath = w.dir.file("report.json");
        must(atomicReplace(jsonPath, asBytes(json)));
        const std::string examiner = runPython(
            "import json,sys; d=json.load(open(sys.argv[1],encoding=\"utf-8\")); "
            "assert d[\"result\"]==\"PASS\" and len(d[\"clips\"])==3; "
            "assert [c[\"name\"] for c in d[\"clips\"][0][\"checks\"]][0]==\"certificate\"; "
            "open(sys.argv[2],\"w\",encoding=\"utf-8\").write(d[\"examiner\"])",
            jsonPath, w.dir.file("examiner.txt"));
        CHECK(examiner == report.examiner);
    }
    SECTION("without the key it passes with decryption skipped")
    {
        in.evidenceKey.reset();
        Report report = verifyBundle(dock(), in);
        INFO(renderText(report));
        CHECK(report.passed());
        CHECK(checkNamed(report.clips[1], "decrypt").status == Status::Skipped);
    }
    SECTION("a manifest removed from the segment fails the chain segment, naming the gap")
    {
        std::filesystem::remove(out + "/manifests/00000000000000000002.bwcm");
        Report report = verifyBundle(dock(), in);
        const std::string text = renderText(report);
        INFO(text);
        const Check &segment = bundleCheck(report, "chain_segment");
        CHECK(segment.status == Status::Fail);
        CHECK(contains(segment.detail, "00000000000000000002.bwcm"));
        CHECK(contains(segment.detail, "missing"));
        CHECK(bundleCheck(report, "index").status == Status::Fail);
        CHECK_FALSE(report.passed());
        CHECK(contains(text, "RESULT: FAIL"));
        // The clip after the gap cannot link to its predecessor either.
        CHECK(checkNamed(report.clips[2], "chain").status == Status::Fail);
    }
    SECTION("verified against another agency's CA it fails")
    {
        auto other = must(pki::PkiStore::init(w.dir.file("other-pki"), "Other Agency", 3650));
        in.trustAnchorsDer = {other.caCertDer()};
        Report report = verifyBundle(dock(), in);
        INFO(renderText(report));
        CHECK(bundleCheck(report, "ca_certificate").status == Status::Fail);
        CHECK(contains(bundleCheck(report, "ca_certificate").detail,
                       "bundle's CA certificate is not the agency CA you supplied"));
        for (const ClipReport &clip : report.clips)
            CHECK(checkNamed(clip, "certificate").status == Status::Fail);
        CHECK_FALSE(report.passed());
    }
    SECTION("a newer CRL supplied by the examiner is used")
    {
        must(w.pki->revoke("cam-0001", "stolen"));
        must(w.pki->writeCrl(30));
        in.extraCrlsDer = {w.pki->crlDer()};
        Report report = verifyBundle(dock(), in);
        INFO(renderText(report));
        CHECK(checkNamed(report.clips[0], "certificate").status == Status::Fail);
        CHECK(contains(report.clips[0].revocationStatus, "REVOKED"));
        CHECK_FALSE(report.passed());
    }
    SECTION("a corrupt index is reported by name")
    {
        must(atomicReplace(out + "/bundle.bwcb", asBytes(std::string("\xff\xff\xff", 3))));
        Report report = verifyBundle(dock(), in);
        REQUIRE(report.bundleChecks.size() == 1);
        CHECK(report.bundleChecks[0].status == Status::Fail);
        CHECK(contains(report.bundleChecks[0].detail, "bundle.bwcb"));
        CHECK_FALSE(report.passed());
    }
    SECTION("a missing clip file is reported by name")
    {
        std::filesystem::remove(out + "/clips/" + baseName(w.clips[1].clipPath));
        Report report = verifyBundle(dock(), in);
        CHECK(bundleCheck(report, "index").status == Status::Fail);
        CHECK(contains(bundleCheck(report, "index").detail, baseName(w.clips[1].clipPath)));
        CHECK(checkNamed(report.clips[1], "ciphertext_sha256").status == Status::Fail);
        CHECK(report.clips[0].passed());
        CHECK_FALSE(report.passed());
    }
    SECTION("an existing non-empty directory is refused")
    {
        auto again = writeBundle(out, w.bundleSource());
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().code == Errc::Exists);
    }
}

TEST_CASE("report: a failed check is named in the verdict", "[verify][report]")
{
    Report report;
    report.toolVersion = "bwc test";
    report.subject = "clip.bwcclip";
    ClipReport clip;
    clip.clipUuid = "3f2a";
    clip.checks = {{"certificate", Status::Pass, "ok"},
                   {"signature", Status::Fail, "does not verify"},
                   {"header_sha256", Status::Pass, "ok"},
                   {"ciphertext_sha256", Status::Pass, "ok"}};
    report.clips.push_back(clip);
    const std::string text = renderText(report);
    CHECK(contains(text, "RESULT: FAIL — 1 check(s) failed: clip 3f2a signature"));
    CHECK(contains(text, "FAIL    signature: does not verify"));
    CHECK(contains(text, "none recorded (verified offline)"));
    CHECK_FALSE(report.passed());

    // A required check that was skipped is not a pass.
    report.clips[0].checks[1].status = Status::Skipped;
    CHECK_FALSE(report.passed());
    report.clips[0].checks[1].status = Status::Pass;
    CHECK(report.passed());
    CHECK(contains(renderText(report), "RESULT: PASS — every check passed"));
    CHECK_FALSE(Report().passed());
}

} // namespace
} // namespace bwc::verify
