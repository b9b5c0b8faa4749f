#pragma once

// Internals of the mbedTLS backend shared by its two halves (mbedtls_backend.cpp for the
// primitives, mbedtls_x509.cpp for certificates and CRLs): RAII owners of every mbedTLS
// context we initialise, the kernel RNG callback, and the P-256 and ECDSA helpers the
// X.509 code verifies signatures with.

#include <string>
#include <string_view>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/mbedtls/mbedtls_compat.h"

namespace bwc::crypto::mbed {

// One owner per mbedTLS context type: init in the constructor, free in the destructor,
// neither copyable nor movable (mbedTLS contexts may point into themselves).
template <typename T, void (*InitFn)(T *), void (*FreeFn)(T *)> class Context {
public:
    Context() { InitFn(&ctx_); }
    ~Context() { FreeFn(&ctx_); }
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    T *get() { return &ctx_; }
    const T *get() const { return &ctx_; }
    T *operator->() { return &ctx_; }
    const T *operator->() const { return &ctx_; }

private:
    T ctx_;
};

// mbedtls_mpi_free zeroises the limbs, so secret scalars do not outlive their Mpi.
using Mpi = Context<mbedtls_mpi, mbedtls_mpi_init, mbedtls_mpi_free>;
using EcpGroup = Context<mbedtls_ecp_group, mbedtls_ecp_group_init, mbedtls_ecp_group_free>;
using EcpPoint = Context<mbedtls_ecp_point, mbedtls_ecp_point_init, mbedtls_ecp_point_free>;
using PkContext = Context<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;
using Sha256Context = Context<mbedtls_sha256_context, mbedtls_sha256_init, mbedtls_sha256_free>;
using GcmContext = Context<mbedtls_gcm_context, mbedtls_gcm_init, mbedtls_gcm_free>;
using X509Crt = Context<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;
using X509Crl = Context<mbedtls_x509_crl, mbedtls_x509_crl_init, mbedtls_x509_crl_free>;

// The kernel CSPRNG (getrandom(2)), as an mbedTLS RNG callback: fills the whole buffer or
// fails. Stateless, so safe from any thread; `state` is unused.
int kernelRandom(void *state, unsigned char *out, size_t len);
// The same, for our own callers.
Expected<void> fillRandom(MutableByteView out);

// mbedTLS's description of an error code, "PK - Invalid key tag or value".
std::string describeError(int ret);

// A freshly loaded P-256 group (groups cache precomputed points, so each operation gets
// its own: nothing is shared between threads).
Expected<void> loadP256(EcpGroup &group);
// `point` must be an uncompressed P-256 point that lies on the curve.
Expected<void> readP256Point(const EcpGroup &group, const P256Point &point, EcpPoint &out);
Expected<P256Point> writeP256Point(const EcpGroup &group, const mbedtls_ecp_point &point);

// SHA-256 in one call.
Digest sha256Of(ByteView data);

// Verifies a DER ECDSA signature over `digest`. Errc::Format unless the signature is
// strict DER, Errc::Auth if it does not verify, Errc::Crypto for an invalid key.
Expected<void> ecdsaVerifyDer(const P256Point &pub, const Digest &digest, ByteView derSignature);

// The X.509 half of the Backend (mbedtls_x509.cpp).
Expected<CertInfo> parseCertificate(ByteView der);
Expected<CrlInfo> parseCrl(ByteView der);
Expected<CertInfo> verifyChain(const ChainRequest &request);

} // namespace bwc::crypto::mbed
