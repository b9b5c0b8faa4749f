#include "common/chain/chain_state.h"

#include <map>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/chain/dir_util.h"
#include "common/chain/manifest.h"

namespace bwc::chain
{

namespace
{

constexpr uint64_t kMaxHeadBytes = 4096;

std::string zeroHash()
{
    return std::string(crypto::kSha256Len, '\0');
}

} // namespace

ChainState::ChainState(const crypto::Backend &backend, DeviceIdentity &identity, std::string dir,
                       const Clock &clock)
    : backend_(backend), identity_(identity), dir_(std::move(dir)),
      manifestsDir_(dir_ + "/manifests"), clock_(clock)
{
    head_.set_device_id(identity_.id());
    head_.set_seq(0);
    head_.set_manifest_sha256(zeroHash());
}

Expected<std::unique_ptr<ChainState>> ChainState::open(const crypto::Backend &backend,
                                                       DeviceIdentity &identity,
                                                       const std::string &dir, const Clock &clock)
{
    std::unique_ptr<ChainState> state(new ChainState(backend, identity, dir, clock));
    auto r = state->recover();
    if (!r)
        return std::move(r).error().context("chain state " + dir);
    return state;
}

std::string ChainState::manifestPath(uint64_t seq) const
{
    return manifestFilePath(manifestsDir_, seq);
}

Expected<v1::SignedManifest> ChainState::loadManifest(uint64_t seq) const
{
    return readManifestFile(manifestPath(seq));
}

Expected<std::vector<uint64_t>> ChainState::manifestSeqs() const
{
    BWC_ASSIGN(names, listFiles(manifestsDir_));
    std::vector<uint64_t> seqs;
    for (const auto &name : names) {
        if (auto seq = manifestSeqFromFileName(name))
            seqs.push_back(*seq);
    }
    return seqs; // the names are zero-padded, so sorted names are sorted seqs
}

v1::ChainHead ChainState::head() const
{
    std::lock_guard lock(mutex_);
    return head_;
}

Expected<std::vector<uint64_t>> ChainState::pendingManifests(uint64_t afterSeq) const
{
    std::lock_guard lock(mutex_);
    BWC_ASSIGN(seqs, manifestSeqs());
    std::vector<uint64_t> out;
    for (uint64_t seq : seqs) {
        if (seq > afterSeq && seq <= head_.seq())
            out.push_back(seq);
    }
    return out;
}

Expected<void> ChainState::removeManifest(uint64_t seq)
{
    std::lock_guard lock(mutex_);
    if (seq > head_.seq())
        return Error(Errc::Internal, "manifest seq " + std::to_string(seq) +
                                         " is beyond the chain head (seq " +
                                         std::to_string(head_.seq()) + "); refusing to remove it");
    BWC_TRY(removeFile(manifestPath(seq)));
    return fsyncDirectory(manifestsDir_);
}

Expected<std::optional<uint64_t>> ChainState::findClipManifest(ByteView clipUuid) const
{
    std::lock_guard lock(mutex_);
    BWC_ASSIGN(seqs, manifestSeqs());
    const std::string wanted(asChars(clipUuid));
    std::optional<uint64_t> found;
    for (uint64_t seq : seqs) {
        if (seq > head_.seq())
            continue;
        BWC_ASSIGN(sm, loadManifest(seq));
        auto parsed = parseManifest(sm);
        if (!parsed || parsed->clip_uuid() != wanted ||
            (parsed->kind() != v1::MANIFEST_KIND_CLIP &&
             parsed->kind() != v1::MANIFEST_KIND_INTERRUPTED))
            continue;
        // Only a manifest this device signed counts.
        auto m = verifySignedManifest(backend_, identity_.publicKey(), sm);
        if (!m) {
            log::warn(manifestPath(seq) + ": " + m.error().message);
            continue;
        }
        found = seq;
    }
    return found;
}

Expected<void> ChainState::persistHead(const v1::ChainHead &head)
{
    std::string bytes = head.SerializeAsString();
    return atomicReplace(dir_ + "/head", asBytes(bytes), 0640);
}

Expected<void> ChainState::recover()
{
    BWC_TRY(makeDirectories(manifestsDir_));

    const std::string headPath = dir_ + "/head";
    auto data = readFile(headPath, kMaxHeadBytes);
    if (data) {
        v1::ChainHead stored;
        if (!stored.ParseFromArray(data->data(), int(data->size())) ||
            stored.manifest_sha256().size() != crypto::kSha256Len)
            return Error(Errc::Format, headPath + ": not a chain head (the file is damaged); the "
                                                  "device must not sign until its chain state is "
                                                  "restored");
        if (stored.device_id() != identity_.id())
            return Error(Errc::Config, headPath + ": the chain belongs to device " +
                                           printableForMessage(stored.device_id()) +
                                           ", but this device is " + identity_.id() +
                                           "; point it at this device's chain directory");
        head_ = stored;
    } else if (data.error().code != Errc::NotFound) {
        return std::move(data).error();
    }

    // Temp files of atomic writes that a power cut interrupted were never issued.
    BWC_ASSIGN(names, listFiles(manifestsDir_));
    for (const auto &name : names) {
        if (endsWith(name, ".tmp"))
            BWC_TRY(removeFile(manifestsDir_ + "/" + name));
    }

    // The head's own manifest, when still on the device, must be the one it names.
    if (head_.seq() > 0 && pathExists(manifestPath(head_.seq()))) {
        BWC_ASSIGN(sm, loadManifest(head_.seq()));
        if (!digestEquals(head_.manifest_sha256(), manifestSha256(backend_, sm)))
            return Error(Errc::Chain,
                         manifestPath(head_.seq()) +
                             ": this manifest does not hash to the chain head of the same seq "
                             "(the chain state was altered); the device must not sign until "
                             "it is examined");
    }

    std::map<uint64_t, std::string> rejected;
    BWC_TRY(adoptJournal(rejected));

    if (identity_.counterValue() < head_.seq())
        return Error(Errc::Chain,
                     "the monotonic counter of device " + identity_.id() + " is at " +
                         std::to_string(identity_.counterValue()) + ", behind the chain head seq " +
                         std::to_string(head_.seq()) +
                         " (the counter was reset or rolled back); refusing to sign, which "
                         "would fork the chain");
    return fillConsumed(rejected);
}

Expected<void> ChainState::adoptJournal(std::map<uint64_t, std::string> &rejected)
{
    BWC_ASSIGN(seqs, manifestSeqs());
    bool advanced = false;
    bool renamed = false;
    for (uint64_t seq : seqs) {
        if (seq <= head_.seq())
            continue;
        const std::string path = manifestPath(seq);
        std::string reason;
        std::optional<crypto::Digest> hash;
        if (seq != head_.seq() + 1) {
            reason = "it does not follow the chain head (seq " + std::to_string(head_.seq()) + ")";
        } else if (auto sm = loadManifest(seq); !sm) {
            // A file that cannot be read is not evidence of anything: stop, do not move it.
            if (sm.error().code != Errc::Format)
                return std::move(sm).error();
            reason = sm.error().message;
        } else if (auto m = verifySignedManifest(backend_, identity_.publicKey(), *sm); !m) {
            reason = m.error().message;
        } else if (m->device_id() != identity_.id() || m->seq() != seq) {
            reason = "it is " + describeManifest(*m) + ", not seq " + std::to_string(seq) +
                     " of device " + identity_.id();
        } else if (m->prev_manifest_sha256() != head_.manifest_sha256()) {
            reason = "it does not link to the chain head (seq " + std::to_string(head_.seq()) + ")";
        } else {
            hash = manifestSha256(backend_, *sm);
        }

        if (hash) {
            head_.set_seq(seq);
            head_.set_manifest_sha256(digestString(*hash));
            advanced = true;
            std::string note = "seq " + std::to_string(seq) +
                               ": adopted the manifest written just before a power cut (the "
                               "chain head had not been updated yet)";
            log::info(note);
            notes_.push_back(std::move(note));
            continue;
        }
        const std::string aside = path + ".rejected";
        BWC_TRY(renameFile(path, aside));
        renamed = true;
        std::string note = "seq " + std::to_string(seq) + ": manifest file " + path +
                           " was rejected (" + reason + ") and moved aside to " + aside;
        log::warn(note);
        notes_.push_back(note);
        rejected[seq] = "the manifest file for this seq was rejected at boot (" + reason +
                        ") and moved aside to " + aside;
    }
    if (renamed)
        BWC_TRY(fsyncDirectory(manifestsDir_));
    if (advanced)
        BWC_TRY(persistHead(head_));
    return {};
}

Expected<void> ChainState::fillConsumed(const std::map<uint64_t, std::string> &rejected)
{
    const uint64_t consumed = identity_.counterValue();
    while (head_.seq() < consumed) {
        const uint64_t seq = head_.seq() + 1;
        auto it = rejected.find(seq);
        std::string note =
            it != rejected.end()
                ? "seq " + std::to_string(seq) + ": " + it->second +
                      "; this BOOT manifest takes its place"
                : "seq " + std::to_string(seq) +
                      " was consumed without a manifest (power cut while sealing); this BOOT "
                      "manifest fills it so the chain has no gap";
        v1::Manifest m;
        m.set_kind(v1::MANIFEST_KIND_BOOT);
        m.set_note(note);
        BWC_TRY(issueAt(seq, std::move(m)));
        log::warn(note);
        notes_.push_back(std::move(note));
    }
    return {};
}

Expected<v1::SignedManifest> ChainState::issue(v1::Manifest m)
{
    std::lock_guard lock(mutex_);
    // A manifest written by an issue() whose head update failed, then any seq an earlier
    // call consumed without getting as far as its manifest.
    std::map<uint64_t, std::string> rejected;
    BWC_TRY(adoptJournal(rejected));
    BWC_TRY(fillConsumed(rejected));

    BWC_ASSIGN(seq, identity_.counterIncrement());
    if (seq <= head_.seq())
        return Error(Errc::Chain, "the monotonic counter of device " + identity_.id() +
                                      " handed out seq " + std::to_string(seq) +
                                      ", not beyond the chain head seq " +
                                      std::to_string(head_.seq()) +
                                      "; refusing to sign, which would fork the chain");
    while (head_.seq() + 1 < seq) {
        const uint64_t skipped = head_.seq() + 1;
        v1::Manifest boot;
        boot.set_kind(v1::MANIFEST_KIND_BOOT);
        boot.set_note("seq " + std::to_string(skipped) +
                      " was consumed by the monotonic counter without a manifest (the counter "
                      "moved ahead of the chain); this BOOT manifest fills it so the chain "
                      "has no gap");
        BWC_TRY(issueAt(skipped, std::move(boot)));
    }
    return issueAt(seq, std::move(m));
}

Expected<v1::SignedManifest> ChainState::issueAt(uint64_t seq, v1::Manifest m)
{
    m.set_format_version(kManifestFormatVersion);
    m.set_device_id(identity_.id());
    m.set_seq(seq);
    m.set_prev_manifest_sha256(head_.manifest_sha256());
    m.set_signed_utc_ms(clock_.utcMs());
    BWC_ASSIGN(sm, signManifest(backend_, identity_, m));
    BWC_TRY(writeManifestFile(manifestsDir_, sm));

    v1::ChainHead next;
    next.set_device_id(identity_.id());
    next.set_seq(seq);
    next.set_manifest_sha256(digestString(manifestSha256(backend_, sm)));
    BWC_TRY(persistHead(next));
    head_ = std::move(next);
    return sm;
}

} // namespace bwc::chain
