// The dock's offload server end to end: scripted cameras (mbedTLS clients written frame
// by frame against proto/bwc/v1/offload.proto, clips sealed by the camera's backend under
// the test agency) talk to a DockServer over a real evidence store (OpenSSL). Receipts are
// checked as a camera checks them; the store's catalog, alarms, tmp/ and audit log are
// inspected after each session.

#include <catch2/catch_test_macros.hpp>

#include <dirent.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bwc/v1/offload.pb.h"
#include "bwc/v1/receipt.pb.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/crypto/pem.h"
#include "common/net/frame.h"
#include "common/net/platform/mbedtls/tls_client.h"
#include "dock/server/dock_server.h"
#include "dock/store/evidence_store.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/dock/agency_test_util.h"

namespace bwc::dock {
namespace {

using chain::test::must;
using chain::test::patternBytes;
using test::contains;
using test::loadKey;

const crypto::Backend &dockBackend()
{
    return test::dockBackend();
}

constexpr int kWaitMs = 15'000;
constexpr size_t kChunk = 64 * 1024;

struct Sealed {
    std::string clipPath;
    v1::SignedManifest manifest;
    v1::Manifest parsed;
    uint64_t fileBytes = 0;
};

std::vector<std::string> listDir(const std::string &path)
{
    std::vector<std::string> out;
    DIR *d = ::opendir(path.c_str());
    if (d == nullptr)
        return out;
    while (dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..")
            out.push_back(name);
    }
    ::closedir(d);
    return out;
}

// An agency, a dock certificate, a store and (when started) a DockServer; every
// session's summary is collected.
class World : public test::Agency
{
public:
    World()
    {
        dockCert = must(pki->issueDock("dock-01", 365));
        openStore();
    }
    ~World() override { stopServer(); }

    void openStore()
    {
        store.reset();
        store::DockIdentity dockIdentity{
            loadKey(dockCert.keyPath), must(crypto::readPemFile(dockCert.certPath, "CERTIFICATE"))};
        store = must(store::EvidenceStore::open(dir.file("store"), std::move(dockIdentity),
                                                dockBackend(), clock));
    }

    DockServerOptions options()
    {
        DockServerOptions o;
        o.tls = must(net::loadTlsConfig(dockCert.certPath, dockCert.keyPath, pki->caCertPath(),
                                        pki->crlPath()));
        o.sessionTimeoutMs = 10'000;
        o.evidenceKey = aek;
        o.crlPath = pki->crlPath();
        o.reserveBytes = 0;
        o.onSessionEnd = [this](const SessionSummary &s) {
            std::lock_guard lock(mutex);
            summaries.push_back(s);
            ended.notify_all();
        };
        return o;
    }

    void startServer(std::optional<DockServerOptions> o = std::nullopt)
    {
        server = must(DockServer::start(*store, dockBackend(), clock, o ? *o : options()));
    }
    void stopServer()
    {
        if (server)
            server->stop();
        server.reset();
    }

    // Waits until `n` sessions have ended in all; returns the last one.
    SessionSummary waitForSessions(size_t n)
    {
        std::unique_lock lock(mutex);
        const bool done = ended.wait_for(lock, std::chrono::milliseconds(kWaitMs),
                                         [&] { return summaries.size() >= n; });
        REQUIRE(done);
        return summaries[n - 1];
    }

    crypto::CertInfo dockLeaf() const
    {
        auto chainDer = must(crypto::readPemFile(dockCert.certPath, "CERTIFICATE"));
        return must(dockBackend().parseCertificateDer(chainDer.front()));
    }

    pki::IssuedCert dockCert;
    std::unique_ptr<store::EvidenceStore> store;
    std::unique_ptr<DockServer> server;
    std::mutex mutex;
    std::condition_variable ended;
    std::vector<SessionSummary> summaries;
};

// A camera of the agency: the fixture's cam-0001, or another one with its own certificate.
class Camera
{
public:
    explicit Camera(World &world)
        : world_(world), id_(world.identity->id()), cert_(world.device),
          identity_(world.identity.get()), chain_(world.chain.get()),
          clipsDir_(world.clipsDir)
    {
    }

    Camera(World &world, const std::string &id) : world_(world), id_(id)
    {
        cert_ = must(world.pki->issueDevice(id, 365));
        clipsDir_ = world.dir.file("clips-" + id);
        must(makeDirectories(clipsDir_));
        ownIdentity_ = must(chain::SoftwareIdentity::load(test::cameraBackend(), cert_.keyPath,
                                                          cert_.certPath,
                                                          world.dir.file("counter-" + id)));
        identity_ = ownIdentity_.get();
        ownChain_ = must(chain::ChainState::open(test::cameraBackend(), *identity_,
                                                 world.dir.file("chain-" + id), world.clock));
        chain_ = ownChain_.get();
    }

    Sealed seal(size_t mediaBytes)
    {
        auto session = must(chain::ClipSession::create(
            test::cameraBackend(), *identity_,
            chain::test::sessionOptions(clipsDir_, world_.aek.pub, world_.clock.utcMs())));
        must(session->append(container::kMediaStreamId, patternBytes(0, mediaBytes, 7)));
        must(session->append(container::kMetadataStreamId, patternBytes(0, 300, 0x5c)));
        world_.clock.advanceMs(1000);
        must(session->checkpoint(world_.clock.utcMs()));
        world_.clock.advanceMs(500);
        v1::SignedManifest sm = must(session->seal(*chain_, world_.clock.utcMs()));
        Sealed s{session->clipPath(), sm, must(chain::parseManifest(sm)), 0};
        s.fileBytes = must(fileSize(s.clipPath));
        return s;
    }

    v1::SignedManifest issue(v1::Manifest m) { return must(chain_->issue(std::move(m))); }

    v1::SignedManifest boot()
    {
        v1::Manifest m;
        m.set_kind(v1::MANIFEST_KIND_BOOT);
        m.set_note("booted");
        return issue(m);
    }

    net::TlsConfig tls() const
    {
        return must(net::loadTlsConfig(cert_.certPath, cert_.keyPath, world_.pki->caCertPath(),
                                       world_.pki->crlPath()));
    }

    v1::Frame hello(const std::string &nonce, bool flagged = false) const
    {
        v1::Frame f;
        v1::Hello *h = f.mutable_hello();
        h->set_protocol_version(1);
        h->set_device_id(id_);
        h->set_fw_version("test");
        *h->mutable_head() = chain_->head();
        h->set_session_nonce(nonce);
        h->set_device_utc_ms(world_.clock.utcMs());
        if (flagged) {
            v1::PendingClip *p = h->add_pending();
            p->set_seq(1);
            p->set_flagged(true);
        }
        return f;
    }

    const std::string &id() const { return id_; }
    chain::ChainState &chain() { return *chain_; }
    crypto::P256KeyPair key() const { return loadKey(cert_.keyPath); }

private:
    World &world_;
    std::string id_;
    pki::IssuedCert cert_;
    std::unique_ptr<chain::SoftwareIdentity> ownIdentity_;
    std::unique_ptr<chain::ChainState> ownChain_;
    chain::DeviceIdentity *identity_ = nullptr;
    chain::ChainState *chain_ = nullptr;
    std::string clipsDir_;
};

// One scripted TLS connection to the dock.
class Link
{
public:
    Link(uint16_t port, const net::TlsConfig &tls)
        : stream_(must(net::tlsConnect("127.0.0.1", port, tls, kWaitMs)))
    {
    }

    void send(const v1::Frame &frame) { must(net::sendFrame(*stream_, frame, kWaitMs)); }
    void sendRaw(ByteView bytes) { must(stream_->writeAll(bytes, kWaitMs)); }
    Expected<v1::Frame> tryReceive() { return net::receiveFrame(*stream_, decoder_, kWaitMs); }
    v1::Frame receive() { return must(tryReceive()); }
    void close() { stream_->close(); }
    const std::vector<Bytes> &dockChain() const { return stream_->peerCertChainDer(); }

    // The next frame is an Abort; returns its message. The dock closes afterwards.
    std::string expectAbort()
    {
        v1::Frame f = receive();
        INFO("frame case " << int(f.msg_case()));
        REQUIRE(f.has_abort());
        auto after = tryReceive();
        REQUIRE_FALSE(after.ok());
        CHECK_FALSE(contains(after.error().message, "timed out"));
        return f.abort().message();
    }

private:
    std::unique_ptr<net::TlsStream> stream_;
    net::FrameDecoder decoder_;
};

std::string nonceFor(int i)
{
    return std::string(16, char('a' + i));
}

v1::Frame offerFrame(const v1::SignedManifest &sm, uint64_t fileBytes)
{
    v1::Frame f;
    *f.mutable_offer()->mutable_manifest() = sm;
    f.mutable_offer()->set_file_bytes(fileBytes);
    return f;
}

v1::Frame dataFrame(uint64_t seq, uint64_t offset, ByteView bytes)
{
    v1::Frame f;
    f.mutable_data()->set_seq(seq);
    f.mutable_data()->set_offset(offset);
    f.mutable_data()->set_bytes(std::string(asChars(bytes)));
    return f;
}

v1::Frame doneFrame()
{
    v1::Frame f;
    f.mutable_done();
    return f;
}

v1::Welcome welcome(Link &link, Camera &cam, const std::string &nonce, bool flagged = false)
{
    link.send(cam.hello(nonce, flagged));
    v1::Frame f = link.receive();
    INFO((f.has_abort() ? f.abort().message() : std::string()));
    REQUIRE(f.has_welcome());
    return f.welcome();
}

// Offers a clip and sends its file from wherever the dock resumes; returns the Stored.
v1::Stored offerClip(Link &link, const Sealed &clip, bool *resumed = nullptr)
{
    link.send(offerFrame(clip.manifest, clip.fileBytes));
    v1::Frame f = link.receive();
    if (resumed != nullptr)
        *resumed = f.has_resume();
    if (f.has_resume()) {
        CHECK(f.resume().seq() == clip.parsed.seq());
        const Bytes file = chain::test::readAll(clip.clipPath);
        for (uint64_t off = f.resume().offset(); off < file.size(); off += kChunk) {
            const size_t n = size_t(std::min<uint64_t>(kChunk, file.size() - off));
            link.send(dataFrame(clip.parsed.seq(), off, ByteView(file.data() + off, n)));
        }
        f = link.receive();
    }
    INFO((f.has_abort() ? f.abort().message() : std::string()));
    REQUIRE(f.has_stored());
    CHECK(f.stored().seq() == clip.parsed.seq());
    return f.stored();
}

v1::Stored offerManifest(Link &link, const v1::SignedManifest &sm)
{
    link.send(offerFrame(sm, 0));
    v1::Frame f = link.receive();
    REQUIRE(f.has_stored());
    return f.stored();
}

// A receipt checked as the camera checks it; returns the parsed receipt.
v1::Receipt checkReceipt(World &world, const v1::SignedReceipt &sr, Camera &cam,
                         const std::string &nonce)
{
    const crypto::CertInfo leaf = world.dockLeaf();
    must(dockBackend().ecdsaVerify(leaf.publicKey, asBytes(sr.receipt()), asBytes(sr.signature())));
    v1::Receipt r;
    REQUIRE(r.ParseFromString(sr.receipt()));
    CHECK(r.dock_id() == leaf.subjectCommonName);
    CHECK(r.device_id() == cam.id());
    CHECK(r.session_nonce() == nonce);
    CHECK(r.first_seq() <= r.last_seq());
    const v1::SignedManifest head = must(cam.chain().loadManifest(r.last_seq()));
    CHECK(chain::digestEquals(r.head_manifest_sha256(),
                              chain::manifestSha256(dockBackend(), head)));
    return r;
}

v1::SignedReceipt doneForReceipt(Link &link)
{
    link.send(doneFrame());
    v1::Frame f = link.receive();
    REQUIRE(f.has_receipt());
    REQUIRE(f.receipt().has_receipt());
    return f.receipt().receipt();
}

v1::SignedManifest wipeManifest(Camera &cam, const v1::SignedReceipt &sr,
                                const std::vector<Sealed> &clips)
{
    v1::Manifest m;
    m.set_kind(v1::MANIFEST_KIND_WIPE);
    for (const Sealed &c : clips) {
        v1::WipedClip *w = m.add_wiped();
        w->set_seq(c.parsed.seq());
        w->set_clip_uuid(c.parsed.clip_uuid());
    }
    m.set_receipt_sha256(chain::digestString(dockBackend().sha256(asBytes(sr.receipt()))));
    return cam.issue(m);
}

size_t storedClips(World &world, const std::string &deviceId)
{
    store::ClipFilter filter;
    filter.deviceId = deviceId;
    filter.state = store::ClipState::Stored;
    return must(world.store->catalog().listClips(filter)).size();
}

bool hasAlarm(World &world, store::AlarmKind kind)
{
    for (const store::AlarmRow &a : must(world.store->catalog().listAlarms(false)))
        if (a.kind == kind)
            return true;
    return false;
}

TEST_CASE("dock server: three clips and a BOOT stored, receipted, WIPE recorded and receipted")
{
    World world;
    Camera cam(world);
    std::vector<Sealed> clips{cam.seal(70000), cam.seal(150000), cam.seal(40000)};
    const v1::SignedManifest boot = cam.boot();
    world.startServer();

    const std::string nonce = nonceFor(1);
    Link link(world.server->port(), cam.tls());
    const v1::Welcome w = welcome(link, cam, nonce);
    CHECK(w.protocol_version() == 1);
    CHECK(w.dock_id() == "dock-01");
    CHECK(w.dock_utc_ms() == world.clock.utcMs());
    CHECK(w.has_dock_head());
    CHECK(w.dock_head().seq() == 0);
    CHECK_FALSE(w.has_receipt());
    CHECK(w.crl() == std::string(asChars(world.pki->crlDer())));

    for (const Sealed &c : clips) {
        bool resumed = false;
        const v1::Stored s = offerClip(link, c, &resumed);
        INFO(s.reason());
        CHECK(resumed);
        CHECK(s.accepted());
    }
    CHECK(offerManifest(link, boot).accepted());

    const v1::SignedReceipt sr = doneForReceipt(link);
    const v1::Receipt r = checkReceipt(world, sr, cam, nonce);
    CHECK(r.first_seq() == 1);
    CHECK(r.last_seq() == 4);
    REQUIRE(r.clips_size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(r.clips(i).clip_uuid() == clips[size_t(i)].parsed.clip_uuid());
        CHECK(r.clips(i).ciphertext_sha256() == clips[size_t(i)].parsed.ciphertext_sha256());
    }

    v1::Frame wiped;
    *wiped.mutable_wiped()->mutable_manifest() = wipeManifest(cam, sr, clips);
    link.send(wiped);
    v1::Frame stored = link.receive();
    REQUIRE(stored.has_stored());
    CHECK(stored.stored().accepted());
    CHECK(stored.stored().seq() == 5);
    v1::Frame second = link.receive();
    REQUIRE(second.has_receipt());
    const v1::Receipt r2 = checkReceipt(world, second.receipt().receipt(), cam, nonce);
    CHECK(r2.last_seq() == 5);
    link.send(doneFrame());
    CHECK_FALSE(link.tryReceive().ok()); // the dock ends the session

    const SessionSummary s = world.waitForSessions(1);
    CHECK(s.error.empty());
    CHECK(s.deviceId == "cam-0001");
    CHECK(s.offered == 4);
    CHECK(s.stored == 4);
    CHECK(s.refused == 0);
    CHECK(s.wiped);
    CHECK(s.receiptLastSeq == 5);
    CHECK(s.bytesReceived == clips[0].fileBytes + clips[1].fileBytes + clips[2].fileBytes);

    world.stopServer();
    CHECK(storedClips(world, "cam-0001") == 3);
    CHECK(must(world.store->catalog().chainHead("cam-0001"))->seq() == 5);
    for (const Sealed &c : clips) {
        const auto row = must(world.store->catalog().clip(c.parsed.clip_uuid()));
        REQUIRE(row);
        CHECK(chain::test::readAll(row->objectPath) == chain::test::readAll(c.clipPath));
    }
    size_t starts = 0, ends = 0;
    for (const auto &e : must(world.store->auditLog().entries())) {
        if (e.entry.action() == "dock-session" && e.entry.actor() == "cam-0001") {
            starts += e.entry.reason() == "start" ? 1 : 0;
            ends += e.entry.reason() == "end" && e.entry.result() == "ok" ? 1 : 0;
        }
    }
    CHECK(starts == 1);
    CHECK(ends == 1);
    must(world.store->verifyAudit());
    CHECK(listDir(world.dir.file("store/tmp")).empty());
}

TEST_CASE("dock server: a held manifest resent is answered Stored without Resume")
{
    World world;
    Camera cam(world);
    const Sealed clip = cam.seal(60000);
    world.startServer();
    {
        Link link(world.server->port(), cam.tls());
        welcome(link, cam, nonceFor(1));
        CHECK(offerClip(link, clip).accepted());
        link.close();
    }
    world.waitForSessions(1);

    Link link(world.server->port(), cam.tls());
    const v1::Welcome w = welcome(link, cam, nonceFor(2));
    CHECK(w.dock_head().seq() == 1);
    REQUIRE(w.has_receipt());
    CHECK(checkReceipt(world, w.receipt(), cam, nonceFor(2)).last_seq() == 1);
    bool resumed = true;
    const v1::Stored s = offerClip(link, clip, &resumed);
    CHECK_FALSE(resumed);
    CHECK(s.accepted());
    CHECK(s.reason() == "already held");
    link.send(doneFrame());
    CHECK(link.receive().has_receipt());
    link.send(doneFrame());
    world.waitForSessions(2);
    CHECK(storedClips(world, "cam-0001") == 1);
}

TEST_CASE("dock server: a file dropped mid-way resumes at exactly the durable offset")
{
    World world;
    Camera cam(world);
    const Sealed clip = cam.seal(400000);
    const Bytes file = chain::test::readAll(clip.clipPath);
    const uint64_t seq = clip.parsed.seq();
    world.startServer();

    // Each step: full Data frames to send, then whether half a frame follows the drop.
    struct Step {
        uint64_t frames;
        bool halfFrame;
    };
    const std::vector<Step> steps{{0, false}, {2, true}, {1, false}, {0, true}};
    uint64_t expected = 0;
    size_t sessions = 0;
    for (const Step &step : steps) {
        Link link(world.server->port(), cam.tls());
        welcome(link, cam, nonceFor(int(sessions)));
        link.send(offerFrame(clip.manifest, clip.fileBytes));
        v1::Frame f = link.receive();
        REQUIRE(f.has_resume());
        CHECK(f.resume().seq() == seq);
        CHECK(f.resume().offset() == expected);
        uint64_t off = f.resume().offset();
        for (uint64_t i = 0; i < step.frames; ++i, off += kChunk)
            link.send(dataFrame(seq, off, ByteView(file.data() + off, kChunk)));
        if (step.halfFrame) {
            const Bytes wire = net::encodeFrame(dataFrame(seq, off, ByteView(file.data() + off, kChunk)));
            link.sendRaw(ByteView(wire.data(), wire.size() / 2));
        }
        link.close();
        world.waitForSessions(++sessions);
        expected = off;
        // The partial file and its durable length are in tmp/.
        CHECK(listDir(world.dir.file("store/tmp")).size() == 2);
    }

    Link link(world.server->port(), cam.tls());
    welcome(link, cam, nonceFor(9));
    link.send(offerFrame(clip.manifest, clip.fileBytes));
    v1::Frame f = link.receive();
    REQUIRE(f.has_resume());
    CHECK(f.resume().offset() == expected);
    for (uint64_t off = expected; off < file.size(); off += kChunk) {
        const size_t n = size_t(std::min<uint64_t>(kChunk, file.size() - off));
        link.send(dataFrame(seq, off, ByteView(file.data() + off, n)));
    }
    f = link.receive();
    REQUIRE(f.has_stored());
    INFO(f.stored().reason());
    CHECK(f.stored().accepted());
    link.send(doneFrame());
    CHECK(checkReceipt(world, link.receive().receipt().receipt(), cam, nonceFor(9)).last_seq() == 1);
    link.send(doneFrame());
    const SessionSummary last = world.waitForSessions(sessions + 1);
    CHECK(last.error.empty());
    CHECK(last.bytesReceived == file.size() - expected);

    CHECK(storedClips(world, "cam-0001") == 1);
    const auto row = must(world.store->catalog().clip(clip.parsed.clip_uuid()));
    REQUIRE(row);
    CHECK(chain::test::readAll(row->objectPath) == file);
    CHECK(listDir(world.dir.file("store/tmp")).empty());
}

TEST_CASE("dock server: stopped between Stored and the receipt, a new server answers the resend")
{
    World world;
    Camera cam(world);
    const Sealed clip = cam.seal(50000);
    world.startServer();
    {
        Link link(world.server->port(), cam.tls());
        welcome(link, cam, nonceFor(1));
        CHECK(offerClip(link, clip).accepted());
        world.server->stop();
        CHECK(link.expectAbort() == "dock shutting down");
    }
    CHECK(world.waitForSessions(1).error == "dock shutting down");
    world.stopServer();

    world.startServer();
    Link link(world.server->port(), cam.tls());
    const v1::Welcome w = welcome(link, cam, nonceFor(2));
    CHECK(w.dock_head().seq() == 1);
    bool resumed = true;
    const v1::Stored s = offerClip(link, clip, &resumed);
    CHECK_FALSE(resumed);
    CHECK(s.accepted());
    const v1::Receipt r = checkReceipt(world, doneForReceipt(link), cam, nonceFor(2));
    CHECK(r.last_seq() == 1);
    REQUIRE(r.clips_size() == 1);
    CHECK(r.clips(0).clip_uuid() == clip.parsed.clip_uuid());
    CHECK(storedClips(world, "cam-0001") == 1);
}

TEST_CASE("dock server: a Hello naming another device than the certificate is aborted")
{
    World world;
    Camera cam(world);
    world.startServer();
    Link link(world.server->port(), cam.tls());
    v1::Frame hello = cam.hello(nonceFor(1));
    hello.mutable_hello()->set_device_id("cam-0002");
    link.send(hello);
    const std::string reason = link.expectAbort();
    CHECK(contains(reason, "cam-0002"));
    CHECK(contains(reason, "cam-0001"));
    const SessionSummary s = world.waitForSessions(1);
    CHECK(s.error == reason);
    CHECK_FALSE(must(world.store->catalog().chainHead("cam-0002")).has_value());
}

TEST_CASE("dock server: a manifest of another device is refused with a DEVICE_MISMATCH alarm")
{
    World world;
    Camera cam(world);
    Camera other(world, "cam-0002");
    const Sealed foreign = other.seal(30000);
    world.startServer();
    Link link(world.server->port(), cam.tls());
    welcome(link, cam, nonceFor(1));
    bool resumed = true;
    const v1::Stored s = offerClip(link, foreign, &resumed);
    CHECK_FALSE(resumed);
    CHECK_FALSE(s.accepted());
    CHECK(contains(s.reason(), "DEVICE_MISMATCH"));
    CHECK(contains(s.reason(), "cam-0002"));
    link.send(doneFrame());
    v1::Frame f = link.receive();
    REQUIRE(f.has_receipt());
    CHECK_FALSE(f.receipt().has_receipt()); // nothing held of cam-0001
    link.send(doneFrame());
    world.waitForSessions(1);
    CHECK(hasAlarm(world, store::AlarmKind::DeviceMismatch));
    CHECK(storedClips(world, "cam-0002") == 0);
    CHECK(listDir(world.dir.file("store/tmp")).empty());
}

TEST_CASE("dock server: an old manifest replayed with other bytes at a stored seq is a FORK")
{
    World world;
    Camera cam(world);
    const Sealed clip = cam.seal(40000);
    world.startServer();
    Link link(world.server->port(), cam.tls());
    welcome(link, cam, nonceFor(1));
    CHECK(offerClip(link, clip).accepted());

    v1::Manifest m = clip.parsed;
    m.set_note("replayed");
    std::string bytes;
    REQUIRE(m.SerializeToString(&bytes));
    Sealed forged = clip;
    forged.manifest.set_manifest(bytes);
    forged.manifest.set_signature(
        std::string(asChars(must(dockBackend().ecdsaSign(cam.key().priv, asBytes(bytes))))));
    bool resumed = false;
    const v1::Stored s = offerClip(link, forged, &resumed);
    CHECK(resumed);
    CHECK_FALSE(s.accepted());
    CHECK(contains(s.reason(), "FORK"));
    link.send(doneFrame());
    CHECK(link.receive().receipt().has_receipt());
    link.send(doneFrame());
    world.waitForSessions(1);
    CHECK(hasAlarm(world, store::AlarmKind::Fork));
    CHECK(must(world.store->status()).quarantinedClips == 1);
    CHECK(must(world.store->catalog().chainHead("cam-0001"))->seq() == 1);
}

TEST_CASE("dock server: a second session of a docked device is refused")
{
    World world;
    Camera cam(world);
    world.startServer();
    Link first(world.server->port(), cam.tls());
    welcome(first, cam, nonceFor(1));
    {
        Link second(world.server->port(), cam.tls());
        second.send(cam.hello(nonceFor(2)));
        CHECK(contains(second.expectAbort(), "already in session"));
    }
    world.waitForSessions(1);
    first.send(doneFrame());
    v1::Frame f = first.receive();
    REQUIRE(f.has_receipt());
    CHECK_FALSE(f.receipt().has_receipt());
    first.send(doneFrame());
    CHECK(world.waitForSessions(2).error.empty());
}

TEST_CASE("dock server: oversized and malformed frames are aborted; the listener keeps working")
{
    World world;
    Camera cam(world);
    world.startServer();
    {
        Link link(world.server->port(), cam.tls());
        const uint32_t len = uint32_t(net::kMaxFrameBytes + 1);
        const Bytes header{uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len)};
        link.sendRaw(header);
        CHECK(contains(link.expectAbort(), "protocol error"));
    }
    {
        Link link(world.server->port(), cam.tls());
        const Bytes garbage{0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
        link.sendRaw(garbage);
        CHECK(contains(link.expectAbort(), "protocol error"));
    }
    {
        Link link(world.server->port(), cam.tls());
        welcome(link, cam, nonceFor(1));
        link.send(doneFrame()); // Done is fine; Data now is not
        REQUIRE(link.receive().has_receipt());
        link.send(dataFrame(1, 0, asBytes(std::string("x"))));
        CHECK(contains(link.expectAbort(), "expected Wiped or Done, got Data"));
    }
    world.waitForSessions(3);
    Link link(world.server->port(), cam.tls());
    welcome(link, cam, nonceFor(2));
}

TEST_CASE("dock server: an offer that would eat the reserve is refused, nothing kept")
{
    World world;
    Camera cam(world);
    const Sealed clip = cam.seal(30000);
    DockServerOptions o = world.options();
    o.reserveBytes = uint64_t(1) << 62;
    world.startServer(o);
    Link link(world.server->port(), cam.tls());
    welcome(link, cam, nonceFor(1));
    bool resumed = true;
    const v1::Stored s = offerClip(link, clip, &resumed);
    CHECK_FALSE(resumed);
    CHECK_FALSE(s.accepted());
    CHECK(contains(s.reason(), "dock storage full"));
    CHECK(contains(s.reason(), world.store->root()));
    link.send(doneFrame());
    CHECK_FALSE(link.receive().receipt().has_receipt());
    link.send(doneFrame());
    CHECK(world.waitForSessions(1).refused == 1);
    CHECK(storedClips(world, "cam-0001") == 0);
    CHECK(listDir(world.dir.file("store/tmp")).empty());
}

TEST_CASE("dock server: eight cameras at once, every clip stored once, every receipt valid")
{
    World world;
    constexpr int kCameras = 8;
    std::vector<std::unique_ptr<Camera>> cams;
    std::vector<std::vector<Sealed>> clips(kCameras);
    for (int i = 0; i < kCameras; ++i) {
        cams.push_back(std::make_unique<Camera>(world, "cam-b" + std::to_string(i)));
        clips[size_t(i)] = {cams.back()->seal(50000 + size_t(i) * 1000),
                            cams.back()->seal(20000)};
    }
    world.startServer();
    const uint16_t port = world.server->port();

    std::vector<std::string> failures(kCameras);
    std::vector<uint64_t> lastSeqs(kCameras, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCameras; ++i) {
        threads.emplace_back([&, i] {
            // No Catch2 assertions off the main thread: collect what went wrong.
            Camera &cam = *cams[size_t(i)];
            auto fail = [&](const std::string &what) { failures[size_t(i)] = what; };
            auto stream = net::tlsConnect("127.0.0.1", port, cam.tls(), kWaitMs);
            if (!stream)
                return fail(stream.error().message);
            net::FrameDecoder decoder;
            auto rx = [&]() { return net::receiveFrame(**stream, decoder, kWaitMs); };
            const std::string nonce = nonceFor(i);
            if (!net::sendFrame(**stream, cam.hello(nonce, i % 2 == 0), kWaitMs))
                return fail("send Hello");
            auto w = rx();
            if (!w || !w->has_welcome())
                return fail("no Welcome");
            for (const Sealed &c : clips[size_t(i)]) {
                if (!net::sendFrame(**stream, offerFrame(c.manifest, c.fileBytes), kWaitMs))
                    return fail("send Offer");
                auto r = rx();
                if (!r || !r->has_resume())
                    return fail("no Resume");
                const Bytes file = chain::test::readAll(c.clipPath);
                for (uint64_t off = r->resume().offset(); off < file.size(); off += kChunk) {
                    const size_t n = size_t(std::min<uint64_t>(kChunk, file.size() - off));
                    if (!net::sendFrame(**stream,
                                        dataFrame(c.parsed.seq(), off,
                                                  ByteView(file.data() + off, n)),
                                        kWaitMs))
                        return fail("send Data");
                }
                auto s = rx();
                if (!s || !s->has_stored() || !s->stored().accepted())
                    return fail("not stored: " + (s && s->has_stored() ? s->stored().reason()
                                                                       : std::string("?")));
            }
            if (!net::sendFrame(**stream, doneFrame(), kWaitMs))
                return fail("send Done");
            auto rc = rx();
            if (!rc || !rc->has_receipt() || !rc->receipt().has_receipt())
                return fail("no receipt");
            const v1::SignedReceipt &sr = rc->receipt().receipt();
            if (!dockBackend().ecdsaVerify(world.dockLeaf().publicKey, asBytes(sr.receipt()),
                                           asBytes(sr.signature())))
                return fail("receipt signature");
            v1::Receipt r;
            if (!r.ParseFromString(sr.receipt()) || r.device_id() != cam.id() ||
                r.session_nonce() != nonce || r.clips_size() != 2)
                return fail("receipt content");
            lastSeqs[size_t(i)] = r.last_seq();
            (void)net::sendFrame(**stream, doneFrame(), kWaitMs);
            (*stream)->close();
        });
    }
    for (std::thread &t : threads)
        t.join();
    for (int i = 0; i < kCameras; ++i) {
        INFO("camera " << i);
        CHECK(failures[size_t(i)].empty());
        CHECK(lastSeqs[size_t(i)] == 2);
        CHECK(storedClips(world, cams[size_t(i)]->id()) == 2);
    }
    world.waitForSessions(kCameras);
    for (const SessionSummary &s : world.summaries) {
        INFO(s.deviceId << ": " << s.error);
        CHECK(s.error.empty());
        CHECK(s.stored == 2);
    }
    CHECK(must(world.store->status()).storedClips == 2 * kCameras);
    must(world.store->verifyAudit());
}

TEST_CASE("dock server: Welcome carries the officer, a differing config, the CRL and the head")
{
    World world;
    Camera cam(world);
    Camera other(world, "cam-0002");
    const std::string configDir = world.dir.file("camera-configs");
    must(makeDirectories(configDir));
    const std::string config = "format_version: 1\ndevice_id: \"cam-0001\"\n";
    must(atomicReplace(configDir + "/cam-0001.conf", asBytes(config)));
    must(world.store->assignOfficer("cam-0001", "officer-0042", "supervisor", "shift B"));
    DockServerOptions o = world.options();
    o.cameraConfigDir = configDir;
    world.startServer(o);

    {
        Link link(world.server->port(), cam.tls());
        const v1::Welcome w = welcome(link, cam, nonceFor(1));
        CHECK(w.officer_id() == "officer-0042");
        CHECK(w.config_file() == config);
        CHECK(w.crl() == std::string(asChars(world.pki->crlDer())));
        CHECK(w.dock_head().seq() == 0);
    }
    world.waitForSessions(1);
    {
        // The camera already runs that configuration: nothing to send.
        Link link(world.server->port(), cam.tls());
        v1::Frame hello = cam.hello(nonceFor(2));
        hello.mutable_hello()->set_config_sha256(
            chain::digestString(dockBackend().sha256(asBytes(config))));
        link.send(hello);
        const v1::Frame f = link.receive();
        REQUIRE(f.has_welcome());
        CHECK(f.welcome().config_file().empty());
        CHECK(f.welcome().officer_id() == "officer-0042");
    }
    world.waitForSessions(2);

    // A revocation published while the dock runs: the next Welcome carries the new CRL,
    // and the revoked camera gets no session.
    must(world.pki->revoke("cam-0002", "lost"));
    must(world.pki->writeCrl(30));
    {
        Link link(world.server->port(), cam.tls());
        const v1::Welcome w = welcome(link, cam, nonceFor(3));
        CHECK(w.crl() == std::string(asChars(world.pki->crlDer())));
    }
    world.waitForSessions(3);
    auto stream = net::tlsConnect("127.0.0.1", world.server->port(), other.tls(), kWaitMs);
    if (stream) {
        net::FrameDecoder decoder;
        must(net::sendFrame(**stream, other.hello(nonceFor(4)), kWaitMs));
        auto f = net::receiveFrame(**stream, decoder, kWaitMs);
        if (f) {
            REQUIRE(f->has_abort());
            CHECK(contains(f->abort().message(), "revoked"));
        }
    }
    CHECK_FALSE(must(world.store->catalog().chainHead("cam-0002")).has_value());
}

TEST_CASE("dock server: busy bays, and a silent camera timed out")
{
    World world;
    Camera cam(world);
    Camera other(world, "cam-0002");
    DockServerOptions o = world.options();
    o.maxSessions = 1;
    o.sessionTimeoutMs = 1000;
    world.startServer(o);
    {
        Link first(world.server->port(), cam.tls());
        welcome(first, cam, nonceFor(1));
        Link second(world.server->port(), other.tls());
        CHECK(second.expectAbort() == "dock busy: all 1 bays in use; retry");
        // The first camera says nothing more: its session times out.
        CHECK(contains(first.expectAbort(), "timed out"));
    }
    CHECK(contains(world.waitForSessions(1).error, "timed out"));
}

} // namespace
} // namespace bwc::dock
