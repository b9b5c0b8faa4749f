#include "tests/support/offload_rig.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/base/file.h"
#include "common/chain/clip_session.h"
#include "common/chain/dir_util.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "common/net/socket.h"

namespace bwc::rig {

namespace {

Expected<crypto::P256KeyPair> loadKey(const crypto::Backend &backend, const std::string &path)
{
    BWC_ASSIGN(blocks, crypto::readPemFile(path, "PRIVATE KEY"));
    if (blocks.size() != 1)
        return Error(Errc::Format, path + ": expected one private key");
    return backend.parsePrivateKeyDer(blocks[0]);
}

// A deterministic, poorly compressible media pattern.
Bytes pattern(size_t len, uint8_t salt)
{
    Bytes out(len);
    for (size_t x = 0; x < len; ++x)
        out[x] = uint8_t((x * 131) ^ (x >> 8) ^ (x >> 17) ^ salt);
    return out;
}

} // namespace

Expected<void> RigHost::setClock(int64_t newUtcMs)
{
    offsetMs_ = newUtcMs - clock_.utcMs();
    return {};
}

Expected<void> RigHost::setOfficer(const std::string &officerId)
{
    officer = officerId;
    return {};
}

Expected<void> RigHost::saveConfig(ByteView)
{
    return Error(Errc::Config, "the rig's cameras take no configuration updates");
}

Expected<void> RigHost::saveCrl(ByteView)
{
    return {};
}

Expected<std::unique_ptr<OffloadRig>> OffloadRig::create(const std::string &dir, size_t cameras)
{
    std::unique_ptr<OffloadRig> rig(new OffloadRig());
    rig->dir_ = dir;
    rig->cameraBackend_ = crypto::makeMbedtlsBackend();
    rig->dockBackend_ = crypto::makeOpensslBackend();
    BWC_ASSIGN(pki, pki::PkiStore::init(dir + "/pki", "Rig Agency", 3650));
    rig->pki_ = std::make_unique<pki::PkiStore>(std::move(pki));
    BWC_ASSIGN(aek, rig->pki_->issueRecipient("aek", 3650));
    BWC_ASSIGN(aekKey, loadKey(*rig->dockBackend_, aek.keyPath));
    rig->aek_ = std::move(aekKey);
    BWC_ASSIGN(dock, rig->pki_->issueDock("dock-01", 365));
    rig->dockKeyPath_ = dock.keyPath;
    rig->dockCertPath_ = dock.certPath;

    for (size_t i = 0; i < cameras; ++i) {
        auto cam = std::make_unique<RigCamera>();
        char id[32];
        std::snprintf(id, sizeof id, "cam-%04zu", i + 1);
        cam->id = id;
        cam->dir = dir + "/cameras/" + cam->id;
        cam->clipsDir = cam->dir + "/clips";
        BWC_TRY(makeDirectories(cam->clipsDir));
        BWC_ASSIGN(issued, rig->pki_->issueDevice(cam->id, 365));
        BWC_ASSIGN(identity, chain::SoftwareIdentity::load(*rig->cameraBackend_, issued.keyPath,
                                                           issued.certPath, cam->dir + "/counter"));
        cam->identity = std::move(identity);
        BWC_ASSIGN(chainState, chain::ChainState::open(*rig->cameraBackend_, *cam->identity,
                                                        cam->dir + "/chain", rig->clock_));
        cam->chain = std::move(chainState);
        BWC_ASSIGN(tls, net::loadTlsConfig(issued.certPath, issued.keyPath,
                                           rig->pki_->caCertPath(), dir + "/pki/crl.pem"));
        cam->tls = std::move(tls);
        cam->host = std::make_unique<RigHost>(rig->clock_);
        rig->cameras_.push_back(std::move(cam));
    }
    return rig;
}

OffloadRig::~OffloadRig()
{
    stopDock();
}

Expected<SealedClip> OffloadRig::seal(size_t index, size_t mediaBytes)
{
    RigCamera &cam = camera(index);
    chain::SessionOptions o;
    o.clipDir = cam.clipsDir;
    o.writer.streams = {
        {container::kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
        {container::kMetadataStreamId, v1::STREAM_TYPE_METADATA, "application/x-bwc-metadata"},
    };
    o.writer.recipients = {aek_.pub};
    o.officerId = "officer-rig";
    o.trigger = v1::TRIGGER_BUTTON;
    o.startUtcMs = clock_.utcMs();
    o.fwVersion = "bwc-camd rig";
    o.configSha256 = Bytes(32, 0xc5);
    o.clockSource = v1::CLOCK_SOURCE_DOCK;
    BWC_ASSIGN(session, chain::ClipSession::create(*cameraBackend_, *cam.identity, o));
    const Bytes media = pattern(mediaBytes, uint8_t(index * 37 + cam.chain->head().seq()));
    // One checkpoint per MiB, as a camera checkpoints once per GOP.
    constexpr size_t kStep = 1u << 20;
    for (size_t at = 0; at < media.size(); at += kStep) {
        const size_t n = std::min(kStep, media.size() - at);
        BWC_TRY(session->append(container::kMediaStreamId, ByteView(media).subspan(at, n)));
        BWC_TRY(session->checkpoint(clock_.utcMs()));
    }
    BWC_TRY(session->append(container::kMetadataStreamId, pattern(300, 0x5c)));
    BWC_ASSIGN(sm, session->seal(*cam.chain, clock_.utcMs()));
    BWC_ASSIGN(m, chain::parseManifest(sm));
    return SealedClip{session->clipPath(), m.clip_uuid(), m.seq(), m.ciphertext_bytes()};
}

Expected<void> OffloadRig::startDock(bool fullVerify, uint64_t reserveBytes)
{
    if (!store_) {
        BWC_ASSIGN(key, loadKey(*dockBackend_, dockKeyPath_));
        BWC_ASSIGN(chainDer, crypto::readPemFile(dockCertPath_, "CERTIFICATE"));
        store::DockIdentity identity{std::move(key), std::move(chainDer)};
        BWC_ASSIGN(opened, store::EvidenceStore::open(dir_ + "/dock-store", std::move(identity),
                                                      *dockBackend_, clock_));
        store_ = std::move(opened);
    }
    dock::DockServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    BWC_ASSIGN(tls, net::loadTlsConfig(dockCertPath_, dockKeyPath_, pki_->caCertPath(),
                                       dir_ + "/pki/crl.pem"));
    options.tls = std::move(tls);
    options.crlPath = dir_ + "/pki/crl.pem";
    options.sessionTimeoutMs = 10'000;
    options.reserveBytes = reserveBytes;
    if (fullVerify)
        options.evidenceKey = aek_;
    BWC_ASSIGN(server, dock::DockServer::start(*store_, *dockBackend_, clock_, std::move(options)));
    server_ = std::move(server);
    return {};
}

void OffloadRig::stopDock()
{
    if (server_)
        server_->stop();
    server_.reset();
    store_.reset();
}

uint16_t OffloadRig::dockPort() const
{
    return server_ ? server_->port() : 0;
}

Expected<fw::OffloadResult> OffloadRig::offload(size_t index, uint16_t port, size_t chunkBytes)
{
    RigCamera &cam = camera(index);
    fw::OffloadSettings settings;
    settings.host = "127.0.0.1";
    settings.port = port ? port : dockPort();
    settings.tls = cam.tls;
    settings.clipDir = cam.clipsDir;
    settings.connectTimeoutMs = 10'000;
    settings.ioTimeoutMs = 20'000;
    settings.dataChunkBytes = chunkBytes;
    settings.connect = connect_;
    auto result = fw::runOffload(*cameraBackend_, *cam.identity, *cam.chain, *cam.host, settings);
    // The dock's side of the session may still be finishing (its last audit entry): the
    // store's connection is the server's until then, so wait before anyone reads it.
    for (int i = 0; server_ && server_->activeSessions() > 0 && i < 2000; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return result;
}

Expected<std::vector<std::string>> OffloadRig::clipFilesOnCamera(size_t index) const
{
    BWC_ASSIGN(names, chain::listFiles(cameras_.at(index)->clipsDir));
    std::vector<std::string> clips;
    for (const std::string &name : names) {
        if (name.size() > 8 && name.compare(name.size() - 8, 8, ".bwcclip") == 0)
            clips.push_back(name);
    }
    return clips;
}

Expected<std::unique_ptr<CutProxy>> CutProxy::start(uint16_t targetPort, uint64_t cutAfterBytes)
{
    std::unique_ptr<CutProxy> proxy(new CutProxy());
    BWC_ASSIGN(listener, net::tcpListen("127.0.0.1", 0, 1));
    BWC_ASSIGN(port, net::localPort(listener.get()));
    proxy->listener_ = std::move(listener);
    proxy->port_ = port;
    proxy->targetPort_ = targetPort;
    proxy->cutAfter_ = cutAfterBytes;
    proxy->thread_ = std::thread([p = proxy.get()] { p->run(); });
    return proxy;
}

CutProxy::~CutProxy()
{
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
}

void CutProxy::run()
{
    // Wait for the camera, then connect to the dock.
    int client = -1;
    while (!stop_) {
        pollfd pfd{listener_.get(), POLLIN, 0};
        if (::poll(&pfd, 1, 50) > 0) {
            client = ::accept(listener_.get(), nullptr, nullptr);
            if (client >= 0)
                break;
        }
    }
    if (client < 0)
        return;
    UniqueFd camera(client);
    auto dock = net::tcpConnect("127.0.0.1", targetPort_, 5000);
    if (!dock)
        return;
    UniqueFd dockFd = std::move(*dock);
    char buf[64 * 1024];
    bool cameraOpen = true, dockOpen = true;
    while (!stop_ && (cameraOpen || dockOpen)) {
        pollfd pfds[2] = {{camera.get(), short(cameraOpen ? POLLIN : 0), 0},
                          {dockFd.get(), short(dockOpen ? POLLIN : 0), 0}};
        if (::poll(pfds, 2, 50) <= 0)
            continue;
        for (int side = 0; side < 2; ++side) {
            if (!(pfds[side].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            const int from = side == 0 ? camera.get() : dockFd.get();
            const int to = side == 0 ? dockFd.get() : camera.get();
            size_t want = sizeof buf;
            if (side == 0 && cutAfter_ != UINT64_MAX)
                want = std::min<uint64_t>(want, cutAfter_ - forwarded_.load());
            ssize_t n = want ? ::read(from, buf, want) : 0;
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0 && want) {
                // An orderly end from one side: pass it on.
                ::shutdown(to, SHUT_WR);
                (side == 0 ? cameraOpen : dockOpen) = false;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = ::write(to, buf + off, size_t(n - off));
                if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                    pollfd out{to, POLLOUT, 0};
                    ::poll(&out, 1, 50);
                    continue;
                }
                if (w <= 0)
                    return;
                off += w;
            }
            if (side == 0)
                forwarded_ += uint64_t(n);
            if (side == 0 && cutAfter_ != UINT64_MAX && forwarded_.load() >= cutAfter_) {
                cut_ = true;
                return; // both sockets close: the camera and the dock see a dropped link
            }
        }
    }
}

} // namespace bwc::rig
