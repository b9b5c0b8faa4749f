#include "common/crypto/crypto.h"

#include <algorithm>

namespace bwc::crypto {

Digest Backend::sha256(ByteView data) const
{
    auto h = newSha256();
    h->update(data);
    return h->finish();
}

Expected<Bytes> Backend::aesGcmSeal(ByteView key32, const GcmNonce &nonce, ByteView aad,
                                    ByteView plaintext) const
{
    BWC_ASSIGN(gcm, newAesGcm(key32));
    Bytes out(plaintext.size() + kGcmTagLen);
    BWC_TRY(gcm->seal(nonce, aad, plaintext, out));
    return out;
}

Expected<SecretBytes> Backend::aesGcmOpen(ByteView key32, const GcmNonce &nonce, ByteView aad,
                                          ByteView ciphertextAndTag) const
{
    if (ciphertextAndTag.size() < kGcmTagLen)
        return Error(Errc::Format, "AES-GCM input shorter than its 16-byte tag");
    BWC_ASSIGN(gcm, newAesGcm(key32));
    SecretBytes out(ciphertextAndTag.size() - kGcmTagLen);
    BWC_TRY(gcm->open(nonce, aad, ciphertextAndTag, out.span()));
    return out;
}

Expected<SecretBytes> Backend::hkdf(ByteView salt, ByteView ikm, ByteView info, size_t len) const
{
    BWC_ASSIGN(prk, hkdfExtract(salt, ikm));
    return hkdfExpand(prk.view(), info, len);
}

Expected<Bytes> Backend::ecdsaSign(const P256Scalar &priv, ByteView message) const
{
    return ecdsaSignDigest(priv, sha256(message));
}

Expected<void> Backend::ecdsaVerify(const P256Point &pub, ByteView message,
                                    ByteView derSignature) const
{
    return ecdsaVerifyDigest(pub, sha256(message), derSignature);
}

namespace {

// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) ... }
constexpr uint8_t kSpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
static_assert(sizeof(kSpkiPrefix) + kP256PointLen == 0x59 + 2);

} // namespace

Bytes p256SpkiDer(const P256Point &pub)
{
    Bytes out(sizeof(kSpkiPrefix) + kP256PointLen);
    std::copy(std::begin(kSpkiPrefix), std::end(kSpkiPrefix), out.begin());
    std::copy(pub.begin(), pub.end(), out.begin() + sizeof(kSpkiPrefix));
    return out;
}

Digest p256KeyId(const Backend &backend, const P256Point &pub)
{
    return backend.sha256(p256SpkiDer(pub));
}

Bytes p256Pkcs8Der(const P256KeyPair &key)
{
    // PrivateKeyInfo { version 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 },
    //   OCTET STRING { ECPrivateKey { version 1, OCTET STRING priv, [1] BIT STRING pub } } }
    static constexpr uint8_t head[] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06,
                                       0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                                       0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                                       0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
    static constexpr uint8_t mid[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
    constexpr size_t total = sizeof(head) + kP256ScalarLen + sizeof(mid) + kP256PointLen;
    // The outer length byte must match what follows the first three bytes.
    static_assert(total - 3 == 0x87);
    Bytes out(total);
    auto it = std::copy(std::begin(head), std::end(head), out.begin());
    it = std::copy(key.priv.data(), key.priv.data() + kP256ScalarLen, it);
    it = std::copy(std::begin(mid), std::end(mid), it);
    std::copy(key.pub.begin(), key.pub.end(), it);
    return out;
}

} // namespace bwc::crypto
