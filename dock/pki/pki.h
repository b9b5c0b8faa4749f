#pragma once

// Issuance for the agency PKI (DESIGN.md section 4): the agency CA, device, dock and
// recipient (agency evidence key) certificates, and CRLs. Pure functions over DER with
// explicit times, so that tests can make expired or not-yet-valid material; the
// directory-based store the `bwc pki` commands use is in pki_store.h.
//
// Every certificate is X.509 v3, ECDSA with SHA-256, P-256 keys, a random positive
// 16-byte serial and an authorityKeyIdentifier. Profiles:
//   RootCa     basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign,
//              subjectKeyIdentifier. createRootCa makes it self-signed;
//              issueCertificate makes a subordinate (intermediate) CA with pathlen 0.
//   Device     CA:FALSE, keyUsage digitalSignature, extendedKeyUsage clientAuth.
//   Dock       CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth+clientAuth,
//              subjectAltName DNS:<commonName>.
//   Recipient  CA:FALSE, keyUsage keyAgreement (HPKE recipient).
// CRLs are v2 with a CRL number and an authorityKeyIdentifier.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"

namespace bwc::pki {

enum class CertKind { RootCa, Device, Dock, Recipient };

// "root-ca", "device", "dock", "recipient".
std::string_view certKindName(CertKind kind);

struct CertRequest {
    CertKind kind = CertKind::Device;
    std::string commonName;   // the device id, dock host name, or recipient name
    std::string organization; // optional (omitted from the subject when empty)
    crypto::P256Point publicKey{};
    int64_t notBeforeUtcMs = 0;
    int64_t notAfterUtcMs = 0;
};

// The CA that signs: its certificate and its key pair.
struct Issuer {
    Bytes certDer;
    crypto::P256KeyPair key;
};

// A self-signed agency CA certificate (subject CN=<commonName>,O=<organization>).
Expected<Bytes> createRootCa(const crypto::P256KeyPair &key, const std::string &commonName,
                             const std::string &organization, int64_t notBeforeUtcMs,
                             int64_t notAfterUtcMs);

// A certificate for `request.publicKey`, signed by `issuer`. The issuer must be a CA and
// its key must match its certificate.
Expected<Bytes> issueCertificate(const Issuer &issuer, const CertRequest &request);

struct Revocation {
    std::string serialHex;
    int64_t revokedUtcMs = 0;
};

// A CRL of `issuer` listing `revoked`.
Expected<Bytes> createCrl(const Issuer &issuer, const std::vector<Revocation> &revoked,
                          int64_t thisUpdateUtcMs, int64_t nextUpdateUtcMs, uint64_t crlNumber);

// The CRL number extension of a CRL (Errc::Format if it has none).
Expected<uint64_t> crlNumberOf(ByteView crlDer);

} // namespace bwc::pki
