// The OpenSSL 3 backend (the dock's and `bwc`'s): EVP and OSSL_PARAM interfaces only.

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "common/base/log.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/openssl/openssl_util.h"

namespace bwc::crypto {

namespace ossl {

std::string drainErrors()
{
    std::string out;
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
        const char *reason = ERR_reason_error_string(code);
        std::string text = reason ? reason : "error " + std::to_string(ERR_GET_REASON(code));
        if (out.find(text) != std::string::npos)
            continue;
        if (!out.empty())
            out += "; ";
        out += text;
    }
    return out;
}

Error opensslError(Errc code, std::string what)
{
    std::string reasons = drainErrors();
    if (!reasons.empty())
        what += " (OpenSSL: " + reasons + ")";
    return Error(code, std::move(what));
}

void fatal(std::string_view what)
{
    std::string message = "OpenSSL: " + std::string(what);
    std::string reasons = drainErrors();
    if (!reasons.empty())
        message += " (" + reasons + ")";
    log::error(message);
    std::abort();
}

const EC_GROUP *p256Group()
{
    static const GroupPtr group = [] {
        GroupPtr g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
        if (!g)
            fatal("P-256 (prime256v1) is not available");
        return g;
    }();
    return group.get();
}

Expected<BnPtr> p256ScalarToBn(const P256Scalar &priv)
{
    BnPtr bn(BN_secure_new());
    if (!bn)
        fatal("out of memory for a P-256 scalar");
    BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
    if (!BN_bin2bn(priv.data(), int(priv.size()), bn.get()))
        return opensslError(Errc::Crypto, "cannot load P-256 private scalar");
    if (BN_is_zero(bn.get()) || BN_cmp(bn.get(), EC_GROUP_get0_order(p256Group())) >= 0)
        return Error(Errc::Crypto,
                     "P-256 private key out of range (must be 1 <= d < n); the key is corrupt");
    return bn;
}

Expected<P256Point> p256PointFromScalar(const BIGNUM &priv)
{
    const EC_GROUP *group = p256Group();
    PointPtr point(EC_POINT_new(group));
    BnCtxPtr bnCtx(BN_CTX_secure_new());
    if (!point || !bnCtx)
        fatal("out of memory for a P-256 point");
    if (EC_POINT_mul(group, point.get(), &priv, nullptr, nullptr, bnCtx.get()) != 1)
        return opensslError(Errc::Crypto, "P-256 scalar multiplication failed");
    P256Point out{};
    if (EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(),
                           out.size(), bnCtx.get()) != out.size())
        return opensslError(Errc::Crypto, "cannot encode P-256 public point");
    return out;
}

namespace {

// Checks `point` the way p256CheckPoint documents it.
Expected<void> checkPoint(const P256Point &point)
{
    if (point[0] != 0x04)
        return Error(Errc::Crypto, "invalid curve point: not an uncompressed P-256 point "
                                   "(first byte 0x" +
                                       toHex(ByteView(point.data(), 1)) + ", expected 0x04)");
    const EC_GROUP *group = p256Group();
    PointPtr p(EC_POINT_new(group));
    BnCtxPtr bnCtx(BN_CTX_new());
    if (!p || !bnCtx)
        fatal("out of memory for a P-256 point");
    if (EC_POINT_oct2point(group, p.get(), point.data(), point.size(), bnCtx.get()) != 1) {
        drainErrors();
        return Error(Errc::Crypto, "invalid curve point: not on P-256");
    }
    if (EC_POINT_is_at_infinity(group, p.get()) ||
        EC_POINT_is_on_curve(group, p.get(), bnCtx.get()) != 1) {
        drainErrors();
        return Error(Errc::Crypto, "invalid curve point: not on P-256 or the point at infinity");
    }
    return {};
}

// Builds an EC P-256 EVP_PKEY from whichever halves are given.
Expected<PkeyPtr> makeKey(const P256Scalar *priv, const P256Point *pub)
{
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld)
        fatal("out of memory for key parameters");
    BnPtr privBn;
    if (priv) {
        BWC_ASSIGN(bn, p256ScalarToBn(*priv));
        privBn = std::move(bn);
    }
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
            1 ||
        (privBn &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, privBn.get()) != 1) ||
        (pub && OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub->data(),
                                                 pub->size()) != 1))
        return opensslError(Errc::Crypto, "cannot build P-256 key parameters");
    ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!params || !ctx)
        return opensslError(Errc::Crypto, "cannot set up a P-256 key");
    EVP_PKEY *raw = nullptr;
    int selection = priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1)
        return opensslError(Errc::Crypto, "cannot load P-256 key");
    return PkeyPtr(raw);
}

} // namespace

Expected<PkeyPtr> p256PublicKey(const P256Point &pub)
{
    BWC_TRY(checkPoint(pub));
    return makeKey(nullptr, &pub);
}

Expected<PkeyPtr> p256PrivateKey(const P256Scalar &priv)
{
    return makeKey(&priv, nullptr);
}

Expected<PkeyPtr> p256KeyPairKey(const P256KeyPair &key)
{
    BWC_TRY(checkPoint(key.pub));
    return makeKey(&key.priv, &key.pub);
}

std::string describeKey(const EVP_PKEY *pkey)
{
    const char *type = EVP_PKEY_get0_type_name(pkey);
    std::string out = type ? type : "unknown key type";
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) == 1)
        return out.append(" ").append(group, len);
    drainErrors();
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits > 0)
        out.append(" ").append(std::to_string(bits)).append(" bits");
    return out;
}

bool isP256Key(const EVP_PKEY &pkey)
{
    char group[64] = {};
    size_t groupLen = 0;
    bool isP256 = EVP_PKEY_is_a(&pkey, "EC") &&
                  EVP_PKEY_get_utf8_string_param(&pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                 sizeof group, &groupLen) == 1 &&
                  std::string_view(group, groupLen) == "prime256v1";
    drainErrors();
    return isP256;
}

Expected<P256Point> p256PointOfKey(const EVP_PKEY *pkey, Errc code)
{
    if (!isP256Key(*pkey))
        return Error(code, "key is " + describeKey(pkey) +
                               "; only P-256 (prime256v1) EC keys are accepted");
    // The key may hold its point compressed: decode and re-encode uncompressed.
    unsigned char encoded[2 * kP256PointLen] = {};
    size_t encodedLen = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, encoded, sizeof encoded,
                                        &encodedLen) != 1)
        return opensslError(code, "P-256 key has no public point");
    const EC_GROUP *ecGroup = p256Group();
    PointPtr point(EC_POINT_new(ecGroup));
    if (!point)
        fatal("out of memory for a P-256 point");
    P256Point out{};
    if (EC_POINT_oct2point(ecGroup, point.get(), encoded, encodedLen, nullptr) != 1 ||
        EC_POINT_is_at_infinity(ecGroup, point.get()) ||
        EC_POINT_point2oct(ecGroup, point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(),
                           out.size(), nullptr) != out.size())
        return opensslError(code, "P-256 public key is not a valid curve point");
    return out;
}

} // namespace ossl

namespace {

using namespace ossl;

class OpensslSha256 final : public Sha256 {
public:
    explicit OpensslSha256(MdCtxPtr ctx) : ctx_(std::move(ctx)) {}

    void update(ByteView data) override
    {
        if (!data.empty() && EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
            fatal("SHA-256 update failed");
    }

    Digest finish() override
    {
        Digest out{};
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != out.size())
            fatal("SHA-256 finish failed");
        return out;
    }

    std::unique_ptr<Sha256> clone() const override
    {
        MdCtxPtr copy(EVP_MD_CTX_new());
        if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1)
            fatal("cannot copy a SHA-256 state");
        return std::make_unique<OpensslSha256>(std::move(copy));
    }

private:
    MdCtxPtr ctx_;
};

// OpenSSL takes int lengths; feed larger buffers in pieces.
constexpr size_t kMaxUpdate = size_t(1) << 30;

class OpensslAesGcm final : public AesGcm {
public:
    OpensslAesGcm(CipherCtxPtr enc, CipherCtxPtr dec) : enc_(std::move(enc)), dec_(std::move(dec))
    {
    }

    Expected<void> seal(const GcmNonce &nonce, ByteView aad, ByteView plaintext,
                        MutableByteView out) override
    {
        if (out.size() != plaintext.size() + kGcmTagLen)
            return Error(Errc::Internal,
                         "AES-GCM seal: output buffer must be plaintext + 16 bytes");
        EVP_CIPHER_CTX *ctx = enc_.get();
        if (EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) != 1)
            return opensslError(Errc::Crypto, "AES-GCM: cannot set nonce");
        BWC_TRY(feedAad(ctx, aad));
        size_t done = 0;
        while (done < plaintext.size()) {
            int chunk = int(std::min(plaintext.size() - done, kMaxUpdate));
            int len = 0;
            if (EVP_EncryptUpdate(ctx, out.data() + done, &len, plaintext.data() + done, chunk) !=
                    1 ||
                len != chunk)
                return opensslError(Errc::Crypto, "AES-GCM encryption failed");
            done += size_t(chunk);
        }
        int finalLen = 0;
        if (EVP_EncryptFinal_ex(ctx, out.data() + done, &finalLen) != 1 || finalLen != 0 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kGcmTagLen), out.data() + done) != 1)
            return opensslError(Errc::Crypto, "AES-GCM encryption failed");
        return {};
    }

    Expected<void> open(const GcmNonce &nonce, ByteView aad, ByteView ciphertextAndTag,
                        MutableByteView out) override
    {
        if (ciphertextAndTag.size() < kGcmTagLen)
            return Error(Errc::Format, "AES-GCM input shorter than its 16-byte tag");
        size_t ctLen = ciphertextAndTag.size() - kGcmTagLen;
        if (out.size() != ctLen)
            return Error(Errc::Internal, "AES-GCM open: output buffer must be input - 16 bytes");
        // OpenSSL decrypts while it authenticates: `out` holds unauthenticated bytes until
        // Final has checked the tag, and is wiped on every failure path.
        auto r = decrypt(nonce, aad, ciphertextAndTag.first(ctLen),
                         ciphertextAndTag.last(kGcmTagLen), out);
        if (!r)
            secureZero(out.data(), out.size());
        return r;
    }

private:
    static Expected<void> feedAad(EVP_CIPHER_CTX *ctx, ByteView aad)
    {
        size_t done = 0;
        while (done < aad.size()) {
            int chunk = int(std::min(aad.size() - done, kMaxUpdate));
            int len = 0;
            if (EVP_CipherUpdate(ctx, nullptr, &len, aad.data() + done, chunk) != 1)
                return opensslError(Errc::Crypto, "AES-GCM: cannot process associated data");
            done += size_t(chunk);
        }
        return {};
    }

    Expected<void> decrypt(const GcmNonce &nonce, ByteView aad, ByteView ciphertext, ByteView tag,
                           MutableByteView out)
    {
        EVP_CIPHER_CTX *ctx = dec_.get();
        if (EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) != 1)
            return opensslError(Errc::Crypto, "AES-GCM: cannot set nonce");
        BWC_TRY(feedAad(ctx, aad));
        size_t done = 0;
        while (done < ciphertext.size()) {
            int chunk = int(std::min(ciphertext.size() - done, kMaxUpdate));
            int len = 0;
            if (EVP_DecryptUpdate(ctx, out.data() + done, &len, ciphertext.data() + done, chunk) !=
                    1 ||
                len != chunk)
                return opensslError(Errc::Crypto, "AES-GCM decryption failed");
            done += size_t(chunk);
        }
        // The ctrl takes a non-const pointer but only reads the tag.
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, int(kGcmTagLen),
                                const_cast<uint8_t *>(tag.data())) != 1)
            return opensslError(Errc::Crypto, "AES-GCM: cannot set tag");
        int finalLen = 0;
        if (EVP_DecryptFinal_ex(ctx, out.data() + done, &finalLen) != 1) {
            drainErrors();
            return Error(Errc::Auth, "AES-GCM authentication failed");
        }
        return {};
    }

    CipherCtxPtr enc_;
    CipherCtxPtr dec_;
};

// A pointer OpenSSL accepts for an empty buffer (some paths reject nullptr).
const uint8_t kEmpty[1] = {0};

inline const uint8_t *dataOrEmpty(ByteView v)
{
    return v.empty() ? kEmpty : v.data();
}

class OpensslBackend final : public Backend {
public:
    OpensslBackend()
        : sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
          aes256Gcm_(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)),
          aes128Gcm_(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr)),
          hkdf_(EVP_KDF_fetch(nullptr, "HKDF", nullptr))
    {
        if (!sha256_ || !aes256Gcm_ || !aes128Gcm_)
            fatal("the configured providers lack SHA-256 or AES-GCM");
        if (!hkdf_)
            fatal("the configured providers lack HKDF");
        p256Group();
    }

    std::string name() const override
    {
        return std::string("openssl ") + OpenSSL_version(OPENSSL_VERSION_STRING);
    }

    Expected<void> randomBytes(MutableByteView out) const override
    {
        size_t done = 0;
        while (done < out.size()) {
            int chunk = int(std::min(out.size() - done, kMaxUpdate));
            if (RAND_bytes(out.data() + done, chunk) != 1)
                return opensslError(Errc::Crypto, "random number generator failed");
            done += size_t(chunk);
        }
        return {};
    }

    std::unique_ptr<Sha256> newSha256() const override
    {
        MdCtxPtr ctx(EVP_MD_CTX_new());
        if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256_.get(), nullptr) != 1)
            fatal("cannot start SHA-256");
        return std::make_unique<OpensslSha256>(std::move(ctx));
    }

    Expected<std::unique_ptr<AesGcm>> newAesGcm(ByteView key) const override
    {
        const EVP_CIPHER *cipher = nullptr;
        if (key.size() == 32)
            cipher = aes256Gcm_.get();
        else if (key.size() == 16)
            cipher = aes128Gcm_.get();
        else
            return Error(Errc::Crypto,
                         "AES-GCM key must be 32 bytes (got " + std::to_string(key.size()) + ")");
        CipherCtxPtr enc(EVP_CIPHER_CTX_new());
        CipherCtxPtr dec(EVP_CIPHER_CTX_new());
        if (!enc || !dec)
            fatal("out of memory for AES-GCM");
        if (EVP_EncryptInit_ex2(enc.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
            EVP_DecryptInit_ex2(dec.get(), cipher, key.data(), nullptr, nullptr) != 1)
            return opensslError(Errc::Crypto, "cannot set up AES-GCM");
        return std::unique_ptr<AesGcm>(
            std::make_unique<OpensslAesGcm>(std::move(enc), std::move(dec)));
    }

    Expected<SecretBytes> hkdfExtract(ByteView salt, ByteView ikm) const override
    {
        int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                              const_cast<uint8_t *>(dataOrEmpty(ikm)), ikm.size()),
            OSSL_PARAM_construct_octet_string(
                OSSL_KDF_PARAM_SALT, const_cast<uint8_t *>(dataOrEmpty(salt)), salt.size()),
            OSSL_PARAM_construct_end(),
        };
        SecretBytes prk(kSha256Len);
        BWC_TRY(derive(params, prk.span(), "HKDF-SHA256 extract"));
        return prk;
    }

    Expected<SecretBytes> hkdfExpand(ByteView prk, ByteView info, size_t len) const override
    {
        if (prk.size() < kSha256Len)
            return Error(Errc::Crypto,
                         "HKDF-SHA256 expand: the PRK must be at least 32 bytes (got " +
                             std::to_string(prk.size()) + ")");
        if (len > 255 * kSha256Len)
            return Error(Errc::Crypto, "HKDF-SHA256 expand: at most 8160 bytes can be derived "
                                       "(asked for " +
                                           std::to_string(len) + ")");
        SecretBytes out(len);
        if (len == 0)
            return out;
        int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t *>(prk.data()),
                                              prk.size()),
            OSSL_PARAM_construct_octet_string(
                OSSL_KDF_PARAM_INFO, const_cast<uint8_t *>(dataOrEmpty(info)), info.size()),
            OSSL_PARAM_construct_end(),
        };
        BWC_TRY(derive(params, out.span(), "HKDF-SHA256 expand"));
        return out;
    }

    Expected<P256KeyPair> p256Generate() const override
    {
        // Rejection sampling of a uniform scalar in [1, n).
        P256KeyPair key;
        for (int attempt = 0; attempt < 64; ++attempt) {
            BWC_TRY(randomBytes(key.priv.span()));
            auto bn = p256ScalarToBn(key.priv);
            if (!bn)
                continue;
            BWC_ASSIGN(pub, p256PointFromScalar(**bn));
            key.pub = pub;
            return key;
        }
        return Error(Errc::Crypto, "P-256 key generation failed: the random generator keeps "
                                   "returning out-of-range scalars");
    }

    Expected<P256Point> p256PublicFromPrivate(const P256Scalar &priv) const override
    {
        BWC_ASSIGN(bn, p256ScalarToBn(priv));
        return p256PointFromScalar(*bn);
    }

    Expected<void> p256CheckPoint(const P256Point &point) const override
    {
        return checkPoint(point);
    }

    Expected<SecretArray<32>> p256Ecdh(const P256Scalar &priv, const P256Point &peer) const override
    {
        BWC_ASSIGN(peerKey, p256PublicKey(peer));
        BWC_ASSIGN(ownKey, p256PrivateKey(priv));
        PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ownKey.get(), nullptr));
        if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
            EVP_PKEY_derive_set_peer(ctx.get(), peerKey.get()) != 1)
            return opensslError(Errc::Crypto, "P-256 ECDH setup failed");
        SecretArray<32> shared;
        size_t len = shared.size();
        if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size())
            return opensslError(Errc::Crypto, "P-256 ECDH failed");
        return shared;
    }

    Expected<Bytes> ecdsaSignDigest(const P256Scalar &priv, const Digest &digest) const override
    {
        BWC_ASSIGN(key, p256PrivateKey(priv));
        PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256_.get()) != 1)
            return opensslError(Errc::Crypto, "ECDSA signing setup failed");
        size_t len = 0;
        if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1)
            return opensslError(Errc::Crypto, "ECDSA signing failed");
        Bytes sig(len);
        if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1)
            return opensslError(Errc::Crypto, "ECDSA signing failed");
        sig.resize(len);
        return sig;
    }

    Expected<void> ecdsaVerifyDigest(const P256Point &pub, const Digest &digest,
                                     ByteView derSignature) const override
    {
        BWC_TRY(checkStrictDer(derSignature));
        BWC_ASSIGN(key, p256PublicKey(pub));
        PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
        if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256_.get()) != 1)
            return opensslError(Errc::Crypto, "ECDSA verification setup failed");
        int rc = EVP_PKEY_verify(ctx.get(), derSignature.data(), derSignature.size(), digest.data(),
                                 digest.size());
        if (rc == 1)
            return {};
        if (rc == 0) {
            drainErrors();
            return Error(Errc::Auth, "ECDSA signature does not verify");
        }
        return opensslError(Errc::Crypto, "ECDSA verification failed");
    }

    Expected<P256KeyPair> parsePrivateKeyDer(ByteView der) const override
    {
        const unsigned char *p = der.data();
        PkeyPtr pkey(d2i_AutoPrivateKey_ex(nullptr, &p, long(der.size()), nullptr, nullptr));
        if (!pkey) {
            drainErrors();
            return Error(Errc::Format, "private key: not a DER PKCS#8 or SEC1 EC private key");
        }
        if (p != der.data() + der.size())
            return Error(Errc::Format, "private key: unexpected data after the DER key");
        if (!isP256Key(*pkey))
            return Error(Errc::Crypto, "private key is " + describeKey(pkey.get()) +
                                           "; only P-256 (prime256v1) EC keys are used");
        BIGNUM *rawPriv = nullptr;
        if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &rawPriv) != 1)
            return opensslError(Errc::Format, "private key: the file holds no private scalar");
        BnPtr priv(rawPriv);
        P256KeyPair key;
        if (BN_num_bytes(priv.get()) > int(kP256ScalarLen) ||
            BN_bn2binpad(priv.get(), key.priv.data(), int(kP256ScalarLen)) < 0)
            return Error(Errc::Format, "private key: scalar longer than 32 bytes");
        BWC_ASSIGN(pub, p256PublicFromPrivate(key.priv));
        key.pub = pub;
        // A stored public key must be the one that belongs to the scalar.
        size_t pubLen = 0;
        if (EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0,
                                            &pubLen) == 1) {
            auto filePub = p256PointOfKey(pkey.get(), Errc::Format);
            if (!filePub || *filePub != key.pub)
                return Error(Errc::Format,
                             "private key: the public key stored with it does not match the "
                             "private scalar (corrupt key file)");
        }
        drainErrors();
        return key;
    }

    Expected<CertInfo> parseCertificateDer(ByteView der) const override
    {
        return parseCertificate(*this, der);
    }

    Expected<CrlInfo> parseCrlDer(ByteView der) const override { return parseCrl(der); }

    Expected<CertInfo> verifyCertChain(const ChainRequest &request) const override
    {
        return verifyChain(*this, request);
    }

private:
    // `params` are the mode, key and salt or info; the digest is added here. (OpenSSL 3.0
    // cannot duplicate an HKDF context, so each derivation sets up its own.)
    Expected<void> derive(const OSSL_PARAM *params, MutableByteView out, const char *what) const
    {
        KdfCtxPtr ctx(EVP_KDF_CTX_new(hkdf_.get()));
        if (!ctx)
            fatal("out of memory for HKDF");
        char digest[] = "SHA256";
        OSSL_PARAM digestParams[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_CTX_set_params(ctx.get(), digestParams) != 1 ||
            EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
            return opensslError(Errc::Crypto, std::string(what) + " failed");
        return {};
    }

    static Expected<void> checkStrictDer(ByteView der)
    {
        const unsigned char *p = der.data();
        EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(der.size())));
        if (!sig || p != der.data() + der.size()) {
            drainErrors();
            return Error(Errc::Format, "ECDSA signature is not DER (X9.62 SEQUENCE of r, s)");
        }
        unsigned char *reencoded = nullptr;
        int len = i2d_ECDSA_SIG(sig.get(), &reencoded);
        OpensslBuf owner(reencoded);
        if (len < 0 || size_t(len) != der.size() || std::memcmp(reencoded, der.data(), der.size()))
            return Error(Errc::Format, "ECDSA signature is not strict DER (non-minimal encoding)");
        return {};
    }

    MdPtr sha256_;
    CipherPtr aes256Gcm_;
    CipherPtr aes128Gcm_;
    KdfPtr hkdf_;
};

} // namespace

std::unique_ptr<Backend> makeOpensslBackend()
{
    return std::make_unique<OpensslBackend>();
}

} // namespace bwc::crypto
