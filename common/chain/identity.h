#pragma once

// The device's signing identity: a P-256 key (ideally in a secure element), its
// certificate chain and a durable monotonic counter that hands out manifest sequence
// numbers. DESIGN.md section 4.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

// Longest device id accepted in certificates, manifests and checkpoints.
constexpr size_t kMaxDeviceIdLen = 128;

// True for 1 to 128 printable ASCII characters without leading or trailing spaces.
bool isPrintableDeviceId(std::string_view id);

class DeviceIdentity
{
public:
    virtual ~DeviceIdentity() = default;

    // The device id: the common name of the device certificate.
    virtual const std::string &id() const = 0;
    // DER certificates, leaf first (may be empty where no certificate is involved).
    virtual const std::vector<Bytes> &certChainDer() const = 0;
    virtual const crypto::P256Point &publicKey() const = 0;
    // DER (X9.62) ECDSA P-256 signature over a SHA-256 digest.
    virtual Expected<Bytes> signDigest(const crypto::Digest &digest) const = 0;
    // Increments the monotonic counter and returns the new value. The new value is
    // durable before this returns; the counter never goes back.
    virtual Expected<uint64_t> counterIncrement() = 0;
    // The last value handed out (0 before the first increment).
    virtual uint64_t counterValue() const = 0;
};

// A file-based identity for hosts, the simulation and tests: the key in a PEM file, the
// certificate chain in a PEM file and the counter as a decimal number in a text file
// (replaced atomically on every increment). The backend must outlive the identity.
class SoftwareIdentity final : public DeviceIdentity
{
public:
    // keyPemPath: a PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY") P-256 key.
    // certPemPath: the device certificate, then any intermediates. The device id is the
    // leaf's subject common name; the key must be the leaf's (Errc::Config otherwise).
    // counterPath: the counter file; a missing file means 0.
    static Expected<std::unique_ptr<SoftwareIdentity>> load(const crypto::Backend &backend,
                                                            const std::string &keyPemPath,
                                                            const std::string &certPemPath,
                                                            const std::string &counterPath);
    // An identity from parts already in memory (tests, provisioning).
    static Expected<std::unique_ptr<SoftwareIdentity>>
    fromParts(const crypto::Backend &backend, std::string deviceId, crypto::P256KeyPair keyPair,
              std::vector<Bytes> certChainDer, std::string counterPath);

    SoftwareIdentity(const SoftwareIdentity &) = delete;
    SoftwareIdentity &operator=(const SoftwareIdentity &) = delete;

    const std::string &id() const override { return id_; }
    const std::vector<Bytes> &certChainDer() const override { return certChainDer_; }
    const crypto::P256Point &publicKey() const override { return key_.pub; }
    Expected<Bytes> signDigest(const crypto::Digest &digest) const override;
    Expected<uint64_t> counterIncrement() override;
    uint64_t counterValue() const override { return counter_; }

    const std::string &counterPath() const { return counterPath_; }

private:
    SoftwareIdentity(const crypto::Backend &backend, std::string id, crypto::P256KeyPair key,
                     std::vector<Bytes> certChainDer, std::string counterPath, uint64_t counter);

    const crypto::Backend &backend_;
    std::string id_;
    crypto::P256KeyPair key_;
    std::vector<Bytes> certChainDer_;
    std::string counterPath_;
    uint64_t counter_;
};

// Reads a counter file written by SoftwareIdentity (a missing file is 0).
Expected<uint64_t> readCounterFile(const std::string &path);

} // namespace bwc::chain
