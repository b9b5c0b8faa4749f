// Certificate chain validation of both backends on certificates issued by dock/pki: every
// failure case checks the error category and the phrase a user needs.

#include <algorithm>

#include "pki_test_util.h"

namespace bwc::pki::test {
namespace {

// A test agency: root CA valid 2025..2036, camera cam-0001 valid during 2026. Clips are
// verified as signed on 2026-01-31 but checked in 2028, with a CRL that is current then.
struct Agency {
    Ca root = makeRoot("Test Agency Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
    crypto::P256KeyPair deviceKey = newKey();
    Bytes device =
        makeLeaf(root, CertKind::Device, "cam-0001", deviceKey.pub, kT0, kT0 + 365 * kDay);
    int64_t validityTime = kT0 + 30 * kDay;
    int64_t now = kT0 + 2 * 365 * kDay;

    Bytes crl(const Ca &ca, const std::vector<std::string> &revoked = {}) const
    {
        return makeCrl(ca, revoked, now - kDay, now + 30 * kDay);
    }

    crypto::ChainRequest request() const
    {
        crypto::ChainRequest r;
        r.leafDer = device;
        r.trustAnchorsDer = {root.issuer.certDer};
        r.crlsDer = {crl(root)};
        r.validityTimeUtcMs = validityTime;
        r.nowUtcMs = now;
        return r;
    }
};

std::string serialOf(const Bytes &der)
{
    auto info = openssl().parseCertificateDer(der);
    REQUIRE(info.ok());
    return info->serialHex;
}

TEST_CASE("chain: a device certificate issued by the agency CA verifies")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto result = backend.verifyCertChain(agency.request());
    INFO((result.ok() ? std::string() : result.error().message));
    REQUIRE(result.ok());
    CHECK(result->subjectCommonName == "cam-0001");
    CHECK(result->publicKey == agency.deviceKey.pub);
    CHECK(result->serialHex == serialOf(agency.device));
    CHECK_FALSE(result->isCa);
}

TEST_CASE("chain: dock and recipient certificates verify too")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto key = newKey();
    for (CertKind kind : {CertKind::Dock, CertKind::Recipient}) {
        Bytes leaf =
            makeLeaf(agency.root, kind, "dock-1.agency.example", key.pub, kT0, kT0 + 365 * kDay);
        auto r = agency.request();
        r.leafDer = leaf;
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        REQUIRE(result.ok());
        CHECK(result->subjectCommonName == "dock-1.agency.example");
    }
}

TEST_CASE("chain: a path through an intermediate CA verifies")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    Ca inter =
        makeIntermediate(agency.root, "Test Agency Devices CA", kT0 - 30 * kDay, kT0 + 1000 * kDay);
    Bytes leaf =
        makeLeaf(inter, CertKind::Device, "cam-0002", agency.deviceKey.pub, kT0, kT0 + 365 * kDay);
    auto r = agency.request();
    r.leafDer = leaf;
    r.intermediatesDer = {inter.issuer.certDer};
    r.crlsDer = {agency.crl(agency.root), agency.crl(inter)};
    auto result = backend.verifyCertChain(r);
    INFO((result.ok() ? std::string() : result.error().message));
    REQUIRE(result.ok());
    CHECK(result->subjectCommonName == "cam-0002");

    SECTION("without the intermediate the path cannot be built")
    {
        r.intermediatesDer.clear();
        requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0002"});
    }
    SECTION("without the intermediate's CRL")
    {
        r.crlsDer = {agency.crl(agency.root)};
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"no CRL from", "Test Agency Devices CA"});
    }
    SECTION("a revoked intermediate")
    {
        std::string interSerial = inter.info.serialHex;
        r.crlsDer = {agency.crl(agency.root, {interSerial}), agency.crl(inter)};
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"revoked", interSerial, "Test Agency Devices CA"});
    }
    SECTION("a revoked leaf under the intermediate")
    {
        std::string leafSerial = serialOf(leaf);
        r.crlsDer = {agency.crl(agency.root), agency.crl(inter, {leafSerial})};
        requireError(backend.verifyCertChain(r), Errc::Cert, {"revoked", leafSerial, "cam-0002"});
    }
}

TEST_CASE("chain: the leaf must be valid at the validity time, not at the present time")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto r = agency.request();
    SECTION("expired at the validity time")
    {
        r.validityTimeUtcMs = kT0 + 366 * kDay;
        requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001", "expired"});
    }
    SECTION("not yet valid at the validity time")
    {
        r.validityTimeUtcMs = kT0 - kDay;
        requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001", "not yet valid"});
    }
    SECTION("expired today but valid when the clip was signed")
    {
        r.nowUtcMs = kT0 + 5 * 365 * kDay;
        r.crlsDer = {makeCrl(agency.root, {}, r.nowUtcMs - kDay, r.nowUtcMs + kDay)};
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        CHECK(result.ok());
    }
}

TEST_CASE("chain: an expired agency CA fails")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    Ca shortRoot = makeRoot("Short Lived Root CA", kT0 - 10 * kDay, kT0 + 10 * kDay);
    Bytes leaf = makeLeaf(shortRoot, CertKind::Device, "cam-0003", agency.deviceKey.pub, kT0,
                          kT0 + 365 * kDay);
    auto r = agency.request();
    r.leafDer = leaf;
    r.trustAnchorsDer = {shortRoot.issuer.certDer};
    r.crlsDer = {agency.crl(shortRoot)};
    requireError(backend.verifyCertChain(r), Errc::Cert, {"Short Lived Root CA", "expired"});
}

TEST_CASE("chain: a certificate from another agency's CA fails")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    Ca other = makeRoot("Other Agency Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
    auto r = agency.request();
    r.trustAnchorsDer = {other.issuer.certDer};
    r.crlsDer = {agency.crl(other)};
    requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001"});

    SECTION("and so does one whose CA merely has the same name")
    {
        Ca twin = makeRoot("Test Agency Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
        r.trustAnchorsDer = {twin.issuer.certDer};
        r.crlsDer = {agency.crl(twin)};
        requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001"});
    }
}

TEST_CASE("chain: an altered certificate signature fails")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    Bytes altered = agency.device;
    altered.back() ^= 0x01; // last byte of the signature's s value
    auto r = agency.request();
    r.leafDer = altered;
    requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001", "signature"});
}

TEST_CASE("chain: a revoked leaf fails, naming its serial")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    std::string serial = serialOf(agency.device);
    auto r = agency.request();
    Ca unrelated = makeRoot("Unrelated Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
    SECTION("listed")
    {
        r.crlsDer = {agency.crl(agency.root, {"7f01", serial, "7f02"})};
        requireError(backend.verifyCertChain(r), Errc::Cert, {"revoked", serial, "cam-0001"});
    }
    SECTION("other serials listed: still valid")
    {
        r.crlsDer = {agency.crl(agency.root, {"7f01", "7f02"})};
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        CHECK(result.ok());
    }
    SECTION("listed by another CA's CRL only: not revoked by its own CA")
    {
        r.crlsDer = {agency.crl(agency.root), agency.crl(unrelated, {serial})};
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        CHECK(result.ok());
    }
}

TEST_CASE("chain: CRL problems are errors, not a pass")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto r = agency.request();
    SECTION("missing CRL")
    {
        r.crlsDer.clear();
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"no CRL from", "Test Agency Root CA"});
    }
    SECTION("CRL expired at the present time")
    {
        r.crlsDer = {makeCrl(agency.root, {}, agency.now - 40 * kDay, agency.now - 10 * kDay)};
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"CRL from", "Test Agency Root CA", "expired at"});
    }
    SECTION("CRL not yet valid at the present time")
    {
        r.crlsDer = {makeCrl(agency.root, {}, agency.now + kDay, agency.now + 30 * kDay)};
        requireError(backend.verifyCertChain(r), Errc::Cert, {"CRL", "not yet valid"});
    }
    SECTION("an expired CRL next to a current one does not matter")
    {
        r.crlsDer = {makeCrl(agency.root, {}, agency.now - 40 * kDay, agency.now - 10 * kDay),
                     agency.crl(agency.root),
                     makeCrl(agency.root, {}, agency.now + kDay, agency.now + 30 * kDay)};
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        CHECK(result.ok());
    }
    SECTION("CRL of another CA")
    {
        Ca other = makeRoot("Other Agency Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
        r.crlsDer = {agency.crl(other)};
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"no CRL from", "Test Agency Root CA"});
    }
    SECTION("CRL naming the agency CA but signed by another key")
    {
        Ca twin = makeRoot("Test Agency Root CA", kT0 - 365 * kDay, kT0 + 3650 * kDay);
        r.crlsDer = {agency.crl(twin)};
        requireError(backend.verifyCertChain(r), Errc::Cert,
                     {"no CRL from", "Test Agency Root CA"});
    }
    SECTION("garbage CRL")
    {
        r.crlsDer = {Bytes{0x30, 0x03, 0x02, 0x01, 0x01}};
        auto result = backend.verifyCertChain(r);
        REQUIRE_FALSE(result.ok());
        CHECK((result.error().code == Errc::Format || result.error().code == Errc::Cert));
    }
}

TEST_CASE("chain: a non-CA certificate cannot issue")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto deviceKey = keyOf(agency.deviceKey);
    auto victimKeyPair = newKey();
    auto victimKey = keyOf(victimKeyPair);
    RawCertSpec spec;
    spec.subjectKey = victimKey.get();
    spec.signingKey = deviceKey.get();
    spec.issuerDer = agency.device;
    spec.commonName = "cam-9999";
    spec.notBeforeUtcMs = kT0;
    spec.notAfterUtcMs = kT0 + 100 * kDay;
    Bytes forged = rawCert(spec);
    auto r = agency.request();
    r.leafDer = forged;
    r.intermediatesDer = {agency.device};
    r.crlsDer = {agency.crl(agency.root),
                 rawCrl(agency.device, deviceKey.get(), agency.now - kDay, agency.now + 30 * kDay)};
    requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-0001", "not a CA"});

    SECTION("and issuance refuses it outright")
    {
        Issuer notCa{agency.device, agency.deviceKey};
        CertRequest request{CertKind::Device, "cam-9999", "", victimKeyPair.pub, kT0, kT0 + kDay};
        requireError(issueCertificate(notCa, request), Errc::Cert, {"not a CA"});
    }
}

TEST_CASE("chain: only P-256 keys and ECDSA with SHA-256 are accepted")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto rootKey = keyOf(agency.root.issuer.key);
    auto r = agency.request();
    RawCertSpec spec;
    spec.signingKey = rootKey.get();
    spec.issuerDer = agency.root.issuer.certDer;
    spec.notBeforeUtcMs = kT0;
    spec.notAfterUtcMs = kT0 + 365 * kDay;

    SECTION("P-384 leaf key")
    {
        auto key = generateKey("EC", "P-384", 0);
        spec.subjectKey = key.get();
        spec.commonName = "cam-p384";
        Bytes leaf = rawCert(spec);
        requireError(backend.parseCertificateDer(leaf), Errc::Cert, {"P-256"});
        r.leafDer = leaf;
        requireError(backend.verifyCertChain(r), Errc::Cert, {"P-256"});
    }
    SECTION("RSA leaf key")
    {
        auto key = generateKey("RSA", nullptr, 2048);
        spec.subjectKey = key.get();
        spec.commonName = "cam-rsa";
        Bytes leaf = rawCert(spec);
        requireError(backend.parseCertificateDer(leaf), Errc::Cert, {"P-256"});
        r.leafDer = leaf;
        requireError(backend.verifyCertChain(r), Errc::Cert, {"P-256"});
    }
    SECTION("an RSA intermediate that is not on the path does not matter")
    {
        auto key = generateKey("RSA", nullptr, 2048);
        spec.subjectKey = key.get();
        spec.commonName = "Unrelated RSA CA";
        spec.isCa = true;
        r.intermediatesDer = {rawCert(spec)};
        auto result = backend.verifyCertChain(r);
        INFO((result.ok() ? std::string() : result.error().message));
        CHECK(result.ok());
    }
    SECTION("ECDSA with SHA-384 signature")
    {
        auto key = keyOf(agency.deviceKey);
        spec.subjectKey = key.get();
        spec.commonName = "cam-sha384";
        spec.md = EVP_sha384();
        Bytes leaf = rawCert(spec);
        REQUIRE(backend.parseCertificateDer(leaf).ok());
        r.leafDer = leaf;
        requireError(backend.verifyCertChain(r), Errc::Cert, {"cam-sha384", "SHA-256"});
    }
}

TEST_CASE("chain: garbage instead of a certificate")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    Bytes garbage = toBytes("this is not a certificate");
    requireError(backend.parseCertificateDer(garbage), Errc::Format, {});
    Bytes truncated(agency.device.begin(), agency.device.end() - 10);
    requireError(backend.parseCertificateDer(truncated), Errc::Format, {});
    Bytes trailing = agency.device;
    trailing.push_back(0);
    requireError(backend.parseCertificateDer(trailing), Errc::Format, {});
    auto r = agency.request();
    r.leafDer = garbage;
    requireError(backend.verifyCertChain(r), Errc::Format, {});
    r = agency.request();
    r.trustAnchorsDer = {Bytes{}};
    auto result = backend.verifyCertChain(r);
    REQUIRE_FALSE(result.ok());
    CHECK((result.error().code == Errc::Format || result.error().code == Errc::Cert));
}

TEST_CASE("parse: certificate fields")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    auto info = backend.parseCertificateDer(agency.device);
    INFO((info.ok() ? std::string() : info.error().message));
    REQUIRE(info.ok());
    CHECK(info->subjectCommonName == "cam-0001");
    CHECK(info->subject == "CN=cam-0001,O=Test Agency");
    CHECK(info->issuer == "CN=Test Agency Root CA,O=Test Agency");
    CHECK(info->serialHex.size() == 32);
    CHECK(info->serialHex == serialOf(agency.device));
    CHECK(info->serialHex.find_first_of("ABCDEF") == std::string::npos);
    CHECK(info->notBeforeUtcMs == kT0);
    CHECK(info->notAfterUtcMs == kT0 + 365 * kDay);
    CHECK_FALSE(info->isCa);
    CHECK(info->publicKey == agency.deviceKey.pub);
    CHECK(info->spkiSha256 == openssl().sha256(crypto::p256SpkiDer(agency.deviceKey.pub)));
    CHECK(info->spkiSha256 == crypto::p256KeyId(backend, agency.deviceKey.pub));
    CHECK(info->certSha256 == openssl().sha256(agency.device));

    auto root = backend.parseCertificateDer(agency.root.issuer.certDer);
    REQUIRE(root.ok());
    CHECK(root->isCa);
    CHECK(root->subject == root->issuer);
    CHECK(root->publicKey == agency.root.issuer.key.pub);
    CHECK(root->notBeforeUtcMs == kT0 - 365 * kDay);
    // 2036 is still UTCTime; a GeneralizedTime (2050-06-01T12:00:00Z) round-trips too.
    Ca late = makeRoot("Late Root CA", kT0, int64_t(2'537'697'600) * 1000);
    auto lateInfo = backend.parseCertificateDer(late.issuer.certDer);
    REQUIRE(lateInfo.ok());
    CHECK(lateInfo->notAfterUtcMs == int64_t(2'537'697'600) * 1000);
}

TEST_CASE("parse: CRL fields")
{
    BWC_PKI_EACH_BACKEND(backend);
    Agency agency;
    std::vector<Revocation> revoked{{"4a0102", kT0 + kDay}, {"7b", kT0 + 2 * kDay}};
    auto der = createCrl(agency.root.issuer, revoked, kT0 + 3 * kDay, kT0 + 33 * kDay, 42);
    REQUIRE(der.ok());
    auto info = backend.parseCrlDer(*der);
    INFO((info.ok() ? std::string() : info.error().message));
    REQUIRE(info.ok());
    CHECK(info->issuer == "CN=Test Agency Root CA,O=Test Agency");
    CHECK(info->thisUpdateUtcMs == kT0 + 3 * kDay);
    CHECK(info->nextUpdateUtcMs == kT0 + 33 * kDay);
    std::vector<std::string> serials = info->revokedSerialsHex;
    std::sort(serials.begin(), serials.end());
    CHECK(serials == std::vector<std::string>{"4a0102", "7b"});
    auto number = crlNumberOf(*der);
    REQUIRE(number.ok());
    CHECK(*number == 42);
    requireError(backend.parseCrlDer(toBytes("garbage")), Errc::Format, {});
}

} // namespace
} // namespace bwc::pki::test
