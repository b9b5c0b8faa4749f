#pragma once

// Shared helpers of the PKI tests: the two crypto backends, a test agency PKI with fixed
// times, and raw OpenSSL builders for certificates the issuance code refuses to make
// (non-CA issuers, RSA and P-384 keys, other signature algorithms).

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/openssl/openssl_util.h"
#include "dock/pki/pki.h"

namespace bwc::pki::test {

// 2026-01-01T00:00:00Z and one day, in milliseconds.
constexpr int64_t kT0 = 1'767'225'600'000;
constexpr int64_t kDay = 86'400'000;

// "openssl" and "mbedtls": every X.509 case runs over both.
const std::vector<std::string> &backendNames();
const crypto::Backend &backendNamed(const std::string &name);
// The OpenSSL backend, for making test material.
const crypto::Backend &openssl();

crypto::P256KeyPair newKey();

// A CA of the test PKI: what signs, and what its certificate says.
struct Ca {
    Issuer issuer;
    crypto::CertInfo info;
};

Ca makeRoot(const std::string &commonName, int64_t notBeforeUtcMs, int64_t notAfterUtcMs);
// A subordinate CA issued by `parent`.
Ca makeIntermediate(const Ca &parent, const std::string &commonName, int64_t notBeforeUtcMs,
                    int64_t notAfterUtcMs);
Bytes makeLeaf(const Ca &ca, CertKind kind, const std::string &commonName,
               const crypto::P256Point &pub, int64_t notBeforeUtcMs, int64_t notAfterUtcMs);
Bytes makeCrl(const Ca &ca, const std::vector<std::string> &revokedSerials, int64_t thisUpdateUtcMs,
              int64_t nextUpdateUtcMs);

// A certificate built directly with OpenSSL. `issuerDer` empty: self-issued.
struct RawCertSpec {
    EVP_PKEY *subjectKey = nullptr;
    EVP_PKEY *signingKey = nullptr;
    Bytes issuerDer;
    std::string commonName;
    bool isCa = false;
    int64_t notBeforeUtcMs = 0;
    int64_t notAfterUtcMs = 0;
    const EVP_MD *md = nullptr; // default SHA-256
};
Bytes rawCert(const RawCertSpec &spec);
// A CRL issued by the certificate `issuerDer` and signed with `signingKey` (no checks).
Bytes rawCrl(ByteView issuerDer, EVP_PKEY *signingKey, int64_t thisUpdateUtcMs,
             int64_t nextUpdateUtcMs);
crypto::ossl::PkeyPtr keyOf(const crypto::P256KeyPair &key);
crypto::ossl::PkeyPtr generateKey(const char *type, const char *curveOrNull, size_t rsaBits);

bool containsNoCase(std::string_view haystack, std::string_view needle);

// Checks the error category and that the message names each phrase (case-insensitive).
template <typename T>
void requireError(const Expected<T> &result, Errc code,
                  std::initializer_list<std::string_view> phrases)
{
    REQUIRE_FALSE(result.ok());
    INFO("error: [" << errcName(result.error().code) << "] " << result.error().message);
    CHECK(result.error().code == code);
    for (std::string_view phrase : phrases) {
        INFO("expected phrase: " << phrase);
        CHECK(containsNoCase(result.error().message, phrase));
    }
}

} // namespace bwc::pki::test

// Picks one backend per run of the enclosing test case.
#define BWC_PKI_EACH_BACKEND(var)                                                                  \
    const std::string var##Name =                                                                  \
        GENERATE(Catch::Generators::from_range(::bwc::pki::test::backendNames()));                 \
    const ::bwc::crypto::Backend &var = ::bwc::pki::test::backendNamed(var##Name);                 \
    INFO("backend " << var##Name << " (" << var.name() << ")")
