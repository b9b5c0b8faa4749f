#pragma once

// The agency CRL the dock hands to cameras (Welcome.crl), checks their manifests against
// and feeds to new TLS handshakes. The file is re-read when its modification time or
// size changes (`bwc pki revoke` + a new crl.pem), so a running dock follows revocations
// without a restart. Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::dock {

class CrlSource
{
public:
    // `path` is a PEM file of one or more X509 CRL blocks (empty: the CRLs never change);
    // `initialDer` is what to use until the file has been read.
    CrlSource(std::string path, std::vector<Bytes> initialDer);

    // Re-reads the file if it changed since the last look; returns the current CRLs (DER,
    // the agency CA's first). A file that cannot be read or parsed keeps the last good
    // CRLs (logged once per change).
    std::vector<Bytes> current();
    // Increases every time the CRLs change.
    uint64_t generation();
    const std::string &path() const { return path_; }

private:
    void refreshLocked();

    std::string path_;
    std::mutex mutex_;
    std::vector<Bytes> der_;
    uint64_t generation_ = 0;
    int64_t mtimeNs_ = -1;
    int64_t size_ = -1;
    uint64_t inode_ = 0;
};

} // namespace bwc::dock
