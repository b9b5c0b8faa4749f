#include "pki_test_util.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace bwc::pki::test {

using namespace crypto::ossl;

const std::vector<std::string> &backendNames()
{
    static const std::vector<std::string> names{"openssl", "mbedtls"};
    return names;
}

const crypto::Backend &backendNamed(const std::string &name)
{
    static const std::unique_ptr<crypto::Backend> opensslBackend = crypto::makeOpensslBackend();
    static const std::unique_ptr<crypto::Backend> mbedtlsBackend = crypto::makeMbedtlsBackend();
    if (name == "openssl")
        return *opensslBackend;
    REQUIRE(name == "mbedtls");
    REQUIRE(mbedtlsBackend);
    return *mbedtlsBackend;
}

const crypto::Backend &openssl()
{
    return backendNamed("openssl");
}

crypto::P256KeyPair newKey()
{
    auto key = openssl().p256Generate();
    REQUIRE(key.ok());
    return *key;
}

Ca makeRoot(const std::string &commonName, int64_t notBeforeUtcMs, int64_t notAfterUtcMs)
{
    Ca ca;
    ca.issuer.key = newKey();
    auto der =
        createRootCa(ca.issuer.key, commonName, "Test Agency", notBeforeUtcMs, notAfterUtcMs);
    REQUIRE(der.ok());
    ca.issuer.certDer = *der;
    auto info = openssl().parseCertificateDer(ca.issuer.certDer);
    REQUIRE(info.ok());
    ca.info = *info;
    return ca;
}

Ca makeIntermediate(const Ca &parent, const std::string &commonName, int64_t notBeforeUtcMs,
                    int64_t notAfterUtcMs)
{
    Ca ca;
    ca.issuer.key = newKey();
    CertRequest request{CertKind::RootCa,  commonName,     "Test Agency",
                        ca.issuer.key.pub, notBeforeUtcMs, notAfterUtcMs};
    auto der = issueCertificate(parent.issuer, request);
    REQUIRE(der.ok());
    ca.issuer.certDer = *der;
    auto info = openssl().parseCertificateDer(ca.issuer.certDer);
    REQUIRE(info.ok());
    ca.info = *info;
    return ca;
}

Bytes makeLeaf(const Ca &ca, CertKind kind, const std::string &commonName,
               const crypto::P256Point &pub, int64_t notBeforeUtcMs, int64_t notAfterUtcMs)
{
    CertRequest request{kind, commonName, "Test Agency", pub, notBeforeUtcMs, notAfterUtcMs};
    auto der = issueCertificate(ca.issuer, request);
    INFO((der.ok() ? std::string() : der.error().message));
    REQUIRE(der.ok());
    return *der;
}

Bytes makeCrl(const Ca &ca, const std::vector<std::string> &revokedSerials, int64_t thisUpdateUtcMs,
              int64_t nextUpdateUtcMs)
{
    std::vector<Revocation> revoked;
    for (const std::string &serial : revokedSerials)
        revoked.push_back({serial, thisUpdateUtcMs - kDay});
    auto der = createCrl(ca.issuer, revoked, thisUpdateUtcMs, nextUpdateUtcMs, 7);
    REQUIRE(der.ok());
    return *der;
}

PkeyPtr keyOf(const crypto::P256KeyPair &key)
{
    auto pkey = p256KeyPairKey(key);
    REQUIRE(pkey.ok());
    return std::move(*pkey);
}

PkeyPtr generateKey(const char *type, const char *curveOrNull, size_t rsaBits)
{
    PkeyPtr key(curveOrNull ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curveOrNull)
                            : EVP_PKEY_Q_keygen(nullptr, nullptr, type, rsaBits));
    REQUIRE(key);
    return key;
}

namespace {

X509Ptr decode(ByteView der)
{
    const unsigned char *p = der.data();
    X509Ptr x509(d2i_X509(nullptr, &p, long(der.size())));
    REQUIRE(x509);
    return x509;
}

Asn1TimePtr timeOf(int64_t utcMs)
{
    auto t = utcMsToAsn1Time(utcMs);
    REQUIRE(t.ok());
    return std::move(*t);
}

} // namespace

Bytes rawCert(const RawCertSpec &spec)
{
    X509Ptr cert(X509_new());
    REQUIRE(cert);
    X509Ptr issuer = spec.issuerDer.empty() ? nullptr : decode(spec.issuerDer);
    NamePtr subject(X509_NAME_new());
    REQUIRE(
        X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char *>(spec.commonName.data()),
                                   int(spec.commonName.size()), -1, 0) == 1);
    uint8_t serialBytes[8];
    REQUIRE(RAND_bytes(serialBytes, sizeof serialBytes) == 1);
    serialBytes[0] = uint8_t((serialBytes[0] & 0x7f) | 0x40);
    auto serial = integerFromHex(toHex(serialBytes));
    REQUIRE(serial.ok());
    REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
    REQUIRE(X509_set_serialNumber(cert.get(), serial->get()) == 1);
    REQUIRE(X509_set_subject_name(cert.get(), subject.get()) == 1);
    REQUIRE(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer.get())
                                                    : subject.get()) == 1);
    REQUIRE(X509_set1_notBefore(cert.get(), timeOf(spec.notBeforeUtcMs).get()) == 1);
    REQUIRE(X509_set1_notAfter(cert.get(), timeOf(spec.notAfterUtcMs).get()) == 1);
    REQUIRE(X509_set_pubkey(cert.get(), spec.subjectKey) == 1);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer.get() : cert.get(), cert.get(), nullptr, nullptr, 0);
    ExtensionPtr bc(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_basic_constraints,
                                         spec.isCa ? "critical,CA:TRUE" : "critical,CA:FALSE"));
    REQUIRE(bc);
    REQUIRE(X509_add_ext(cert.get(), bc.get(), -1) == 1);
    REQUIRE(X509_sign(cert.get(), spec.signingKey, spec.md ? spec.md : EVP_sha256()) > 0);
    unsigned char *der = nullptr;
    int len = i2d_X509(cert.get(), &der);
    OpensslBuf owner(der);
    REQUIRE(len > 0);
    return Bytes(der, der + len);
}

Bytes rawCrl(ByteView issuerDer, EVP_PKEY *signingKey, int64_t thisUpdateUtcMs,
             int64_t nextUpdateUtcMs)
{
    X509Ptr issuer = decode(issuerDer);
    CrlPtr crl(X509_CRL_new());
    REQUIRE(crl);
    REQUIRE(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1);
    REQUIRE(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get())) == 1);
    REQUIRE(X509_CRL_set1_lastUpdate(crl.get(), timeOf(thisUpdateUtcMs).get()) == 1);
    REQUIRE(X509_CRL_set1_nextUpdate(crl.get(), timeOf(nextUpdateUtcMs).get()) == 1);
    REQUIRE(X509_CRL_sign(crl.get(), signingKey, EVP_sha256()) > 0);
    unsigned char *der = nullptr;
    int len = i2d_X509_CRL(crl.get(), &der);
    OpensslBuf owner(der);
    REQUIRE(len > 0);
    return Bytes(der, der + len);
}

bool containsNoCase(std::string_view haystack, std::string_view needle)
{
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                          [](char a, char b) {
                              return std::tolower(static_cast<unsigned char>(a)) ==
                                     std::tolower(static_cast<unsigned char>(b));
                          });
    return it != haystack.end();
}

} // namespace bwc::pki::test
