#include "dock/pki/pki.h"

#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/base/clock.h"
#include "common/crypto/platform/openssl/openssl_util.h"

namespace bwc::pki {

using namespace crypto::ossl;

std::string_view certKindName(CertKind kind)
{
    switch (kind) {
    case CertKind::RootCa:
        return "root-ca";
    case CertKind::Device:
        return "device";
    case CertKind::Dock:
        return "dock";
    case CertKind::Recipient:
        return "recipient";
    }
    return "unknown";
}

namespace {

// X.520 upper bound of commonName and organizationName, in characters.
constexpr size_t kMaxNameChars = 64;

const crypto::Backend &backend()
{
    static const std::unique_ptr<crypto::Backend> instance = crypto::makeOpensslBackend();
    return *instance;
}

Expected<void> checkNameValue(std::string_view what, const std::string &value, bool required)
{
    if (value.empty()) {
        if (required)
            return Error(Errc::Usage, std::string(what) + " must not be empty");
        return {};
    }
    size_t chars = 0;
    for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f)
            return Error(Errc::Usage,
                         std::string(what) + " '" + value + "' contains a control character");
        if ((c & 0xc0) != 0x80)
            ++chars;
    }
    if (chars > kMaxNameChars)
        return Error(Errc::Usage, std::string(what) + " '" + value + "' is longer than " +
                                      std::to_string(kMaxNameChars) + " characters");
    return {};
}

// A DNS name for the dock's subjectAltName: letters, digits, '-' and '.', no empty label.
Expected<void> checkDnsName(const std::string &name)
{
    bool ok = !name.empty() && name.size() <= 253 && name.front() != '.' && name.back() != '.' &&
              name.find("..") == std::string::npos;
    for (char c : name)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.');
    if (!ok)
        return Error(Errc::Usage, "dock name '" + name +
                                      "' is not a DNS host name (letters, digits, '-' and '.'); "
                                      "it goes into the certificate's subjectAltName");
    return {};
}

Expected<NamePtr> makeName(const std::string &commonName, const std::string &organization)
{
    BWC_TRY(checkNameValue("common name", commonName, true));
    BWC_TRY(checkNameValue("organization", organization, false));
    NamePtr name(X509_NAME_new());
    if (!name)
        fatal("out of memory for an X.509 name");
    auto add = [&](int nid, const std::string &value) {
        return X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char *>(value.data()),
                                          int(value.size()), -1, 0) == 1;
    };
    if (!add(NID_commonName, commonName) ||
        (!organization.empty() && !add(NID_organizationName, organization)))
        return opensslError(Errc::Usage, "cannot encode the name CN=" + commonName +
                                             (organization.empty() ? "" : ",O=" + organization) +
                                             " (is it valid UTF-8?)");
    return name;
}

// A random positive serial of exactly 16 bytes: the top bit is clear (no DER sign byte)
// and the next one set (no leading zero byte), leaving 126 random bits.
Expected<Asn1IntegerPtr> randomSerial()
{
    uint8_t bytes[16];
    BWC_TRY(backend().randomBytes(bytes));
    bytes[0] = uint8_t((bytes[0] & 0x7f) | 0x40);
    BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    if (!serial)
        return opensslError(Errc::Crypto, "cannot encode a certificate serial number");
    return serial;
}

Expected<void> checkTimes(std::string_view what, int64_t fromUtcMs, int64_t toUtcMs)
{
    if (fromUtcMs >= toUtcMs)
        return Error(Errc::Usage, std::string(what) + ": the period ends (" + formatUtcMs(toUtcMs) +
                                      ") before it starts (" + formatUtcMs(fromUtcMs) + ")");
    return {};
}

// The signing key of `issuer` as an EVP_PKEY, after checking that it belongs to the
// issuer's certificate and that the certificate is a CA's.
struct LoadedIssuer {
    X509Ptr cert;
    PkeyPtr key;
};

Expected<LoadedIssuer> loadIssuer(const Issuer &issuer)
{
    const unsigned char *p = issuer.certDer.data();
    X509Ptr cert(d2i_X509(nullptr, &p, long(issuer.certDer.size())));
    if (!cert || p != issuer.certDer.data() + issuer.certDer.size()) {
        drainErrors();
        return Error(Errc::Format, "issuer certificate: not a DER X.509 certificate");
    }
    BWC_ASSIGN(info, backend().parseCertificateDer(issuer.certDer));
    if (!info.isCa)
        return Error(Errc::Cert, "issuer " + info.subject +
                                     " is not a CA certificate and cannot issue certificates");
    if (info.publicKey != issuer.key.pub)
        return Error(Errc::Crypto, "issuer " + info.subject +
                                       ": the signing key does not belong to its certificate");
    auto key = p256KeyPairKey(issuer.key);
    if (!key)
        return std::move(key).error().context("issuer " + info.subject + " key");
    return LoadedIssuer{std::move(cert), std::move(*key)};
}

// Adds one extension written in OpenSSL's configuration syntax (fixed strings only).
Expected<void> addExtension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
        return opensslError(Errc::Crypto,
                            std::string("cannot add extension ") + OBJ_nid2sn(nid) + " = " + value);
    return {};
}

Expected<void> addDnsAltName(X509 *cert, const std::string &dnsName)
{
    BWC_TRY(checkDnsName(dnsName));
    GeneralNamesPtr names(GENERAL_NAMES_new());
    GeneralNamePtr name(GENERAL_NAME_new());
    Asn1StringPtr ia5(ASN1_IA5STRING_new());
    if (!names || !name || !ia5)
        fatal("out of memory for a subjectAltName");
    if (ASN1_STRING_set(ia5.get(), dnsName.data(), int(dnsName.size())) != 1)
        return opensslError(Errc::Crypto, "cannot encode DNS name " + dnsName);
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, ia5.release());
    if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0)
        fatal("out of memory for a subjectAltName");
    name.release();
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
        return opensslError(Errc::Crypto, "cannot add subjectAltName DNS:" + dnsName);
    return {};
}

Expected<void> addProfile(X509 *cert, X509V3_CTX *ctx, CertKind kind, bool selfSigned,
                          const std::string &commonName)
{
    switch (kind) {
    case CertKind::RootCa:
        BWC_TRY(addExtension(cert, ctx, NID_basic_constraints,
                             selfSigned ? "critical,CA:TRUE" : "critical,CA:TRUE,pathlen:0"));
        BWC_TRY(addExtension(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
        break;
    case CertKind::Device:
        BWC_TRY(addExtension(cert, ctx, NID_basic_constraints, "critical,CA:FALSE"));
        BWC_TRY(addExtension(cert, ctx, NID_key_usage, "critical,digitalSignature"));
        BWC_TRY(addExtension(cert, ctx, NID_ext_key_usage, "clientAuth"));
        break;
    case CertKind::Dock:
        BWC_TRY(addExtension(cert, ctx, NID_basic_constraints, "critical,CA:FALSE"));
        BWC_TRY(addExtension(cert, ctx, NID_key_usage, "critical,digitalSignature"));
        BWC_TRY(addExtension(cert, ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
        BWC_TRY(addDnsAltName(cert, commonName));
        break;
    case CertKind::Recipient:
        BWC_TRY(addExtension(cert, ctx, NID_basic_constraints, "critical,CA:FALSE"));
        BWC_TRY(addExtension(cert, ctx, NID_key_usage, "critical,keyAgreement"));
        break;
    }
    // The subject key identifier first: for a self-signed certificate the authority key
    // identifier is taken from it.
    BWC_TRY(addExtension(cert, ctx, NID_subject_key_identifier, "hash"));
    BWC_TRY(addExtension(cert, ctx, NID_authority_key_identifier, "keyid:always"));
    return {};
}

Expected<Bytes> toDer(X509 *cert)
{
    unsigned char *der = nullptr;
    int len = i2d_X509(cert, &der);
    OpensslBuf owner(der);
    if (len <= 0)
        return opensslError(Errc::Crypto, "cannot encode the certificate");
    return Bytes(der, der + len);
}

// Builds and signs a certificate. `issuerCert` is null for a self-signed one, in which
// case `signingKey` is the subject's own key.
Expected<Bytes> buildCertificate(X509 *issuerCert, EVP_PKEY *signingKey, const CertRequest &request)
{
    std::string who =
        std::string(certKindName(request.kind)) + " certificate CN=" + request.commonName;
    BWC_TRY(checkTimes(who, request.notBeforeUtcMs, request.notAfterUtcMs));
    auto subject = makeName(request.commonName, request.organization);
    if (!subject)
        return std::move(subject).error().context(who);
    auto subjectKey = p256PublicKey(request.publicKey);
    if (!subjectKey)
        return std::move(subjectKey).error().context(who + ": public key");
    BWC_ASSIGN(serial, randomSerial());
    BWC_ASSIGN(notBefore, utcMsToAsn1Time(request.notBeforeUtcMs));
    BWC_ASSIGN(notAfter, utcMsToAsn1Time(request.notAfterUtcMs));

    X509Ptr cert(X509_new());
    if (!cert)
        fatal("out of memory for a certificate");
    const X509_NAME *issuerName = issuerCert ? X509_get_subject_name(issuerCert) : subject->get();
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
        X509_set_subject_name(cert.get(), subject->get()) != 1 ||
        X509_set_issuer_name(cert.get(), issuerName) != 1 ||
        X509_set1_notBefore(cert.get(), notBefore.get()) != 1 ||
        X509_set1_notAfter(cert.get(), notAfter.get()) != 1 ||
        X509_set_pubkey(cert.get(), subjectKey->get()) != 1)
        return opensslError(Errc::Crypto, who + ": cannot fill in the certificate");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuerCert ? issuerCert : cert.get(), cert.get(), nullptr, nullptr, 0);
    if (X509V3_set_issuer_pkey(&ctx, signingKey) != 1)
        return opensslError(Errc::Crypto, who + ": cannot set the issuer key");
    BWC_TRY(addProfile(cert.get(), &ctx, request.kind, issuerCert == nullptr, request.commonName));

    if (X509_sign(cert.get(), signingKey, EVP_sha256()) <= 0)
        return opensslError(Errc::Crypto, who + ": signing failed");
    return toDer(cert.get());
}

} // namespace

Expected<Bytes> createRootCa(const crypto::P256KeyPair &key, const std::string &commonName,
                             const std::string &organization, int64_t notBeforeUtcMs,
                             int64_t notAfterUtcMs)
{
    auto signingKey = p256KeyPairKey(key);
    if (!signingKey)
        return std::move(signingKey).error().context("agency CA key");
    CertRequest request{CertKind::RootCa, commonName,     organization,
                        key.pub,          notBeforeUtcMs, notAfterUtcMs};
    return buildCertificate(nullptr, signingKey->get(), request);
}

Expected<Bytes> issueCertificate(const Issuer &issuer, const CertRequest &request)
{
    BWC_ASSIGN(loaded, loadIssuer(issuer));
    return buildCertificate(loaded.cert.get(), loaded.key.get(), request);
}

Expected<Bytes> createCrl(const Issuer &issuer, const std::vector<Revocation> &revoked,
                          int64_t thisUpdateUtcMs, int64_t nextUpdateUtcMs, uint64_t crlNumber)
{
    BWC_ASSIGN(loaded, loadIssuer(issuer));
    std::string issuerName = nameOneLine(X509_get_subject_name(loaded.cert.get()));
    std::string who = "CRL of " + issuerName;
    BWC_TRY(checkTimes(who, thisUpdateUtcMs, nextUpdateUtcMs));
    BWC_ASSIGN(thisUpdate, utcMsToAsn1Time(thisUpdateUtcMs));
    BWC_ASSIGN(nextUpdate, utcMsToAsn1Time(nextUpdateUtcMs));

    CrlPtr crl(X509_CRL_new());
    if (!crl)
        fatal("out of memory for a CRL");
    if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(loaded.cert.get())) != 1 ||
        X509_CRL_set1_lastUpdate(crl.get(), thisUpdate.get()) != 1 ||
        X509_CRL_set1_nextUpdate(crl.get(), nextUpdate.get()) != 1)
        return opensslError(Errc::Crypto, who + ": cannot fill in the CRL");

    for (const Revocation &r : revoked) {
        auto serial = integerFromHex(r.serialHex);
        if (!serial)
            return std::move(serial).error().context(who);
        BWC_ASSIGN(when, utcMsToAsn1Time(r.revokedUtcMs));
        RevokedPtr entry(X509_REVOKED_new());
        if (!entry)
            fatal("out of memory for a CRL entry");
        if (X509_REVOKED_set_serialNumber(entry.get(), serial->get()) != 1 ||
            X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1 ||
            X509_CRL_add0_revoked(crl.get(), entry.get()) != 1)
            return opensslError(Errc::Crypto, who + ": cannot add serial " + r.serialHex);
        entry.release();
    }
    X509_CRL_sort(crl.get());

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, loaded.cert.get(), nullptr, nullptr, crl.get(), 0);
    ExtensionPtr aki(
        X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
    Asn1IntegerPtr number(ASN1_INTEGER_new());
    if (!aki || !number || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1 ||
        ASN1_INTEGER_set_uint64(number.get(), crlNumber) != 1 ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1)
        return opensslError(Errc::Crypto, who + ": cannot add its extensions");

    if (X509_CRL_sign(crl.get(), loaded.key.get(), EVP_sha256()) <= 0)
        return opensslError(Errc::Crypto, who + ": signing failed");
    unsigned char *der = nullptr;
    int len = i2d_X509_CRL(crl.get(), &der);
    OpensslBuf owner(der);
    if (len <= 0)
        return opensslError(Errc::Crypto, who + ": cannot encode it");
    return Bytes(der, der + len);
}

Expected<uint64_t> crlNumberOf(ByteView crlDer)
{
    const unsigned char *p = crlDer.data();
    CrlPtr crl(d2i_X509_CRL(nullptr, &p, long(crlDer.size())));
    if (!crl || p != crlDer.data() + crlDer.size()) {
        drainErrors();
        return Error(Errc::Format, "not a DER X.509 CRL");
    }
    int critical = -1;
    Asn1IntegerPtr number(static_cast<ASN1_INTEGER *>(
        X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &critical, nullptr)));
    uint64_t value = 0;
    if (!number || ASN1_INTEGER_get_uint64(&value, number.get()) != 1) {
        drainErrors();
        return Error(Errc::Format, "CRL has no usable CRL number extension");
    }
    return value;
}

} // namespace bwc::pki
