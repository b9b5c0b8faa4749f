#include "dock/store/evidence_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "common/chain/identity.h"
#include "common/chain/manifest.h"
#include "dock/verify/verify.h"

namespace bwc::store {

namespace {

// Device ids are printable but may hold '/', spaces or quotes: file names use a safe
// form plus a short hash of the exact id, so two ids never share a name.
std::string safeName(const crypto::Backend &backend, const std::string &deviceId)
{
    std::string out;
    for (char c : deviceId) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        out += ok ? c : '_';
    }
    const crypto::Digest d = backend.sha256(asBytes(deviceId));
    return out + "-" + toHex(ByteView(d.data(), 4));
}

// A quarantined file's manifest: quarantine/<name> and quarantine/<name>.bwcm.
constexpr const char *kManifestSuffix = ".bwcm";

Expected<void> renameDurably(const std::string &from, const std::string &to)
{
    BWC_TRY(makeDirectories(parentDirectory(to)));
    if (::rename(from.c_str(), to.c_str()) != 0) {
        const int err = errno;
        return Error(err == ENOSPC ? Errc::NoSpace : Errc::Io,
                     "rename " + from + " -> " + to + " failed: " + errnoText(err));
    }
    BWC_TRY(fsyncDirectory(parentDirectory(to)));
    return fsyncDirectory(parentDirectory(from));
}

Expected<void> removeFile(const std::string &path)
{
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Error(Errc::Io, path + ": unlink failed: " + errnoText(errno));
    return {};
}

std::string failedChecks(const verify::ClipReport &report)
{
    std::string out;
    for (const verify::Check &check : report.checks) {
        if (check.status == verify::Status::Pass)
            continue;
        if (check.status == verify::Status::Skipped &&
            (check.name == "chain" || check.name == "decrypt" || check.name == "plaintext_sha256"))
            continue;
        if (!out.empty())
            out += "; ";
        out +=
            std::string(verify::statusName(check.status)) + " " + check.name + ": " + check.detail;
    }
    return out.empty() ? "a required check did not pass" : out;
}

std::optional<AlarmKind> alarmFor(chain::Verdict verdict)
{
    switch (verdict) {
    case chain::Verdict::Gap:
        return AlarmKind::Gap;
    case chain::Verdict::Fork:
        return AlarmKind::Fork;
    case chain::Verdict::Rollback:
        return AlarmKind::Rollback;
    case chain::Verdict::DeviceMismatch:
        return AlarmKind::DeviceMismatch;
    case chain::Verdict::Append:
    case chain::Verdict::Idempotent:
        break;
    }
    return std::nullopt;
}

std::string lowerKind(v1::ManifestKind kind)
{
    std::string name = v1::ManifestKind_Name(kind);
    const std::string prefix = "MANIFEST_KIND_";
    if (name.rfind(prefix, 0) == 0)
        name = name.substr(prefix.size());
    for (char &c : name)
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
    return name;
}

std::string kindName(v1::ManifestKind kind)
{
    std::string name = v1::ManifestKind_Name(kind);
    const std::string prefix = "MANIFEST_KIND_";
    return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string digestString(const crypto::Digest &d)
{
    return std::string(reinterpret_cast<const char *>(d.data()), d.size());
}

// Runs the chain rules against the catalog's head; a catalog error inside the lookup is
// returned instead of a verdict.
Expected<chain::Decision> judge(Catalog &catalog, const std::string &certDeviceId,
                                const v1::Manifest &m, const crypto::Digest &mHash)
{
    BWC_ASSIGN(head, catalog.chainHead(m.device_id()));
    std::optional<Error> lookupError;
    auto lookup = [&](uint64_t seq) -> std::optional<crypto::Digest> {
        auto h = catalog.manifestHash(m.device_id(), seq);
        if (!h) {
            lookupError = h.error();
            return std::nullopt;
        }
        return *h;
    };
    chain::Decision decision = chain::evaluate(head, lookup, certDeviceId, m, mHash);
    if (lookupError)
        return *lookupError;
    return decision;
}

} // namespace

// Flushes an incoming file on its own thread. Only the flush and the durable-length file
// run there: the file's fd is shared (fdatasync beside write(2) is safe), its size is
// captured by the caller before the request, so the recorded length never exceeds what
// the flush covered.
class IncomingFile::Syncer
{
public:
    explicit Syncer(IncomingFile &file) : file_(file), thread_([this] { run(); }) {}

    ~Syncer()
    {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    Syncer(const Syncer &) = delete;
    Syncer &operator=(const Syncer &) = delete;

    Expected<void> request(uint64_t size)
    {
        std::lock_guard lock(mutex_);
        if (error_)
            return *error_;
        requested_ = std::max(requested_, size);
        cv_.notify_all();
        return {};
    }

    // Waits until no flush runs or is pending; returns a flush's failure.
    Expected<void> drain()
    {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return error_ || (!busy_ && requested_ <= done_); });
        if (error_)
            return *error_;
        return {};
    }

    Expected<void> failure()
    {
        std::lock_guard lock(mutex_);
        if (error_)
            return *error_;
        return {};
    }

private:
    void run()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || (!error_ && requested_ > done_); });
            if (stop_)
                return;
            const uint64_t target = requested_;
            busy_ = true;
            lock.unlock();
            auto flushed = file_.flushTo(target);
            lock.lock();
            busy_ = false;
            if (flushed)
                done_ = target;
            else
                error_ = std::move(flushed).error();
            cv_.notify_all();
        }
    }

    IncomingFile &file_;
    std::mutex mutex_;
    std::condition_variable cv_;
    uint64_t requested_ = 0, done_ = 0;
    bool busy_ = false, stop_ = false;
    std::optional<Error> error_;
    std::thread thread_; // last: starts once the rest is built
};

Expected<void> IncomingFile::flushTo(uint64_t durable)
{
    const std::string what = "evidence store " + storeRoot_ + ": ";
    if (auto r = file_->sync(); !r)
        return std::move(r).error().context(what);
    const std::string text = std::to_string(durable) + " " + std::to_string(expectedBytes_) + "\n";
    if (auto r = atomicReplace(syncedPath_, asBytes(text)); !r)
        return std::move(r).error().context(what);
    return {};
}

Expected<void> IncomingFile::fsync()
{
    if (syncer_)
        BWC_TRY(syncer_->drain());
    BWC_TRY(flushFile());
    return flushTo(size());
}

Expected<void> IncomingFile::syncBehind()
{
    if (!syncer_)
        syncer_ = std::make_unique<Syncer>(*this);
    BWC_TRY(flushFile());
    return syncer_->request(size());
}

Expected<void> IncomingFile::flushFile()
{
    if (auto r = file_->flush(); !r)
        return std::move(r).error().context("evidence store " + storeRoot_ + ": ");
    return {};
}

IncomingFile::IncomingFile(std::string storeRoot, std::string deviceId, uint64_t seq,
                           uint64_t expectedBytes, std::unique_ptr<WritableFile> file,
                           std::string syncedPath, uint64_t resumeOffset,
                           const crypto::Backend &backend,
                           std::optional<crypto::P256KeyPair> evidenceKey)
    : storeRoot_(std::move(storeRoot)), deviceId_(std::move(deviceId)), seq_(seq),
      expectedBytes_(expectedBytes), file_(std::move(file)), syncedPath_(std::move(syncedPath)),
      resumeOffset_(resumeOffset), evidenceKey_(std::move(evidenceKey)),
      reader_(std::make_unique<container::ClipStreamReader>(backend, file_->path(),
                                                            evidenceKey_))
{
}

IncomingFile::~IncomingFile()
{
    syncer_.reset(); // joins its thread while the file is still open
}

Expected<void> IncomingFile::catchUp()
{
    if (!reader_)
        return Error(Errc::Internal, file_->path() + ": the incoming file was already committed");
    const uint64_t held = resumeOffset_;
    if (reader_->size() >= held)
        return {};
    UniqueFd fd(::open(file_->path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return Error(Errc::Io, "evidence store " + storeRoot_ + ": reading back " + file_->path() +
                                   " to verify the bytes received earlier: " + errnoText(errno));
    Bytes buf(std::min<uint64_t>(held, 4u << 20));
    uint64_t at = reader_->size();
    while (at < held) {
        const size_t want = size_t(std::min<uint64_t>(buf.size(), held - at));
        const ssize_t n = ::pread(fd.get(), buf.data(), want, off_t(at));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Error(Errc::Io, "evidence store " + storeRoot_ + ": reading back " +
                                       file_->path() + " at " + std::to_string(at) + ": " +
                                       (n < 0 ? errnoText(errno) : std::string("end of file")));
        reader_->append(ByteView(buf.data(), size_t(n)));
        at += uint64_t(n);
    }
    return {};
}

Expected<container::StreamedClip> IncomingFile::finishReading(const v1::Manifest &manifest)
{
    BWC_TRY(catchUp());
    if (reader_->size() != size())
        return Error(Errc::Internal, file_->path() + ": the verifying pass saw " +
                                         std::to_string(reader_->size()) + " of " +
                                         std::to_string(size()) + " bytes");
    std::optional<std::map<uint8_t, uint64_t>> counts;
    if (manifest.kind() == v1::MANIFEST_KIND_INTERRUPTED) {
        counts.emplace();
        for (const auto &s : manifest.streams())
            (*counts)[uint8_t(s.stream_id())] = s.chunks();
    }
    container::StreamedClip streamed = reader_->finish(counts);
    reader_.reset();
    return streamed;
}

Expected<void> IncomingFile::write(uint64_t offset, ByteView data)
{
    BWC_TRY(catchUp());
    if (syncer_)
        BWC_TRY(syncer_->failure());
    const std::string what = "evidence store " + storeRoot_ + ": receiving device " +
                             chain::printableForMessage(deviceId_) + " seq " +
                             std::to_string(seq_) + ": ";
    if (offset != size())
        return Error(Errc::Protocol, what + "write at offset " + std::to_string(offset) + " but " +
                                         std::to_string(size()) + " bytes are held; resume at " +
                                         std::to_string(size()));
    if (data.size() > expectedBytes_ - size())
        return Error(Errc::Protocol, what + std::to_string(size() + data.size()) +
                                         " bytes would exceed the announced " +
                                         std::to_string(expectedBytes_));
    if (auto r = file_->append(data); !r) {
        Error e = std::move(r).error().context(what);
        if (e.code == Errc::NoSpace)
            e.message += "; free space in the store, then resume the offload (nothing was "
                         "committed)";
        return e;
    }
    reader_->append(data);
    return {};
}


EvidenceStore::EvidenceStore(std::string root, DockIdentity identity, std::string dockId,
                             const crypto::Backend &backend, const Clock &clock,
                             std::unique_ptr<Catalog> catalog)
    : root_(std::move(root)), identity_(std::move(identity)), dockId_(std::move(dockId)),
      backend_(backend), clock_(clock), catalog_(std::move(catalog))
{
    audit_ =
        std::make_unique<audit::AuditLog>(catalog_->database(), backend_, identity_.key, clock_);
}

Expected<std::unique_ptr<EvidenceStore>> EvidenceStore::open(const std::string &root,
                                                             DockIdentity identity,
                                                             const crypto::Backend &backend,
                                                             const Clock &clock)
{
    if (identity.certChainDer.empty())
        return Error(Errc::Config, "evidence store " + root +
                                       ": the dock identity has no certificate; issue one with "
                                       "`bwc pki issue-dock`");
    BWC_ASSIGN(leaf, backend.parseCertificateDer(identity.certChainDer.front()));
    if (leaf.publicKey != identity.key.pub)
        return Error(Errc::Config, "evidence store " + root +
                                       ": the dock key does not match "
                                       "the dock certificate " +
                                       leaf.subjectCommonName +
                                       "; configure the key issued with that certificate");
    for (const char *sub : {"/objects", "/tmp", "/quarantine"})
        BWC_TRY(makeDirectories(root + sub, 0700));
    BWC_ASSIGN(catalog, Catalog::open(root + "/catalog.db"));
    return std::unique_ptr<EvidenceStore>(new EvidenceStore(
        root, std::move(identity), leaf.subjectCommonName, backend, clock, std::move(catalog)));
}

std::string EvidenceStore::objectPath(const std::string &sha256Hex) const
{
    return root_ + "/objects/" + sha256Hex.substr(0, 2) + "/" + sha256Hex;
}

Expected<std::unique_ptr<IncomingFile>>
EvidenceStore::beginIncoming(const std::string &deviceId, uint64_t seq, uint64_t expectedBytes,
                             const std::optional<crypto::P256KeyPair> &evidenceKey)
{
    if (!chain::isPrintableDeviceId(deviceId) || seq == 0)
        return Error(Errc::Protocol, "evidence store " + root_ + ": incoming file for device \"" +
                                         chain::printableForMessage(deviceId) + "\" seq " +
                                         std::to_string(seq) +
                                         ": a printable device id and seq >= 1 are required");
    const std::string base =
        root_ + "/tmp/" + safeName(backend_, deviceId) + "-" + std::to_string(seq);
    const std::string part = base + ".part";
    const std::string synced = base + ".synced";

    uint64_t resume = 0;
    std::unique_ptr<WritableFile> file;
    if (pathExists(part)) {
        uint64_t durable = 0, announced = 0;
        if (pathExists(synced)) {
            BWC_ASSIGN(text, readTextFile(synced, 64));
            unsigned long long d = 0, a = 0;
            if (std::sscanf(text.c_str(), "%llu %llu", &d, &a) == 2) {
                durable = d;
                announced = a;
            }
        }
        BWC_ASSIGN(held, fileSize(part));
        // A different announced size is a different file: start again.
        if (announced != expectedBytes)
            durable = 0;
        durable = std::min(durable, held);
        if (held > durable)
            BWC_TRY(truncateFile(part, durable));
        BWC_ASSIGN(opened, openDirectForAppend(part));
        file = std::move(opened);
        resume = durable;
    } else {
        BWC_ASSIGN(created, createDirectFile(part));
        file = std::move(created);
        (void)removeFile(synced);
    }
    return std::unique_ptr<IncomingFile>(
        new IncomingFile(root_, deviceId, seq, expectedBytes, std::move(file), synced, resume,
                         backend_, evidenceKey));
}

Expected<void> EvidenceStore::removeIncoming(IncomingFile &incoming)
{
    BWC_TRY(removeFile(incoming.path()));
    BWC_TRY(removeFile(incoming.syncedPath_));
    return fsyncDirectory(root_ + "/tmp");
}

Expected<void> EvidenceStore::discardIncoming(std::unique_ptr<IncomingFile> incoming)
{
    if (!incoming)
        return {};
    return removeIncoming(*incoming);
}

Expected<void> EvidenceStore::touchDevice(const std::string &deviceId,
                                          const crypto::Digest &certSha256,
                                          const std::vector<Bytes> &certChainDer)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->touchDevice(txn, deviceId, certSha256, clock_.utcMs(), certChainDer));
    return txn.commit();
}

Expected<void> EvidenceStore::recordAudit(const audit::AuditRecord &record)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(audit_->append(txn, record));
    return txn.commit();
}

Expected<int64_t> EvidenceStore::raiseAlarm(AlarmKind kind, const std::string &deviceId,
                                            uint64_t seq, const std::string &clipUuid,
                                            const std::string &detail, const std::string &actor,
                                            const std::string &action)
{
    const int64_t now = clock_.utcMs();
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_ASSIGN(id, catalog_->insertAlarm(
                       txn, AlarmRow{0, kind, deviceId, seq, clipUuid, detail, now, false, {}}));
    BWC_TRY(audit_->append(txn, audit::AuditRecord{actor, action, "", deviceId, seq, clipUuid,
                                                   std::string("alarm ") + alarmKindName(kind),
                                                   detail}));
    BWC_TRY(txn.commit());
    return id;
}

void EvidenceStore::cleanUpAfterCommit(IncomingFile &incoming)
{
    // The catalog already holds the outcome: a file left in tmp/ is only untidy (the next
    // beginIncoming for the same seq starts it again), so it must not turn the committed
    // result into an error.
    if (auto r = removeIncoming(incoming); !r)
        log::warn("evidence store " + root_ + ": could not clean up " + incoming.path() + ": " +
                  r.error().message);
}

Expected<void> EvidenceStore::insertStored(db::Transaction &txn,
                                           const v1::SignedManifest &signedManifest,
                                           const v1::Manifest &m, const crypto::Digest &mHash,
                                           const std::string &fileSha, uint64_t size,
                                           const std::string &object,
                                           const std::string &reportJson, int64_t now,
                                           ClipRow &row)
{
    BWC_ASSIGN(days, catalog_->categoryRetentionDays(kDefaultCategory));
    BWC_TRY(catalog_->insertManifest(
        txn, ManifestRow{m.device_id(), m.seq(), kindName(m.kind()),
                         chain::serializeSignedManifest(signedManifest), mHash, m.clip_uuid(),
                         now}));
    row.uuid = m.clip_uuid();
    row.deviceId = m.device_id();
    row.seq = m.seq();
    row.objectSha256 = fileSha;
    row.size = size;
    row.officerId = m.officer_id();
    row.startUtcMs = m.start_utc_ms();
    row.endUtcMs = m.end_utc_ms();
    row.retentionDeadlineUtcMs = m.end_utc_ms() + int64_t(days.value_or(31)) * kDayMs;
    row.verified = true;
    row.verifyReportJson = reportJson;
    row.storedUtcMs = now;
    row.objectPath = object;
    BWC_TRY(catalog_->insertClip(txn, row));
    v1::ChainHead head;
    head.set_device_id(m.device_id());
    head.set_seq(m.seq());
    head.set_manifest_sha256(digestString(mHash));
    return catalog_->setChainHead(txn, head);
}

Expected<CommitResult> EvidenceStore::quarantine(IncomingFile &incoming, const std::string &fileSha,
                                                 const v1::SignedManifest &signedManifest,
                                                 const v1::Manifest *manifest,
                                                 const std::string &uuid, AlarmKind kind,
                                                 const std::string &detail,
                                                 const std::string &reportJson,
                                                 std::optional<chain::Verdict> verdict)
{
    const std::string qpath = root_ + "/quarantine/" + safeName(backend_, incoming.deviceId()) +
                              "-" + std::to_string(incoming.seq()) + "-" + fileSha;
    // The manifest is kept beside the file: an examiner who accepts a GAP stores the clip
    // from here (acceptGap).
    BWC_TRY(atomicReplace(qpath + kManifestSuffix, chain::serializeSignedManifest(signedManifest),
                          0600));
    BWC_TRY(renameDurably(incoming.path(), qpath));
    const int64_t now = clock_.utcMs();

    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->insertAlarm(
        txn, AlarmRow{0, kind, incoming.deviceId(), incoming.seq(), uuid, detail, now, false, {}}));
    if (uuid.size() == chain::kClipUuidLen) {
        ClipRow row;
        row.uuid = uuid;
        row.deviceId = incoming.deviceId();
        row.seq = incoming.seq();
        row.objectSha256 = fileSha;
        row.size = incoming.size();
        if (manifest != nullptr) {
            row.officerId = manifest->officer_id();
            row.startUtcMs = manifest->start_utc_ms();
            row.endUtcMs = manifest->end_utc_ms();
        }
        row.retentionDeadlineUtcMs = INT64_MAX; // quarantined evidence is kept until reviewed
        row.state = ClipState::Quarantined;
        row.verified = kind != AlarmKind::VerifyFailed;
        row.verifyReportJson = reportJson;
        row.alarm = alarmKindName(kind);
        row.storedUtcMs = now;
        row.objectPath = qpath;
        BWC_TRY(catalog_->insertClip(txn, row));
    }
    BWC_TRY(audit_->append(
        txn, audit::AuditRecord{"dock", "quarantine", "", incoming.deviceId(), incoming.seq(), uuid,
                                std::string("alarm ") + alarmKindName(kind),
                                "file sha256 " + fileSha + " kept at " + qpath + ": " + detail}));
    BWC_TRY(txn.commit());
    cleanUpAfterCommit(incoming);

    CommitResult result;
    result.verdict = verdict;
    result.quarantined = true;
    result.objectPath = qpath;
    result.objectSha256 = fileSha;
    result.alarm = kind;
    result.explanation = detail;
    result.reportJson = reportJson;
    return result;
}

Expected<CommitResult>
EvidenceStore::commitClip(std::unique_ptr<IncomingFile> incoming,
                          const v1::SignedManifest &signedManifest, const TrustMaterial &trust)
{
    if (!incoming)
        return Error(Errc::Internal, "evidence store " + root_ + ": commitClip without a file");
    const std::string what = "evidence store " + root_ + ": device " +
                             chain::printableForMessage(incoming->deviceId()) + " seq " +
                             std::to_string(incoming->seq()) + ": ";
    if (incoming->size() != incoming->expectedBytes())
        return Error(Errc::Protocol, what + "the file is incomplete (" +
                                         std::to_string(incoming->size()) + " of " +
                                         std::to_string(incoming->expectedBytes()) +
                                         " bytes); resume at " + std::to_string(incoming->size()));
    BWC_TRY(incoming->fsync());

    auto parsed = chain::parseManifest(signedManifest);
    if (parsed && (parsed->device_id() != incoming->deviceId() || parsed->seq() != incoming->seq()))
        return Error(Errc::Protocol, what + "the manifest is " + chain::describeManifest(*parsed) +
                                         ", not the one announced for this file");

    // The bytes were hashed, parsed and decrypted as they arrived; this only ends that pass.
    BWC_ASSIGN(streamed, incoming->finishReading(parsed ? *parsed : v1::Manifest()));
    const std::optional<crypto::P256KeyPair> &evidenceKey = incoming->evidenceKey_;

    const std::string manifestPath = incoming->path() + ".bwcm";
    BWC_TRY(atomicReplace(manifestPath, chain::serializeSignedManifest(signedManifest), 0600));
    verify::ClipInputs in;
    in.clipPath = incoming->path();
    in.manifestPath = manifestPath;
    in.deviceCertChainDer = trust.deviceCertChainDer;
    in.trustAnchorsDer = {trust.caDer};
    in.crlsDer = {trust.crlDer};
    in.evidenceKey = evidenceKey;
    in.nowUtcMs = clock_.utcMs();
    in.streamed = &streamed;
    verify::ClipReport clipReport = verify::verifyClip(backend_, in);
    (void)removeFile(manifestPath);

    auto renderReport = [&]() {
        verify::Report report;
        report.toolVersion = verify::toolVersion(backend_);
        report.examiner = "dock " + dockId_;
        report.createdUtcMs = in.nowUtcMs;
        report.subject =
            "offload of device " + incoming->deviceId() + " seq " + std::to_string(incoming->seq());
        report.clips.push_back(clipReport);
        return verify::renderJson(report);
    };

    const std::string fileSha = toHex(streamed.fileSha256);
    const std::string uuid = parsed ? parsed->clip_uuid() : std::string();
    if (!parsed || !clipReport.passed())
        return quarantine(*incoming, fileSha, signedManifest, parsed ? &*parsed : nullptr, uuid,
                          AlarmKind::VerifyFailed, failedChecks(clipReport), renderReport(),
                          std::nullopt);

    const v1::Manifest &m = *parsed;
    const crypto::Digest mHash = chain::manifestSha256(backend_, signedManifest);
    BWC_ASSIGN(decision, judge(*catalog_, clipReport.deviceCert.subjectCommonName, m, mHash));
    // The stored report carries the dock's chain verdict (section 9 step 2, against the
    // stored head) in place of verifyClip's, which has no preceding manifests to check.
    const std::optional<AlarmKind> chainAlarm = alarmFor(decision.verdict);
    for (verify::Check &check : clipReport.checks)
        if (check.name == "chain") {
            check.status = chainAlarm ? verify::Status::Fail : verify::Status::Pass;
            check.detail =
                std::string(chain::verdictName(decision.verdict)) + ": " + decision.explanation;
        }
    const std::string json = renderReport();
    if (chainAlarm)
        return quarantine(*incoming, fileSha, signedManifest, &m, uuid, *chainAlarm,
                          decision.explanation, json,
                          decision.verdict);

    CommitResult result;
    result.verdict = decision.verdict;
    result.objectSha256 = fileSha;
    result.explanation = decision.explanation;
    result.reportJson = json;

    if (decision.verdict == chain::Verdict::Idempotent) {
        BWC_ASSIGN(existing, catalog_->clip(uuid));
        cleanUpAfterCommit(*incoming);
        if (existing && existing->state == ClipState::Stored) {
            result.stored = true;
            result.objectPath = existing->objectPath;
        }
        return result;
    }

    const std::string object = objectPath(fileSha);
    BWC_TRY(renameDurably(incoming->path(), object));
    const int64_t now = clock_.utcMs();

    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->touchDevice(txn, m.device_id(), clipReport.deviceCert.certSha256, now,
                                  trust.deviceCertChainDer));
    ClipRow row;
    BWC_TRY(insertStored(txn, signedManifest, m, mHash, fileSha, incoming->size(), object, json,
                         now, row));
    const bool decrypted = evidenceKey.has_value();
    BWC_TRY(audit_->append(
        txn,
        audit::AuditRecord{"dock", "store", "offload", m.device_id(), m.seq(), uuid, "stored",
                           "object " + fileSha + ", " + std::to_string(row.size) + " bytes, " +
                               kindName(m.kind()) + (decrypted ? ", decrypted and checked" : "") +
                               "; " + decision.explanation}));
    BWC_TRY(txn.commit());
    cleanUpAfterCommit(*incoming);

    result.stored = true;
    result.objectPath = object;
    return result;
}

Expected<CommitResult> EvidenceStore::commitManifest(const v1::SignedManifest &signedManifest,
                                                     const TrustMaterial &trust)
{
    BWC_ASSIGN(m, chain::parseManifest(signedManifest));
    const std::string what = "evidence store " + root_ + ": " + chain::describeManifest(m) + ": ";
    if (m.kind() == v1::MANIFEST_KIND_CLIP || m.kind() == v1::MANIFEST_KIND_INTERRUPTED)
        return Error(Errc::Protocol, what + "a clip's manifest must come with its file");

    const crypto::Digest mHash = chain::manifestSha256(backend_, signedManifest);
    const int64_t now = clock_.utcMs();
    CommitResult result;

    auto alarmOnly = [&](AlarmKind kind, std::optional<chain::Verdict> verdict,
                         const std::string &detail) -> Expected<CommitResult> {
        BWC_ASSIGN(txn, catalog_->begin());
        BWC_TRY(catalog_->insertAlarm(
            txn, AlarmRow{0, kind, m.device_id(), m.seq(), {}, detail, now, false, {}}));
        BWC_TRY(audit_->append(txn, audit::AuditRecord{"dock",
                                                       lowerKind(m.kind()),
                                                       "",
                                                       m.device_id(),
                                                       m.seq(),
                                                       {},
                                                       std::string("alarm ") + alarmKindName(kind),
                                                       "manifest sha256 " + toHex(mHash) +
                                                           " not accepted: " + detail}));
        BWC_TRY(txn.commit());
        result.verdict = verdict;
        result.alarm = kind;
        result.explanation = detail;
        return result;
    };

    crypto::CertInfo cert;
    {
        crypto::ChainRequest request;
        if (trust.deviceCertChainDer.empty())
            return alarmOnly(AlarmKind::VerifyFailed, std::nullopt,
                             "no device certificate was presented");
        request.leafDer = trust.deviceCertChainDer.front();
        request.intermediatesDer.assign(trust.deviceCertChainDer.begin() + 1,
                                        trust.deviceCertChainDer.end());
        request.trustAnchorsDer = {trust.caDer};
        request.crlsDer = {trust.crlDer};
        request.validityTimeUtcMs = m.signed_utc_ms();
        request.nowUtcMs = now;
        auto verified = backend_.verifyCertChain(request);
        if (!verified)
            return alarmOnly(AlarmKind::VerifyFailed, std::nullopt,
                             "certificate: " + verified.error().message);
        cert = std::move(*verified);
    }
    if (auto sig = chain::verifySignedManifest(backend_, cert.publicKey, signedManifest); !sig)
        return alarmOnly(AlarmKind::VerifyFailed, std::nullopt,
                         "signature: " + sig.error().message);

    BWC_ASSIGN(decision, judge(*catalog_, cert.subjectCommonName, m, mHash));
    if (auto alarm = alarmFor(decision.verdict))
        return alarmOnly(*alarm, decision.verdict, decision.explanation);
    result.verdict = decision.verdict;
    result.explanation = decision.explanation;
    if (decision.verdict == chain::Verdict::Idempotent) {
        result.stored = true;
        return result;
    }

    std::string detail = "manifest sha256 " + toHex(mHash);
    if (m.kind() == v1::MANIFEST_KIND_WIPE) {
        detail += "; wiped seq";
        for (const v1::WipedClip &w : m.wiped())
            detail += " " + std::to_string(w.seq());
    }
    if (!m.note().empty())
        detail += "; note: " + chain::printableForMessage(m.note());

    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->touchDevice(txn, m.device_id(), cert.certSha256, now,
                                  trust.deviceCertChainDer));
    BWC_TRY(
        catalog_->insertManifest(txn, ManifestRow{m.device_id(),
                                                  m.seq(),
                                                  kindName(m.kind()),
                                                  chain::serializeSignedManifest(signedManifest),
                                                  mHash,
                                                  {},
                                                  now}));
    v1::ChainHead head;
    head.set_device_id(m.device_id());
    head.set_seq(m.seq());
    head.set_manifest_sha256(digestString(mHash));
    BWC_TRY(catalog_->setChainHead(txn, head));
    BWC_TRY(audit_->append(txn, audit::AuditRecord{"dock",
                                                   lowerKind(m.kind()),
                                                   "offload",
                                                   m.device_id(),
                                                   m.seq(),
                                                   {},
                                                   "recorded",
                                                   detail}));
    BWC_TRY(txn.commit());
    result.stored = true;
    return result;
}

Expected<v1::SignedReceipt> EvidenceStore::issueReceipt(const std::string &deviceId,
                                                        const std::string &sessionNonce)
{
    BWC_ASSIGN(head, catalog_->chainHead(deviceId));
    if (!head)
        return Error(Errc::NotFound, "evidence store " + root_ + ": nothing is held for device " +
                                         chain::printableForMessage(deviceId) +
                                         "; no receipt can be issued");
    BWC_ASSIGN(first, catalog_->runStart(deviceId, head->seq()));

    v1::Receipt receipt;
    receipt.set_format_version(kReceiptFormatVersion);
    receipt.set_dock_id(dockId_);
    receipt.set_device_id(deviceId);
    receipt.set_first_seq(first);
    receipt.set_last_seq(head->seq());
    receipt.set_head_manifest_sha256(head->manifest_sha256());
    receipt.set_issued_utc_ms(clock_.utcMs());
    receipt.set_session_nonce(sessionNonce);
    ClipFilter filter;
    filter.deviceId = deviceId;
    filter.state = ClipState::Stored;
    BWC_ASSIGN(clips, catalog_->listClips(filter));
    for (const ClipRow &c : clips) {
        if (c.seq < first || c.seq > head->seq())
            continue;
        const auto sha = fromHex(c.objectSha256);
        v1::ReceiptedClip *rc = receipt.add_clips();
        rc->set_seq(c.seq);
        rc->set_clip_uuid(c.uuid);
        rc->set_ciphertext_sha256(sha ? std::string(asChars(*sha)) : std::string());
    }

    v1::SignedReceipt signedReceipt;
    std::string bytes;
    if (!receipt.SerializeToString(&bytes))
        return Error(Errc::Internal, "receipt for " + deviceId + ": serialise failed");
    const crypto::Digest digest = backend_.sha256(asBytes(bytes));
    BWC_ASSIGN(signature, backend_.ecdsaSignDigest(identity_.key.priv, digest));
    signedReceipt.set_receipt(bytes);
    signedReceipt.set_signature(std::string(asChars(signature)));
    std::string signedBytes;
    if (!signedReceipt.SerializeToString(&signedBytes))
        return Error(Errc::Internal, "receipt for " + deviceId + ": serialise failed");

    crypto::Digest headDigest{};
    std::copy(head->manifest_sha256().begin(), head->manifest_sha256().end(), headDigest.begin());
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->insertReceipt(txn, ReceiptRow{deviceId, first, head->seq(), headDigest,
                                                    Bytes(signedBytes.begin(), signedBytes.end()),
                                                    receipt.issued_utc_ms()}));
    BWC_TRY(audit_->append(
        txn,
        audit::AuditRecord{"dock",
                           "receipt",
                           "offload",
                           deviceId,
                           head->seq(),
                           {},
                           "issued",
                           "seq " + std::to_string(first) + ".." + std::to_string(head->seq()) +
                               ", " + std::to_string(receipt.clips_size()) + " clip(s), head " +
                               toHex(headDigest) + ", receipt sha256 " + toHex(digest)}));
    BWC_TRY(txn.commit());
    return signedReceipt;
}

Expected<void> EvidenceStore::purgeClip(const std::string &clipUuid, const std::string &actor,
                                        const std::string &reason)
{
    const std::string name = "clip " + toHex(asBytes(clipUuid));
    BWC_ASSIGN(clip, catalog_->clip(clipUuid));
    if (!clip)
        return Error(Errc::NotFound, name + " is not in the catalog " + root_);
    if (clip->state == ClipState::Purged) {
        // A purge interrupted after its commit: finish deleting the object.
        BWC_TRY(removeFile(clip->objectPath));
        return fsyncDirectory(parentDirectory(clip->objectPath));
    }
    BWC_ASSIGN(holds, catalog_->activeHolds(clipUuid));
    if (!holds.empty())
        return Error(Errc::Exists, name + " is under " + std::to_string(holds.size()) +
                                       " active hold(s) (first: \"" + holds.front().reason +
                                       "\" by " + holds.front().placedBy +
                                       "); release the hold before purging");
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->setClipState(txn, clip->id, ClipState::Purged));
    BWC_TRY(audit_->append(txn, audit::AuditRecord{actor, "purge", reason, clip->deviceId,
                                                   clip->seq, clipUuid, "purged",
                                                   "object " + clip->objectSha256 +
                                                       " deleted (crypto-erase); manifest kept "
                                                       "as tombstone"}));
    BWC_TRY(txn.commit());
    BWC_TRY(removeFile(clip->objectPath));
    return fsyncDirectory(parentDirectory(clip->objectPath));
}

Expected<void> EvidenceStore::assignOfficer(const std::string &deviceId,
                                            const std::string &officerId, const std::string &actor,
                                            const std::string &reason)
{
    if (officerId.empty())
        return Error(Errc::Usage, "assign: an officer id is required");
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->setAssignment(txn, Assignment{deviceId, officerId, actor, clock_.utcMs()}));
    BWC_TRY(audit_->append(
        txn, audit::AuditRecord{
                 actor, "assign", reason, deviceId, 0, {}, "assigned", "officer " + officerId}));
    return txn.commit();
}

Expected<ClipRow> EvidenceStore::categorize(const std::string &clipUuid,
                                            const std::string &category, const std::string &actor,
                                            const std::string &reason)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_ASSIGN(row, catalog_->setClipCategory(txn, clipUuid, category));
    BWC_TRY(audit_->append(txn, audit::AuditRecord{actor, "categorize", reason, row.deviceId,
                                                   row.seq, clipUuid, "categorised",
                                                   "category " + category + ", deadline " +
                                                       formatUtcMs(row.retentionDeadlineUtcMs)}));
    BWC_TRY(txn.commit());
    return row;
}

Expected<void> EvidenceStore::defineCategory(const std::string &name, int retentionDays,
                                             const std::string &actor, const std::string &reason)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->setCategory(txn, name, retentionDays));
    BWC_TRY(audit_->append(
        txn, audit::AuditRecord{actor,
                                "category",
                                reason,
                                {},
                                0,
                                {},
                                "defined",
                                name + ": " + std::to_string(retentionDays) + " days"}));
    return txn.commit();
}

Expected<int64_t> EvidenceStore::placeHold(const std::string &clipUuid, const std::string &actor,
                                           const std::string &reason)
{
    BWC_ASSIGN(clip, catalog_->clip(clipUuid));
    if (!clip)
        return Error(Errc::NotFound,
                     "clip " + toHex(asBytes(clipUuid)) + " is not in the catalog " + root_);
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_ASSIGN(id,
               catalog_->addHold(
                   txn, HoldRow{0, clipUuid, reason, actor, clock_.utcMs(), std::nullopt, {}, {}}));
    BWC_TRY(
        audit_->append(txn, audit::AuditRecord{actor, "hold", reason, clip->deviceId, clip->seq,
                                               clipUuid, "held", "hold " + std::to_string(id)}));
    BWC_TRY(txn.commit());
    return id;
}

Expected<int> EvidenceStore::releaseHold(const std::string &clipUuid, const std::string &actor,
                                         const std::string &reason)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_ASSIGN(released, catalog_->releaseHolds(txn, clipUuid, actor, reason, clock_.utcMs()));
    if (released == 0)
        return Error(Errc::NotFound,
                     "clip " + toHex(asBytes(clipUuid)) + " has no active hold to release");
    BWC_TRY(audit_->append(txn, audit::AuditRecord{actor,
                                                   "release",
                                                   reason,
                                                   {},
                                                   0,
                                                   clipUuid,
                                                   "released",
                                                   std::to_string(released) + " hold(s)"}));
    BWC_TRY(txn.commit());
    return released;
}

Expected<void> EvidenceStore::acknowledgeAlarm(int64_t alarmId, const std::string &actor,
                                               const std::string &reason)
{
    BWC_ASSIGN(txn, catalog_->begin());
    BWC_TRY(catalog_->acknowledgeAlarm(txn, alarmId, actor));
    BWC_TRY(audit_->append(txn, audit::AuditRecord{actor,
                                                   "alarm.ack",
                                                   reason,
                                                   {},
                                                   0,
                                                   {},
                                                   "acknowledged",
                                                   "alarm " + std::to_string(alarmId)}));
    return txn.commit();
}

Expected<AcceptedGap> EvidenceStore::acceptGap(int64_t alarmId, const Bytes &caDer,
                                               const Bytes &crlDer,
                                               const std::optional<crypto::P256KeyPair> &evidenceKey,
                                               const std::string &actor, const std::string &reason)
{
    const std::string what = "alarm #" + std::to_string(alarmId) + ": ";
    BWC_ASSIGN(found, catalog_->alarm(alarmId));
    if (!found)
        return Error(Errc::NotFound, what + "no such alarm; `bwc alarms --all` lists them");
    const AlarmRow alarm = *found;
    if (alarm.kind != AlarmKind::Gap)
        return Error(Errc::Usage,
                     what + "it is a " + alarmKindName(alarm.kind) +
                         " alarm; only a GAP (manifests missing before a clip) can be accepted. "
                         "A FORK or ROLLBACK means two histories or a replay and is never "
                         "merged: examine it and acknowledge it with `bwc alarms ack`");
    if (alarm.acknowledged)
        return Error(Errc::Usage, what + "already acknowledged by " + alarm.acknowledgedBy +
                                      "; a gap is accepted while its alarm is open (dock the "
                                      "camera again to raise it anew)");

    // Still a gap: the stored head is below the manifest just before this one.
    BWC_ASSIGN(head, catalog_->chainHead(alarm.deviceId));
    const uint64_t headSeq = head ? head->seq() : 0;
    if (headSeq + 1 >= alarm.seq)
        return Error(Errc::Usage,
                     what + "device " + alarm.deviceId + " seq " + std::to_string(alarm.seq) +
                         " is no longer after a gap: the stored head is seq " +
                         std::to_string(headSeq) +
                         " now; acknowledge the alarm with `bwc alarms ack` instead");

    // The newest quarantined attempt of the alarm's clip, with its manifest.
    BWC_ASSIGN(attempts, catalog_->quarantinedAttempts(alarm.deviceId, alarm.seq, alarm.clipUuid));
    const ClipRow *attempt = nullptr;
    for (const ClipRow &a : attempts)
        if (pathExists(a.objectPath) && pathExists(a.objectPath + kManifestSuffix)) {
            attempt = &a;
            break;
        }
    if (!attempt)
        return Error(Errc::NotFound,
                     what + "the quarantined clip of device " + alarm.deviceId + " seq " +
                         std::to_string(alarm.seq) + " or its manifest is not in " + root_ +
                         "/quarantine (quarantined by an older bwc-dockd, or removed); the "
                         "camera still holds the clip: dock it again and accept the new alarm");
    BWC_ASSIGN(manifestBytes, readFile(attempt->objectPath + kManifestSuffix, 1u << 20));
    v1::SignedManifest signedManifest;
    if (!signedManifest.ParseFromArray(manifestBytes.data(), int(manifestBytes.size())))
        return Error(Errc::Format, what + attempt->objectPath + kManifestSuffix +
                                       " does not parse as a signed manifest (altered?)");
    BWC_ASSIGN(m, chain::parseManifest(signedManifest));
    if (m.device_id() != alarm.deviceId || m.seq() != alarm.seq || m.clip_uuid() != alarm.clipUuid)
        return Error(Errc::Format, what + attempt->objectPath + kManifestSuffix + " is " +
                                       chain::describeManifest(m) +
                                       ", not the alarm's clip (altered?)");

    // Verify the quarantined file again, as the device's certificate chain stands.
    BWC_ASSIGN(certSha, catalog_->deviceCertSha256(alarm.deviceId));
    std::vector<Bytes> deviceChain;
    if (certSha) {
        BWC_ASSIGN(chainDer, catalog_->deviceCertChain(*certSha));
        if (chainDer)
            deviceChain = *chainDer;
    }
    if (deviceChain.empty())
        return Error(Errc::NotFound, what + "the catalog holds no certificate chain of device " +
                                         alarm.deviceId + "; dock the camera again");
    verify::ClipInputs in;
    in.clipPath = attempt->objectPath;
    in.manifestPath = attempt->objectPath + kManifestSuffix;
    in.deviceCertChainDer = deviceChain;
    in.trustAnchorsDer = {caDer};
    in.crlsDer = {crlDer};
    in.evidenceKey = evidenceKey;
    in.nowUtcMs = clock_.utcMs();
    verify::ClipReport clipReport = verify::verifyClip(backend_, in);
    const crypto::Digest mHash = chain::manifestSha256(backend_, signedManifest);
    const uint64_t firstMissing = headSeq + 1, lastMissing = m.seq() - 1;
    const std::string gapText = "seq " + std::to_string(firstMissing) +
                                (lastMissing > firstMissing ? ".." + std::to_string(lastMissing)
                                                            : std::string()) +
                                " missing, accepted by " + actor + " (alarm #" +
                                std::to_string(alarmId) + ": " + reason + ")";
    for (verify::Check &check : clipReport.checks)
        if (check.name == "chain") {
            check.status = verify::Status::Pass;
            check.detail = "GAP accepted: " + gapText + "; the chain resumes at seq " +
                           std::to_string(m.seq());
        }
    if (!clipReport.passed())
        return Error(Errc::Auth, what + "the quarantined clip " + attempt->objectPath +
                                     " fails verification (" + failedChecks(clipReport) +
                                     "): it cannot be accepted; examine it with `bwc verify`");
    const std::string fileSha = clipReport.ciphertextSha256;
    if (fileSha != attempt->objectSha256)
        return Error(Errc::Format, what + attempt->objectPath + " hashes to " + fileSha +
                                       " but was quarantined as " + attempt->objectSha256 +
                                       " (altered in quarantine?)");

    verify::Report report;
    report.toolVersion = verify::toolVersion(backend_);
    report.examiner = actor;
    report.createdUtcMs = in.nowUtcMs;
    report.subject = "accepted gap before device " + alarm.deviceId + " seq " +
                     std::to_string(m.seq());
    report.clips.push_back(clipReport);
    const std::string json = verify::renderJson(report);

    // A hard link first: until the catalog commits, the quarantined file stays where the
    // alarm points, so an interrupted acceptance can simply be run again.
    const std::string object = objectPath(fileSha);
    BWC_TRY(makeDirectories(parentDirectory(object)));
    if (::link(attempt->objectPath.c_str(), object.c_str()) != 0 && errno != EEXIST)
        return Error(errno == ENOSPC ? Errc::NoSpace : Errc::Io,
                     what + "link " + attempt->objectPath + " -> " + object + ": " +
                         errnoText(errno));
    BWC_TRY(fsyncDirectory(parentDirectory(object)));

    const int64_t now = clock_.utcMs();
    GapRow gap;
    gap.deviceId = alarm.deviceId;
    gap.firstMissingSeq = firstMissing;
    gap.lastMissingSeq = lastMissing;
    gap.resumedSeq = m.seq();
    gap.resumedManifestSha256 = mHash;
    gap.alarmId = alarmId;
    gap.acceptedBy = actor;
    gap.reason = reason;
    gap.utcMs = now;
    const std::string quarantined = attempt->objectPath;

    BWC_ASSIGN(txn, catalog_->begin());
    // bwc-dockd may have stored a clip of this device meanwhile (another process).
    BWC_ASSIGN(headNow, catalog_->chainHead(alarm.deviceId));
    if ((headNow ? headNow->seq() : 0) != headSeq)
        return Error(Errc::Chain, what + "the stored head of device " + alarm.deviceId +
                                     " moved while the clip was being verified; run the "
                                     "command again");
    BWC_ASSIGN(gapId, catalog_->insertGap(txn, gap));
    gap.id = gapId;
    BWC_TRY(catalog_->removeQuarantinedAttempts(txn, alarm.deviceId, alarm.seq, alarm.clipUuid));
    ClipRow row;
    BWC_TRY(insertStored(txn, signedManifest, m, mHash, fileSha, clipReport.ciphertextBytes,
                         object, json, now, row));
    BWC_TRY(catalog_->acknowledgeAlarm(txn, alarmId, actor));
    BWC_TRY(audit_->append(
        txn, audit::AuditRecord{actor, "alarm.accept-gap", reason, m.device_id(), m.seq(),
                                m.clip_uuid(), "stored",
                                "GAP " + gapText + "; object " + fileSha + " from " + quarantined +
                                    (evidenceKey ? ", decrypted and checked" : "")}));
    BWC_TRY(txn.commit());

    for (const std::string &path : {quarantined, quarantined + kManifestSuffix})
        if (auto r = removeFile(path); !r)
            log::warn("evidence store " + root_ + ": " + r.error().message);
    (void)fsyncDirectory(parentDirectory(quarantined));

    AcceptedGap out;
    out.gap = gap;
    out.commit.verdict = chain::Verdict::Append;
    out.commit.stored = true;
    out.commit.objectPath = object;
    out.commit.objectSha256 = fileSha;
    out.commit.explanation = "GAP " + gapText;
    out.commit.reportJson = json;
    return out;
}

Expected<StoreStatus> EvidenceStore::status()
{
    StoreStatus s;
    s.root = root_;
    auto count = [&](const char *sql) -> Expected<uint64_t> {
        BWC_ASSIGN(n, catalog_->database().queryInt(sql));
        return uint64_t(n.value_or(0));
    };
    BWC_ASSIGN(stored, count("SELECT COUNT(*) FROM clips WHERE state = 'stored'"));
    BWC_ASSIGN(quarantined, count("SELECT COUNT(*) FROM clips WHERE state = 'quarantined'"));
    BWC_ASSIGN(purged, count("SELECT COUNT(*) FROM clips WHERE state = 'purged'"));
    BWC_ASSIGN(alarms, count("SELECT COUNT(*) FROM alarms WHERE acknowledged = 0"));
    s.storedClips = stored;
    s.quarantinedClips = quarantined;
    s.purgedClips = purged;
    s.openAlarms = alarms;
    return s;
}

Expected<uint64_t> EvidenceStore::verifyAudit()
{
    return audit::verifyAuditChain(catalog_->database(), backend_, identity_.key.pub);
}

} // namespace bwc::store
