#pragma once

// A test agency for the dock's tests: a PKI (CA and CRL) in a temp folder, the agency
// evidence key "aek", and camera "cam-0001" with its identity and chain, on a manual
// clock. Clips are sealed with the camera's backend (mbedTLS) and checked with the
// dock's (OpenSSL), as in the field.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bwc/v1/manifest.pb.h"
#include "common/base/clock.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "dock/pki/pki_store.h"
#include "tests/unit/common/chain/chain_test_util.h"

namespace bwc::dock::test {

const crypto::Backend &cameraBackend();
const crypto::Backend &dockBackend();
bool contains(std::string_view text, std::string_view needle);
// A PEM private key file parsed with the dock's backend.
crypto::P256KeyPair loadKey(const std::string &path);

class Agency
{
public:
    Agency();
    virtual ~Agency() = default;

    // Reloads the camera's identity and chain from their files (a reboot).
    void bootCamera();
    // A clip recorded with one checkpoint, not sealed.
    std::unique_ptr<chain::ClipSession> record(size_t mediaBytes);

    struct Clip {
        std::string clipPath;
        std::string manifestPath;
        v1::SignedManifest manifest;
        v1::Manifest parsed;
    };
    // record(), then seal half a second later.
    Clip seal(size_t mediaBytes = 90000);

    chain::test::TempDir dir;
    ManualClock clock;
    std::optional<pki::PkiStore> pki;
    crypto::P256KeyPair aek;
    pki::IssuedCert device;
    std::string clipsDir;
    std::unique_ptr<chain::SoftwareIdentity> identity;
    std::unique_ptr<chain::ChainState> chain;
};

} // namespace bwc::dock::test
