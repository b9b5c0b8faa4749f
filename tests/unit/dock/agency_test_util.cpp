#include "tests/unit/dock/agency_test_util.h"

#include <catch2/catch_test_macros.hpp>

#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "common/crypto/pem.h"

namespace bwc::dock::test {

using chain::test::must;
using chain::test::patternBytes;

const crypto::Backend &cameraBackend()
{
    return chain::test::backendFor(chain::test::BackendKind::Mbedtls);
}

const crypto::Backend &dockBackend()
{
    return chain::test::backendFor(chain::test::BackendKind::Openssl);
}

bool contains(std::string_view text, std::string_view needle)
{
    return text.find(needle) != std::string_view::npos;
}

crypto::P256KeyPair loadKey(const std::string &path)
{
    auto blocks = must(crypto::readPemFile(path, "PRIVATE KEY"));
    REQUIRE(blocks.size() == 1);
    return must(dockBackend().parsePrivateKeyDer(blocks[0]));
}

Agency::Agency() : clock(utcNowMs() + 5000)
{
    pki.emplace(must(pki::PkiStore::init(dir.file("pki"), "Test Agency", 3650)));
    aek = loadKey(must(pki->issueRecipient("aek", 3650)).keyPath);
    device = must(pki->issueDevice("cam-0001", 365));
    clipsDir = dir.file("clips");
    must(makeDirectories(clipsDir));
    bootCamera();
}

void Agency::bootCamera()
{
    chain.reset();
    identity = must(chain::SoftwareIdentity::load(cameraBackend(), device.keyPath, device.certPath,
                                                  dir.file("counter")));
    chain = must(chain::ChainState::open(cameraBackend(), *identity, dir.file("chain"), clock));
}

std::unique_ptr<chain::ClipSession> Agency::record(size_t mediaBytes)
{
    auto session = must(chain::ClipSession::create(
        cameraBackend(), *identity, chain::test::sessionOptions(clipsDir, aek.pub, clock.utcMs())));
    must(session->append(container::kMediaStreamId, patternBytes(0, mediaBytes, 7)));
    must(session->append(container::kMetadataStreamId, patternBytes(0, 300, 0x5c)));
    clock.advanceMs(1000);
    must(session->checkpoint(clock.utcMs()));
    return session;
}

Agency::Clip Agency::seal(size_t mediaBytes)
{
    auto session = record(mediaBytes);
    clock.advanceMs(500);
    v1::SignedManifest sm = must(session->seal(*chain, clock.utcMs()));
    v1::Manifest m = must(chain::parseManifest(sm));
    return Clip{session->clipPath(), chain->manifestPath(m.seq()), sm, m};
}

} // namespace bwc::dock::test
