#pragma once

// Internals of the OpenSSL 3 backend, shared by its X.509 code and by the dock's PKI
// issuance (dock/pki), which is OpenSSL-only: RAII handles for every OpenSSL object we
// allocate, and conversions between OpenSSL types and the crypto.h types.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"

namespace bwc::crypto::ossl {

template <auto FreeFn> struct Deleter {
    template <typename T> void operator()(T *p) const
    {
        if (p)
            FreeFn(p);
    }
};

// OPENSSL_free is a macro; this gives it an address.
inline void opensslFree(void *p)
{
    OPENSSL_free(p);
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<EVP_MD_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
// Every BIGNUM we hold may be a secret scalar: always cleared when freed.
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, Deleter<X509_REVOKED_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Deleter<ASN1_STRING_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using OpensslBuf = std::unique_ptr<unsigned char, Deleter<opensslFree>>;
using OpensslStr = std::unique_ptr<char, Deleter<opensslFree>>;

// The reason strings on OpenSSL's error queue ("" if none); empties the queue.
std::string drainErrors();
// Error `code` with `what`, followed by OpenSSL's reasons in parentheses when it gave any.
Error opensslError(Errc code, std::string what);
// For failures that cannot happen in a working installation (allocation failure, a
// provider without SHA-256): logs `what` and aborts.
[[noreturn]] void fatal(std::string_view what);

// The P-256 group, shared read-only.
const EC_GROUP *p256Group();

// A private scalar as a BIGNUM, after checking 1 <= d < n (Errc::Crypto otherwise).
Expected<BnPtr> p256ScalarToBn(const P256Scalar &priv);
// d * G, as an uncompressed point.
Expected<P256Point> p256PointFromScalar(const BIGNUM &priv);
// EVP_PKEYs for the P-256 operations. `p256PublicKey` checks the point first.
Expected<PkeyPtr> p256PublicKey(const P256Point &pub);
Expected<PkeyPtr> p256PrivateKey(const P256Scalar &priv);
// A P-256 key pair (both halves, e.g. for X509_check_private_key).
Expected<PkeyPtr> p256KeyPairKey(const P256KeyPair &key);

// "EC prime256v1", "RSA 2048 bits", "EC secp384r1": what a key is, for messages.
std::string describeKey(const EVP_PKEY *pkey);
// True for an EC key on the named curve prime256v1.
bool isP256Key(const EVP_PKEY &pkey);
// The uncompressed point of an EC P-256 key; `code` with a message naming the key type
// if the key is anything else.
Expected<P256Point> p256PointOfKey(const EVP_PKEY *pkey, Errc code);

// ASN1_TIME (UTCTime or GeneralizedTime) to and from milliseconds since the epoch. ASN.1
// times have whole seconds: milliseconds are rounded down.
Expected<int64_t> asn1TimeToUtcMs(const ASN1_TIME *time);
Expected<Asn1TimePtr> utcMsToAsn1Time(int64_t utcMs);

// "CN=cam-0001,O=Agency": every RDN in order, short attribute names.
std::string nameOneLine(const X509_NAME *name);
// The (first) commonName, "" if there is none.
std::string nameCommonName(const X509_NAME *name);
// Lower-case hex of the integer's magnitude, no leading zero bytes (at least one byte);
// negative serials get a leading '-'.
std::string integerHex(const ASN1_INTEGER *value);
// The inverse, for CRL entries: Errc::Format unless `hex` is a non-empty hex string.
Expected<Asn1IntegerPtr> integerFromHex(std::string_view hex);

// Implementations of the X.509 part of the Backend (openssl_x509.cpp).
Expected<CertInfo> parseCertificate(const Backend &backend, ByteView der);
Expected<CrlInfo> parseCrl(ByteView der);
Expected<CertInfo> verifyChain(const Backend &backend, const ChainRequest &request);

} // namespace bwc::crypto::ossl
