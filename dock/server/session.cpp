#include "dock/server/session.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/chain/manifest.h"

namespace bwc::dock {

bool DeviceRegistry::claim(const std::string &deviceId)
{
    std::lock_guard lock(mutex_);
    return active_.insert(deviceId).second;
}

void DeviceRegistry::release(const std::string &deviceId)
{
    std::lock_guard lock(mutex_);
    active_.erase(deviceId);
}

namespace {

// How often a session waiting for a frame looks at the stop flag.
constexpr int kPollSliceMs = 200;
// Time given to a best-effort Abort before the connection is closed.
constexpr int kAbortSendMs = 2000;

bool contains(std::string_view text, std::string_view needle)
{
    return text.find(needle) != std::string_view::npos;
}

bool isClipKind(v1::ManifestKind kind)
{
    return kind == v1::MANIFEST_KIND_CLIP || kind == v1::MANIFEST_KIND_INTERRUPTED;
}

std::string kindName(v1::ManifestKind kind)
{
    std::string name = v1::ManifestKind_Name(kind);
    const std::string prefix = "MANIFEST_KIND_";
    return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

Error protocolError(const std::string &what)
{
    return Error(Errc::Protocol, "protocol error: " + what);
}

// Why the store did not accept a manifest, for Stored.reason.
std::string refusalReason(const store::CommitResult &r)
{
    std::string out;
    if (r.alarm)
        out = std::string("alarm ") + store::alarmKindName(*r.alarm) + ": ";
    out += r.explanation.empty() ? std::string("not accepted") : r.explanation;
    if (r.quarantined)
        out += "; the file is kept in the dock's quarantine for examination";
    out += "; the camera keeps the clip";
    return out;
}

// A file name for <device_id>.conf, or empty when the id cannot name a file safely.
std::string configFileName(const std::string &deviceId)
{
    if (deviceId.empty() || deviceId.front() == '.' || deviceId.find('/') != std::string::npos)
        return {};
    return deviceId + ".conf";
}

class Session
{
public:
    Session(SessionEnv &env, std::unique_ptr<net::TlsStream> stream)
        : env_(env), stream_(std::move(stream))
    {
    }

    SessionSummary run();

private:
    Expected<void> serve();
    Expected<void> hello();
    Expected<void> offer(const v1::Offer &offer);
    Expected<void> wiped(const v1::Wiped &wiped);
    Expected<void> receiveFile(const v1::SignedManifest &sm, const v1::Manifest &m,
                               uint64_t fileBytes);
    Expected<void> storeWithoutFile(const v1::SignedManifest &sm, const v1::Manifest &m);
    Expected<void> sendReceipt();
    Expected<void> sendStored(uint64_t seq, bool accepted, const std::string &reason);
    // Refuses a manifest of another device (alarm DEVICE_MISMATCH). True if refused.
    Expected<bool> refuseForeign(const v1::Manifest &m);
    // True (and Stored{accepted} sent) when the dock holds exactly these bytes.
    Expected<bool> answerIfHeld(const v1::SignedManifest &sm, const v1::Manifest &m);

    Expected<v1::Frame> receive(const std::string &expecting);
    Expected<void> send(const v1::Frame &frame);
    Expected<void> checkPeerCertificate();
    void finishIncoming();
    void auditEnd();

    CommitScheduler::Lease lock() { return env_.scheduler.acquire(priority_); }
    store::TrustMaterial trust() const
    {
        return store::TrustMaterial{stream_->peerCertChainDer(),
                                    env_.options.tls.trustAnchorsDer.empty()
                                        ? Bytes()
                                        : env_.options.tls.trustAnchorsDer.front(),
                                    crlDer_};
    }
    std::string device() const { return chain::printableForMessage(deviceId_); }

    SessionEnv &env_;
    std::unique_ptr<net::TlsStream> stream_;
    net::FrameDecoder decoder_;
    std::string peerId_;
    std::string deviceId_;
    bool deviceClaimed_ = false;
    bool priority_ = false;
    bool receipted_ = false;
    bool peerGone_ = false;
    std::string nonce_;
    Bytes crlDer_;
    std::unique_ptr<store::IncomingFile> incoming_;
    SessionSummary summary_;
};

SessionSummary Session::run()
{
    peerId_ = stream_->peerId();
    summary_.peer = peerId_;
    summary_.deviceId = peerId_;
    Expected<void> result = serve();
    if (!result) {
        summary_.error = result.error().message;
        if (!peerGone_) {
            v1::Frame abort;
            abort.mutable_abort()->set_message(summary_.error);
            (void)net::sendFrame(*stream_, abort, kAbortSendMs);
        }
    }
    finishIncoming();
    stream_->close();
    auditEnd();
    if (deviceClaimed_)
        env_.devices.release(deviceId_);
    return summary_;
}

Expected<void> Session::serve()
{
    BWC_TRY(hello());
    for (;;) {
        auto frame = receive(receipted_ ? "Wiped or Done" : "Offer or Done");
        if (!frame) {
            // A camera that closes after its receipt has finished the protocol's work.
            if (receipted_ && peerGone_ && frame.error().code == Errc::Io &&
                contains(frame.error().message, "closed")) {
                log::debug("offload: device " + device() + " closed the connection after its "
                                                           "receipt without a second Done");
                return {};
            }
            return std::move(frame).error();
        }
        switch (frame->msg_case()) {
        case v1::Frame::kOffer:
            if (receipted_)
                return protocolError("Offer after the receipt; a session offers its manifests "
                                     "before Done");
            BWC_TRY(offer(frame->offer()));
            break;
        case v1::Frame::kDone:
            if (receipted_)
                return {};
            BWC_TRY(sendReceipt());
            break;
        case v1::Frame::kWiped:
            if (!receipted_)
                return protocolError("Wiped before a receipt; send Done first");
            BWC_TRY(wiped(frame->wiped()));
            break;
        default:
            return protocolError(std::string("expected ") +
                                 (receipted_ ? "Wiped or Done" : "Offer or Done") + ", got " +
                                 net::frameName(*frame));
        }
    }
}

Expected<v1::Frame> Session::receive(const std::string &expecting)
{
    const int timeoutMs = env_.options.sessionTimeoutMs;
    const int64_t endNs = monoNowNs() + int64_t(timeoutMs) * 1'000'000;
    for (;;) {
        if (env_.stopping.load())
            return Error(Errc::Io, "dock shutting down");
        const int64_t leftMs = (endNs - monoNowNs()) / 1'000'000;
        if (leftMs <= 0)
            return Error(Errc::Io,
                         "timed out: no " + expecting + " from the camera within " +
                             std::to_string(timeoutMs) +
                             " ms; session closed (a partial file stays on the dock for Resume)");
        auto frame = net::receiveFrame(*stream_, decoder_,
                                       int(std::min<int64_t>(leftMs, kPollSliceMs)));
        if (frame) {
            if (frame->has_abort()) {
                peerGone_ = true;
                return Error(Errc::Protocol, "camera aborted: " + chain::printableForMessage(
                                                                      frame->abort().message()));
            }
            return frame;
        }
        const Error &e = frame.error();
        if (e.code == Errc::Io && contains(e.message, "timed out"))
            continue; // a slice passed; look at the stop flag and the deadline again
        // A broken framing (oversized, empty or unparsable frame) keeps failing in the
        // decoder; the connection itself still stands, so the camera is told why.
        if (e.code == Errc::Protocol && !decoder_.next())
            return protocolError(e.message);
        peerGone_ = true;
        return Error(e.code, "connection lost: " + e.message);
    }
}

Expected<void> Session::send(const v1::Frame &frame)
{
    auto sent = net::sendFrame(*stream_, frame, env_.options.sessionTimeoutMs);
    if (!sent) {
        peerGone_ = true;
        return Error(sent.error().code, std::string("sending ") + net::frameName(frame) +
                                            " failed: " + sent.error().message);
    }
    return {};
}

Expected<void> Session::sendStored(uint64_t seq, bool accepted, const std::string &reason)
{
    if (accepted)
        ++summary_.stored;
    else
        ++summary_.refused;
    if (!accepted)
        log::warn("offload: device " + device() + " seq " + std::to_string(seq) +
                  " refused: " + reason);
    v1::Frame frame;
    v1::Stored *stored = frame.mutable_stored();
    stored->set_seq(seq);
    stored->set_accepted(accepted);
    stored->set_reason(reason);
    return send(frame);
}

Expected<void> Session::checkPeerCertificate()
{
    const auto &chainDer = stream_->peerCertChainDer();
    if (chainDer.empty())
        return Error(Errc::Cert, "the camera presented no certificate");
    // The handshake checked the chain against the CRL the listener was started with; a
    // revocation published since then takes effect here.
    crypto::ChainRequest request;
    request.leafDer = chainDer.front();
    request.intermediatesDer.assign(chainDer.begin() + 1, chainDer.end());
    request.trustAnchorsDer = env_.options.tls.trustAnchorsDer;
    request.crlsDer = env_.crl.current();
    request.validityTimeUtcMs = env_.clock.utcMs();
    request.nowUtcMs = request.validityTimeUtcMs;
    auto verified = env_.backend.verifyCertChain(request);
    if (!verified)
        return Error(Errc::Cert, "certificate of " + chain::printableForMessage(peerId_) +
                                     " rejected: " + verified.error().message);
    return {};
}

Expected<void> Session::hello()
{
    BWC_ASSIGN(frame, receive("Hello"));
    if (!frame.has_hello())
        return protocolError(std::string("expected Hello, got ") + net::frameName(frame));
    const v1::Hello &h = frame.hello();
    if (h.protocol_version() != kOffloadProtocolVersion)
        return protocolError("protocol version " + std::to_string(h.protocol_version()) +
                             " is not supported; this dock speaks version " +
                             std::to_string(kOffloadProtocolVersion) +
                             " (update the camera's or the dock's software)");
    if (h.device_id() != peerId_) {
        log::warn("offload: refused a session: Hello names device \"" +
                  chain::printableForMessage(h.device_id()) + "\" but the TLS certificate is \"" +
                  chain::printableForMessage(peerId_) + "\"");
        return protocolError("Hello names device \"" + chain::printableForMessage(h.device_id()) +
                             "\" but the TLS certificate is device \"" +
                             chain::printableForMessage(peerId_) +
                             "\"'s; a camera may only offload as itself");
    }
    if (h.session_nonce().size() != kSessionNonceBytes)
        return protocolError("Hello.session_nonce has " + std::to_string(h.session_nonce().size()) +
                             " bytes; it must be " + std::to_string(kSessionNonceBytes) +
                             " random bytes");
    BWC_TRY(checkPeerCertificate());
    if (!env_.devices.claim(h.device_id()))
        return Error(Errc::Exists, "device " + chain::printableForMessage(h.device_id()) +
                                       " is already in session (docked in another bay, or its "
                                       "previous connection has not ended yet); retry when that "
                                       "session has ended");
    deviceId_ = h.device_id();
    deviceClaimed_ = true;
    summary_.deviceId = deviceId_;
    nonce_ = h.session_nonce();
    size_t flagged = 0;
    for (const v1::PendingClip &p : h.pending())
        flagged += p.flagged() ? 1 : 0;
    priority_ = flagged > 0;

    const std::vector<Bytes> crls = env_.crl.current();
    crlDer_ = crls.empty() ? Bytes() : crls.front();

    v1::Frame out;
    v1::Welcome *w = out.mutable_welcome();
    w->set_protocol_version(kOffloadProtocolVersion);
    w->set_dock_id(env_.store.dockId());
    w->set_crl(std::string(asChars(crlDer_)));

    // A configuration update for this camera, when the dock has one that differs.
    if (!env_.options.cameraConfigDir.empty()) {
        const std::string name = configFileName(deviceId_);
        const std::string path = env_.options.cameraConfigDir + "/" + name;
        if (!name.empty() && pathExists(path)) {
            auto bytes = readFile(path, kMaxCameraConfigBytes);
            if (!bytes) {
                log::warn("offload: device " + device() + ": configuration " + path +
                          " not sent: " + bytes.error().message);
            } else {
                const crypto::Digest sha = env_.backend.sha256(*bytes);
                if (!chain::digestEquals(h.config_sha256(), sha))
                    w->set_config_file(std::string(asChars(*bytes)));
            }
        }
    }

    crypto::Digest certSha{};
    {
        auto cert = env_.backend.parseCertificateDer(stream_->peerCertChainDer().front());
        if (cert)
            certSha = cert->certSha256;
    }
    std::string startDetail = "fw " + chain::printableForMessage(h.fw_version()) +
                              ", camera head seq " + std::to_string(h.head().seq()) + ", " +
                              std::to_string(h.pending_size()) + " clip(s) pending (" +
                              std::to_string(flagged) + " flagged), certificate sha256 " +
                              toHex(certSha);
    {
        auto lease = lock();
        store::EvidenceStore &store = env_.store;
        BWC_TRY(store.touchDevice(deviceId_, certSha, stream_->peerCertChainDer()));
        BWC_TRY(store.recordAudit(audit::AuditRecord{deviceId_, "dock-session", "start", deviceId_,
                                                     h.head().seq(), {}, "ok", startDetail}));
        BWC_ASSIGN(assignment, store.catalog().assignment(deviceId_));
        if (assignment)
            w->set_officer_id(assignment->officerId);
        BWC_ASSIGN(head, store.catalog().chainHead(deviceId_));
        if (head) {
            *w->mutable_dock_head() = *head;
            // What the dock already holds, so a camera whose connection dropped after its
            // clips were stored can wipe them without sending them again.
            auto receipt = store.issueReceipt(deviceId_, nonce_);
            if (receipt)
                *w->mutable_receipt() = std::move(*receipt);
            else
                log::warn("offload: device " + device() + ": no receipt in the Welcome: " +
                          receipt.error().message);
        } else {
            w->mutable_dock_head(); // present, seq 0: the dock holds nothing of the device
        }
    }
    w->set_dock_utc_ms(env_.clock.utcMs());
    log::info("offload: device " + device() + " docked (" + startDetail + ")");
    return send(out);
}

Expected<bool> Session::refuseForeign(const v1::Manifest &m)
{
    if (m.device_id() == deviceId_)
        return false;
    const std::string detail = chain::describeManifest(m) + " was offered in the session of device " +
                               device() + " (TLS certificate " +
                               chain::printableForMessage(peerId_) +
                               "); a camera may only offer its own manifests";
    {
        auto lease = lock();
        BWC_TRY(env_.store.raiseAlarm(store::AlarmKind::DeviceMismatch, deviceId_, m.seq(),
                                      m.clip_uuid(), detail, deviceId_, "offer"));
    }
    BWC_TRY(sendStored(m.seq(), false, "alarm DEVICE_MISMATCH: " + detail));
    return true;
}

Expected<bool> Session::answerIfHeld(const v1::SignedManifest &sm, const v1::Manifest &m)
{
    std::optional<store::ManifestRow> held;
    {
        auto lease = lock();
        BWC_ASSIGN(row, env_.store.catalog().manifest(deviceId_, m.seq()));
        held = std::move(row);
    }
    if (!held || held->signedManifest != chain::serializeSignedManifest(sm))
        return false;
    BWC_TRY(sendStored(m.seq(), true, "already held"));
    return true;
}

Expected<void> Session::offer(const v1::Offer &o)
{
    ++summary_.offered;
    auto parsed = chain::parseManifest(o.manifest());
    if (!parsed)
        return sendStored(0, false, "the offered manifest cannot be read: " +
                                        parsed.error().message);
    const v1::Manifest &m = *parsed;
    const uint64_t seq = m.seq();
    BWC_ASSIGN(foreign, refuseForeign(m));
    if (foreign)
        return {};
    BWC_ASSIGN(held, answerIfHeld(o.manifest(), m));
    if (held)
        return {};

    const bool clip = isClipKind(m.kind());
    if (o.file_bytes() == 0) {
        if (!clip)
            return storeWithoutFile(o.manifest(), m);
        // The camera no longer has the clip file: the dock stores a clip only with its
        // file, so the device's chain cannot move past this seq on this dock.
        const std::string detail =
            chain::describeManifest(m) + " (clip " + toHex(asBytes(m.clip_uuid())) +
            ") was offered without its file, and the dock does not hold the clip: the file is "
            "missing on the camera (lost or deleted without a receipt)";
        {
            auto lease = lock();
            BWC_ASSIGN(alarms, env_.store.catalog().listAlarms(true));
            const bool known = std::any_of(alarms.begin(), alarms.end(), [&](const auto &a) {
                return a.kind == store::AlarmKind::Gap && a.deviceId == deviceId_ &&
                       a.seq == seq && a.clipUuid == m.clip_uuid();
            });
            if (!known)
                BWC_TRY(env_.store.raiseAlarm(store::AlarmKind::Gap, deviceId_, seq,
                                              m.clip_uuid(), detail, deviceId_, "offer"));
        }
        return sendStored(seq, false,
                          "alarm GAP: " + detail +
                              "; a clip is stored only with its file, so nothing after seq " +
                              std::to_string(seq) +
                              " can be accepted; hand the camera to an evidence officer");
    }
    if (!clip)
        return sendStored(seq, false,
                          "a " + kindName(m.kind()) + " manifest has no file, but file_bytes " +
                              std::to_string(o.file_bytes()) + " was announced");
    if (m.ciphertext_bytes() != 0 && m.ciphertext_bytes() != o.file_bytes())
        return sendStored(seq, false,
                          "file_bytes " + std::to_string(o.file_bytes()) +
                              " differs from the manifest's ciphertext_bytes " +
                              std::to_string(m.ciphertext_bytes()));
    return receiveFile(o.manifest(), m, o.file_bytes());
}

Expected<void> Session::storeWithoutFile(const v1::SignedManifest &sm, const v1::Manifest &m)
{
    Expected<store::CommitResult> result = Error(Errc::Internal, "not committed");
    {
        auto lease = lock();
        result = env_.store.commitManifest(sm, trust());
    }
    if (!result)
        return sendStored(m.seq(), false, result.error().message);
    if (result->stored)
        return sendStored(m.seq(), true,
                          result->verdict == chain::Verdict::Idempotent ? "already held" : "");
    return sendStored(m.seq(), false, refusalReason(*result));
}

Expected<void> Session::receiveFile(const v1::SignedManifest &sm, const v1::Manifest &m,
                                    uint64_t fileBytes)
{
    const uint64_t seq = m.seq();
    std::unique_ptr<store::IncomingFile> incoming;
    {
        auto lease = lock();
        auto begun =
            env_.store.beginIncoming(deviceId_, seq, fileBytes, env_.options.evidenceKey);
        if (!begun)
            return sendStored(seq, false, "the dock cannot receive the file: " +
                                              begun.error().message);
        incoming = std::move(*begun);
    }

    // The reserve: the rest of the file must leave reserveBytes free on the store.
    const uint64_t needed = fileBytes - incoming->resumeOffset();
    struct statvfs fs{};
    if (::statvfs(env_.store.root().c_str(), &fs) == 0) {
        const uint64_t freeBytes = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
        const uint64_t reserve = env_.options.reserveBytes;
        if (freeBytes < needed || freeBytes - needed < reserve) {
            const uint64_t durable = incoming->resumeOffset();
            if (durable == 0) {
                // Nothing of this file is held: leave nothing behind in tmp/.
                auto lease = lock();
                if (auto r = env_.store.discardIncoming(std::move(incoming)); !r)
                    log::warn("offload: " + r.error().message);
            }
            // A partial file from an earlier session stays resumable.
            incoming.reset();
            return sendStored(
                seq, false,
                "dock storage full: " + std::to_string(freeBytes) + " bytes free, clip needs " +
                    std::to_string(needed) + ", reserve " + std::to_string(reserve) +
                    "; free space on " + env_.store.root() +
                    " (or lower reserve_bytes) and dock the camera again; it keeps the clip" +
                    (durable > 0 ? " (" + std::to_string(durable) +
                                       " bytes received earlier are kept for Resume)"
                                 : std::string()));
        }
    } else {
        log::warn("offload: statvfs " + env_.store.root() + " failed: " + errnoText(errno) +
                  "; the storage reserve is not checked");
    }

    // Bytes held from an earlier session go through the verifying pass first, here,
    // outside the store lock (they are read back from tmp/).
    if (auto caught = incoming->catchUp(); !caught)
        return sendStored(seq, false, "the dock cannot resume the file: " +
                                          caught.error().message);

    v1::Frame resume;
    resume.mutable_resume()->set_seq(seq);
    resume.mutable_resume()->set_offset(incoming->resumeOffset());
    incoming_ = std::move(incoming);
    BWC_TRY(send(resume));

    uint64_t sinceSync = 0;
    while (incoming_->size() < fileBytes) {
        const std::string expecting = "Data for seq " + std::to_string(seq) + " at offset " +
                                      std::to_string(incoming_->size());
        BWC_ASSIGN(frame, receive(expecting));
        if (!frame.has_data())
            return protocolError("expected " + expecting + ", got " + net::frameName(frame));
        const v1::Data &d = frame.data();
        if (d.seq() != seq || d.offset() != incoming_->size())
            return protocolError("Data for seq " + std::to_string(d.seq()) + " at offset " +
                                 std::to_string(d.offset()) + ", but the dock expects " +
                                 expecting);
        if (d.bytes().empty() || d.bytes().size() > kMaxDataBytes)
            return protocolError("Data of " + std::to_string(d.bytes().size()) +
                                 " bytes; a chunk holds 1 to " + std::to_string(kMaxDataBytes));
        if (d.bytes().size() > fileBytes - incoming_->size())
            return protocolError("Data runs to byte " +
                                 std::to_string(incoming_->size() + d.bytes().size()) +
                                 ", beyond the announced file_bytes " + std::to_string(fileBytes));
        BWC_TRY(incoming_->write(d.offset(), asBytes(d.bytes())));
        summary_.bytesReceived += d.bytes().size();
        sinceSync += d.bytes().size();
        if (sinceSync >= kSyncEveryBytes) {
            // Flushed behind: receiving goes on while the disk catches up.
            BWC_TRY(incoming_->syncBehind());
            sinceSync = 0;
        }
    }

    Expected<store::CommitResult> result = Error(Errc::Internal, "not committed");
    {
        auto lease = lock();
        result = env_.store.commitClip(std::move(incoming_), sm, trust());
    }
    if (!result)
        return sendStored(seq, false, result.error().message);
    if (result->stored)
        return sendStored(seq, true,
                          result->verdict == chain::Verdict::Idempotent ? "already held" : "");
    return sendStored(seq, false, refusalReason(*result));
}

Expected<void> Session::sendReceipt()
{
    v1::Frame frame;
    v1::ReceiptFrame *rf = frame.mutable_receipt();
    {
        auto lease = lock();
        auto receipt = env_.store.issueReceipt(deviceId_, nonce_);
        if (receipt) {
            v1::Receipt parsed;
            if (parsed.ParseFromString(receipt->receipt()))
                summary_.receiptLastSeq = parsed.last_seq();
            *rf->mutable_receipt() = std::move(*receipt);
        } else if (receipt.error().code != Errc::NotFound) {
            return Error(receipt.error().code, "the dock could not issue a receipt: " +
                                                   receipt.error().message +
                                                   "; the camera keeps its clips");
        }
    }
    receipted_ = true;
    return send(frame);
}

Expected<void> Session::wiped(const v1::Wiped &w)
{
    auto parsed = chain::parseManifest(w.manifest());
    if (!parsed) {
        BWC_TRY(sendStored(0, false, "the WIPE manifest cannot be read: " + parsed.error().message));
        return sendReceipt();
    }
    const v1::Manifest &m = *parsed;
    BWC_ASSIGN(foreign, refuseForeign(m));
    if (!foreign) {
        BWC_ASSIGN(held, answerIfHeld(w.manifest(), m));
        if (!held) {
            if (m.kind() != v1::MANIFEST_KIND_WIPE) {
                BWC_TRY(sendStored(m.seq(), false,
                                   "Wiped carries a " + kindName(m.kind()) +
                                       " manifest; only a WIPE manifest follows a receipt"));
            } else {
                // The WIPE manifest is not an offer: the counts stay those of the offers.
                const uint64_t storedBefore = summary_.stored, refusedBefore = summary_.refused;
                BWC_TRY(storeWithoutFile(w.manifest(), m));
                summary_.wiped = summary_.stored > storedBefore;
                summary_.stored = storedBefore;
                summary_.refused = refusedBefore;
            }
        } else {
            summary_.wiped = true;
        }
    }
    return sendReceipt();
}

void Session::finishIncoming()
{
    if (!incoming_)
        return;
    // The session ended inside a file: make what arrived durable, so the next session
    // resumes exactly there.
    if (auto r = incoming_->fsync(); !r)
        log::warn("offload: device " + device() + ": partial file " + incoming_->path() +
                  " not made durable: " + r.error().message +
                  "; the next session resends it from the last durable length");
    else
        log::info("offload: device " + device() + " seq " + std::to_string(incoming_->seq()) +
                  ": " + std::to_string(incoming_->size()) + " of " +
                  std::to_string(incoming_->expectedBytes()) +
                  " bytes kept for Resume at the next session");
    incoming_.reset();
}

void Session::auditEnd()
{
    const std::string actor = deviceClaimed_ ? deviceId_ : peerId_;
    const std::string detail =
        std::to_string(summary_.offered) + " offered, " + std::to_string(summary_.stored) +
        " stored, " + std::to_string(summary_.refused) + " refused, " +
        std::to_string(summary_.bytesReceived) + " bytes received, receipt last seq " +
        std::to_string(summary_.receiptLastSeq) + (summary_.wiped ? ", WIPE recorded" : "");
    auto lease = lock();
    auto r = env_.store.recordAudit(audit::AuditRecord{
        actor, "dock-session", "end", deviceClaimed_ ? deviceId_ : std::string(), 0, {},
        summary_.error.empty() ? std::string("ok") : summary_.error, detail});
    if (!r)
        log::error("offload: audit entry for the session of " + chain::printableForMessage(actor) +
                   " not written: " + r.error().message);
}

} // namespace

SessionSummary runSession(SessionEnv &env, std::unique_ptr<net::TlsStream> stream)
{
    Session session(env, std::move(stream));
    return session.run();
}

} // namespace bwc::dock
