#pragma once

// Everything that differs between mbedTLS 2.28 LTS (Debian 12) and 3.6 LTS, in one place,
// so that the backend's .cpp files are written once against these names:
// - 3.x makes most struct fields private: they are read through MBEDTLS_PRIVATE().
// - 2.x names the int-returning SHA-256 functions *_ret; 3.x gives the plain names.
// - 3.x's mbedtls_pk_parse_key takes an RNG (for blinding).
// - 3.x keeps the version and configuration in build_info.h (included by version.h), 2.x
//   in config.h; version.h includes the right one in both.
// - 3.x may run parts of the legacy API through PSA, which must be initialised first.
// The error codes this backend names (MBEDTLS_ERR_PK_*, _X509_*, _ECP_*, _GCM_*) have the
// same names and values in both series.

#include <mbedtls/version.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <mbedtls/build_info.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif
#else
#include <mbedtls/config.h>
#endif

#if MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "the mbedTLS backend needs mbedTLS 2.28 LTS or 3.6 LTS"
#endif

// The parts of the library the backend uses, whichever series.
#if !defined(MBEDTLS_SHA256_C) || !defined(MBEDTLS_MD_C) || !defined(MBEDTLS_HKDF_C)
#error "the mbedTLS backend needs MBEDTLS_SHA256_C, MBEDTLS_MD_C and MBEDTLS_HKDF_C"
#endif
#if !defined(MBEDTLS_AES_C) || !defined(MBEDTLS_GCM_C)
#error "the mbedTLS backend needs MBEDTLS_AES_C and MBEDTLS_GCM_C"
#endif
#if !defined(MBEDTLS_ECP_C) || !defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
#error "the mbedTLS backend needs MBEDTLS_ECP_C with MBEDTLS_ECP_DP_SECP256R1_ENABLED"
#endif
#if !defined(MBEDTLS_ECDSA_C) || !defined(MBEDTLS_ECDSA_DETERMINISTIC) || !defined(MBEDTLS_ECDH_C)
#error "the mbedTLS backend needs MBEDTLS_ECDSA_C, MBEDTLS_ECDSA_DETERMINISTIC and MBEDTLS_ECDH_C"
#endif
#if !defined(MBEDTLS_PK_PARSE_C) || !defined(MBEDTLS_X509_CRT_PARSE_C) ||                          \
    !defined(MBEDTLS_X509_CRL_PARSE_C)
#error "the mbedTLS backend needs MBEDTLS_PK_PARSE_C, MBEDTLS_X509_CRT_PARSE_C and _CRL_PARSE_C"
#endif
#if !defined(MBEDTLS_VERSION_C) || !defined(MBEDTLS_ERROR_C)
#error "the mbedTLS backend needs MBEDTLS_VERSION_C and MBEDTLS_ERROR_C"
#endif
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && !defined(MBEDTLS_X509_CHECK_KEY_USAGE)
#error "the mbedTLS backend needs MBEDTLS_X509_CHECK_KEY_USAGE"
#endif

namespace bwc::crypto::mbed::compat {

using RngFunction = int (*)(void *, unsigned char *, size_t);

#if MBEDTLS_VERSION_NUMBER >= 0x03000000

// Once per process, before any other call: PSA backs parts of the 3.x API.
inline int libraryInit()
{
#if defined(MBEDTLS_PSA_CRYPTO_C)
    return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
#else
    return 0;
#endif
}

inline int sha256Starts(mbedtls_sha256_context *ctx)
{
    return mbedtls_sha256_starts(ctx, 0);
}
inline int sha256Update(mbedtls_sha256_context *ctx, const unsigned char *data, size_t len)
{
    return mbedtls_sha256_update(ctx, data, len);
}
inline int sha256Finish(mbedtls_sha256_context *ctx, unsigned char *out32)
{
    return mbedtls_sha256_finish(ctx, out32);
}

inline int pkParseKey(mbedtls_pk_context *pk, const unsigned char *der, size_t len, RngFunction rng,
                      void *rngState)
{
    return mbedtls_pk_parse_key(pk, der, len, nullptr, 0, rng, rngState);
}

inline mbedtls_ecp_group_id keypairGroupId(const mbedtls_ecp_keypair &key)
{
    return key.MBEDTLS_PRIVATE(grp).id;
}
inline const mbedtls_mpi &keypairSecret(const mbedtls_ecp_keypair &key)
{
    return key.MBEDTLS_PRIVATE(d);
}
inline const mbedtls_ecp_point &keypairPublic(const mbedtls_ecp_keypair &key)
{
    return key.MBEDTLS_PRIVATE(Q);
}

inline const mbedtls_x509_buf &crtSignature(const mbedtls_x509_crt &crt)
{
    return crt.MBEDTLS_PRIVATE(sig);
}
// basicConstraints cA (false when the extension is absent).
inline bool crtIsCa(const mbedtls_x509_crt &crt)
{
    return crt.MBEDTLS_PRIVATE(ca_istrue) != 0;
}
// pathLenConstraint + 1, or 0 when there is none.
inline int crtMaxPathLenPlusOne(const mbedtls_x509_crt &crt)
{
    return crt.MBEDTLS_PRIVATE(max_pathlen);
}

inline const mbedtls_x509_buf &crlSignature(const mbedtls_x509_crl &crl)
{
    return crl.MBEDTLS_PRIVATE(sig);
}

#else // mbedTLS 2.28

inline int libraryInit()
{
    return 0;
}

inline int sha256Starts(mbedtls_sha256_context *ctx)
{
    return mbedtls_sha256_starts_ret(ctx, 0);
}
inline int sha256Update(mbedtls_sha256_context *ctx, const unsigned char *data, size_t len)
{
    return mbedtls_sha256_update_ret(ctx, data, len);
}
inline int sha256Finish(mbedtls_sha256_context *ctx, unsigned char *out32)
{
    return mbedtls_sha256_finish_ret(ctx, out32);
}

inline int pkParseKey(mbedtls_pk_context *pk, const unsigned char *der, size_t len, RngFunction,
                      void *)
{
    return mbedtls_pk_parse_key(pk, der, len, nullptr, 0);
}

inline mbedtls_ecp_group_id keypairGroupId(const mbedtls_ecp_keypair &key)
{
    return key.grp.id;
}
inline const mbedtls_mpi &keypairSecret(const mbedtls_ecp_keypair &key)
{
    return key.d;
}
inline const mbedtls_ecp_point &keypairPublic(const mbedtls_ecp_keypair &key)
{
    return key.Q;
}

inline const mbedtls_x509_buf &crtSignature(const mbedtls_x509_crt &crt)
{
    return crt.sig;
}
inline bool crtIsCa(const mbedtls_x509_crt &crt)
{
    return crt.ca_istrue != 0;
}
inline int crtMaxPathLenPlusOne(const mbedtls_x509_crt &crt)
{
    return crt.max_pathlen;
}

inline const mbedtls_x509_buf &crlSignature(const mbedtls_x509_crl &crl)
{
    return crl.sig;
}

#endif

} // namespace bwc::crypto::mbed::compat
