#include "tests/unit/firmware/offload/scripted_dock.h"

#include <csignal>
#include <stdexcept>

#include "common/base/clock.h"
#include "common/chain/manifest.h"

namespace bwc::fw::test {

ScriptedDock::ScriptedDock(const crypto::Backend &backend, net::TlsConfig tls,
                           crypto::P256KeyPair key, Knobs knobs, int timeoutMs, int acceptTimeoutMs)
    : backend_(backend), key_(std::move(key)), knobs_(std::move(knobs)), timeoutMs_(timeoutMs),
      acceptTimeoutMs_(acceptTimeoutMs)
{
    // OpenSSL writes to the socket with write(2): a camera that went away would raise
    // SIGPIPE. Both daemons ignore it; so does the test process.
    std::signal(SIGPIPE, SIG_IGN);
    auto listener = net::TlsListener::listen("127.0.0.1", 0, tls);
    if (!listener)
        throw std::runtime_error("scripted dock: " + listener.error().message);
    listener_ = std::move(*listener);
    thread_ = std::thread([this] { serve(); });
}

ScriptedDock::~ScriptedDock()
{
    stopping_ = true;
    join();
}

const DockLog &ScriptedDock::join()
{
    if (thread_.joinable())
        thread_.join();
    return log_;
}

Expected<v1::Frame> ScriptedDock::receive()
{
    return net::receiveFrame(*stream_, decoder_, timeoutMs_);
}

Expected<void> ScriptedDock::send(const v1::Frame &f)
{
    return net::sendFrame(*stream_, f, timeoutMs_);
}

Expected<v1::SignedReceipt> ScriptedDock::receipt(bool first)
{
    // The contiguous run of accepted manifests from the first one.
    const uint64_t firstSeq = *accepted_.begin();
    uint64_t last = firstSeq;
    while (accepted_.count(last + 1))
        ++last;
    v1::Receipt r;
    r.set_format_version(1);
    r.set_dock_id(kDockId);
    r.set_device_id(log_.hello.device_id());
    r.set_first_seq(firstSeq);
    r.set_last_seq(last);
    const crypto::Digest head = chain::manifestSha256(backend_, log_.manifests.at(last));
    r.set_head_manifest_sha256(std::string(head.begin(), head.end()));
    for (uint64_t seq = firstSeq; seq <= last; ++seq) {
        BWC_ASSIGN(m, chain::parseManifest(log_.manifests.at(seq)));
        if (m.kind() != v1::MANIFEST_KIND_CLIP && m.kind() != v1::MANIFEST_KIND_INTERRUPTED)
            continue;
        v1::ReceiptedClip *c = r.add_clips();
        c->set_seq(seq);
        c->set_clip_uuid(m.clip_uuid());
        c->set_ciphertext_sha256(m.ciphertext_sha256());
    }
    r.set_issued_utc_ms(utcNowMs());
    r.set_session_nonce(log_.hello.session_nonce());
    if (first && knobs_.tamper)
        knobs_.tamper(r);
    v1::SignedReceipt sr;
    sr.set_receipt(r.SerializeAsString());
    const crypto::P256KeyPair &key = first && knobs_.forgeKey ? *knobs_.forgeKey : key_;
    BWC_ASSIGN(sig, backend_.ecdsaSign(key.priv, asBytes(sr.receipt())));
    sr.set_signature(std::string(asChars(sig)));
    log_.receiptBytes.push_back(sr.receipt());
    return sr;
}

Expected<void> ScriptedDock::session()
{
    BWC_ASSIGN(hello, receive());
    if (!hello.has_hello())
        return Error(Errc::Protocol, "expected Hello");
    log_.hello = hello.hello();
    if (knobs_.drop == Knobs::Drop::AfterHello) {
        stream_->close();
        return {};
    }
    if (knobs_.beforeWelcome)
        knobs_.beforeWelcome();
    v1::Frame f;
    if (!knobs_.abortAfterHello.empty()) {
        f.mutable_abort()->set_message(knobs_.abortAfterHello);
        BWC_TRY(send(f));
        stream_->close();
        return {};
    }
    v1::Welcome *w = f.mutable_welcome();
    w->set_protocol_version(1);
    w->set_dock_id(kDockId);
    w->set_dock_utc_ms(knobs_.dockUtcMs);
    w->set_officer_id(knobs_.officer);
    w->set_config_file(knobs_.configFile);
    w->set_crl(std::string(asChars(knobs_.crl)));
    BWC_TRY(send(f));

    for (;;) {
        BWC_ASSIGN(in, receive());
        if (in.has_done())
            break;
        if (!in.has_offer())
            return Error(Errc::Protocol, "expected Offer or Done");
        const v1::Offer &offer = in.offer();
        BWC_ASSIGN(m, chain::parseManifest(offer.manifest()));
        const uint64_t seq = m.seq();
        log_.offered.push_back(seq);
        log_.manifests[seq] = offer.manifest();
        v1::Frame answer;
        if (offer.file_bytes() > 0) {
            const uint64_t from = knobs_.resumeAt.count(seq) ? knobs_.resumeAt.at(seq) : 0;
            answer.mutable_resume()->set_seq(seq);
            answer.mutable_resume()->set_offset(from);
            BWC_TRY(send(answer));
            log_.dataStart[seq] = from;
            std::string &got = log_.received[seq];
            uint64_t at = from;
            while (at < offer.file_bytes()) {
                BWC_ASSIGN(d, receive());
                if (!d.has_data() || d.data().seq() != seq || d.data().offset() != at)
                    return Error(Errc::Protocol,
                                 "Data out of order for seq " + std::to_string(seq));
                got += d.data().bytes();
                at += d.data().bytes().size();
                ++log_.dataFrames;
                if (knobs_.drop == Knobs::Drop::MidData) {
                    stream_->close();
                    return {};
                }
            }
            if (from == 0 &&
                !chain::digestEquals(m.ciphertext_sha256(), backend_.sha256(asBytes(got))))
                return Error(Errc::Auth, "seq " + std::to_string(seq) +
                                             ": received file does not match its manifest");
            answer.Clear();
        }
        v1::Stored *s = answer.mutable_stored();
        s->set_seq(seq);
        const bool ok = !knobs_.refuseSeq || *knobs_.refuseSeq != seq;
        s->set_accepted(ok);
        if (ok)
            accepted_.insert(seq);
        else
            s->set_reason("chain alarm: test refusal");
        BWC_TRY(send(answer));
    }
    ++log_.dones;
    if (knobs_.drop == Knobs::Drop::BeforeReceipt) {
        stream_->close();
        return {};
    }
    v1::Frame rf;
    if (!accepted_.empty()) {
        BWC_ASSIGN(sr, receipt(true));
        *rf.mutable_receipt()->mutable_receipt() = sr;
    } else {
        rf.mutable_receipt();
    }
    BWC_TRY(send(rf));

    BWC_ASSIGN(after, receive());
    if (after.has_done()) {
        ++log_.dones;
        return {};
    }
    if (!after.has_wiped())
        return Error(Errc::Protocol, "expected Wiped or Done after the receipt");
    log_.wiped = after.wiped().manifest();
    BWC_ASSIGN(wm, chain::parseManifest(after.wiped().manifest()));
    log_.manifests[wm.seq()] = after.wiped().manifest();
    v1::Frame stored;
    stored.mutable_stored()->set_seq(wm.seq());
    stored.mutable_stored()->set_accepted(!knobs_.refuseWipe);
    if (knobs_.refuseWipe)
        stored.mutable_stored()->set_reason("chain alarm: test refusal of the WIPE");
    else
        accepted_.insert(wm.seq());
    BWC_TRY(send(stored));
    v1::Frame second;
    BWC_ASSIGN(sr2, receipt(false));
    *second.mutable_receipt()->mutable_receipt() = sr2;
    BWC_TRY(send(second));
    // The camera ends the session with Done.
    BWC_ASSIGN(last, receive());
    if (!last.has_done())
        return Error(Errc::Protocol, "expected Done after the receipt for the WIPE manifest");
    ++log_.dones;
    return {};
}

void ScriptedDock::serve()
{
    // Waits in short slices, so that a test that ends early does not wait for the camera.
    const int64_t endNs = monoNowNs() + int64_t(acceptTimeoutMs_) * 1'000'000;
    Expected<std::unique_ptr<net::TlsStream>> accepted = Error(Errc::Io, "not accepted");
    for (;;) {
        accepted = listener_->accept(250);
        const bool timedOut =
            !accepted && accepted.error().message.find("timed out") != std::string::npos;
        if (!timedOut || stopping_ || (acceptTimeoutMs_ >= 0 && monoNowNs() > endNs))
            break;
    }
    if (!accepted) {
        log_.error = "accept: " + accepted.error().message;
        return;
    }
    stream_ = std::move(*accepted);
    if (auto r = session(); !r)
        log_.error = r.error().message;
    stream_->close();
}

} // namespace bwc::fw::test
