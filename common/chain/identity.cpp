#include "common/chain/identity.h"

#include <charconv>
#include <limits>

#include "common/base/file.h"
#include "common/crypto/pem.h"

namespace bwc::chain
{

bool isPrintableDeviceId(std::string_view id)
{
    if (id.empty() || id.size() > kMaxDeviceIdLen)
        return false;
    if (id.front() == ' ' || id.back() == ' ')
        return false;
    for (char c : id) {
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

Expected<uint64_t> readCounterFile(const std::string &path)
{
    auto text = readTextFile(path, 64);
    if (!text) {
        if (text.error().code == Errc::NotFound)
            return uint64_t(0);
        return std::move(text).error().context("monotonic counter");
    }
    std::string_view digits = *text;
    while (!digits.empty() && (digits.back() == '\n' || digits.back() == '\r'))
        digits.remove_suffix(1);
    uint64_t value = 0;
    const char *end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (digits.empty() || ec != std::errc() || ptr != end)
        return Error(Errc::Format,
                     path + ": the monotonic counter file does not hold a decimal number; "
                            "restore it from a backup (never set it lower than the last "
                            "manifest sequence number the device issued)");
    return value;
}

namespace
{

// Wipes the DER of every PEM block when it goes away (they may hold a private key).
struct WipedBlocks {
    std::vector<crypto::PemBlock> blocks;
    ~WipedBlocks()
    {
        for (auto &b : blocks)
            secureZero(b.der.data(), b.der.size());
    }
};

struct WipedString {
    std::string text;
    ~WipedString() { secureZero(text.data(), text.size()); }
};

} // namespace

SoftwareIdentity::SoftwareIdentity(const crypto::Backend &backend, std::string id,
                                   crypto::P256KeyPair key, std::vector<Bytes> certChainDer,
                                   std::string counterPath, uint64_t counter)
    : backend_(backend), id_(std::move(id)), key_(std::move(key)),
      certChainDer_(std::move(certChainDer)), counterPath_(std::move(counterPath)),
      counter_(counter)
{
}

Expected<std::unique_ptr<SoftwareIdentity>> SoftwareIdentity::load(const crypto::Backend &backend,
                                                                   const std::string &keyPemPath,
                                                                   const std::string &certPemPath,
                                                                   const std::string &counterPath)
{
    WipedString keyText;
    {
        BWC_ASSIGN(text, readTextFile(keyPemPath, 64 * 1024));
        keyText.text = std::move(text);
    }
    WipedBlocks keyBlocks;
    {
        BWC_ASSIGN(blocks, crypto::parsePem(keyText.text, keyPemPath));
        keyBlocks.blocks = std::move(blocks);
    }
    const crypto::PemBlock *keyBlock = nullptr;
    for (const auto &b : keyBlocks.blocks) {
        if (b.label == "ENCRYPTED PRIVATE KEY")
            return Error(Errc::Config, keyPemPath +
                                           ": the private key is encrypted; the device key "
                                           "file must hold an unencrypted PKCS#8 or SEC1 key");
        if (b.label == "PRIVATE KEY" || b.label == "EC PRIVATE KEY") {
            keyBlock = &b;
            break;
        }
    }
    if (!keyBlock)
        return Error(Errc::Format, keyPemPath + ": no PRIVATE KEY or EC PRIVATE KEY block; is this "
                                                "a PEM private key file?");
    auto key = backend.parsePrivateKeyDer(keyBlock->der);
    if (!key)
        return std::move(key).error().context(keyPemPath);

    BWC_ASSIGN(chain, crypto::readPemFile(certPemPath, "CERTIFICATE"));
    auto leaf = backend.parseCertificateDer(chain.front());
    if (!leaf)
        return std::move(leaf).error().context(certPemPath + ": device certificate");
    if (leaf->publicKey != key->pub)
        return Error(Errc::Config, "key " + keyPemPath + " does not belong to certificate " +
                                       certPemPath +
                                       " (the certificate was issued for another key; check the "
                                       "provisioning files)");
    if (!isPrintableDeviceId(leaf->subjectCommonName))
        return Error(Errc::Cert, certPemPath +
                                     ": the subject common name is not a usable device id "
                                     "(1 to 128 printable ASCII characters)");
    return fromParts(backend, leaf->subjectCommonName, std::move(*key), std::move(chain),
                     counterPath);
}

Expected<std::unique_ptr<SoftwareIdentity>>
SoftwareIdentity::fromParts(const crypto::Backend &backend, std::string deviceId,
                            crypto::P256KeyPair keyPair, std::vector<Bytes> certChainDer,
                            std::string counterPath)
{
    if (!isPrintableDeviceId(deviceId))
        return Error(Errc::Config, "device id \"" + deviceId +
                                       "\" is not usable (1 to 128 printable ASCII "
                                       "characters, no leading or trailing space)");
    if (counterPath.empty())
        return Error(Errc::Config, "device " + deviceId + ": no monotonic counter file given");
    auto pub = backend.p256PublicFromPrivate(keyPair.priv);
    if (!pub)
        return std::move(pub).error().context("device " + deviceId + ": private key");
    if (*pub != keyPair.pub)
        return Error(Errc::Config, "device " + deviceId +
                                       ": the public key given does not match the private "
                                       "key");
    BWC_ASSIGN(counter, readCounterFile(counterPath));
    return std::unique_ptr<SoftwareIdentity>(
        new SoftwareIdentity(backend, std::move(deviceId), std::move(keyPair),
                             std::move(certChainDer), std::move(counterPath), counter));
}

Expected<Bytes> SoftwareIdentity::signDigest(const crypto::Digest &digest) const
{
    auto sig = backend_.ecdsaSignDigest(key_.priv, digest);
    if (!sig)
        return std::move(sig).error().context("device " + id_ + ": signing");
    return sig;
}

Expected<uint64_t> SoftwareIdentity::counterIncrement()
{
    if (counter_ == std::numeric_limits<uint64_t>::max())
        return Error(Errc::Internal, "device " + id_ + ": the monotonic counter is exhausted");
    uint64_t next = counter_ + 1;
    std::string text = std::to_string(next) + "\n";
    auto r = atomicReplace(counterPath_, asBytes(text), 0600);
    if (!r)
        return std::move(r).error().context("device " + id_ + ": monotonic counter");
    counter_ = next;
    return next;
}

} // namespace bwc::chain
