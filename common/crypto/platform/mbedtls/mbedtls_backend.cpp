// The mbedTLS backend (the camera's): primitives. Certificates and CRLs are in
// mbedtls_x509.cpp. Written once for mbedTLS 2.28 and 3.6; mbedtls_compat.h holds every
// difference between the two.

#include "common/crypto/crypto.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/error.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

#include "common/base/log.h"
#include "common/crypto/platform/mbedtls/mbedtls_compat.h"
#include "common/crypto/platform/mbedtls/mbedtls_util.h"

namespace bwc::crypto {

namespace mbed {

namespace {

// Reads `len` bytes from the kernel CSPRNG; 0 or the errno of the failure.
int readKernelRandom(uint8_t *out, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(out, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        out += n;
        len -= size_t(n);
    }
    return 0;
}

// For failures that cannot happen in a working installation (software SHA-256 failing).
[[noreturn]] void fatal(const std::string &what)
{
    log::error("mbedTLS backend: " + what);
    std::abort();
}

const mbedtls_md_info_t &sha256Info()
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!info)
        fatal("this mbedTLS build has no SHA-256 message digest");
    return *info;
}

// A private scalar, after checking 1 <= d < n.
Expected<void> readScalar(const EcpGroup &group, const P256Scalar &priv, Mpi &d)
{
    int ret = mbedtls_mpi_read_binary(d.get(), priv.data(), priv.size());
    if (ret != 0)
        return Error(Errc::Internal, "cannot load a P-256 private key: " + describeError(ret));
    if (mbedtls_ecp_check_privkey(group.get(), d.get()) != 0)
        return Error(Errc::Crypto, "invalid P-256 private key: the scalar is 0 or not below "
                                   "the group order n; the key file is damaged or not a "
                                   "P-256 key");
    return {};
}

Expected<P256Point> publicFromScalar(EcpGroup &group, const Mpi &d)
{
    EcpPoint q;
    int ret = mbedtls_ecp_mul(group.get(), q.get(), d.get(), &group->G, kernelRandom, nullptr);
    if (ret != 0)
        return Error(Errc::Crypto, "P-256 scalar multiplication failed: " + describeError(ret));
    return writeP256Point(group, *q.get());
}

// Minimal positive DER INTEGER of a value below 2^256.
Expected<void> appendDerInteger(const mbedtls_mpi &value, Bytes &out)
{
    std::array<uint8_t, 32> raw{};
    int ret = mbedtls_mpi_write_binary(&value, raw.data(), raw.size());
    if (ret != 0)
        return Error(Errc::Internal, "ECDSA signature value does not fit 32 bytes");
    size_t skip = 0;
    while (skip + 1 < raw.size() && raw[skip] == 0)
        ++skip;
    const bool pad = (raw[skip] & 0x80) != 0;
    out.push_back(0x02);
    out.push_back(uint8_t(raw.size() - skip + (pad ? 1 : 0)));
    if (pad)
        out.push_back(0x00);
    out.insert(out.end(), raw.begin() + long(skip), raw.end());
    return {};
}

// DER definite length at `pos`, minimal encoding only. Signatures of P-256 are at most
// 72 bytes, so one length byte after 0x81 is the longest form they can need.
bool readDerLength(ByteView in, size_t &pos, size_t &len)
{
    if (pos >= in.size())
        return false;
    const uint8_t first = in[pos++];
    if (first < 0x80) {
        len = first;
        return true;
    }
    if (first != 0x81 || pos >= in.size())
        return false;
    const uint8_t value = in[pos++];
    if (value < 0x80)
        return false; // would fit the short form
    len = value;
    return true;
}

bool readDerPositiveInteger(ByteView in, size_t &pos, ByteView &value)
{
    if (pos >= in.size() || in[pos] != 0x02)
        return false;
    ++pos;
    size_t len = 0;
    if (!readDerLength(in, pos, len))
        return false;
    if (len == 0 || len > in.size() - pos)
        return false;
    value = in.subspan(pos, len);
    if (value[0] & 0x80)
        return false; // negative
    if (len > 1 && value[0] == 0x00 && (value[1] & 0x80) == 0)
        return false; // a leading zero byte that is not needed
    pos += len;
    return true;
}

// SEQUENCE { INTEGER r, INTEGER s } and nothing else.
bool parseStrictDerSignature(ByteView der, ByteView &r, ByteView &s)
{
    if (der.size() < 2 || der[0] != 0x30)
        return false;
    size_t pos = 1;
    size_t len = 0;
    if (!readDerLength(der, pos, len) || len != der.size() - pos)
        return false;
    if (!readDerPositiveInteger(der, pos, r) || !readDerPositiveInteger(der, pos, s))
        return false;
    return pos == der.size();
}

// Total length (header + content) of the DER element at the start of `der`, if its
// length field is well-formed.
std::optional<size_t> derElementLength(ByteView der)
{
    if (der.size() < 2)
        return std::nullopt;
    const uint8_t first = der[1];
    if (first < 0x80)
        return 2 + size_t(first);
    const size_t count = first & 0x7f;
    if (count == 0 || count > 4 || der.size() < 2 + count)
        return std::nullopt;
    size_t len = 0;
    for (size_t i = 0; i < count; ++i)
        len = (len << 8) | der[2 + i];
    return 2 + count + len;
}

std::string curveName(mbedtls_ecp_group_id id)
{
    const mbedtls_ecp_curve_info *info = mbedtls_ecp_curve_info_from_grp_id(id);
    return info ? info->name : "an unknown curve";
}

class MbedSha256 final : public Sha256 {
public:
    MbedSha256()
    {
        if (compat::sha256Starts(ctx_.get()) != 0)
            fatal("SHA-256 start failed");
    }

    void update(ByteView data) override
    {
        if (data.empty())
            return;
        if (compat::sha256Update(ctx_.get(), data.data(), data.size()) != 0)
            fatal("SHA-256 update failed");
    }

    Digest finish() override
    {
        Digest out{};
        if (compat::sha256Finish(ctx_.get(), out.data()) != 0)
            fatal("SHA-256 finish failed");
        return out;
    }

    std::unique_ptr<Sha256> clone() const override
    {
        auto copy = std::make_unique<MbedSha256>();
        mbedtls_sha256_clone(copy->ctx_.get(), ctx_.get());
        return copy;
    }

private:
    Sha256Context ctx_;
};

class MbedAesGcm final : public AesGcm {
public:
    static Expected<std::unique_ptr<AesGcm>> create(ByteView key)
    {
        if (key.size() != kAesKeyLen && key.size() != 16)
            return Error(Errc::Crypto, "AES-GCM key must be 32 bytes (AES-256), got " +
                                           std::to_string(key.size()) + " bytes");
        auto gcm = std::make_unique<MbedAesGcm>();
        int ret = mbedtls_gcm_setkey(gcm->ctx_.get(), MBEDTLS_CIPHER_ID_AES, key.data(),
                                     unsigned(key.size() * 8));
        if (ret != 0)
            return Error(Errc::Crypto, "AES-GCM key setup failed: " + describeError(ret));
        return std::unique_ptr<AesGcm>(std::move(gcm));
    }

    Expected<void> seal(const GcmNonce &nonce, ByteView aad, ByteView plaintext,
                        MutableByteView out) override
    {
        if (out.size() != plaintext.size() + kGcmTagLen)
            return Error(Errc::Internal, "AES-GCM seal: the output buffer holds " +
                                             std::to_string(out.size()) + " bytes, needs " +
                                             std::to_string(plaintext.size() + kGcmTagLen));
        int ret = mbedtls_gcm_crypt_and_tag(ctx_.get(), MBEDTLS_GCM_ENCRYPT, plaintext.size(),
                                            nonce.data(), nonce.size(), aad.data(), aad.size(),
                                            plaintext.data(), out.data(), kGcmTagLen,
                                            out.data() + plaintext.size());
        if (ret != 0) {
            secureZero(out.data(), out.size());
            return Error(Errc::Crypto, "AES-GCM encryption failed: " + describeError(ret));
        }
        return {};
    }

    Expected<void> open(const GcmNonce &nonce, ByteView aad, ByteView ciphertextAndTag,
                        MutableByteView out) override
    {
        if (ciphertextAndTag.size() < kGcmTagLen)
            return Error(Errc::Format, "AES-GCM input of " +
                                           std::to_string(ciphertextAndTag.size()) +
                                           " bytes is shorter than its 16-byte tag (truncated)");
        const size_t len = ciphertextAndTag.size() - kGcmTagLen;
        if (out.size() != len)
            return Error(Errc::Internal, "AES-GCM open: the output buffer holds " +
                                             std::to_string(out.size()) + " bytes, needs " +
                                             std::to_string(len));
        // auth_decrypt checks the tag before returning and wipes the output itself when
        // it does not match; we wipe again so the contract does not rest on that.
        int ret = mbedtls_gcm_auth_decrypt(ctx_.get(), len, nonce.data(), nonce.size(), aad.data(),
                                           aad.size(), ciphertextAndTag.data() + len, kGcmTagLen,
                                           ciphertextAndTag.data(), out.data());
        if (ret != 0) {
            secureZero(out.data(), out.size());
            if (ret == MBEDTLS_ERR_GCM_AUTH_FAILED)
                return Error(Errc::Auth, "AES-GCM authentication failed");
            return Error(Errc::Crypto, "AES-GCM decryption failed: " + describeError(ret));
        }
        return {};
    }

private:
    GcmContext ctx_;
};

class MbedtlsBackend final : public Backend {
public:
    std::string name() const override
    {
        char version[16] = {};
        mbedtls_version_get_string(version);
        return std::string("mbedtls ") + version;
    }

    Expected<void> randomBytes(MutableByteView out) const override { return fillRandom(out); }

    std::unique_ptr<Sha256> newSha256() const override { return std::make_unique<MbedSha256>(); }

    Expected<std::unique_ptr<AesGcm>> newAesGcm(ByteView key) const override
    {
        return MbedAesGcm::create(key);
    }

    Expected<SecretBytes> hkdfExtract(ByteView salt, ByteView ikm) const override
    {
        SecretBytes prk(kSha256Len);
        int ret = mbedtls_hkdf_extract(&sha256Info(), salt.data(), salt.size(), ikm.data(),
                                       ikm.size(), prk.data());
        if (ret != 0)
            return Error(Errc::Crypto, "HKDF-Extract failed: " + describeError(ret));
        return prk;
    }

    Expected<SecretBytes> hkdfExpand(ByteView prk, ByteView info, size_t len) const override
    {
        if (prk.size() != kSha256Len)
            return Error(Errc::Crypto, "HKDF-Expand needs a 32-byte pseudorandom key, got " +
                                           std::to_string(prk.size()) + " bytes");
        if (len > 255 * kSha256Len)
            return Error(Errc::Crypto, "HKDF-Expand output of " + std::to_string(len) +
                                           " bytes is longer than the 8160 bytes RFC 5869 "
                                           "allows for SHA-256");
        SecretBytes okm(len);
        if (len == 0)
            return okm;
        int ret = mbedtls_hkdf_expand(&sha256Info(), prk.data(), prk.size(), info.data(),
                                      info.size(), okm.data(), okm.size());
        if (ret != 0)
            return Error(Errc::Crypto, "HKDF-Expand failed: " + describeError(ret));
        return okm;
    }

    Expected<P256KeyPair> p256Generate() const override
    {
        EcpGroup group;
        BWC_TRY(loadP256(group));
        Mpi d;
        EcpPoint q;
        int ret = mbedtls_ecp_gen_keypair(group.get(), d.get(), q.get(), kernelRandom, nullptr);
        if (ret != 0)
            return Error(Errc::Crypto, "P-256 key generation failed: " + describeError(ret));
        P256KeyPair key;
        ret = mbedtls_mpi_write_binary(d.get(), key.priv.data(), key.priv.size());
        if (ret != 0)
            return Error(Errc::Internal, "generated P-256 scalar does not fit 32 bytes");
        BWC_ASSIGN(pub, writeP256Point(group, *q.get()));
        key.pub = pub;
        return key;
    }

    Expected<P256Point> p256PublicFromPrivate(const P256Scalar &priv) const override
    {
        EcpGroup group;
        BWC_TRY(loadP256(group));
        Mpi d;
        BWC_TRY(readScalar(group, priv, d));
        return publicFromScalar(group, d);
    }

    Expected<void> p256CheckPoint(const P256Point &point) const override
    {
        EcpGroup group;
        BWC_TRY(loadP256(group));
        EcpPoint q;
        return readP256Point(group, point, q);
    }

    Expected<SecretArray<32>> p256Ecdh(const P256Scalar &priv, const P256Point &peer) const override
    {
        EcpGroup group;
        BWC_TRY(loadP256(group));
        Mpi d;
        BWC_TRY(readScalar(group, priv, d));
        EcpPoint q;
        auto peerOk = readP256Point(group, peer, q);
        if (!peerOk)
            return std::move(peerOk).error().context("ECDH peer public key");
        Mpi z;
        int ret = mbedtls_ecdh_compute_shared(group.get(), z.get(), q.get(), d.get(), kernelRandom,
                                              nullptr);
        if (ret != 0)
            return Error(Errc::Crypto, "P-256 ECDH failed: " + describeError(ret));
        SecretArray<32> shared;
        ret = mbedtls_mpi_write_binary(z.get(), shared.data(), shared.size());
        if (ret != 0)
            return Error(Errc::Internal, "ECDH shared secret does not fit 32 bytes");
        return shared;
    }

    Expected<Bytes> ecdsaSignDigest(const P256Scalar &priv, const Digest &digest) const override
    {
        EcpGroup group;
        BWC_TRY(loadP256(group));
        Mpi d;
        BWC_TRY(readScalar(group, priv, d));
        Mpi r;
        Mpi s;
        // RFC 6979 nonce; the kernel RNG only blinds the scalar multiplication.
        int ret =
            mbedtls_ecdsa_sign_det_ext(group.get(), r.get(), s.get(), d.get(), digest.data(),
                                       digest.size(), MBEDTLS_MD_SHA256, kernelRandom, nullptr);
        if (ret != 0)
            return Error(Errc::Crypto, "ECDSA signing failed: " + describeError(ret));
        Bytes body;
        BWC_TRY(appendDerInteger(*r.get(), body));
        BWC_TRY(appendDerInteger(*s.get(), body));
        Bytes der = {0x30, uint8_t(body.size())};
        der.insert(der.end(), body.begin(), body.end());
        return der;
    }

    Expected<void> ecdsaVerifyDigest(const P256Point &pub, const Digest &digest,
                                     ByteView derSignature) const override
    {
        return ecdsaVerifyDer(pub, digest, derSignature);
    }

    Expected<P256KeyPair> parsePrivateKeyDer(ByteView der) const override
    {
        if (der.empty())
            return Error(Errc::Format, "private key is empty; expected a PKCS#8 or SEC1 "
                                       "(EC PRIVATE KEY) DER key");
        // mbedTLS stops at the end of the outer SEQUENCE and ignores what follows; a key
        // file with anything after the key is damaged.
        auto total = derElementLength(der);
        if (der[0] != 0x30 || !total)
            return Error(Errc::Format, "private key is not DER (no ASN.1 SEQUENCE at the "
                                       "start); expected a PKCS#8 or SEC1 P-256 key");
        if (*total != der.size())
            return Error(Errc::Format,
                         *total > der.size()
                             ? "private key DER is truncated (" + std::to_string(der.size()) +
                                   " of " + std::to_string(*total) + " bytes)"
                             : "private key DER has " + std::to_string(der.size() - *total) +
                                   " bytes after the key; the key file is damaged");

        PkContext pk;
        int ret = compat::pkParseKey(pk.get(), der.data(), der.size(), kernelRandom, nullptr);
        if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
            return Error(Errc::Format, "private key is encrypted; store it unencrypted "
                                       "(`openssl pkcs8 -topk8 -nocrypt`)");
        if (ret != 0)
            return Error(Errc::Format,
                         "not a PKCS#8 or SEC1 private key (" + describeError(ret) + ")");

        const mbedtls_pk_type_t type = mbedtls_pk_get_type(pk.get());
        if (type != MBEDTLS_PK_ECKEY && type != MBEDTLS_PK_ECKEY_DH && type != MBEDTLS_PK_ECDSA)
            return Error(Errc::Format, "private key is a " +
                                           std::to_string(mbedtls_pk_get_bitlen(pk.get())) +
                                           "-bit " + mbedtls_pk_get_name(pk.get()) +
                                           " key; only EC P-256 keys are accepted");
        const mbedtls_ecp_keypair *key = mbedtls_pk_ec(*pk.get());
        if (!key)
            return Error(Errc::Format, "private key holds no EC key pair");
        const mbedtls_ecp_group_id curve = compat::keypairGroupId(*key);
        if (curve != MBEDTLS_ECP_DP_SECP256R1)
            return Error(Errc::Format, "private key is an EC key on " + curveName(curve) +
                                           "; only P-256 (prime256v1) keys are accepted");

        P256KeyPair pair;
        ret = mbedtls_mpi_write_binary(&compat::keypairSecret(*key), pair.priv.data(),
                                       pair.priv.size());
        if (ret != 0)
            return Error(Errc::Crypto, "private key scalar is longer than 32 bytes; not a "
                                       "valid P-256 key");

        EcpGroup group;
        BWC_TRY(loadP256(group));
        Mpi d;
        BWC_TRY(readScalar(group, pair.priv, d));
        BWC_ASSIGN(derived, publicFromScalar(group, d));

        // The file's own public key, when it has one, must be the one the scalar gives.
        EcpPoint stored;
        ret = mbedtls_ecp_copy(stored.get(), &compat::keypairPublic(*key));
        if (ret != 0)
            return Error(Errc::Internal, "cannot copy a P-256 point: " + describeError(ret));
        if (!mbedtls_ecp_is_zero(stored.get())) {
            BWC_ASSIGN(storedPub, writeP256Point(group, *stored.get()));
            if (storedPub != derived)
                return Error(Errc::Crypto, "private key file is inconsistent: its public key "
                                           "does not belong to its private key (damaged or "
                                           "edited file)");
        }
        pair.pub = derived;
        return pair;
    }

    Expected<CertInfo> parseCertificateDer(ByteView der) const override
    {
        return parseCertificate(der);
    }

    Expected<CrlInfo> parseCrlDer(ByteView der) const override { return parseCrl(der); }

    Expected<CertInfo> verifyCertChain(const ChainRequest &request) const override
    {
        return verifyChain(request);
    }
};

} // namespace

int kernelRandom(void *, unsigned char *out, size_t len)
{
    return readKernelRandom(out, len) == 0 ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

Expected<void> fillRandom(MutableByteView out)
{
    int err = readKernelRandom(out.data(), out.size());
    if (err == ENOSYS)
        return Error(Errc::Crypto, "the kernel has no getrandom(2) system call (Linux 3.17 "
                                   "or later is needed for random numbers)");
    if (err != 0)
        return Error(Errc::Crypto, std::string("reading the kernel random number generator "
                                               "(getrandom) failed: ") +
                                       std::generic_category().message(err));
    return {};
}

std::string describeError(int ret)
{
    char text[200] = {};
    mbedtls_strerror(ret, text, sizeof text);
    char code[24];
    std::snprintf(code, sizeof code, " (-0x%04x)", unsigned(-ret));
    return std::string(text) + code;
}

Expected<void> loadP256(EcpGroup &group)
{
    int ret = mbedtls_ecp_group_load(group.get(), MBEDTLS_ECP_DP_SECP256R1);
    if (ret != 0)
        return Error(Errc::Internal, "cannot load the P-256 curve: " + describeError(ret));
    return {};
}

Expected<void> readP256Point(const EcpGroup &group, const P256Point &point, EcpPoint &out)
{
    if (point[0] != 0x04)
        return Error(Errc::Crypto, "invalid curve point: not an uncompressed P-256 point "
                                   "(first byte is not 0x04)");
    int ret = mbedtls_ecp_point_read_binary(group.get(), out.get(), point.data(), point.size());
    if (ret != 0)
        return Error(Errc::Crypto, "invalid curve point: " + describeError(ret));
    if (mbedtls_ecp_check_pubkey(group.get(), out.get()) != 0 || mbedtls_ecp_is_zero(out.get()))
        return Error(Errc::Crypto, "invalid curve point: not on the P-256 curve");
    return {};
}

Expected<P256Point> writeP256Point(const EcpGroup &group, const mbedtls_ecp_point &point)
{
    P256Point out{};
    size_t len = 0;
    int ret = mbedtls_ecp_point_write_binary(group.get(), &point, MBEDTLS_ECP_PF_UNCOMPRESSED, &len,
                                             out.data(), out.size());
    if (ret != 0 || len != out.size())
        return Error(Errc::Crypto, "cannot encode a P-256 point (the point at infinity?)");
    return out;
}

Digest sha256Of(ByteView data)
{
    MbedSha256 hash;
    hash.update(data);
    return hash.finish();
}

Expected<void> ecdsaVerifyDer(const P256Point &pub, const Digest &digest, ByteView derSignature)
{
    ByteView rBytes;
    ByteView sBytes;
    if (!parseStrictDerSignature(derSignature, rBytes, sBytes))
        return Error(Errc::Format, "signature is not strict DER (expected SEQUENCE of two "
                                   "minimal positive INTEGERs and nothing else)");
    EcpGroup group;
    BWC_TRY(loadP256(group));
    EcpPoint q;
    BWC_TRY(readP256Point(group, pub, q));
    Mpi r;
    Mpi s;
    if (mbedtls_mpi_read_binary(r.get(), rBytes.data(), rBytes.size()) != 0 ||
        mbedtls_mpi_read_binary(s.get(), sBytes.data(), sBytes.size()) != 0)
        return Error(Errc::Internal, "cannot load the ECDSA signature values");
    int ret =
        mbedtls_ecdsa_verify(group.get(), digest.data(), digest.size(), q.get(), r.get(), s.get());
    if (ret == MBEDTLS_ERR_ECP_VERIFY_FAILED)
        return Error(Errc::Auth, "ECDSA signature does not verify (wrong key, or the data or "
                                 "the signature was altered)");
    if (ret != 0)
        return Error(Errc::Crypto, "ECDSA verification failed: " + describeError(ret));
    return {};
}

} // namespace mbed

std::unique_ptr<Backend> makeMbedtlsBackend()
{
    static const int initResult = mbed::compat::libraryInit();
    if (initResult != 0) {
        log::error("mbedTLS backend: the library could not be initialised (PSA crypto init "
                   "failed); no mbedTLS crypto is available");
        return nullptr;
    }
    return std::make_unique<mbed::MbedtlsBackend>();
}

} // namespace bwc::crypto
