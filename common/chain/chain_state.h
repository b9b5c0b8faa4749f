#pragma once

// The device side of the hash chain: the head (last manifest issued) and the journal of
// manifests not yet receipted by a dock. DESIGN.md section 6.
//
// Layout of the chain directory:
//   head                         ChainHead, replaced atomically
//   manifests/<seq 20 digits>.bwcm   one SignedManifest per seq, written atomically
//
// issue() consumes a seq from the identity's monotonic counter, signs, writes the manifest
// file (the journal), then replaces the head; a power cut between any two of these steps
// is repaired by open(), so every consumed seq ends up with exactly one manifest.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

// The public methods may be called from several threads (the clip writer issues clip
// manifests while the offload issues CLOCK_SET, CONFIG and WIPE manifests and removes
// receipted ones); they are serialised by one mutex.
class ChainState
{
public:
    // Opens (creating if needed) the chain directory and recovers it:
    // - a manifest file beyond the head that verifies with the identity's key and links
    //   to the head is adopted (the head advances);
    // - a manifest file beyond the head that does not is renamed to "<name>.rejected";
    // - every seq the counter consumed without a manifest gets a BOOT manifest saying so.
    // What was repaired is logged and listed in recoveryNotes(). The backend, the identity
    // and the clock must outlive the ChainState.
    static Expected<std::unique_ptr<ChainState>> open(const crypto::Backend &backend,
                                                      DeviceIdentity &identity,
                                                      const std::string &dir, const Clock &clock);

    ChainState(const ChainState &) = delete;
    ChainState &operator=(const ChainState &) = delete;

    // Completes and signs `m` (format_version, device_id, seq, prev_manifest_sha256,
    // signed_utc_ms are set here), writes its file and advances the head. Returns only
    // once both are durable.
    Expected<v1::SignedManifest> issue(v1::Manifest m);

    // The last manifest issued; seq 0 and the zero hash before the first.
    v1::ChainHead head() const;
    const std::string &dir() const { return dir_; }
    std::string manifestPath(uint64_t seq) const;
    Expected<v1::SignedManifest> loadManifest(uint64_t seq) const;
    // Seqs in (afterSeq, head] whose manifest file is still on the device, ascending.
    Expected<std::vector<uint64_t>> pendingManifests(uint64_t afterSeq) const;
    // Deletes a manifest file once a dock receipt covers it (and fsyncs the directory).
    Expected<void> removeManifest(uint64_t seq);
    // The seq of the CLIP or INTERRUPTED manifest (still on the device) for a clip.
    Expected<std::optional<uint64_t>> findClipManifest(ByteView clipUuid) const;

    // What open() repaired, one sentence each.
    const std::vector<std::string> &recoveryNotes() const { return notes_; }

private:
    ChainState(const crypto::Backend &backend, DeviceIdentity &identity, std::string dir,
               const Clock &clock);

    Expected<void> recover();
    // Adopts a manifest file beyond the head that verifies and links to it; moves aside
    // (and lists in `rejected`) any that does not.
    Expected<void> adoptJournal(std::map<uint64_t, std::string> &rejected);
    // BOOT manifests for every seq the counter handed out beyond the head; `rejected`
    // explains seqs whose manifest file was moved aside.
    Expected<void> fillConsumed(const std::map<uint64_t, std::string> &rejected);
    Expected<v1::SignedManifest> issueAt(uint64_t seq, v1::Manifest m);
    Expected<void> persistHead(const v1::ChainHead &head);
    Expected<std::vector<uint64_t>> manifestSeqs() const;

    const crypto::Backend &backend_;
    DeviceIdentity &identity_;
    std::string dir_;
    std::string manifestsDir_;
    const Clock &clock_;
    mutable std::mutex mutex_; // guards head_ and the journal between public calls
    v1::ChainHead head_;
    std::vector<std::string> notes_;
};

} // namespace bwc::chain
