// The mbedTLS backend: certificates, CRLs and chain validation.
//
// mbedTLS parses the DER; everything else is done here rather than by
// mbedtls_x509_crt_verify, because that checks validity and CRL freshness only against
// the machine's current time, while the contract (crypto.h) checks certificates at the
// time a clip was signed and CRLs at the time of verification, and wants messages that
// say which certificate or CRL failed and what to do about it.

#include "common/crypto/crypto.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "common/base/clock.h"
#include "common/crypto/platform/mbedtls/mbedtls_compat.h"
#include "common/crypto/platform/mbedtls/mbedtls_util.h"

namespace bwc::crypto::mbed {

namespace {

using namespace std::string_view_literals;

// Intermediate CAs allowed between a leaf and its trust anchor, and complete paths tried.
constexpr size_t kMaxIntermediates = 8;
constexpr size_t kMaxPaths = 8;

constexpr std::string_view kRenewHint = "issue a new certificate with `bwc pki`";
constexpr std::string_view kCrlHint = "get a current CRL with `bwc pki crl` and install it";

// ecdsa-with-SHA256 (1.2.840.10045.4.3.2), the only signature algorithm accepted.
constexpr std::string_view kOidEcdsaSha256 = "\x2a\x86\x48\xce\x3d\x04\x03\x02"sv;

ByteView viewOf(const mbedtls_x509_buf &buf)
{
    return {buf.p, buf.len};
}

std::string_view charsOf(const mbedtls_x509_buf &buf)
{
    return {reinterpret_cast<const char *>(buf.p), buf.len};
}

bool sameBytes(const mbedtls_x509_buf &a, const mbedtls_x509_buf &b)
{
    return charsOf(a) == charsOf(b);
}

std::string dottedOid(const mbedtls_x509_buf &oid)
{
    std::string out;
    uint64_t value = 0;
    bool first = true;
    for (size_t i = 0; i < oid.len; ++i) {
        if (value > (uint64_t(1) << 56))
            return "(an overlong OID)";
        value = (value << 7) | (oid.p[i] & 0x7f);
        if (oid.p[i] & 0x80)
            continue;
        if (first) {
            const uint64_t arc = value < 80 ? value / 40 : 2;
            out = std::to_string(arc) + "." + std::to_string(value - 40 * arc);
            first = false;
        } else {
            out += "." + std::to_string(value);
        }
        value = 0;
    }
    return out.empty() ? "(an empty OID)" : out;
}

// Short attribute names as OpenSSL prints them, so both backends show the same names.
std::string attributeName(const mbedtls_x509_buf &oid)
{
    struct Known {
        std::string_view der;
        const char *name;
    };
    static constexpr Known known[] = {
        {"\x55\x04\x03"sv, "CN"},
        {"\x55\x04\x06"sv, "C"},
        {"\x55\x04\x07"sv, "L"},
        {"\x55\x04\x08"sv, "ST"},
        {"\x55\x04\x09"sv, "street"},
        {"\x55\x04\x0a"sv, "O"},
        {"\x55\x04\x0b"sv, "OU"},
        {"\x55\x04\x05"sv, "serialNumber"},
        {"\x55\x04\x04"sv, "SN"},
        {"\x55\x04\x2a"sv, "GN"},
        {"\x55\x04\x2b"sv, "initials"},
        {"\x55\x04\x2c"sv, "generationQualifier"},
        {"\x55\x04\x0c"sv, "title"},
        {"\x55\x04\x2e"sv, "dnQualifier"},
        {"\x55\x04\x41"sv, "pseudonym"},
        {"\x55\x04\x11"sv, "postalCode"},
        {"\x55\x04\x61"sv, "organizationIdentifier"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01"sv, "emailAddress"},
        {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19"sv, "DC"},
        {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01"sv, "UID"},
    };
    for (const Known &k : known)
        if (charsOf(oid) == k.der)
            return k.name;
    return dottedOid(oid);
}

std::string signatureAlgorithmName(const mbedtls_x509_buf &oid)
{
    struct Known {
        std::string_view der;
        const char *name;
    };
    static constexpr Known known[] = {
        {kOidEcdsaSha256, "ecdsa-with-SHA256"},
        {"\x2a\x86\x48\xce\x3d\x04\x03\x03"sv, "ecdsa-with-SHA384"},
        {"\x2a\x86\x48\xce\x3d\x04\x03\x04"sv, "ecdsa-with-SHA512"},
        {"\x2a\x86\x48\xce\x3d\x04\x01"sv, "ecdsa-with-SHA1"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05"sv, "sha1WithRSAEncryption"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"sv, "sha256WithRSAEncryption"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c"sv, "sha384WithRSAEncryption"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d"sv, "sha512WithRSAEncryption"},
        {"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"sv, "RSASSA-PSS"},
    };
    for (const Known &k : known)
        if (charsOf(oid) == k.der)
            return k.name;
    return dottedOid(oid);
}

void appendUtf8(std::string &out, uint32_t cp)
{
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xc0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xe0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    } else if (cp < 0x110000) {
        out.push_back(char(0xf0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    } else {
        out.push_back('?');
    }
}

// An attribute value as UTF-8 text (BMPString and UniversalString converted), with
// control characters shown as '?' so a name always prints on one line.
std::string attributeValue(const mbedtls_x509_buf &value)
{
    std::string out;
    if (value.tag == MBEDTLS_ASN1_BMP_STRING && value.len % 2 == 0) {
        for (size_t i = 0; i < value.len; i += 2)
            appendUtf8(out, (uint32_t(value.p[i]) << 8) | value.p[i + 1]);
    } else if (value.tag == MBEDTLS_ASN1_UNIVERSAL_STRING && value.len % 4 == 0) {
        for (size_t i = 0; i < value.len; i += 4)
            appendUtf8(out, (uint32_t(value.p[i]) << 24) | (uint32_t(value.p[i + 1]) << 16) |
                                (uint32_t(value.p[i + 2]) << 8) | value.p[i + 3]);
    } else {
        out.assign(charsOf(value));
    }
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

// "CN=cam-0001,O=Agency": every attribute in DER order, short names, no spaces.
std::string nameOneLine(const mbedtls_x509_name &name)
{
    std::string out;
    for (const mbedtls_x509_name *n = &name; n; n = n->next) {
        if (!n->oid.p)
            continue;
        if (!out.empty())
            out += ',';
        out += attributeName(n->oid) + "=" + attributeValue(n->val);
    }
    return out;
}

std::string commonName(const mbedtls_x509_name &name)
{
    for (const mbedtls_x509_name *n = &name; n; n = n->next)
        if (n->oid.p && charsOf(n->oid) == "\x55\x04\x03"sv)
            return attributeValue(n->val);
    return {};
}

// Lower-case hex of the serial's magnitude without leading zero bytes (at least one
// byte); a negative serial (not allowed, but found in the wild) gets a leading '-'.
std::string serialHex(const mbedtls_x509_buf &serial)
{
    Bytes bytes(serial.p, serial.p + serial.len);
    if (bytes.empty())
        return "00";
    const bool negative = (bytes[0] & 0x80) != 0;
    if (negative) {
        for (uint8_t &b : bytes)
            b = uint8_t(~b);
        for (size_t i = bytes.size(); i-- > 0;)
            if (++bytes[i] != 0)
                break;
    }
    size_t skip = 0;
    while (skip + 1 < bytes.size() && bytes[skip] == 0)
        ++skip;
    return (negative ? "-" : "") + toHex(ByteView(bytes).subspan(skip));
}

// An X.509 time (always UTC) in milliseconds since the epoch; 0 if it is absent.
int64_t timeMs(const mbedtls_x509_time &t)
{
    if (t.year == 0)
        return 0;
    tm fields{};
    fields.tm_year = t.year - 1900;
    fields.tm_mon = t.mon - 1;
    fields.tm_mday = t.day;
    fields.tm_hour = t.hour;
    fields.tm_min = t.min;
    fields.tm_sec = t.sec;
    return int64_t(timegm(&fields)) * 1000;
}

// mbedTLS error codes combine a high-level code with a low-level one; true if `ret`
// carries the high-level `code`.
bool hasErrorCode(int ret, int code)
{
    return ret == code || ((-ret) & 0xff80) == -code;
}

// The P-256 point of a certificate's key; Errc::Cert for any other key.
Expected<P256Point> p256KeyOf(const mbedtls_x509_crt &crt, const std::string &who)
{
    const mbedtls_pk_type_t type = mbedtls_pk_get_type(&crt.pk);
    if (type != MBEDTLS_PK_ECKEY && type != MBEDTLS_PK_ECKEY_DH && type != MBEDTLS_PK_ECDSA)
        return Error(Errc::Cert,
                     who + " has a " + std::to_string(mbedtls_pk_get_bitlen(&crt.pk)) + "-bit " +
                         mbedtls_pk_get_name(&crt.pk) +
                         " key; only EC P-256 keys are accepted: " + std::string(kRenewHint));
    const mbedtls_ecp_keypair *key = mbedtls_pk_ec(crt.pk);
    if (!key)
        return Error(Errc::Cert, who + " has no usable EC key");
    const mbedtls_ecp_group_id curve = compat::keypairGroupId(*key);
    if (curve != MBEDTLS_ECP_DP_SECP256R1) {
        const mbedtls_ecp_curve_info *info = mbedtls_ecp_curve_info_from_grp_id(curve);
        return Error(Errc::Cert,
                     who + " has an EC key on " +
                         std::string(info ? info->name : "an unknown curve") +
                         "; only P-256 (prime256v1) keys are accepted: " + std::string(kRenewHint));
    }
    EcpGroup group;
    BWC_TRY(loadP256(group));
    auto point = writeP256Point(group, compat::keypairPublic(*key));
    if (!point)
        return Error(Errc::Cert, who + " has an invalid P-256 public key");
    return *point;
}

// A parsed certificate with what the checks below need.
struct Cert {
    std::unique_ptr<X509Crt> crt = std::make_unique<X509Crt>();
    std::string subject;
    std::string issuer;
    std::string serial;
    std::optional<P256Point> key;
    Error keyError; // why `key` is empty
    bool anchor = false;

    const mbedtls_x509_crt &x() const { return *crt->get(); }
    std::string describe() const { return "certificate " + subject + " (serial " + serial + ")"; }
};

Expected<void> loadCert(ByteView der, Cert &out)
{
    if (der.empty())
        return Error(Errc::Format, "certificate is empty");
    int ret = mbedtls_x509_crt_parse_der(out.crt->get(), der.data(), der.size());
    if (ret != 0) {
        if (hasErrorCode(ret, MBEDTLS_ERR_PK_UNKNOWN_PK_ALG) ||
            hasErrorCode(ret, MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE) ||
            hasErrorCode(ret, MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG) ||
            hasErrorCode(ret, MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE))
            return Error(Errc::Cert, "certificate uses a key type or signature algorithm "
                                     "that is not accepted (" +
                                         describeError(ret) +
                                         "); only P-256 keys signed with ECDSA/SHA-256 are "
                                         "accepted: " +
                                         std::string(kRenewHint));
        if (hasErrorCode(ret, MBEDTLS_ERR_X509_INVALID_EXTENSIONS))
            return Error(Errc::Cert, "certificate has an extension that cannot be processed "
                                     "(an unsupported critical extension, or a malformed one: " +
                                         describeError(ret) + "); " + std::string(kRenewHint));
        return Error(Errc::Format, "not a DER X.509 certificate (" + describeError(ret) + ")");
    }
    const mbedtls_x509_crt &crt = out.x();
    if (crt.raw.len != der.size())
        return Error(Errc::Format, "certificate DER has " +
                                       std::to_string(der.size() - crt.raw.len) +
                                       " bytes after the certificate; the file is damaged");
    out.subject = nameOneLine(crt.subject);
    out.issuer = nameOneLine(crt.issuer);
    out.serial = serialHex(crt.serial);
    auto key = p256KeyOf(crt, out.describe());
    if (key)
        out.key = *key;
    else
        out.keyError = std::move(key).error();
    return {};
}

CertInfo certInfoOf(const Cert &cert)
{
    const mbedtls_x509_crt &crt = cert.x();
    CertInfo info;
    info.subjectCommonName = commonName(crt.subject);
    info.subject = cert.subject;
    info.issuer = cert.issuer;
    info.serialHex = cert.serial;
    info.notBeforeUtcMs = timeMs(crt.valid_from);
    info.notAfterUtcMs = timeMs(crt.valid_to);
    info.isCa = compat::crtIsCa(crt);
    info.publicKey = *cert.key;
    info.spkiSha256 = sha256Of(p256SpkiDer(*cert.key));
    info.certSha256 = sha256Of(viewOf(crt.raw));
    return info;
}

struct Crl {
    std::unique_ptr<X509Crl> crl = std::make_unique<X509Crl>();
    CrlInfo info;

    const mbedtls_x509_crl &x() const { return *crl->get(); }
};

Expected<void> loadCrl(ByteView der, Crl &out)
{
    if (der.empty())
        return Error(Errc::Format, "CRL is empty");
    int ret = mbedtls_x509_crl_parse_der(out.crl->get(), der.data(), der.size());
    if (ret != 0)
        return Error(Errc::Format, "not a DER X.509 CRL (" + describeError(ret) + ")");
    const mbedtls_x509_crl &crl = out.x();
    if (crl.raw.len != der.size())
        return Error(Errc::Format, "CRL DER has " + std::to_string(der.size() - crl.raw.len) +
                                       " bytes after the CRL; the file is damaged");
    out.info.issuer = nameOneLine(crl.issuer);
    out.info.thisUpdateUtcMs = timeMs(crl.this_update);
    out.info.nextUpdateUtcMs = timeMs(crl.next_update);
    for (const mbedtls_x509_crl_entry *e = &crl.entry; e; e = e->next)
        if (e->serial.len > 0)
            out.info.revokedSerialsHex.push_back(serialHex(e->serial));
    return {};
}

// `what` (a certificate or CRL) must carry an ECDSA/SHA-256 signature by `issuerKey`.
Expected<void> checkSignature(const mbedtls_x509_buf &tbs, const mbedtls_x509_buf &sigOid,
                              const mbedtls_x509_buf &signature, const P256Point &issuerKey,
                              const std::string &what, const std::string &issuerName)
{
    if (charsOf(sigOid) != kOidEcdsaSha256)
        return Error(Errc::Cert, what + " is signed with " + signatureAlgorithmName(sigOid) +
                                     "; only ECDSA with SHA-256 (P-256 keys) is accepted: "
                                     "re-issue it with `bwc pki`");
    auto verified = ecdsaVerifyDer(issuerKey, sha256Of(viewOf(tbs)), viewOf(signature));
    if (!verified)
        return Error(Errc::Cert, what + " does not carry a valid signature of " + issuerName +
                                     " (" + verified.error().message +
                                     "); it was altered, or issued by another CA of the same "
                                     "name");
    return {};
}

bool inPath(const std::vector<const Cert *> &path, const Cert &cert)
{
    return std::any_of(path.begin(), path.end(),
                       [&](const Cert *c) { return sameBytes(c->x().raw, cert.x().raw); });
}

// Depth-first search for paths leaf -> intermediates -> trust anchor in which every
// certificate is signed by the next. Remembers the first reason a branch ended.
class PathSearch {
public:
    explicit PathSearch(const std::vector<Cert> &pool) : pool_(pool) {}

    void extend(std::vector<const Cert *> &path)
    {
        if (paths.size() >= kMaxPaths)
            return;
        const Cert &top = *path.back();
        if (top.anchor) {
            paths.push_back(path);
            return;
        }
        if (path.size() > kMaxIntermediates + 1) {
            note(Error(Errc::Cert, path.front()->describe() + ": no trust anchor within " +
                                       std::to_string(kMaxIntermediates) + " intermediate CAs"));
            return;
        }
        bool issuerNamed = false;
        for (const Cert &candidate : pool_) {
            if (!sameBytes(candidate.x().subject_raw, top.x().issuer_raw) ||
                inPath(path, candidate))
                continue;
            issuerNamed = true;
            if (!candidate.key) {
                note(candidate.keyError);
                continue;
            }
            auto signedBy =
                checkSignature(top.x().tbs, top.x().sig_oid, compat::crtSignature(top.x()),
                               *candidate.key, top.describe(), candidate.subject);
            if (!signedBy) {
                note(std::move(signedBy).error());
                continue;
            }
            path.push_back(&candidate);
            extend(path);
            path.pop_back();
        }
        if (issuerNamed)
            return;
        if (sameBytes(top.x().issuer_raw, top.x().subject_raw))
            note(Error(Errc::Cert, top.describe() + " is self-signed and is not one of the "
                                                    "trust anchors; install the agency CA "
                                                    "certificate as the trust anchor"));
        else
            note(Error(Errc::Cert, top.describe() + " was issued by " + top.issuer +
                                       ", which is neither a trust anchor nor one of the "
                                       "intermediate certificates given; install the agency "
                                       "CA certificate, or supply the missing intermediate"));
    }

    std::vector<std::vector<const Cert *>> paths;
    std::optional<Error> problem;

private:
    void note(Error error)
    {
        if (!problem)
            problem = std::move(error);
    }

    const std::vector<Cert> &pool_;
};

// The CRLs of `ca` that it signed and that are current at `nowMs`; an error naming the
// CA when there is none.
Expected<std::vector<const Crl *>> currentCrlsOf(const Cert &ca, const std::vector<Crl> &crls,
                                                 int64_t nowMs)
{
    if (mbedtls_x509_crt_check_key_usage(&ca.x(), MBEDTLS_X509_KU_CRL_SIGN) != 0)
        return Error(Errc::Cert, "no CRL from " + ca.subject +
                                     " can be trusted: its "
                                     "certificate's keyUsage does not allow CRL signing "
                                     "(cRLSign); re-issue the CA certificate with `bwc pki`");
    size_t named = 0;
    std::optional<Error> badSignature;
    std::vector<const Crl *> signedByCa;
    for (size_t i = 0; i < crls.size(); ++i) {
        const Crl &crl = crls[i];
        if (!sameBytes(crl.x().issuer_raw, ca.x().subject_raw))
            continue;
        ++named;
        auto sig =
            checkSignature(crl.x().tbs, crl.x().sig_oid, compat::crlSignature(crl.x()), *ca.key,
                           "CRL #" + std::to_string(i + 1) + " from " + ca.subject, ca.subject);
        if (!sig) {
            if (!badSignature)
                badSignature = std::move(sig).error();
            continue;
        }
        signedByCa.push_back(&crl);
    }
    if (signedByCa.empty()) {
        if (named == 0)
            return Error(Errc::Cert, "no CRL from " + ca.subject +
                                         ": the revocation status of the certificates it "
                                         "issued cannot be checked; " +
                                         std::string(kCrlHint));
        return Error(Errc::Cert, "no CRL from " + ca.subject + " with a valid signature: " +
                                     badSignature->message + "; " + std::string(kCrlHint));
    }

    std::vector<const Crl *> current;
    const Crl *latest = nullptr;
    for (const Crl *crl : signedByCa) {
        if (!latest || crl->info.thisUpdateUtcMs > latest->info.thisUpdateUtcMs)
            latest = crl;
        if (crl->info.nextUpdateUtcMs != 0 && crl->info.thisUpdateUtcMs <= nowMs &&
            nowMs < crl->info.nextUpdateUtcMs)
            current.push_back(crl);
    }
    if (!current.empty())
        return current;
    if (latest->info.nextUpdateUtcMs == 0)
        return Error(Errc::Cert, "CRL from " + ca.subject +
                                     " has no nextUpdate, so whether it is current cannot be "
                                     "told; " +
                                     std::string(kCrlHint));
    if (nowMs < latest->info.thisUpdateUtcMs)
        return Error(Errc::Cert, "CRL from " + ca.subject +
                                     " is not yet valid: it was issued "
                                     "for " +
                                     formatUtcMs(latest->info.thisUpdateUtcMs) + " and it is now " +
                                     formatUtcMs(nowMs) + "; check this device's clock");
    return Error(Errc::Cert, "CRL from " + ca.subject + " expired at " +
                                 formatUtcMs(latest->info.nextUpdateUtcMs) + " (it is now " +
                                 formatUtcMs(nowMs) + "); " + std::string(kCrlHint));
}

// Everything but the signatures between neighbours, which the search has checked.
Expected<void> checkPath(const std::vector<const Cert *> &path, const std::vector<Crl> &crls,
                         const ChainRequest &request)
{
    const size_t n = path.size();
    for (const Cert *cert : path)
        if (!cert->key)
            return cert->keyError;

    // A self-issued trust anchor's own signature (it is trusted for its key, but a damaged
    // anchor file should not pass).
    const Cert &anchor = *path.back();
    if (sameBytes(anchor.x().issuer_raw, anchor.x().subject_raw))
        BWC_TRY(checkSignature(anchor.x().tbs, anchor.x().sig_oid, compat::crtSignature(anchor.x()),
                               *anchor.key, "trust anchor " + anchor.describe(), anchor.subject));

    const int64_t at = request.validityTimeUtcMs;
    for (const Cert *cert : path) {
        const int64_t notBefore = timeMs(cert->x().valid_from);
        const int64_t notAfter = timeMs(cert->x().valid_to);
        if (at < notBefore)
            return Error(Errc::Cert, cert->describe() +
                                         " is not yet valid: its validity "
                                         "starts at " +
                                         formatUtcMs(notBefore) + " (checked at " +
                                         formatUtcMs(at) +
                                         "); check the clock, or use it only from then on");
        if (at > notAfter)
            return Error(Errc::Cert, cert->describe() + " expired at " + formatUtcMs(notAfter) +
                                         " (checked at " + formatUtcMs(at) + "); " +
                                         std::string(kRenewHint));
    }

    for (size_t i = 1; i < n; ++i) {
        const Cert &ca = *path[i];
        if (!compat::crtIsCa(ca.x()))
            return Error(Errc::Cert, ca.describe() + " issued " + path[i - 1]->describe() +
                                         " but is not a CA certificate (no basicConstraints "
                                         "CA:TRUE); re-issue it as a CA with `bwc pki`");
        if (mbedtls_x509_crt_check_key_usage(&ca.x(), MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0)
            return Error(Errc::Cert, ca.describe() + " may not sign certificates (its keyUsage "
                                                     "lacks keyCertSign); re-issue it as a CA "
                                                     "with `bwc pki`");
        const int maxPlusOne = compat::crtMaxPathLenPlusOne(ca.x());
        if (maxPlusOne > 0 && int(i) - 1 > maxPlusOne - 1)
            return Error(Errc::Cert, ca.describe() + " allows " + std::to_string(maxPlusOne - 1) +
                                         " intermediate CA(s) below it, but the chain has " +
                                         std::to_string(i - 1));
    }

    // Each certificate against the CRLs of its issuer (the anchor: its own).
    std::map<const Cert *, std::vector<const Crl *>> crlsOfCa;
    for (size_t i = 0; i < n; ++i) {
        const Cert &cert = *path[i];
        const Cert &ca = i + 1 < n ? *path[i + 1] : cert;
        auto found = crlsOfCa.find(&ca);
        if (found == crlsOfCa.end()) {
            BWC_ASSIGN(current, currentCrlsOf(ca, crls, request.nowUtcMs));
            found = crlsOfCa.emplace(&ca, std::move(current)).first;
        }
        for (const Crl *crl : found->second) {
            for (const mbedtls_x509_crl_entry *e = &crl->x().entry; e; e = e->next) {
                if (e->serial.len == 0 || serialHex(e->serial) != cert.serial)
                    continue;
                return Error(Errc::Cert,
                             cert.describe() + " was revoked by " + ca.subject + " at " +
                                 formatUtcMs(timeMs(e->revocation_date)) +
                                 "; it must not be trusted any more: " + std::string(kRenewHint));
            }
        }
    }
    return {};
}

} // namespace

Expected<CertInfo> parseCertificate(ByteView der)
{
    Cert cert;
    BWC_TRY(loadCert(der, cert));
    if (!cert.key)
        return cert.keyError;
    return certInfoOf(cert);
}

Expected<CrlInfo> parseCrl(ByteView der)
{
    Crl crl;
    BWC_TRY(loadCrl(der, crl));
    return std::move(crl.info);
}

Expected<CertInfo> verifyChain(const ChainRequest &request)
{
    Cert leaf;
    auto leafLoaded = loadCert(request.leafDer, leaf);
    if (!leafLoaded)
        return std::move(leafLoaded).error().context("leaf certificate");
    if (!leaf.key)
        return leaf.keyError;
    if (request.trustAnchorsDer.empty())
        return Error(Errc::Cert, "no trust anchor to verify " + leaf.describe() +
                                     " against; install the agency CA certificate");

    // Trust anchors first, so the search reaches an anchor by the shortest path; a
    // certificate given twice is kept once (as an anchor if it is one).
    std::vector<Cert> pool;
    pool.reserve(request.trustAnchorsDer.size() + request.intermediatesDer.size());
    auto addToPool = [&pool](ByteView der, bool anchor, const std::string &role) -> Expected<void> {
        Cert cert;
        auto loaded = loadCert(der, cert);
        if (!loaded)
            return std::move(loaded).error().context(role);
        for (const Cert &known : pool)
            if (sameBytes(known.x().raw, cert.x().raw))
                return {};
        cert.anchor = anchor;
        pool.push_back(std::move(cert));
        return {};
    };
    for (size_t i = 0; i < request.trustAnchorsDer.size(); ++i)
        BWC_TRY(
            addToPool(request.trustAnchorsDer[i], true, "trust anchor #" + std::to_string(i + 1)));
    for (size_t i = 0; i < request.intermediatesDer.size(); ++i)
        BWC_TRY(addToPool(request.intermediatesDer[i], false,
                          "intermediate certificate #" + std::to_string(i + 1)));

    std::vector<Crl> crls(request.crlsDer.size());
    for (size_t i = 0; i < request.crlsDer.size(); ++i) {
        auto loaded = loadCrl(request.crlsDer[i], crls[i]);
        if (!loaded)
            return std::move(loaded).error().context("CRL #" + std::to_string(i + 1));
    }

    // A leaf that is itself a trust anchor is its own path.
    const Cert *start = &leaf;
    for (const Cert &cert : pool)
        if (cert.anchor && sameBytes(cert.x().raw, leaf.x().raw))
            start = &cert;

    PathSearch search(pool);
    std::vector<const Cert *> path{start};
    search.extend(path);
    if (search.paths.empty())
        return search.problem ? *search.problem
                              : Error(Errc::Cert, leaf.describe() + ": no path to a trust anchor");

    std::optional<Error> firstFailure;
    for (const auto &candidate : search.paths) {
        auto checked = checkPath(candidate, crls, request);
        if (checked)
            return certInfoOf(leaf);
        if (!firstFailure)
            firstFailure = std::move(checked).error();
    }
    return *firstFailure;
}

} // namespace bwc::crypto::mbed
