#include "firmware/offload/offload_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/net/platform/mbedtls/tls_client.h"
#include "common/net/socket.h"

namespace bwc::fw {

namespace {

constexpr size_t kSessionNonceLen = 16;
constexpr int64_t kClockStepThresholdMs = 1000;
constexpr size_t kMaxDataChunkBytes = 1024 * 1024;
// While waiting for a frame, the cancel flag is looked at this often.
constexpr int kCancelPollMs = 200;

bool isClipKind(v1::ManifestKind kind)
{
    return kind == v1::MANIFEST_KIND_CLIP || kind == v1::MANIFEST_KIND_INTERRUPTED;
}

std::string seqText(uint64_t seq)
{
    return "seq " + std::to_string(seq);
}

std::optional<container::ClipUuid> clipUuidOf(std::string_view raw)
{
    if (raw.size() != chain::kClipUuidLen)
        return std::nullopt;
    container::ClipUuid uuid{};
    std::copy(raw.begin(), raw.end(), uuid.begin());
    return uuid;
}

// A clip manifest of the journal, with its file on the camera (if still there).
struct JournalEntry {
    uint64_t seq = 0;
    v1::SignedManifest signedManifest;
    v1::Manifest manifest;
    std::string clipPath;   // empty for manifests without a clip
    uint64_t fileBytes = 0; // 0 when the clip file is gone (or there is none)
};

class Session
{
public:
    Session(const crypto::Backend &backend, chain::DeviceIdentity &identity,
            chain::ChainState &chain, OffloadHost &host, const OffloadSettings &settings)
        : backend_(backend), identity_(identity), chain_(chain), host_(host), settings_(settings)
    {
    }

    Expected<OffloadResult> run();

private:
    std::string dockName() const
    {
        return "dock " + settings_.host + ":" + std::to_string(settings_.port);
    }
    Expected<void> checkCancel() const;
    Expected<void> send(const v1::Frame &frame);
    // The next frame; an Abort becomes Errc::Protocol with the dock's message, any frame
    // other than the expected ones Errc::Protocol naming both.
    Expected<v1::Frame> receive(std::initializer_list<v1::Frame::MsgCase> expected,
                                std::string_view waitingFor);
    Expected<JournalEntry> loadEntry(uint64_t seq) const;
    Expected<v1::Hello> makeHello();
    Expected<void> applyWelcome(const v1::Welcome &welcome);
    Expected<void> checkCrl(ByteView crlDer) const;
    Expected<v1::SignedManifest> issue(v1::Manifest m);
    // Offers one manifest; false when the dock refused it.
    Expected<bool> offer(const JournalEntry &entry);
    Expected<void> sendFile(const JournalEntry &entry, uint64_t offset);
    Expected<v1::Receipt> checkReceipt(const v1::SignedReceipt &signedReceipt);
    // Deletes the receipted clips, signs the WIPE manifest and trims the journal.
    Expected<std::optional<v1::SignedManifest>> wipe(const v1::Receipt &receipt,
                                                     const v1::SignedReceipt &signedReceipt);

    const crypto::Backend &backend_;
    chain::DeviceIdentity &identity_;
    chain::ChainState &chain_;
    OffloadHost &host_;
    const OffloadSettings &settings_;
    std::unique_ptr<net::TlsStream> stream_;
    net::FrameDecoder decoder_;
    Bytes nonce_;
    std::string dockId_;
    uint64_t totalBytes_ = 0;
    uint64_t countedUpTo_ = 0; // totalBytes_ includes the files of seqs up to this one
    OffloadResult result_;
};

Expected<void> Session::checkCancel() const
{
    if (settings_.cancel != nullptr && settings_.cancel->load())
        return Error(Errc::Io, "offload to " + dockName() +
                                   " cancelled; nothing was deleted without a receipt");
    return {};
}

Expected<void> Session::send(const v1::Frame &frame)
{
    BWC_TRY(checkCancel());
    auto sent = net::sendFrame(*stream_, frame, settings_.ioTimeoutMs);
    if (!sent)
        return std::move(sent).error().context(dockName() + ": sending " + net::frameName(frame));
    return {};
}

Expected<v1::Frame> Session::receive(std::initializer_list<v1::Frame::MsgCase> expected,
                                     std::string_view waitingFor)
{
    const net::Deadline deadline(settings_.ioTimeoutMs);
    Expected<v1::Frame> frame = Error(Errc::Internal, "no frame");
    for (;;) {
        BWC_TRY(checkCancel());
        const int left = deadline.remainingMs();
        if (left == 0)
            return Error(Errc::Io, dockName() + ": timed out after " +
                                       std::to_string(settings_.ioTimeoutMs) + " ms waiting for " +
                                       std::string(waitingFor) +
                                       "; the dock stalled (nothing was deleted)");
        const int slice = left < 0 ? kCancelPollMs : std::min(left, kCancelPollMs);
        frame = net::receiveFrame(*stream_, decoder_, slice);
        // A slice that ran out keeps the partial frame in the decoder; wait on.
        if (!frame && frame.error().code == Errc::Io &&
            frame.error().message.find("timed out") != std::string::npos)
            continue;
        break;
    }
    if (!frame)
        return std::move(frame).error().context(dockName() + ": waiting for " +
                                                std::string(waitingFor));
    if (frame->has_abort())
        return Error(Errc::Protocol, dockName() + " aborted the offload: " +
                                         chain::printableForMessage(frame->abort().message()));
    if (std::find(expected.begin(), expected.end(), frame->msg_case()) == expected.end())
        return Error(Errc::Protocol, dockName() + " sent " + net::frameName(*frame) +
                                         " while the camera waited for " + std::string(waitingFor) +
                                         "; offload stopped");
    return frame;
}

Expected<JournalEntry> Session::loadEntry(uint64_t seq) const
{
    JournalEntry e;
    e.seq = seq;
    BWC_ASSIGN(sm, chain_.loadManifest(seq));
    e.signedManifest = std::move(sm);
    auto parsed = chain::parseManifest(e.signedManifest);
    if (!parsed)
        return std::move(parsed).error().context("journal " + seqText(seq));
    e.manifest = std::move(*parsed);
    if (e.manifest.seq() != seq)
        return Error(Errc::Format, "journal file " + chain_.manifestPath(seq) + " holds " +
                                       seqText(e.manifest.seq()) + "; the journal is damaged");
    if (isClipKind(e.manifest.kind())) {
        const auto uuid = clipUuidOf(e.manifest.clip_uuid());
        if (!uuid)
            return Error(Errc::Format, "journal " + seqText(seq) + ": clip_uuid is not 16 bytes");
        e.clipPath = chain::clipFilePath(settings_.clipDir, *uuid);
        if (pathExists(e.clipPath)) {
            BWC_ASSIGN(size, fileSize(e.clipPath));
            e.fileBytes = size;
        }
    }
    return e;
}

Expected<v1::Hello> Session::makeHello()
{
    v1::Hello hello;
    hello.set_protocol_version(kOffloadProtocolVersion);
    hello.set_device_id(identity_.id());
    hello.set_fw_version(host_.fwVersion());
    *hello.mutable_head() = chain_.head();
    *hello.mutable_storage() = host_.storage();
    BWC_ASSIGN(seqs, chain_.pendingManifests(0));
    uint64_t pendingBytes = 0;
    for (uint64_t seq : seqs) {
        BWC_ASSIGN(e, loadEntry(seq));
        if (e.clipPath.empty() || !pathExists(e.clipPath))
            continue;
        v1::PendingClip *p = hello.add_pending();
        p->set_seq(seq);
        p->set_clip_uuid(e.manifest.clip_uuid());
        p->set_ciphertext_bytes(e.fileBytes);
        p->set_flagged(host_.flagged(asBytes(e.manifest.clip_uuid())));
        pendingBytes += e.fileBytes;
    }
    totalBytes_ = pendingBytes;
    countedUpTo_ = seqs.empty() ? 0 : seqs.back();
    hello.mutable_storage()->set_pending_bytes(pendingBytes);
    nonce_.assign(kSessionNonceLen, 0);
    BWC_TRY(backend_.randomBytes(nonce_));
    hello.set_session_nonce(std::string(asChars(nonce_)));
    hello.set_device_utc_ms(host_.utcMs());
    const Bytes config = host_.configSha256();
    hello.set_config_sha256(std::string(asChars(config)));
    return hello;
}

Expected<v1::SignedManifest> Session::issue(v1::Manifest m)
{
    m.set_fw_version(host_.fwVersion());
    if (m.config_sha256().empty()) {
        const Bytes config = host_.configSha256();
        m.set_config_sha256(std::string(asChars(config)));
    }
    return chain_.issue(std::move(m));
}

// A CRL from the dock is kept only when the agency CA signed it, it is current, and it
// is newer than the one in use. The signature and currency are checked by validating the
// dock's own certificate path with that CRL alone: the backend checks every CRL it uses
// against the CA's key and its thisUpdate/nextUpdate (the CRL number is not exposed by
// the backends' CrlInfo, so "newer" is judged by thisUpdate).
Expected<void> Session::checkCrl(ByteView crlDer) const
{
    BWC_ASSIGN(info, backend_.parseCrlDer(crlDer));
    const std::vector<Bytes> &peer = stream_->peerCertChainDer();
    if (peer.empty())
        return Error(Errc::Internal, "the dock presented no certificate");
    crypto::ChainRequest request;
    request.leafDer = peer[0];
    request.intermediatesDer.assign(peer.begin() + 1, peer.end());
    request.trustAnchorsDer = settings_.tls.trustAnchorsDer;
    request.crlsDer = {Bytes(crlDer.begin(), crlDer.end())};
    request.nowUtcMs = host_.utcMs();
    request.validityTimeUtcMs = request.nowUtcMs;
    auto checked = backend_.verifyCertChain(request);
    if (!checked)
        return std::move(checked).error().context("CRL from the dock (issuer " + info.issuer +
                                                  ") does not check out against the agency CA");
    for (const Bytes &current : settings_.tls.crlsDer) {
        auto old = backend_.parseCrlDer(current);
        if (!old || old->issuer != info.issuer)
            continue;
        if (info.thisUpdateUtcMs <= old->thisUpdateUtcMs)
            return Error(Errc::Cert,
                         "CRL from the dock (thisUpdate " + formatUtcMs(info.thisUpdateUtcMs) +
                             ") is not newer than the camera's (thisUpdate " +
                             formatUtcMs(old->thisUpdateUtcMs) + "); kept the camera's");
    }
    return {};
}

Expected<void> Session::applyWelcome(const v1::Welcome &welcome)
{
    if (welcome.protocol_version() != kOffloadProtocolVersion)
        return Error(Errc::Protocol, dockName() + " speaks offload protocol version " +
                                         std::to_string(welcome.protocol_version()) +
                                         "; this camera speaks version " +
                                         std::to_string(kOffloadProtocolVersion));
    if (!welcome.dock_id().empty() && welcome.dock_id() != dockId_)
        return Error(Errc::Protocol, dockName() + ": Welcome names dock \"" +
                                         chain::printableForMessage(welcome.dock_id()) +
                                         "\" but its certificate is for \"" +
                                         chain::printableForMessage(dockId_) + "\"");
    if (!welcome.officer_id().empty() && !chain::isPrintableDeviceId(welcome.officer_id()))
        return Error(Errc::Protocol, dockName() + ": Welcome.officer_id \"" +
                                         chain::printableForMessage(welcome.officer_id()) +
                                         "\" is not 1 to 128 printable characters");

    // The clock first, so that the manifests below carry the dock's time.
    if (welcome.dock_utc_ms() > 0) {
        const int64_t before = host_.utcMs();
        const int64_t step = welcome.dock_utc_ms() - before;
        if (step > kClockStepThresholdMs || step < -kClockStepThresholdMs) {
            auto set = host_.setClock(welcome.dock_utc_ms());
            if (!set)
                return std::move(set).error().context("setting the clock to the dock's time");
            v1::Manifest m;
            m.set_kind(v1::MANIFEST_KIND_CLOCK_SET);
            m.set_clock_source(v1::CLOCK_SOURCE_DOCK);
            m.set_clock_old_utc_ms(before);
            m.set_clock_new_utc_ms(welcome.dock_utc_ms());
            m.set_note("clock set from " + dockId_ + " by " + std::to_string(step) + " ms");
            BWC_ASSIGN(sm, issue(std::move(m)));
            (void)sm;
            result_.clockSet = true;
            result_.clockOldUtcMs = before;
            result_.clockNewUtcMs = welcome.dock_utc_ms();
            log::info("offload: clock stepped by " + std::to_string(step) + " ms to " +
                      formatUtcMs(welcome.dock_utc_ms()) + " (" + dockId_ + ")");
        }
    }

    if (!welcome.config_file().empty()) {
        const crypto::Digest digest = backend_.sha256(asBytes(welcome.config_file()));
        const Bytes current = host_.configSha256();
        if (!std::equal(digest.begin(), digest.end(), current.begin(), current.end())) {
            auto saved = host_.saveConfig(asBytes(welcome.config_file()));
            if (!saved && saved.error().code == Errc::Exists) {
                // Saved at an earlier docking; it takes effect at the next start.
            } else if (saved) {
                v1::Manifest m;
                m.set_kind(v1::MANIFEST_KIND_CONFIG);
                m.set_config_sha256(std::string(digest.begin(), digest.end()));
                m.set_note("configuration from " + dockId_ + " saved; applied at the next start");
                BWC_ASSIGN(sm, issue(std::move(m)));
                (void)sm;
                result_.configSaved = true;
            } else {
                // The dock's file is the dock's to fix; the clips still go.
                result_.configError = saved.error().message;
                log::warn("offload: configuration from " + dockId_ +
                          " not applied: " + saved.error().message);
            }
        }
    }

    if (!welcome.officer_id().empty()) {
        auto officer = host_.setOfficer(welcome.officer_id());
        if (!officer)
            return std::move(officer).error().context("saving the officer from " + dockId_);
        result_.officerId = welcome.officer_id();
    }

    const auto sameAsOurs = [&](const std::string &crl) {
        return std::any_of(settings_.tls.crlsDer.begin(), settings_.tls.crlsDer.end(),
                           [&](const Bytes &ours) { return asChars(ours) == crl; });
    };
    if (!welcome.crl().empty() && !sameAsOurs(welcome.crl())) {
        auto checked = checkCrl(asBytes(welcome.crl()));
        if (checked) {
            auto saved = host_.saveCrl(asBytes(welcome.crl()));
            if (!saved)
                return std::move(saved).error().context("saving the CRL from " + dockId_);
            result_.crlSaved = true;
        } else {
            result_.crlError = checked.error().message;
            log::warn("offload: " + checked.error().message);
        }
    }
    return {};
}

Expected<void> Session::sendFile(const JournalEntry &entry, uint64_t offset)
{
    const int raw = ::open(entry.clipPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0)
        return Error(Errc::Io, "clip file " + entry.clipPath + ": " + errnoText(errno));
    UniqueFd fd(raw);
    const size_t chunk = std::clamp<size_t>(settings_.dataChunkBytes, 1, kMaxDataChunkBytes);
    std::string buffer;
    uint64_t at = offset;
    while (at < entry.fileBytes) {
        const size_t want = size_t(std::min<uint64_t>(chunk, entry.fileBytes - at));
        buffer.resize(want);
        size_t got = 0;
        while (got < want) {
            const ssize_t n = ::pread(fd.get(), buffer.data() + got, want - got, off_t(at + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return Error(Errc::Io,
                             "clip file " + entry.clipPath + ": read: " + errnoText(errno));
            if (n == 0)
                return Error(Errc::Io, "clip file " + entry.clipPath + " ended at byte " +
                                           std::to_string(at + got) + " of " +
                                           std::to_string(entry.fileBytes) +
                                           " while it was offered");
            got += size_t(n);
        }
        v1::Frame frame;
        v1::Data *data = frame.mutable_data();
        data->set_seq(entry.seq);
        data->set_offset(at);
        data->set_bytes(std::move(buffer));
        BWC_TRY(send(frame));
        buffer = std::move(*frame.mutable_data()->mutable_bytes());
        at += want;
        result_.bytesSent += want;
        if (settings_.progress)
            settings_.progress(result_.bytesSent + result_.bytesResumedFrom, totalBytes_);
    }
    return {};
}

Expected<bool> Session::offer(const JournalEntry &entry)
{
    v1::Frame frame;
    *frame.mutable_offer()->mutable_manifest() = entry.signedManifest;
    frame.mutable_offer()->set_file_bytes(entry.fileBytes);
    BWC_TRY(send(frame));
    ++result_.manifestsOffered;

    const std::string what = "the answer to the offer of " + seqText(entry.seq);
    BWC_ASSIGN(answer, receive({v1::Frame::kStored, v1::Frame::kResume}, what));
    if (answer.has_resume()) {
        const v1::Resume &r = answer.resume();
        if (r.seq() != entry.seq || entry.fileBytes == 0 || r.offset() > entry.fileBytes)
            return Error(Errc::Protocol, dockName() + " asked to resume " + seqText(r.seq()) +
                                             " at byte " + std::to_string(r.offset()) +
                                             " after the camera offered " + seqText(entry.seq) +
                                             " with " + std::to_string(entry.fileBytes) +
                                             " bytes; offload stopped");
        result_.bytesResumedFrom += r.offset();
        BWC_TRY(sendFile(entry, r.offset()));
        BWC_ASSIGN(stored, receive({v1::Frame::kStored}, "Stored for " + seqText(entry.seq)));
        answer = std::move(stored);
    }
    const v1::Stored &s = answer.stored();
    if (s.seq() != entry.seq)
        return Error(Errc::Protocol, dockName() + " answered Stored for " + seqText(s.seq()) +
                                         " to the offer of " + seqText(entry.seq));
    if (!s.accepted()) {
        result_.refusedReason = chain::printableForMessage(s.reason());
        if (result_.refusedReason.empty())
            result_.refusedReason = "(no reason given)";
        log::warn("offload: " + dockName() + " refused " + seqText(entry.seq) + ": " +
                  result_.refusedReason + "; the camera keeps it and every later manifest");
        return false;
    }
    ++result_.manifestsStored;
    return true;
}

Expected<v1::Receipt> Session::checkReceipt(const v1::SignedReceipt &signedReceipt)
{
    BWC_ASSIGN(receipt, verifyReceipt(backend_, signedReceipt, stream_->peerCertChainDer(), dockId_,
                                      identity_.id(), nonce_));
    const v1::ChainHead head = chain_.head();
    if (receipt.last_seq() > head.seq())
        return Error(Errc::Auth, "receipt from " + dockId_ + " covers up to " +
                                     seqText(receipt.last_seq()) + " but the camera's head is " +
                                     seqText(head.seq()) + "; nothing deleted");
    return receipt;
}

Expected<std::optional<v1::SignedManifest>> Session::wipe(const v1::Receipt &receipt,
                                                          const v1::SignedReceipt &signedReceipt)
{
    // The camera's own manifest at last_seq: the journal file, or the chain head.
    std::optional<crypto::Digest> own;
    const v1::ChainHead head = chain_.head();
    const std::string journalPath = chain_.manifestPath(receipt.last_seq());
    if (pathExists(journalPath)) {
        BWC_ASSIGN(sm, chain_.loadManifest(receipt.last_seq()));
        own = chain::manifestSha256(backend_, sm);
    } else if (head.seq() == receipt.last_seq() && head.manifest_sha256().size() == 32) {
        crypto::Digest d{};
        std::copy(head.manifest_sha256().begin(), head.manifest_sha256().end(), d.begin());
        own = d;
    }
    if (!own) {
        // Everything up to last_seq already left the journal in an earlier session: there
        // is nothing the receipt could free.
        log::info("offload: receipt from " + dockId_ + " ends at " + seqText(receipt.last_seq()) +
                  ", which the camera no longer holds; nothing to delete");
        return std::optional<v1::SignedManifest>();
    }
    if (!chain::digestEquals(receipt.head_manifest_sha256(), *own))
        return Error(Errc::Auth, "receipt from " + dockId_ + ": head_manifest_sha256 of " +
                                     seqText(receipt.last_seq()) +
                                     " is not the camera's manifest at that seq (the dock holds "
                                     "another chain); nothing deleted");

    // Every clip of the receipt that the camera holds with the same uuid and bytes.
    std::vector<JournalEntry> freed;
    std::set<uint64_t> freedSeqs;
    for (const v1::ReceiptedClip &rc : receipt.clips()) {
        if (rc.seq() < receipt.first_seq() || rc.seq() > receipt.last_seq())
            continue;
        if (!pathExists(chain_.manifestPath(rc.seq())))
            continue;
        BWC_ASSIGN(e, loadEntry(rc.seq()));
        if (!isClipKind(e.manifest.kind()))
            continue;
        if (e.manifest.clip_uuid() != rc.clip_uuid() ||
            e.manifest.ciphertext_sha256() != rc.ciphertext_sha256()) {
            log::warn("offload: receipt from " + dockId_ + " lists " + seqText(rc.seq()) +
                      " with another clip or other bytes than the camera's manifest; the clip "
                      "is kept");
            continue;
        }
        if (freedSeqs.insert(rc.seq()).second)
            freed.push_back(std::move(e));
    }

    // Delete the files, then make the deletions durable before signing them.
    for (const JournalEntry &e : freed) {
        const auto uuid = *clipUuidOf(e.manifest.clip_uuid());
        for (const std::string &path :
             {e.clipPath, chain::checkpointFilePath(settings_.clipDir, uuid),
              settings_.clipDir + "/" + container::uuidToString(uuid) +
                  std::string(kClipFlagSuffix)}) {
            if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                return Error(Errc::Io,
                             "deleting receipted clip file " + path + ": " + errnoText(errno));
        }
    }
    if (!freed.empty())
        BWC_TRY(fsyncDirectory(settings_.clipDir));

    std::optional<v1::SignedManifest> wipeManifest;
    if (!freed.empty()) {
        v1::Manifest m;
        m.set_kind(v1::MANIFEST_KIND_WIPE);
        for (const JournalEntry &e : freed) {
            v1::WipedClip *w = m.add_wiped();
            w->set_seq(e.seq);
            w->set_clip_uuid(e.manifest.clip_uuid());
            result_.wipedSeqs.push_back(e.seq);
        }
        const crypto::Digest receiptDigest = backend_.sha256(asBytes(signedReceipt.receipt()));
        m.set_receipt_sha256(std::string(receiptDigest.begin(), receiptDigest.end()));
        m.set_note("clips deleted after receipt of seq " + std::to_string(receipt.first_seq()) +
                   ".." + std::to_string(receipt.last_seq()) + " from " + dockId_);
        BWC_ASSIGN(sm, issue(std::move(m)));
        wipeManifest = std::move(sm);
        BWC_ASSIGN(parsedWipe, chain::parseManifest(*wipeManifest));
        result_.wipeSeq = parsedWipe.seq();
    }

    // Trim the journal up to last_seq, except clips whose file the camera still holds (not
    // receipted with matching bytes): they are offered again at the next session.
    BWC_ASSIGN(seqs, chain_.pendingManifests(0));
    for (uint64_t seq : seqs) {
        if (seq > receipt.last_seq())
            break;
        BWC_ASSIGN(e, loadEntry(seq));
        if (!e.clipPath.empty() && pathExists(e.clipPath))
            continue;
        BWC_TRY(chain_.removeManifest(seq));
    }
    return wipeManifest;
}

Expected<OffloadResult> Session::run()
{
    BWC_TRY(checkCancel());
    net::TlsConfig tls = settings_.tls;
    if (tls.nowUtcMs == 0)
        tls.nowUtcMs = host_.utcMs();
    auto stream =
        settings_.connect
            ? settings_.connect(settings_.host, settings_.port, tls, settings_.connectTimeoutMs)
            : net::tlsConnect(settings_.host, settings_.port, tls, settings_.connectTimeoutMs);
    if (!stream)
        return std::move(stream).error();
    stream_ = std::move(*stream);
    dockId_ = stream_->peerId();
    result_.dockId = dockId_;
    struct Closer {
        net::TlsStream &s;
        ~Closer() { s.close(); }
    } closer{*stream_};

    // 1. Hello, 2. Welcome.
    {
        v1::Frame frame;
        BWC_ASSIGN(hello, makeHello());
        *frame.mutable_hello() = std::move(hello);
        BWC_TRY(send(frame));
    }
    BWC_ASSIGN(welcome, receive({v1::Frame::kWelcome}, "Welcome"));
    BWC_TRY(applyWelcome(welcome.welcome()));

    // 3. Every manifest of the journal in seq order, with its file; manifests the clip
    // writer signs meanwhile are offered too.
    uint64_t after = 0;
    bool refused = false;
    for (;;) {
        BWC_ASSIGN(seqs, chain_.pendingManifests(after));
        if (seqs.empty())
            break;
        for (uint64_t seq : seqs) {
            BWC_ASSIGN(entry, loadEntry(seq));
            if (seq > countedUpTo_)
                totalBytes_ += entry.fileBytes;
            BWC_ASSIGN(accepted, offer(entry));
            after = seq;
            if (!accepted) {
                refused = true;
                break;
            }
        }
        if (refused)
            break;
    }

    // 4. Done, then the receipt.
    {
        v1::Frame frame;
        frame.mutable_done();
        BWC_TRY(send(frame));
    }
    BWC_ASSIGN(receiptFrame, receive({v1::Frame::kReceipt}, "the receipt"));
    std::optional<v1::SignedManifest> wipeManifest;
    if (receiptFrame.receipt().has_receipt()) {
        const v1::SignedReceipt &signedReceipt = receiptFrame.receipt().receipt();
        BWC_ASSIGN(receipt, checkReceipt(signedReceipt));
        result_.receiptLastSeq = receipt.last_seq();
        BWC_ASSIGN(wiped, wipe(receipt, signedReceipt));
        wipeManifest = std::move(wiped);
    }

    // 5. The WIPE manifest, when it follows the receipt's head directly. If the clip
    // writer sealed a clip in between, the WIPE waits in the journal for the next session
    // (offering it now would leave a gap in the dock's chain).
    if (wipeManifest && result_.wipeSeq == result_.receiptLastSeq + 1) {
        v1::Frame frame;
        *frame.mutable_wiped()->mutable_manifest() = *wipeManifest;
        BWC_TRY(send(frame));
        const std::string what = "Stored for the WIPE manifest " + seqText(result_.wipeSeq);
        BWC_ASSIGN(stored, receive({v1::Frame::kStored}, what));
        if (stored.stored().seq() != result_.wipeSeq)
            return Error(Errc::Protocol, dockName() + " answered Stored for " +
                                             seqText(stored.stored().seq()) + " to " + what);
        // The dock answers the WIPE manifest with Stored and then a receipt, either way.
        BWC_ASSIGN(second, receive({v1::Frame::kReceipt}, "the receipt after the WIPE manifest"));
        if (!stored.stored().accepted()) {
            result_.refusedReason = chain::printableForMessage(stored.stored().reason());
            log::warn("offload: " + dockName() + " refused the WIPE manifest: " +
                      result_.refusedReason + "; it stays in the journal");
        } else {
            if (!second.receipt().has_receipt())
                return Error(Errc::Protocol, dockName() + " stored the WIPE manifest " +
                                                 seqText(result_.wipeSeq) +
                                                 " but sent no receipt for it");
            const v1::SignedReceipt &signedReceipt = second.receipt().receipt();
            BWC_ASSIGN(receipt, checkReceipt(signedReceipt));
            if (receipt.last_seq() < result_.wipeSeq)
                return Error(Errc::Auth, "receipt from " + dockId_ +
                                             " after the WIPE manifest "
                                             "ends at " +
                                             seqText(receipt.last_seq()) + ", before the WIPE " +
                                             seqText(result_.wipeSeq));
            BWC_ASSIGN(own, chain_.loadManifest(receipt.last_seq()));
            if (!chain::digestEquals(receipt.head_manifest_sha256(),
                                     chain::manifestSha256(backend_, own)))
                return Error(Errc::Auth, "receipt from " + dockId_ +
                                             " for the WIPE manifest: "
                                             "head_manifest_sha256 is not the camera's manifest "
                                             "at " +
                                             seqText(receipt.last_seq()));
            result_.receiptLastSeq = receipt.last_seq();
            BWC_TRY(chain_.removeManifest(result_.wipeSeq));
            result_.wipeReceipted = true;
        }
    }
    // Nothing (more) to hand over: Done ends the session. Everything the camera had to do
    // is durable by now, so a dock that already closed is not an error.
    v1::Frame frame;
    frame.mutable_done();
    if (auto sent = net::sendFrame(*stream_, frame, settings_.ioTimeoutMs); !sent)
        log::info("offload: final Done not delivered (" + sent.error().message +
                  "); the session's work is complete");
    return result_;
}

} // namespace

Expected<v1::Receipt> verifyReceipt(const crypto::Backend &backend, const v1::SignedReceipt &sr,
                                    const std::vector<Bytes> &dockCertChainDer,
                                    const std::string &dockId, const std::string &deviceId,
                                    ByteView sessionNonce)
{
    if (dockCertChainDer.empty())
        return Error(Errc::Auth, "receipt: the dock presented no certificate to check it with");
    if (sr.receipt().empty() || sr.signature().empty())
        return Error(Errc::Auth, "receipt: empty receipt or signature; nothing deleted");
    BWC_ASSIGN(cert, backend.parseCertificateDer(dockCertChainDer[0]));
    auto verified =
        backend.ecdsaVerify(cert.publicKey, asBytes(sr.receipt()), asBytes(sr.signature()));
    if (!verified)
        return Error(Errc::Auth, "receipt: signature does not verify with the key of dock "
                                 "certificate " +
                                     chain::printableForMessage(cert.subjectCommonName) + " (" +
                                     verified.error().message + "); nothing deleted");
    v1::Receipt r;
    if (!r.ParseFromString(sr.receipt()))
        return Error(Errc::Auth, "receipt: signed bytes are not a Receipt; nothing deleted");
    auto mismatch = [&](std::string_view field, std::string_view got, std::string_view want) {
        return Error(Errc::Auth, "receipt: " + std::string(field) + " is \"" +
                                     chain::printableForMessage(got) + "\", expected \"" +
                                     chain::printableForMessage(want) + "\"; nothing deleted");
    };
    if (r.format_version() != 1)
        return Error(Errc::Auth, "receipt: format_version " + std::to_string(r.format_version()) +
                                     " (expected 1); nothing deleted");
    if (r.dock_id() != dockId || cert.subjectCommonName != dockId)
        return mismatch("dock_id", r.dock_id(), dockId);
    if (r.device_id() != deviceId)
        return mismatch("device_id", r.device_id(), deviceId);
    if (!constantTimeEqual(asBytes(r.session_nonce()), sessionNonce))
        return Error(Errc::Auth, "receipt: session_nonce is not this session's (a receipt "
                                 "replayed from another session); nothing deleted");
    if (r.first_seq() == 0 || r.first_seq() > r.last_seq())
        return Error(Errc::Auth, "receipt: seq range " + std::to_string(r.first_seq()) + ".." +
                                     std::to_string(r.last_seq()) + " is empty; nothing deleted");
    if (r.head_manifest_sha256().size() != crypto::kSha256Len)
        return Error(Errc::Auth, "receipt: head_manifest_sha256 is not 32 bytes; nothing deleted");
    return r;
}

Expected<OffloadResult> runOffload(const crypto::Backend &backend, chain::DeviceIdentity &identity,
                                   chain::ChainState &chain, OffloadHost &host,
                                   const OffloadSettings &settings)
{
    if (settings.host.empty() || settings.port == 0)
        return Error(Errc::Config, "offload: no dock address (dock.address HOST:PORT)");
    Session session(backend, identity, chain, host, settings);
    return session.run();
}

} // namespace bwc::fw
