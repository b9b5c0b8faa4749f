#include "common/chain/chain_rules.h"

#include <algorithm>

#include "common/chain/manifest.h"

namespace bwc::chain
{

const char *verdictName(Verdict verdict)
{
    switch (verdict) {
    case Verdict::Append:
        return "append";
    case Verdict::Idempotent:
        return "idempotent";
    case Verdict::Gap:
        return "GAP";
    case Verdict::Fork:
        return "FORK";
    case Verdict::Rollback:
        return "ROLLBACK";
    case Verdict::DeviceMismatch:
        return "DEVICE MISMATCH";
    }
    return "unknown";
}

namespace
{

bool isZeroHash(const std::string &bytes)
{
    return bytes.size() == crypto::kSha256Len &&
           std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

std::string hexOf(const std::string &bytes)
{
    return bytes.empty() ? std::string("(none)") : toHex(asBytes(bytes));
}

std::string hexOf(const crypto::Digest &digest)
{
    return toHex(digest);
}

std::string shortHex(const std::string &bytes)
{
    return hexOf(bytes).substr(0, 16);
}

std::string seqRange(uint64_t first, uint64_t last)
{
    if (first == last)
        return "seq " + std::to_string(first) + " is";
    return "seqs " + std::to_string(first) + ".." + std::to_string(last) + " are";
}

} // namespace

Decision
evaluate(const std::optional<v1::ChainHead> &storedHead,
         const std::function<std::optional<crypto::Digest>(uint64_t seq)> &storedManifestHash,
         const std::string &certDeviceId, const v1::Manifest &m, const crypto::Digest &mHash)
{
    const std::string device = printableForMessage(m.device_id());
    const std::string what = describeManifest(m);
    const uint64_t seq = m.seq();

    if (certDeviceId != m.device_id())
        return {Verdict::DeviceMismatch,
                what + " was signed with the certificate of device " +
                    printableForMessage(certDeviceId) +
                    "; a device may only sign its own manifests (manifest forged or "
                    "certificate misissued)"};
    if (storedHead && storedHead->device_id() != m.device_id())
        return {Verdict::DeviceMismatch,
                what + " was checked against the stored chain head of device " +
                    printableForMessage(storedHead->device_id())};

    if (!storedHead || storedHead->seq() == 0) {
        if (seq == 1 && isZeroHash(m.prev_manifest_sha256()))
            return {Verdict::Append, what + " starts the device's chain"};
        if (seq == 1)
            return {Verdict::Gap, "dock holds nothing for device " + device +
                                      "; expected seq 1 starting from the zero hash, but seq "
                                      "1 links to a previous manifest " +
                                      shortHex(m.prev_manifest_sha256()) + "..."};
        return {Verdict::Gap, "dock holds nothing for device " + device +
                                  "; expected seq 1, got seq " + std::to_string(seq) + " (" +
                                  seqRange(1, seq - 1) + " missing)"};
    }

    const uint64_t headSeq = storedHead->seq();
    const std::string &headHash = storedHead->manifest_sha256();
    if (seq == headSeq + 1) {
        if (m.prev_manifest_sha256() == headHash)
            return {Verdict::Append,
                    what + " extends the chain from seq " + std::to_string(headSeq)};
        return {Verdict::Rollback, what + " follows the dock's head seq " +
                                       std::to_string(headSeq) + " but links to " +
                                       hexOf(m.prev_manifest_sha256()) +
                                       " instead of the head's hash " + hexOf(headHash) +
                                       " (the device state was rolled back or replaced)"};
    }
    if (seq > headSeq + 1)
        return {Verdict::Gap, what + ": the dock's head is seq " + std::to_string(headSeq) +
                                  ", so " + seqRange(headSeq + 1, seq - 1) +
                                  " missing (a clip or manifest may have been deleted)"};

    std::optional<crypto::Digest> stored = storedManifestHash(seq);
    if (!stored)
        return {Verdict::Fork, what + " is at or below the dock's head seq " +
                                   std::to_string(headSeq) +
                                   ", but the dock holds no manifest for that seq to compare "
                                   "with; treated as a fork"};
    if (*stored == mHash)
        return {Verdict::Idempotent,
                what + " is already stored with the same bytes (resubmission)"};
    return {Verdict::Fork, what + " hashes to " + hexOf(mHash) +
                               ", but the dock already stores a different manifest " +
                               hexOf(*stored) +
                               " for that seq (two manifests signed for one "
                               "seq)"};
}

Expected<void>
verifyChainSegment(const std::vector<std::pair<v1::Manifest, crypto::Digest>> &ordered)
{
    for (size_t i = 0; i < ordered.size(); ++i) {
        const v1::Manifest &m = ordered[i].first;
        if (i == 0) {
            if (m.seq() == 1 && !isZeroHash(m.prev_manifest_sha256()))
                return Error(Errc::Chain, describeManifest(m) +
                                              " starts the chain but does not start from "
                                              "the zero hash");
            continue;
        }
        const v1::Manifest &prev = ordered[i - 1].first;
        if (m.device_id() != prev.device_id())
            return Error(Errc::Chain, describeManifest(m) + " follows " + describeManifest(prev) +
                                          ": one run holds manifests of two devices");
        if (m.seq() != prev.seq() + 1) {
            if (m.seq() > prev.seq() + 1)
                return Error(Errc::Chain, describeManifest(m) + " follows seq " +
                                              std::to_string(prev.seq()) + ": " +
                                              seqRange(prev.seq() + 1, m.seq() - 1) +
                                              " missing from the run");
            return Error(Errc::Chain, describeManifest(m) + " follows seq " +
                                          std::to_string(prev.seq()) +
                                          ": the run is out of order or repeats a seq");
        }
        if (!digestEquals(m.prev_manifest_sha256(), ordered[i - 1].second))
            return Error(
                Errc::Chain,
                describeManifest(m) + " does not link to seq " + std::to_string(prev.seq()) +
                    ": prev_manifest_sha256 is " + hexOf(m.prev_manifest_sha256()) + ", but seq " +
                    std::to_string(prev.seq()) + " hashes to " + hexOf(ordered[i - 1].second));
    }
    return {};
}

} // namespace bwc::chain
