#pragma once

#include "tests/unit/common/crypto/test_backends.h"

// Shared helpers of the chain tests: the backends built into the binary, temporary
// directories, identities made from freshly generated keys, sample manifests.

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include <memory>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/chain/clip_session.h"
#include "common/chain/identity.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::chain::test
{

using crypto::test::BackendKind;
using crypto::test::backendFor;
using crypto::test::backendKinds;
using crypto::test::kindName;

// The camera's backend (mbedTLS) and the dock's (OpenSSL when built, else mbedTLS).
const crypto::Backend &deviceBackend();
const crypto::Backend &dockBackend();

// A fresh directory (in RAM where possible), removed with everything in it.
class TempDir
{
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

crypto::P256KeyPair generateKey(const crypto::Backend &backend);

// A software identity without certificate, counter file in `counterPath`.
std::unique_ptr<SoftwareIdentity> makeIdentity(const crypto::Backend &backend,
                                               const std::string &deviceId,
                                               const crypto::P256KeyPair &key,
                                               const std::string &counterPath);

// A CLIP manifest that passes checkManifest (seq, device and prev as given).
v1::Manifest sampleClipManifest(const std::string &deviceId, uint64_t seq,
                                const std::string &prevHash);
std::string zeroHash();
std::string hashString(const crypto::Digest &digest);

// Unwraps an Expected in a test, failing with its message.
template <typename T> T must(Expected<T> e)
{
    INFO((e.ok() ? std::string() : e.error().message));
    REQUIRE(e.ok());
    return std::move(e).value();
}
inline void must(Expected<void> e)
{
    INFO((e.ok() ? std::string() : e.error().message));
    REQUIRE(e.ok());
}

Bytes readAll(const std::string &path);

// Deterministic test data: byte i of a stream with the given salt.
Bytes patternBytes(uint64_t offset, size_t len, uint8_t salt);

// Session options for a two-stream clip (media 0, metadata 1) to one recipient.
SessionOptions sessionOptions(const std::string &clipDir, const crypto::P256Point &recipient,
                              int64_t startUtcMs);

// A clip checked against its (verified) CLIP or INTERRUPTED manifest the way the dock
// does: length and ciphertext_sha256 of the file, header hash, then a full decrypting read
// with the recipient key (interruptedCounts for INTERRUPTED), counts and plaintext hash.
struct OpenedClip {
    container::ReadResult result;
    Bytes media;
    Bytes metadata;
};
OpenedClip openClip(const crypto::Backend &backend, const v1::Manifest &manifest,
                    const std::string &clipPath, const crypto::P256KeyPair &recipient);

// Every manifest 1..head on the device verifies with `key` and the run links up; returns
// them in seq order.
std::vector<v1::Manifest> checkWholeChain(const crypto::Backend &backend, const ChainState &chain,
                                          const crypto::P256Point &key);
void writeBytes(const std::string &path, ByteView data);

} // namespace bwc::chain::test

// Picks one backend per run of the enclosing test case (Catch2 re-runs it for each).
#define BWC_CHAIN_EACH_BACKEND(var)                                                                \
    const auto var##Kind =                                                                         \
        GENERATE(Catch::Generators::from_range(::bwc::chain::test::backendKinds()));               \
    const ::bwc::crypto::Backend &var = ::bwc::chain::test::backendFor(var##Kind);                 \
    INFO("backend " << ::bwc::chain::test::kindName(var##Kind))
