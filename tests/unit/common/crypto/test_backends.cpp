#include "tests/unit/common/crypto/test_backends.h"

#include <memory>
#include <stdexcept>

namespace bwc::crypto::test {

const std::vector<BackendKind> &backendKinds()
{
    static const std::vector<BackendKind> kinds = {
#if BWC_TEST_HAVE_OPENSSL
        BackendKind::Openssl,
#endif
        BackendKind::Mbedtls,
    };
    return kinds;
}

const Backend &backendFor(BackendKind kind)
{
    switch (kind) {
    case BackendKind::Openssl: {
#if BWC_TEST_HAVE_OPENSSL
        static const std::unique_ptr<Backend> openssl = makeOpensslBackend();
        REQUIRE(openssl);
        return *openssl;
#else
        break;
#endif
    }
    case BackendKind::Mbedtls: {
        static const std::unique_ptr<Backend> mbedtls = makeMbedtlsBackend();
        REQUIRE(mbedtls);
        return *mbedtls;
    }
    }
    FAIL("backend not built into this test");
    throw std::logic_error("unreachable");
}

std::string kindName(BackendKind kind)
{
    return kind == BackendKind::Openssl ? "openssl" : "mbedtls";
}

Bytes hex(std::string_view text)
{
    auto b = fromHex(text);
    REQUIRE(b.has_value());
    return *b;
}

P256Scalar hexScalar(std::string_view text)
{
    Bytes b = hex(text);
    REQUIRE(b.size() == kP256ScalarLen);
    return P256Scalar(b);
}

P256KeyPair keyPair(std::string_view privHex, std::string_view pubHex)
{
    P256KeyPair pair;
    pair.priv = hexScalar(privHex);
    pair.pub = hexArray<kP256PointLen>(pubHex);
    return pair;
}

} // namespace bwc::crypto::test
