// X.509 certificates, CRLs and chain validation for the OpenSSL 3 backend.
//
// Path building, signatures, validity and revocation are checked here rather than with
// X509_verify_cert: certificates are checked at the time a clip was signed while CRLs are
// checked at the present time, and every failure must name the certificate and say what
// to do about it.

#include <algorithm>
#include <ctime>
#include <optional>

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "common/base/clock.h"
#include "common/crypto/platform/openssl/openssl_util.h"

namespace bwc::crypto::ossl {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

// Floor division of milliseconds to seconds (times before 1970 round down too).
int64_t floorSeconds(int64_t utcMs)
{
    return utcMs >= 0 ? utcMs / 1000 : -((-utcMs + 999) / 1000);
}

std::string asn1StringUtf8(const ASN1_STRING *value)
{
    unsigned char *utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, value);
    OpensslBuf owner(utf8);
    if (len < 0) {
        drainErrors();
        return "?";
    }
    std::string out(reinterpret_cast<const char *>(utf8), size_t(len));
    // One line, no control characters.
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

} // namespace

Expected<int64_t> asn1TimeToUtcMs(const ASN1_TIME *time)
{
    tm t{};
    if (!time || ASN1_TIME_to_tm(time, &t) != 1) {
        drainErrors();
        return Error(Errc::Format, "malformed ASN.1 time");
    }
    int64_t days =
        daysFromCivil(int64_t(t.tm_year) + 1900, unsigned(t.tm_mon + 1), unsigned(t.tm_mday));
    int64_t secs = days * 86400 + t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec;
    return secs * 1000;
}

Expected<Asn1TimePtr> utcMsToAsn1Time(int64_t utcMs)
{
    // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; ASN1_TIME_set does that.
    Asn1TimePtr out(ASN1_TIME_set(nullptr, time_t(floorSeconds(utcMs))));
    if (!out)
        return opensslError(Errc::Format,
                            "time " + formatUtcMs(utcMs) + " cannot be written as an X.509 time");
    return out;
}

std::string nameOneLine(const X509_NAME *name)
{
    std::string out;
    int count = X509_NAME_entry_count(name);
    for (int i = 0; i < count; ++i) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(entry);
        int nid = OBJ_obj2nid(obj);
        std::string key;
        if (nid != NID_undef && OBJ_nid2sn(nid)) {
            key = OBJ_nid2sn(nid);
        } else {
            char oid[80] = {};
            OBJ_obj2txt(oid, sizeof oid, obj, 1);
            key = oid;
        }
        if (!out.empty())
            out += ',';
        out += key + "=" + asn1StringUtf8(X509_NAME_ENTRY_get_data(entry));
    }
    return out;
}

std::string nameCommonName(const X509_NAME *name)
{
    int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (index < 0)
        return "";
    return asn1StringUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
}

std::string integerHex(const ASN1_INTEGER *value)
{
    ByteView magnitude(ASN1_STRING_get0_data(value), size_t(ASN1_STRING_length(value)));
    while (magnitude.size() > 1 && magnitude[0] == 0)
        magnitude = magnitude.subspan(1);
    std::string hex = magnitude.empty() ? "00" : toHex(magnitude);
    return ASN1_STRING_type(value) == V_ASN1_NEG_INTEGER ? "-" + hex : hex;
}

Expected<Asn1IntegerPtr> integerFromHex(std::string_view hex)
{
    std::string digits(hex);
    if (digits.size() % 2)
        digits.insert(0, "0");
    auto bytes = fromHex(digits);
    if (hex.empty() || !bytes)
        return Error(Errc::Format, "serial number '" + std::string(hex) + "' is not hexadecimal");
    BnPtr bn(BN_bin2bn(bytes->data(), int(bytes->size()), nullptr));
    Asn1IntegerPtr out(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    if (!out)
        return opensslError(Errc::Format, "cannot encode serial number " + std::string(hex));
    return out;
}

namespace {

// A parsed certificate with what the checks and messages need.
struct Cert {
    X509Ptr x509;
    CertInfo info;
    // Why the certificate is unusable (e.g. not a P-256 key). An intermediate or anchor
    // with a problem only fails the verification if the path goes through it.
    std::optional<Error> problem;

    // "certificate CN=cam-0001 (serial 0a1b...)"
    std::string label() const
    {
        std::string cn =
            info.subjectCommonName.empty() ? info.subject : "CN=" + info.subjectCommonName;
        return "certificate " + cn + " (serial " + info.serialHex + ")";
    }
};

Expected<X509Ptr> decodeCertificate(ByteView der)
{
    const unsigned char *p = der.data();
    X509Ptr x509(d2i_X509(nullptr, &p, long(der.size())));
    if (!x509) {
        drainErrors();
        return Error(Errc::Format, "not a DER X.509 certificate");
    }
    if (p != der.data() + der.size())
        return Error(Errc::Format, "unexpected data after the DER certificate");
    return x509;
}

Expected<CertInfo> describeCertificate(const Backend &backend, X509 *x509, ByteView der)
{
    CertInfo info;
    info.subjectCommonName = nameCommonName(X509_get_subject_name(x509));
    info.subject = nameOneLine(X509_get_subject_name(x509));
    info.issuer = nameOneLine(X509_get_issuer_name(x509));
    info.serialHex = integerHex(X509_get0_serialNumber(x509));
    std::string who =
        "certificate " +
        (info.subjectCommonName.empty() ? info.subject : "CN=" + info.subjectCommonName) +
        " (serial " + info.serialHex + ")";

    auto notBefore = asn1TimeToUtcMs(X509_get0_notBefore(x509));
    auto notAfter = asn1TimeToUtcMs(X509_get0_notAfter(x509));
    if (!notBefore || !notAfter)
        return Error(Errc::Format, who + ": malformed validity period");
    info.notBeforeUtcMs = *notBefore;
    info.notAfterUtcMs = *notAfter;

    int critical = -1;
    BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS *>(
        X509_get_ext_d2i(x509, NID_basic_constraints, &critical, nullptr)));
    if (!bc && critical != -1) {
        drainErrors();
        return Error(Errc::Format, who + ": malformed or repeated basicConstraints extension");
    }
    info.isCa = bc && bc->ca;

    EVP_PKEY *pkey = X509_get0_pubkey(x509);
    if (!pkey) {
        drainErrors();
        return Error(Errc::Cert, who + ": unreadable public key");
    }
    auto point = p256PointOfKey(pkey, Errc::Cert);
    if (!point)
        return std::move(point).error().context(who);
    info.publicKey = *point;

    unsigned char *spki = nullptr;
    int spkiLen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &spki);
    OpensslBuf spkiOwner(spki);
    if (spkiLen <= 0)
        return opensslError(Errc::Format, who + ": cannot encode its SubjectPublicKeyInfo");
    info.spkiSha256 = backend.sha256(ByteView(spki, size_t(spkiLen)));
    info.certSha256 = backend.sha256(der);
    return info;
}

Expected<Cert> loadCert(const Backend &backend, ByteView der, const std::string &role)
{
    auto x509 = decodeCertificate(der);
    if (!x509)
        return std::move(x509).error().context(role);
    Cert cert;
    cert.x509 = std::move(*x509);
    auto info = describeCertificate(backend, cert.x509.get(), der);
    if (info) {
        cert.info = std::move(*info);
    } else {
        cert.problem = std::move(info).error();
        X509 *x = cert.x509.get();
        cert.info.subjectCommonName = nameCommonName(X509_get_subject_name(x));
        cert.info.subject = nameOneLine(X509_get_subject_name(x));
        cert.info.issuer = nameOneLine(X509_get_issuer_name(x));
        cert.info.serialHex = integerHex(X509_get0_serialNumber(x));
    }
    return cert;
}

struct Crl {
    CrlPtr crl;
    int64_t thisUpdateUtcMs = 0;
    std::optional<int64_t> nextUpdateUtcMs;
    size_t index = 0;
};

Expected<Crl> loadCrl(ByteView der, size_t index)
{
    std::string role = "CRL " + std::to_string(index + 1);
    const unsigned char *p = der.data();
    CrlPtr crl(d2i_X509_CRL(nullptr, &p, long(der.size())));
    if (!crl) {
        drainErrors();
        return Error(Errc::Format, role + ": not a DER X.509 CRL");
    }
    if (p != der.data() + der.size())
        return Error(Errc::Format, role + ": unexpected data after the DER CRL");
    Crl out;
    out.index = index;
    auto thisUpdate = asn1TimeToUtcMs(X509_CRL_get0_lastUpdate(crl.get()));
    if (!thisUpdate)
        return Error(Errc::Format, role + ": malformed thisUpdate time");
    out.thisUpdateUtcMs = *thisUpdate;
    if (const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl.get())) {
        auto nextUpdate = asn1TimeToUtcMs(next);
        if (!nextUpdate)
            return Error(Errc::Format, role + ": malformed nextUpdate time");
        out.nextUpdateUtcMs = *nextUpdate;
    }
    out.crl = std::move(crl);
    return out;
}

bool hasCriticalExtension(const X509_CRL *crl)
{
    int count = X509_CRL_get_ext_count(crl);
    for (int i = 0; i < count; ++i)
        if (X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i)))
            return true;
    return false;
}

std::string signatureAlgorithmName(int nid)
{
    const char *name = nid == NID_undef ? nullptr : OBJ_nid2ln(nid);
    return name ? name : "an unknown algorithm";
}

constexpr size_t kMaxPathLength = 8;

const char *kGetCrl = "get a current CRL from the agency with `bwc pki crl`";

// What to do about an unusable leaf, by what the certificate is for.
std::string renewHint(const Cert &cert)
{
    X509 *x509 = cert.x509.get();
    uint32_t flags = X509_get_extension_flags(x509);
    drainErrors();
    uint32_t eku = (flags & EXFLAG_XKUSAGE) ? X509_get_extended_key_usage(x509) : 0;
    uint32_t ku = (flags & EXFLAG_KUSAGE) ? X509_get_key_usage(x509) : 0;
    const std::string cn = cert.info.subjectCommonName;
    if (eku & XKU_SSL_SERVER)
        return "issue a new dock certificate with `bwc pki issue-dock " + cn + "`";
    if (eku & XKU_SSL_CLIENT)
        return "issue a new device certificate with `bwc pki issue-device " + cn + "`";
    if (ku & KU_KEY_AGREEMENT)
        return "issue a new recipient certificate with `bwc pki issue-recipient " + cn + "`";
    return "issue a new certificate for it with `bwc pki`";
}

// Checks of one certificate at position `depth` of the path (0 = leaf).
Expected<void> checkPathCert(const Cert &cert, size_t depth, bool isAnchor, int64_t atUtcMs)
{
    if (cert.problem)
        return *cert.problem;
    X509 *x509 = cert.x509.get();
    int sigNid = X509_get_signature_nid(x509);
    if (sigNid != NID_ecdsa_with_SHA256)
        return Error(Errc::Cert, cert.label() + ": signed with " + signatureAlgorithmName(sigNid) +
                                     "; only ECDSA with SHA-256 is accepted");
    uint32_t flags = X509_get_extension_flags(x509);
    drainErrors();
    if (flags & EXFLAG_INVALID)
        return Error(Errc::Cert, cert.label() + ": malformed extensions");
    if (flags & EXFLAG_CRITICAL)
        return Error(Errc::Cert, cert.label() +
                                     ": carries a critical extension this verifier does not "
                                     "support, so it cannot be accepted");
    if (atUtcMs < cert.info.notBeforeUtcMs || atUtcMs > cert.info.notAfterUtcMs) {
        bool early = atUtcMs < cert.info.notBeforeUtcMs;
        std::string what = early ? "is not yet valid at " + formatUtcMs(atUtcMs) + " (valid from " +
                                       formatUtcMs(cert.info.notBeforeUtcMs) + ")"
                                 : "expired at " + formatUtcMs(cert.info.notAfterUtcMs) +
                                       " (checked at " + formatUtcMs(atUtcMs) + ")";
        std::string todo;
        if (depth == 0)
            todo = early ? "; check the signer's clock, or " + renewHint(cert)
                         : "; " + renewHint(cert);
        else
            todo = isAnchor ? "; the agency CA must be renewed (`bwc pki init` for a new agency "
                              "PKI) and its certificates reissued"
                            : "; the intermediate CA must be reissued";
        return Error(Errc::Cert, cert.label() + " " + what + todo);
    }
    if (depth > 0) {
        if (!cert.info.isCa)
            return Error(Errc::Cert, cert.label() +
                                         " is used as an issuer but is not a CA certificate "
                                         "(basicConstraints CA:FALSE); only the agency CA may "
                                         "issue certificates");
        if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x509) & KU_KEY_CERT_SIGN))
            return Error(Errc::Cert, cert.label() +
                                         " is used as an issuer but its keyUsage does not "
                                         "allow certificate signing");
        long pathLen = X509_get_pathlen(x509);
        if (pathLen >= 0 && long(depth - 1) > pathLen)
            return Error(Errc::Cert, cert.label() + " allows at most " + std::to_string(pathLen) +
                                         " intermediate CA(s) below it; the path has " +
                                         std::to_string(depth - 1));
    }
    return {};
}

// Finds the CRL issued and signed by `ca`, checks its time window and whether `child`
// is listed.
Expected<void> checkRevocation(const Cert &ca, const Cert &child, std::vector<Crl> &crls,
                               int64_t nowUtcMs)
{
    const std::string caName = ca.info.subject;
    EVP_PKEY *caKey = X509_get0_pubkey(ca.x509.get());
    Crl *best = nullptr;
    bool badSignature = false;
    bool unsupported = false;
    for (Crl &crl : crls) {
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl.crl.get()),
                          X509_get_subject_name(ca.x509.get())) != 0)
            continue;
        if (X509_CRL_verify(crl.crl.get(), caKey) != 1) {
            drainErrors();
            badSignature = true;
            continue;
        }
        // A delta CRL or one with a scope restriction is not a complete list.
        if (hasCriticalExtension(crl.crl.get())) {
            unsupported = true;
            continue;
        }
        // Prefer a CRL that is current; among equals, the newest. Otherwise the newest
        // one decides the error message.
        auto current = [nowUtcMs](const Crl &c) {
            return c.thisUpdateUtcMs <= nowUtcMs && c.nextUpdateUtcMs &&
                   nowUtcMs < *c.nextUpdateUtcMs;
        };
        if (!best || (current(crl) && !current(*best)) ||
            (current(crl) == current(*best) && crl.thisUpdateUtcMs > best->thisUpdateUtcMs))
            best = &crl;
    }
    if (!best) {
        std::string why;
        if (badSignature)
            why = "the CRL naming it as issuer is not signed by its key (altered, or from another "
                  "CA with the same name)";
        else if (unsupported)
            why = "its CRL carries a critical extension (delta or partial CRL) this verifier does "
                  "not support";
        else
            why = "the revocation status of " + child.label() + " cannot be checked";
        return Error(Errc::Cert, "no CRL from " + caName + ": " + why + "; " + kGetCrl);
    }
    if (nowUtcMs < best->thisUpdateUtcMs)
        return Error(Errc::Cert, "CRL from " + caName + " is not yet valid: issued for " +
                                     formatUtcMs(best->thisUpdateUtcMs) + ", now is " +
                                     formatUtcMs(nowUtcMs) + "; check this machine's clock");
    if (!best->nextUpdateUtcMs)
        return Error(Errc::Cert, "CRL from " + caName +
                                     " has no nextUpdate, so it cannot be known to be current; " +
                                     kGetCrl);
    if (nowUtcMs >= *best->nextUpdateUtcMs)
        return Error(Errc::Cert, "CRL from " + caName + " expired at " +
                                     formatUtcMs(*best->nextUpdateUtcMs) + " (now " +
                                     formatUtcMs(nowUtcMs) + "); " + kGetCrl);
    X509_REVOKED *entry = nullptr;
    int found =
        X509_CRL_get0_by_serial(best->crl.get(), &entry, X509_get0_serialNumber(child.x509.get()));
    if (found == 1) {
        auto when = asn1TimeToUtcMs(X509_REVOKED_get0_revocationDate(entry));
        std::string at = when ? formatUtcMs(*when) : "an unreadable time";
        return Error(Errc::Cert, child.label() + " was revoked by " + caName + " at " + at +
                                     "; it must not be trusted");
    }
    drainErrors();
    return {};
}

} // namespace

Expected<CertInfo> parseCertificate(const Backend &backend, ByteView der)
{
    auto x509 = decodeCertificate(der);
    if (!x509)
        return std::move(x509).error().context("certificate");
    return describeCertificate(backend, x509->get(), der);
}

Expected<CrlInfo> parseCrl(ByteView der)
{
    BWC_ASSIGN(crl, loadCrl(der, 0));
    CrlInfo info;
    info.issuer = nameOneLine(X509_CRL_get_issuer(crl.crl.get()));
    info.thisUpdateUtcMs = crl.thisUpdateUtcMs;
    info.nextUpdateUtcMs = crl.nextUpdateUtcMs.value_or(0);
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl.crl.get());
    int count = revoked ? sk_X509_REVOKED_num(revoked) : 0;
    for (int i = 0; i < count; ++i)
        info.revokedSerialsHex.push_back(
            integerHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    return info;
}

Expected<CertInfo> verifyChain(const Backend &backend, const ChainRequest &request)
{
    BWC_ASSIGN(leaf, loadCert(backend, request.leafDer, "leaf certificate"));
    if (leaf.problem)
        return *leaf.problem;
    std::vector<Cert> intermediates;
    for (size_t i = 0; i < request.intermediatesDer.size(); ++i) {
        BWC_ASSIGN(cert, loadCert(backend, request.intermediatesDer[i],
                                  "intermediate certificate " + std::to_string(i + 1)));
        intermediates.push_back(std::move(cert));
    }
    std::vector<Cert> anchors;
    for (size_t i = 0; i < request.trustAnchorsDer.size(); ++i) {
        BWC_ASSIGN(cert, loadCert(backend, request.trustAnchorsDer[i],
                                  "trust anchor " + std::to_string(i + 1)));
        anchors.push_back(std::move(cert));
    }
    if (anchors.empty())
        return Error(Errc::Cert, "no trust anchor (agency CA certificate) configured; cannot "
                                 "check " +
                                     leaf.label());
    std::vector<Crl> crls;
    for (size_t i = 0; i < request.crlsDer.size(); ++i) {
        BWC_ASSIGN(crl, loadCrl(request.crlsDer[i], i));
        crls.push_back(std::move(crl));
    }

    // Build the path leaf -> ... -> anchor: an issuer has the child's issuer name as its
    // subject and its key verifies the child's signature.
    std::vector<const Cert *> path{&leaf};
    bool anchored = false;
    while (!anchored) {
        const Cert &child = *path.back();
        if (path.size() > kMaxPathLength)
            return Error(Errc::Cert, leaf.label() + ": certificate path longer than " +
                                         std::to_string(kMaxPathLength));
        bool nameMatched = false;
        auto findIn = [&](const std::vector<Cert> &pool) -> const Cert * {
            for (const Cert &candidate : pool) {
                if (std::find(path.begin(), path.end(), &candidate) != path.end())
                    continue;
                if (X509_NAME_cmp(X509_get_subject_name(candidate.x509.get()),
                                  X509_get_issuer_name(child.x509.get())) != 0)
                    continue;
                nameMatched = true;
                int ok = X509_verify(child.x509.get(), X509_get0_pubkey(candidate.x509.get()));
                drainErrors();
                if (ok == 1)
                    return &candidate;
            }
            return nullptr;
        };
        if (const Cert *anchor = findIn(anchors)) {
            path.push_back(anchor);
            anchored = true;
        } else if (const Cert *next = findIn(intermediates)) {
            path.push_back(next);
        } else if (nameMatched) {
            return Error(Errc::Cert, child.label() +
                                         ": its signature does not verify with the "
                                         "key of its issuer " +
                                         child.info.issuer +
                                         " (altered, or issued by a different CA with the same "
                                         "name)");
        } else {
            std::string known;
            for (const Cert &trusted : anchors)
                known += (known.empty() ? "" : "; ") + trusted.info.subject;
            return Error(Errc::Cert, child.label() + " was issued by " + child.info.issuer +
                                         ", which does not chain to the trusted agency CA (" +
                                         known +
                                         "); it belongs to another PKI, or an intermediate "
                                         "certificate is missing");
        }
    }

    for (size_t depth = 0; depth < path.size(); ++depth)
        BWC_TRY(checkPathCert(*path[depth], depth, depth + 1 == path.size(),
                              request.validityTimeUtcMs));
    for (size_t depth = 1; depth < path.size(); ++depth)
        BWC_TRY(checkRevocation(*path[depth], *path[depth - 1], crls, request.nowUtcMs));
    return leaf.info;
}

} // namespace bwc::crypto::ossl
