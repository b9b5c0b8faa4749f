// libFuzzer harness for everything the chain library reads from untrusted bytes: a
// SignedManifest (a manifest file on the camera's flash, a message from the wire), the
// Manifest inside it with its sanity checks and signature, the dock's chain rules on it,
// and the same bytes as a checkpoint log.
//
// The verifying key is the P-256 generator, the public key of private scalar 1, so that
// seed files signed with that scalar reach the code past the signature check.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include "common/chain/chain_rules.h"
#include "common/chain/checkpoint.h"
#include "common/chain/manifest.h"

namespace
{

const bwc::crypto::Backend &backend()
{
    static const std::unique_ptr<bwc::crypto::Backend> b = bwc::crypto::makeOpensslBackend();
    return *b;
}

const bwc::crypto::P256Point &signer()
{
    static const bwc::crypto::P256Point g = [] {
        auto bytes =
            bwc::fromHex("04"
                         "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                         "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        bwc::crypto::P256Point p{};
        if (!bytes || bytes->size() != p.size())
            std::abort();
        std::copy(bytes->begin(), bytes->end(), p.begin());
        return p;
    }();
    return g;
}

void fuzzManifest(bwc::ByteView input)
{
    using namespace bwc;
    auto sm = chain::parseSignedManifest(input);
    if (!sm)
        return;
    auto parsed = chain::parseManifest(*sm);
    auto verified = chain::verifySignedManifest(backend(), signer(), *sm);
    // A manifest that verifies has passed the same sanity checks.
    if (verified && !parsed)
        std::abort();
    if (!parsed)
        return;

    const crypto::Digest hash = chain::manifestSha256(backend(), *sm);
    (void)chain::describeManifest(*parsed);
    auto stored = [&](uint64_t seq) -> std::optional<crypto::Digest> {
        if (seq % 2 == 0)
            return hash;
        return std::nullopt;
    };
    auto fresh = chain::evaluate(std::nullopt, stored, parsed->device_id(), *parsed, hash);
    if (fresh.explanation.empty())
        std::abort();

    v1::ChainHead head;
    head.set_device_id(parsed->device_id());
    head.set_seq(parsed->seq() > 1 ? parsed->seq() - 1 : parsed->seq());
    head.set_manifest_sha256(parsed->prev_manifest_sha256());
    auto next = chain::evaluate(head, stored, parsed->device_id(), *parsed, hash);
    if (parsed->seq() > 1 && next.verdict != chain::Verdict::Append)
        std::abort();
    (void)chain::evaluate(head, stored, "another-device", *parsed, hash);

    std::vector<std::pair<v1::Manifest, crypto::Digest>> run = {{*parsed, hash}, {*parsed, hash}};
    if (chain::verifyChainSegment(run))
        std::abort(); // a manifest cannot follow itself
}

void fuzzCheckpointLog(bwc::ByteView input)
{
    using namespace bwc;
    chain::CheckpointLogScan scan = chain::scanCheckpointLog(input, "fuzz input");
    const uint64_t covered = scan.log.validBytes + scan.log.tornBytes;
    if (covered > input.size() || (!scan.corruption && covered != input.size()))
        std::abort();
    size_t checked = 0;
    for (const auto &record : scan.log.records) {
        if (checked++ == 4)
            break;
        (void)chain::verifyCheckpoint(backend(), signer(), record);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bwc::ByteView input(data, size);
    fuzzManifest(input);
    fuzzCheckpointLog(input);
    return 0;
}
