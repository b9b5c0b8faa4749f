#include "common/chain/recovery.h"

#include <fcntl.h>
#include <map>
#include <optional>
#include <set>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "common/chain/checkpoint.h"
#include "common/chain/clip_session.h"
#include "common/chain/dir_util.h"
#include "common/chain/manifest.h"

namespace bwc::chain
{

const char *recoveryOutcomeName(RecoveryOutcome outcome)
{
    switch (outcome) {
    case RecoveryOutcome::Interrupted:
        return "interrupted";
    case RecoveryOutcome::AlreadySealed:
        return "already sealed";
    case RecoveryOutcome::NoMedia:
        return "no media";
    case RecoveryOutcome::Quarantined:
        return "quarantined";
    }
    return "unknown";
}

namespace
{

constexpr uint64_t kMaxCheckpointLogBytes = uint64_t(256) << 20;
constexpr std::string_view kUnrecoverableSuffix = ".unrecoverable";

// SHA-256 of the first `length` bytes of the file, for each of `lengths` that the file
// is long enough for, in one pass.
Expected<std::map<uint64_t, crypto::Digest>> prefixDigests(const crypto::Backend &backend,
                                                           const std::string &path,
                                                           const std::set<uint64_t> &lengths)
{
    std::map<uint64_t, crypto::Digest> out;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return Error(errno == ENOENT ? Errc::NotFound : Errc::Io,
                     path + ": open failed: " + errnoText(errno));
    auto hash = backend.newSha256();
    Bytes buf(64 * 1024);
    uint64_t pos = 0;
    auto next = lengths.begin();
    while (next != lengths.end()) {
        if (*next == pos) {
            out[pos] = hash->clone()->finish();
            ++next;
            continue;
        }
        size_t want = size_t(std::min<uint64_t>(buf.size(), *next - pos));
        BWC_ASSIGN(n, readSome(fd.get(), MutableByteView(buf.data(), want), path));
        if (n == 0)
            break; // the file is shorter than the remaining lengths
        hash->update(ByteView(buf.data(), n));
        pos += n;
    }
    return out;
}

// Whether a clip file of `size` bytes may hold any record: only bytes past the header
// can be media. Anything that cannot be read as a header counts as holding records, so
// that nothing of unknown content is ever deleted.
Expected<bool> mayHoldRecords(const std::string &path, uint64_t size)
{
    if (size <= container::kFixedHeaderLen)
        return false;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return Error(Errc::Io, path + ": open failed: " + errnoText(errno));
    uint8_t fixed[container::kFixedHeaderLen];
    size_t got = 0;
    while (got < sizeof(fixed)) {
        BWC_ASSIGN(n, readSome(fd.get(), MutableByteView(fixed + got, sizeof(fixed) - got), path));
        if (n == 0)
            return true;
        got += n;
    }
    if (!std::equal(std::begin(container::kMagic), std::end(container::kMagic), fixed))
        return true;
    uint64_t headerEnd = container::kFixedHeaderLen + uint64_t(getU32(fixed + 12));
    return size > headerEnd;
}

struct RecoveryJob {
    const crypto::Backend &backend;
    DeviceIdentity &identity;
    ChainState &chain;
    const std::string &clipDir;
    const RecoveryOptions &options;

    Expected<RecoveredClip> run(const container::ClipUuid &uuid);

private:
    Expected<uint64_t> issueBoot(const std::string &note);
    // A manifest of `kind` with what the device knows of itself (firmware, config, clock).
    v1::Manifest deviceManifest(v1::ManifestKind kind) const;
};

v1::Manifest RecoveryJob::deviceManifest(v1::ManifestKind kind) const
{
    v1::Manifest m;
    m.set_kind(kind);
    m.set_fw_version(options.fwVersion);
    m.set_config_sha256(std::string(asChars(options.configSha256)));
    m.set_clock_source(options.clockSource);
    m.set_clock_error_ms(options.clockErrorMs);
    return m;
}

Expected<uint64_t> RecoveryJob::issueBoot(const std::string &note)
{
    v1::Manifest m = deviceManifest(v1::MANIFEST_KIND_BOOT);
    m.set_note(note);
    BWC_TRY(chain.issue(std::move(m)));
    return chain.head().seq();
}

Expected<RecoveredClip> RecoveryJob::run(const container::ClipUuid &uuid)
{
    RecoveredClip rc;
    rc.clipUuid = uuid;
    rc.clipPath = clipFilePath(clipDir, uuid);
    const std::string ckptPath = checkpointFilePath(clipDir, uuid);
    const std::string name = "clip " + container::uuidToString(uuid);
    const std::string uuidBytes(asChars(ByteView(uuid.data(), uuid.size())));

    // Sealed already: the power went between the manifest and removing the log.
    BWC_ASSIGN(existing, chain.findClipManifest(ByteView(uuid.data(), uuid.size())));
    if (existing) {
        BWC_TRY(removeFile(ckptPath));
        BWC_TRY(fsyncDirectory(clipDir));
        rc.outcome = RecoveryOutcome::AlreadySealed;
        rc.seq = *existing;
        rc.note = name + ": already sealed as seq " + std::to_string(*existing) +
                  "; removed its leftover checkpoint log";
        return rc;
    }

    BWC_ASSIGN(logData, readFile(ckptPath, kMaxCheckpointLogBytes));
    CheckpointLogScan scan = scanCheckpointLog(logData, ckptPath);
    std::string logRemark;
    if (scan.corruption)
        logRemark += "; the checkpoint log is damaged after record " +
                     std::to_string(scan.log.records.size()) + " (" + scan.corruption->message +
                     "), only the records before it were used";
    if (scan.log.tornBytes > 0)
        logRemark += "; a torn record of " + std::to_string(scan.log.tornBytes) +
                     " bytes at the end of the log was ignored";

    // Every record's claimed length, read without trusting it yet, so that one pass over
    // the clip file yields the digest at each; signatures are then checked from the last
    // record backwards, and usually only the last one needs checking.
    std::vector<v1::Checkpoint> claimed(scan.log.records.size());
    std::set<uint64_t> lengths;
    for (size_t i = 0; i < scan.log.records.size(); ++i) {
        if (claimed[i].ParseFromString(scan.log.records[i].checkpoint()))
            lengths.insert(claimed[i].ciphertext_bytes());
    }

    auto size = fileSize(rc.clipPath);
    if (!size && size.error().code != Errc::NotFound)
        return std::move(size).error();
    const bool clipExists = size.ok();
    const uint64_t fileBytes = clipExists ? *size : 0;

    std::map<uint64_t, crypto::Digest> digests;
    if (clipExists && !lengths.empty()) {
        BWC_ASSIGN(d, prefixDigests(backend, rc.clipPath, lengths));
        digests = std::move(d);
    }

    auto genuine = [&](size_t i) -> std::optional<v1::Checkpoint> {
        auto c = verifyCheckpoint(backend, identity.publicKey(), scan.log.records[i]);
        if (c && c->clip_uuid() == uuidBytes && c->device_id() == identity.id())
            return std::move(*c);
        log::warn(name + ": checkpoint record " + std::to_string(i) + " refused: " +
                  (c ? std::string("it names another clip or device") : c.error().message));
        return std::nullopt;
    };
    // The last record whose claimed hash matches the file and whose signature verifies.
    std::optional<v1::Checkpoint> chosen;
    size_t refused = 0;
    for (size_t i = scan.log.records.size(); i-- > 0 && !chosen;) {
        auto d = digests.find(claimed[i].ciphertext_bytes());
        if (d == digests.end() || !digestEquals(claimed[i].ciphertext_sha256(), d->second))
            continue;
        chosen = genuine(i);
        if (!chosen)
            ++refused;
    }
    // Without a match: does the log hold any genuine checkpoint (so the clip file was
    // altered, not merely cut short before checkpoint 0)?
    bool anyGenuine = chosen.has_value();
    for (size_t i = scan.log.records.size(); i-- > 0 && !anyGenuine;)
        anyGenuine = genuine(i).has_value();
    if (refused > 0)
        logRemark += "; " + std::to_string(refused) +
                     " checkpoint record(s) matching the file did not verify and were not used";

    if (chosen) {
        const uint64_t keep = chosen->ciphertext_bytes();
        if (fileBytes > keep)
            BWC_TRY(truncateFile(rc.clipPath, keep));
        rc.outcome = RecoveryOutcome::Interrupted;
        rc.checkpointIndex = chosen->index();
        rc.keptBytes = keep;
        rc.discardedBytes = fileBytes - keep;
        rc.note = name + ": recovered after a power cut up to checkpoint " +
                  std::to_string(chosen->index()) + " (" + formatUtcMs(chosen->utc_ms()) +
                  "): " + std::to_string(keep) + " bytes kept, " +
                  std::to_string(rc.discardedBytes) + " bytes written after it discarded" +
                  logRemark;

        v1::Manifest m = deviceManifest(v1::MANIFEST_KIND_INTERRUPTED);
        m.set_clip_uuid(uuidBytes);
        m.set_header_sha256(chosen->header_sha256());
        *m.mutable_streams() = chosen->streams();
        m.set_ciphertext_sha256(chosen->ciphertext_sha256());
        m.set_ciphertext_bytes(keep);
        m.set_plaintext_sha256(chosen->plaintext_sha256());
        m.set_officer_id(chosen->officer_id());
        m.set_start_utc_ms(chosen->start_utc_ms());
        m.set_end_utc_ms(chosen->utc_ms());
        m.set_prerecord_ms(chosen->prerecord_ms());
        m.set_trigger(chosen->trigger());
        m.set_note(rc.note);
        BWC_TRY(chain.issue(std::move(m)));
        rc.seq = chain.head().seq();
        BWC_TRY(removeFile(ckptPath));
        BWC_TRY(fsyncDirectory(clipDir));
        return rc;
    }

    bool holdsRecords = false;
    if (clipExists) {
        BWC_ASSIGN(may, mayHoldRecords(rc.clipPath, fileBytes));
        holdsRecords = may;
    }
    if (holdsRecords || anyGenuine) {
        // Something is wrong beyond a power cut: keep everything for an examiner.
        std::string kept;
        if (clipExists) {
            const std::string aside = rc.clipPath + std::string(kUnrecoverableSuffix);
            BWC_TRY(renameFile(rc.clipPath, aside));
            kept = aside + " and ";
        }
        const std::string ckptAside = ckptPath + std::string(kUnrecoverableSuffix);
        BWC_TRY(renameFile(ckptPath, ckptAside));
        BWC_TRY(fsyncDirectory(clipDir));
        kept += ckptAside;
        rc.outcome = RecoveryOutcome::Quarantined;
        rc.note = name + ": " +
                  (clipExists ? "no checkpoint of its log matches the clip file (" +
                                    std::to_string(fileBytes) + " bytes)"
                              : std::string("the clip file is missing although its checkpoint "
                                            "log verifies")) +
                  logRemark + "; nothing was deleted: kept as " + kept + " for examination";
        log::error(rc.note);
        BWC_ASSIGN(seq, issueBoot(rc.note));
        rc.seq = seq;
        return rc;
    }

    // The power went before checkpoint 0 was durable: the file holds at most a header.
    if (clipExists)
        BWC_TRY(removeFile(rc.clipPath));
    rc.outcome = RecoveryOutcome::NoMedia;
    rc.discardedBytes = fileBytes;
    rc.note = name +
              ": the recording stopped (power cut or write error) before its first "
              "checkpoint was durable; the clip file held no media (" +
              std::to_string(fileBytes) + " bytes, header only) and was removed" + logRemark;
    BWC_ASSIGN(seq, issueBoot(rc.note));
    rc.seq = seq;
    BWC_TRY(removeFile(ckptPath));
    BWC_TRY(fsyncDirectory(clipDir));
    return rc;
}

} // namespace

Expected<std::vector<RecoveredClip>>
recoverUnfinishedClips(const crypto::Backend &backend, DeviceIdentity &identity, ChainState &chain,
                       const std::string &clipDir, const RecoveryOptions &options)
{
    if (!options.configSha256.empty() && options.configSha256.size() != crypto::kSha256Len)
        return Error(Errc::Config, "recovery: the configuration hash must be 32 bytes");
    BWC_ASSIGN(names, listFiles(clipDir));
    RecoveryJob job{backend, identity, chain, clipDir, options};
    std::vector<RecoveredClip> out;
    const std::string suffix(kCheckpointFileSuffix);
    for (const auto &name : names) {
        if (!endsWith(name, suffix))
            continue;
        auto uuid = container::uuidFromString(
            std::string_view(name).substr(0, name.size() - suffix.size()));
        if (!uuid) {
            log::warn(clipDir + "/" + name +
                      ": not a clip's checkpoint log (the name is not a "
                      "clip id); left alone");
            continue;
        }
        auto rc = job.run(*uuid);
        if (!rc)
            return std::move(rc).error().context("boot recovery of " + clipDir + "/" + name);
        log::info(rc->note);
        out.push_back(std::move(*rc));
    }
    return out;
}

} // namespace bwc::chain
