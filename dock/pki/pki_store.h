#pragma once

// The agency PKI kept in one directory, as the `bwc pki` commands use it:
//
//   <dir>/ca.key                   agency CA private key (PKCS#8 PEM, mode 0600)
//   <dir>/ca.pem                   agency CA certificate
//   <dir>/crl.pem                  the current CRL
//   <dir>/index.txt                every certificate issued, and its revocation
//   <dir>/devices/<id>.key, .pem   camera key and certificate chain (leaf, then CA)
//   <dir>/docks/<id>.key, .pem     dock key and certificate chain
//   <dir>/recipients/<name>.key, .pem   agency evidence key and certificate chain
//
// Every file is replaced atomically. Operations that change the directory hold an
// exclusive lock on <dir>/.lock and re-read the index under it, so two `bwc pki`
// commands at once do not lose each other's changes.
//
// index.txt is line-based text: a header line "bwc-pki-index 1", then one line per
// certificate: "<kind> <name> <serial> <notAfterUtcMs> <revokedUtcMs or -> [reason]".

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "dock/pki/pki.h"

namespace bwc::pki {

struct IndexEntry {
    CertKind kind = CertKind::Device;
    std::string name;
    std::string serialHex;
    int64_t notAfterUtcMs = 0;
    std::optional<int64_t> revokedUtcMs;
    std::string reason; // why it was revoked ("" if not, or if no reason was given)
};

struct IssuedCert {
    IndexEntry entry;
    std::string keyPath;
    std::string certPath;
};

class PkiStore {
public:
    // Creates a new agency PKI in `dir` (created if missing): a P-256 CA named
    // "<agencyName> Root CA" valid for `validityDays`, and an empty CRL valid for 30
    // days. Errc::Exists if `dir` already holds one. `clock` defaults to the system clock.
    static Expected<PkiStore> init(const std::string &dir, const std::string &agencyName,
                                   int validityDays, std::shared_ptr<const Clock> clock = nullptr);
    // Opens an existing agency PKI; Errc::NotFound if `dir` is not one, Errc::Format if
    // its files are damaged.
    static Expected<PkiStore> open(const std::string &dir,
                                   std::shared_ptr<const Clock> clock = nullptr);

    PkiStore(PkiStore &&) = default;
    PkiStore &operator=(PkiStore &&) = default;
    PkiStore(const PkiStore &) = delete;
    PkiStore &operator=(const PkiStore &) = delete;

    // Generate a fresh P-256 key and a certificate valid for `days` (capped at the CA's
    // own expiry), and write <id>.key and <id>.pem. Errc::Exists if either file exists or
    // the name still has an unrevoked, unexpired certificate.
    Expected<IssuedCert> issueDevice(const std::string &deviceId, int days);
    Expected<IssuedCert> issueDock(const std::string &dockId, int days);
    Expected<IssuedCert> issueRecipient(const std::string &name, int days);

    // Marks a certificate revoked in the index, found by serial or by name. It is
    // published by the next writeCrl(). Returns the updated entry.
    Expected<IndexEntry> revoke(const std::string &nameOrSerial, const std::string &reason);
    // Writes a new crl.pem listing every revocation in the index (expired certificates
    // stay listed: clips they signed are verified long after), valid for `days`, with
    // the CRL number one above the current one.
    Expected<void> writeCrl(int days);

    const Bytes &caCertDer() const { return caCertDer_; }
    const crypto::CertInfo &caCertInfo() const { return caInfo_; }
    const Bytes &crlDer() const { return crlDer_; }
    uint64_t crlNumber() const { return crlNumber_; }
    const std::vector<IndexEntry> &entries() const { return entries_; }

    const std::string &dir() const { return dir_; }
    std::string caKeyPath() const { return dir_ + "/ca.key"; }
    std::string caCertPath() const { return dir_ + "/ca.pem"; }
    std::string crlPath() const { return dir_ + "/crl.pem"; }
    std::string indexPath() const { return dir_ + "/index.txt"; }
    // <dir>/devices/<name>.key etc. (kind Device, Dock or Recipient).
    std::string keyPath(CertKind kind, const std::string &name) const;
    std::string certPath(CertKind kind, const std::string &name) const;

private:
    PkiStore(std::string dir, std::shared_ptr<const Clock> clock);

    Expected<void> load();
    Expected<void> loadIndex();
    Expected<void> loadCrl();
    Expected<void> writeIndex() const;
    Expected<IssuedCert> issue(CertKind kind, const std::string &name, int days);

    std::string dir_;
    std::shared_ptr<const Clock> clock_;
    std::unique_ptr<const crypto::Backend> backend_;
    Bytes caCertDer_;
    crypto::CertInfo caInfo_;
    crypto::P256KeyPair caKey_;
    Bytes crlDer_;
    uint64_t crlNumber_ = 0;
    std::vector<IndexEntry> entries_;
};

} // namespace bwc::pki
