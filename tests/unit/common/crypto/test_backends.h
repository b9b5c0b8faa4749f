#pragma once

// Shared helpers of the crypto tests: the two backends (every case runs over each, or
// over each ordered pair for cross tests) and hex literals.

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/crypto/crypto.h"

namespace bwc::crypto::test {

enum class BackendKind { Openssl, Mbedtls };

// The backends built into this test binary.
const std::vector<BackendKind> &backendKinds();
const Backend &backendFor(BackendKind kind);
std::string kindName(BackendKind kind);

// Decodes a hex literal of test data; fails the test on a typo.
Bytes hex(std::string_view text);

template <size_t N> std::array<uint8_t, N> hexArray(std::string_view text)
{
    Bytes b = hex(text);
    REQUIRE(b.size() == N);
    std::array<uint8_t, N> out{};
    std::copy(b.begin(), b.end(), out.begin());
    return out;
}

P256Scalar hexScalar(std::string_view text);
P256KeyPair keyPair(std::string_view privHex, std::string_view pubHex);

// Hex of a byte range, for readable failure messages.
template <typename T> std::string hexOf(const T &bytes)
{
    return toHex(ByteView(bytes.data(), bytes.size()));
}

} // namespace bwc::crypto::test

// Picks one backend per run of the enclosing test case (Catch2 re-runs the case for each).
#define BWC_EACH_BACKEND(var)                                                                      \
    const auto var##Kind =                                                                         \
        GENERATE(Catch::Generators::from_range(::bwc::crypto::test::backendKinds()));              \
    const ::bwc::crypto::Backend &var = ::bwc::crypto::test::backendFor(var##Kind);                \
    INFO("backend " << ::bwc::crypto::test::kindName(var##Kind) << " (" << var.name() << ")")

// Picks one ordered pair (producer, consumer) of backends per run of the enclosing test
// case, the same backend twice included.
#define BWC_EACH_BACKEND_PAIR(from, to)                                                            \
    const auto from##Kind =                                                                        \
        GENERATE(Catch::Generators::from_range(::bwc::crypto::test::backendKinds()));              \
    const auto to##Kind =                                                                          \
        GENERATE(Catch::Generators::from_range(::bwc::crypto::test::backendKinds()));              \
    const ::bwc::crypto::Backend &from = ::bwc::crypto::test::backendFor(from##Kind);              \
    const ::bwc::crypto::Backend &to = ::bwc::crypto::test::backendFor(to##Kind);                  \
    INFO("from " << ::bwc::crypto::test::kindName(from##Kind) << " to "                            \
                 << ::bwc::crypto::test::kindName(to##Kind))
