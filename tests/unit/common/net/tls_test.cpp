// The offload transport over loopback: the camera's client (mbedTLS), and the OpenSSL
// client the dock-side benchmark uses in its place, against the dock's server (OpenSSL),
// with certificates from temporary agency PKIs made by dock/pki.

#include "common/net/tls.h"

#include <catch2/catch_test_macros.hpp>

#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "common/base/clock.h"
#include "common/net/platform/mbedtls/tls_client.h"
#include "common/net/platform/openssl/tls_client.h"
#include "common/net/platform/openssl/tls_server.h"
#include "dock/pki/pki_store.h"

namespace bwc::net {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int kTimeoutMs = 5000;

bool containsNoCase(std::string haystack, std::string needle)
{
    for (char &c : haystack)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    for (char &c : needle)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return haystack.find(needle) != std::string::npos;
}

template <typename T>
void requireError(const Expected<T> &result, Errc code, std::initializer_list<std::string> phrases)
{
    REQUIRE_FALSE(result.ok());
    INFO("error: [" << errcName(result.error().code) << "] " << result.error().message);
    CHECK(result.error().code == code);
    for (const std::string &phrase : phrases) {
        INFO("expected phrase: " << phrase);
        CHECK(containsNoCase(result.error().message, phrase));
    }
}

class TempDir
{
public:
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "bwc-net-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

// An agency PKI in a temporary directory, created ten days ago, with a clock the test
// moves to issue certificates and CRLs with chosen validity.
struct Agency {
    TempDir dir;
    std::shared_ptr<ManualClock> clock;
    std::optional<pki::PkiStore> store;

    explicit Agency(const std::string &name)
        : clock(std::make_shared<ManualClock>(utcNowMs() - 10 * kDayMs))
    {
        auto created = pki::PkiStore::init(dir.path() + "/pki", name, 3650, clock);
        REQUIRE(created.ok());
        store.emplace(std::move(*created));
        clock->setUtcMs(utcNowMs());
        REQUIRE(store->writeCrl(30).ok());
    }

    void issue(pki::CertKind kind, const std::string &name, int days)
    {
        auto issued = kind == pki::CertKind::Dock ? store->issueDock(name, days)
                                                  : store->issueDevice(name, days);
        INFO((issued.ok() ? std::string() : issued.error().message));
        REQUIRE(issued.ok());
    }
    // Issues with the clock at now + offsetDays, then sets it back to now.
    void issueAt(int64_t offsetDays, pki::CertKind kind, const std::string &name, int days)
    {
        clock->setUtcMs(utcNowMs() + offsetDays * kDayMs);
        issue(kind, name, days);
        clock->setUtcMs(utcNowMs());
    }

    TlsConfig config(pki::CertKind kind, const std::string &name) const
    {
        auto loaded = loadTlsConfig(store->certPath(kind, name), store->keyPath(kind, name),
                                    store->caCertPath(), store->crlPath());
        INFO((loaded.ok() ? std::string() : loaded.error().message));
        REQUIRE(loaded.ok());
        return std::move(*loaded);
    }
};

struct Connection {
    std::optional<Expected<std::unique_ptr<TlsStream>>> client;
    std::optional<Expected<std::unique_ptr<TlsStream>>> server;
};

// A client implementation: tlsConnect (mbedTLS) or tlsConnectOpenssl.
using Connector = Expected<std::unique_ptr<TlsStream>> (*)(const std::string &host, uint16_t port,
                                                           const TlsConfig &config, int timeoutMs);

// One handshake: the listener accepts on a thread while the client connects.
Connection connectPair(const TlsConfig &serverConfig, const TlsConfig &clientConfig,
                       Connector connect = tlsConnect)
{
    auto listener = TlsListener::listen("127.0.0.1", 0, serverConfig);
    INFO((listener.ok() ? std::string() : listener.error().message));
    REQUIRE(listener.ok());
    Connection c;
    std::thread acceptor([&] { c.server.emplace((*listener)->accept(kTimeoutMs)); });
    c.client.emplace(connect("127.0.0.1", (*listener)->port(), clientConfig, kTimeoutMs));
    acceptor.join();
    return c;
}

v1::Frame dataFrame(uint64_t seq, size_t bytes)
{
    v1::Frame frame;
    frame.mutable_data()->set_seq(seq);
    std::string payload(bytes, '\0');
    for (size_t i = 0; i < bytes; ++i)
        payload[i] = char((i * 2654435761u) >> 13);
    frame.mutable_data()->set_bytes(payload);
    return frame;
}

// A whole session with `connect` as the camera's client: handshake, peer ids, frames
// both ways including 1 MiB ones, read timeouts, the camera's close.
void checkMutualSession(Connector connect)
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    const TlsConfig dockConfig = agency.config(pki::CertKind::Dock, "dock-01");
    const TlsConfig camConfig = agency.config(pki::CertKind::Device, "cam-0001");

    Connection c = connectPair(dockConfig, camConfig, connect);
    INFO("client: " << (c.client->ok() ? "ok" : c.client->error().message));
    INFO("server: " << (c.server->ok() ? "ok" : c.server->error().message));
    REQUIRE(c.client->ok());
    REQUIRE(c.server->ok());
    TlsStream &cam = ***c.client;
    TlsStream &dock = ***c.server;

    CHECK(cam.peerId() == "dock-01");
    CHECK(dock.peerId() == "cam-0001");
    REQUIRE_FALSE(cam.peerCertChainDer().empty());
    REQUIRE_FALSE(dock.peerCertChainDer().empty());
    CHECK(cam.peerCertChainDer().front() == dockConfig.ownCertChainDer.front());
    CHECK(dock.peerCertChainDer().front() == camConfig.ownCertChainDer.front());

    FrameDecoder camDecoder;
    FrameDecoder dockDecoder;

    v1::Frame hello;
    hello.mutable_hello()->set_device_id("cam-0001");
    hello.mutable_hello()->set_protocol_version(1);
    REQUIRE(sendFrame(cam, hello, kTimeoutMs).ok());
    auto gotHello = receiveFrame(dock, dockDecoder, kTimeoutMs);
    REQUIRE(gotHello.ok());
    CHECK(gotHello->hello().device_id() == "cam-0001");

    v1::Frame welcome;
    welcome.mutable_welcome()->set_dock_id("dock-01");
    welcome.mutable_welcome()->set_dock_utc_ms(1'767'225'600'000);
    REQUIRE(sendFrame(dock, welcome, kTimeoutMs).ok());
    auto gotWelcome = receiveFrame(cam, camDecoder, kTimeoutMs);
    REQUIRE(gotWelcome.ok());
    CHECK(gotWelcome->welcome().dock_utc_ms() == 1'767'225'600'000);

    // 1 MiB each way, with a small frame right behind it in the same direction: the
    // receiver must not lose the bytes of the following frame.
    const v1::Frame up = dataFrame(1, 1024 * 1024);
    const v1::Frame down = dataFrame(2, 1024 * 1024);
    v1::Frame done;
    done.mutable_done();
    std::optional<Expected<void>> sentUp;
    std::thread sender([&] {
        auto first = sendFrame(cam, up, kTimeoutMs);
        sentUp.emplace(first.ok() ? sendFrame(cam, done, kTimeoutMs) : first);
    });
    auto gotUp = receiveFrame(dock, dockDecoder, kTimeoutMs);
    auto gotDone = receiveFrame(dock, dockDecoder, kTimeoutMs);
    sender.join();
    REQUIRE(sentUp->ok());
    REQUIRE(gotUp.ok());
    CHECK(gotUp->data().bytes() == up.data().bytes());
    REQUIRE(gotDone.ok());
    CHECK(gotDone->has_done());

    std::optional<Expected<void>> sentDown;
    std::thread dockSender([&] { sentDown.emplace(sendFrame(dock, down, kTimeoutMs)); });
    auto gotDown = receiveFrame(cam, camDecoder, kTimeoutMs);
    dockSender.join();
    REQUIRE(sentDown->ok());
    REQUIRE(gotDown.ok());
    CHECK(gotDown->data().seq() == 2);
    CHECK(gotDown->data().bytes() == down.data().bytes());

    // Nothing sent: the read times out, and the connection still works afterwards.
    requireError(receiveFrame(dock, dockDecoder, 100), Errc::Io, {"timed out"});
    requireError(receiveFrame(cam, camDecoder, 100), Errc::Io, {"timed out"});
    REQUIRE(sendFrame(cam, done, kTimeoutMs).ok());
    REQUIRE(receiveFrame(dock, dockDecoder, kTimeoutMs).ok());

    // An oversized frame is refused before anything is written.
    requireError(sendFrame(cam, dataFrame(3, kMaxFrameBytes), kTimeoutMs), Errc::Protocol,
                 {"exceeds the 1 MiB limit"});

    cam.close();
    requireError(receiveFrame(dock, dockDecoder, kTimeoutMs), Errc::Io,
                 {"connection closed by peer"});
    dock.close();
}

TEST_CASE("tls: mutual handshake, peer ids, frames both ways including 1 MiB")
{
    checkMutualSession(tlsConnect);
}

TEST_CASE("tls openssl client: mutual handshake, peer ids, frames both ways including 1 MiB")
{
    checkMutualSession(tlsConnectOpenssl);
}

TEST_CASE("tls: the dock's close is seen by the camera, and a dead port fails to connect")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    Connection c = connectPair(agency.config(pki::CertKind::Dock, "dock-01"),
                               agency.config(pki::CertKind::Device, "cam-0001"));
    REQUIRE(c.client->ok());
    REQUIRE(c.server->ok());
    (**c.server)->close();
    FrameDecoder decoder;
    requireError(receiveFrame(***c.client, decoder, kTimeoutMs), Errc::Io,
                 {"connection closed by peer"});

    // The listener is gone: nothing listens on its port any more.
    auto listener =
        TlsListener::listen("127.0.0.1", 0, agency.config(pki::CertKind::Dock, "dock-01"));
    REQUIRE(listener.ok());
    const uint16_t port = (*listener)->port();
    (*listener)->close();
    requireError((*listener)->accept(100), Errc::Io, {"closed"});
    requireError(
        tlsConnect("127.0.0.1", port, agency.config(pki::CertKind::Device, "cam-0001"), kTimeoutMs),
        Errc::Io, {"connect failed"});
}

TEST_CASE("tls: accept times out when no camera connects")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    auto listener =
        TlsListener::listen("127.0.0.1", 0, agency.config(pki::CertKind::Dock, "dock-01"));
    REQUIRE(listener.ok());
    requireError((*listener)->accept(100), Errc::Io, {"timed out"});
}

// Each way a certificate can be bad, checked on both sides: the dock rejecting the
// camera, and the camera rejecting the dock. `bad` is the side whose certificate or
// trust material is spoiled by the scenario.
enum class Rejecter { Dock, Camera };

void requireRejected(Rejecter who, const TlsConfig &dockConfig, const TlsConfig &camConfig,
                     std::initializer_list<std::string> phrases, Connector connect = tlsConnect)
{
    Connection c = connectPair(dockConfig, camConfig, connect);
    if (who == Rejecter::Dock) {
        requireError(*c.server, Errc::Cert, {"client certificate rejected"});
        requireError(*c.server, Errc::Cert, phrases);
        REQUIRE_FALSE(c.client->ok());
        INFO("camera saw: " << c.client->error().message);
        CHECK(c.client->error().code == Errc::Protocol);
    } else {
        requireError(*c.client, Errc::Cert, {"dock certificate rejected"});
        requireError(*c.client, Errc::Cert, phrases);
        REQUIRE_FALSE(c.server->ok());
        INFO("dock saw: " << c.server->error().message);
        CHECK((c.server->error().code == Errc::Protocol || c.server->error().code == Errc::Io));
    }
}

TEST_CASE("tls: a certificate from another agency CA is rejected by both sides")
{
    Agency agency("Metro Police");
    Agency other("County Sheriff");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    other.issue(pki::CertKind::Dock, "dock-01", 365);
    other.issue(pki::CertKind::Device, "cam-0001", 365);
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("the dock rejects a camera of another agency")
    {
        TlsConfig foreignCam = other.config(pki::CertKind::Device, "cam-0001");
        foreignCam.trustAnchorsDer = cam.trustAnchorsDer;
        foreignCam.crlsDer = cam.crlsDer;
        requireRejected(Rejecter::Dock, dock, foreignCam,
                        {"County Sheriff", "does not chain to the trusted agency CA"});
    }
    SECTION("the camera rejects a dock of another agency")
    {
        TlsConfig foreignDock = other.config(pki::CertKind::Dock, "dock-01");
        foreignDock.trustAnchorsDer = dock.trustAnchorsDer;
        foreignDock.crlsDer = dock.crlsDer;
        requireRejected(Rejecter::Camera, foreignDock, cam,
                        {"County Sheriff", "not one of the trust anchors"});
    }
}

TEST_CASE("tls: expired and not yet valid certificates are rejected by both sides")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    // Issued eight days ago for two days; issued for two days from tomorrow.
    agency.issueAt(-8, pki::CertKind::Dock, "dock-old", 2);
    agency.issueAt(-8, pki::CertKind::Device, "cam-old", 2);
    agency.issueAt(1, pki::CertKind::Dock, "dock-new", 2);
    agency.issueAt(1, pki::CertKind::Device, "cam-new", 2);
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("the dock rejects an expired camera certificate")
    {
        requireRejected(Rejecter::Dock, dock, agency.config(pki::CertKind::Device, "cam-old"),
                        {"cam-old", "expired"});
    }
    SECTION("the camera rejects an expired dock certificate")
    {
        requireRejected(Rejecter::Camera, agency.config(pki::CertKind::Dock, "dock-old"), cam,
                        {"dock-old", "expired"});
    }
    SECTION("the dock rejects a camera certificate that is not yet valid")
    {
        requireRejected(Rejecter::Dock, dock, agency.config(pki::CertKind::Device, "cam-new"),
                        {"cam-new", "not yet valid"});
    }
    SECTION("the camera rejects a dock certificate that is not yet valid")
    {
        requireRejected(Rejecter::Camera, agency.config(pki::CertKind::Dock, "dock-new"), cam,
                        {"dock-new", "not yet valid"});
    }
}

TEST_CASE("tls: revoked certificates are rejected by both sides")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    agency.issue(pki::CertKind::Dock, "dock-lost", 365);
    agency.issue(pki::CertKind::Device, "cam-lost", 365);
    REQUIRE(agency.store->revoke("dock-lost", "keyCompromise").ok());
    REQUIRE(agency.store->revoke("cam-lost", "keyCompromise").ok());
    REQUIRE(agency.store->writeCrl(30).ok());
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("the dock rejects a revoked camera")
    {
        requireRejected(Rejecter::Dock, dock, agency.config(pki::CertKind::Device, "cam-lost"),
                        {"cam-lost", "revoked"});
    }
    SECTION("the camera rejects a revoked dock")
    {
        requireRejected(Rejecter::Camera, agency.config(pki::CertKind::Dock, "dock-lost"), cam,
                        {"dock-lost", "revoked"});
    }
}

TEST_CASE("tls: a missing or stale CRL fails the handshake on both sides")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    // A CRL issued five days ago for two days, then a current one again.
    agency.clock->setUtcMs(utcNowMs() - 5 * kDayMs);
    REQUIRE(agency.store->writeCrl(2).ok());
    const Bytes staleCrl = agency.store->crlDer();
    agency.clock->setUtcMs(utcNowMs());
    REQUIRE(agency.store->writeCrl(30).ok());
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("the dock without a CRL")
    {
        TlsConfig noCrl = dock;
        noCrl.crlsDer.clear();
        requireRejected(Rejecter::Dock, noCrl, cam, {"no CRL from", "Metro Police"});
    }
    SECTION("the camera without a CRL")
    {
        TlsConfig noCrl = cam;
        noCrl.crlsDer.clear();
        requireRejected(Rejecter::Camera, dock, noCrl, {"no CRL from", "Metro Police"});
    }
    SECTION("the dock with a stale CRL")
    {
        TlsConfig stale = dock;
        stale.crlsDer = {staleCrl};
        requireRejected(Rejecter::Dock, stale, cam, {"CRL from", "expired"});
    }
    SECTION("the camera with a stale CRL")
    {
        TlsConfig stale = cam;
        stale.crlsDer = {staleCrl};
        requireRejected(Rejecter::Camera, dock, stale, {"CRL from", "expired"});
    }
}

TEST_CASE("tls: a configured time replaces the system clock on both sides")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    // Forty days on, the 30-day CRL each side holds is stale.
    SECTION("the dock's clock")
    {
        dock.nowUtcMs = utcNowMs() + 40 * kDayMs;
        requireRejected(Rejecter::Dock, dock, cam, {"CRL from", "expired"});
    }
    SECTION("the camera's clock")
    {
        cam.nowUtcMs = utcNowMs() + 40 * kDayMs;
        requireRejected(Rejecter::Camera, dock, cam, {"CRL from", "expired"});
    }
}

TEST_CASE("tls: a key that does not match the certificate is a configuration error")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    agency.issue(pki::CertKind::Device, "cam-0002", 365);
    TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");
    const TlsConfig cam2 = agency.config(pki::CertKind::Device, "cam-0002");

    auto listener = TlsListener::listen("127.0.0.1", 0, dock);
    REQUIRE(listener.ok());
    cam.ownKeyDer = cam2.ownKeyDer;
    requireError(tlsConnect("127.0.0.1", (*listener)->port(), cam, kTimeoutMs), Errc::Config,
                 {"does not match"});
    dock.ownKeyDer = cam2.ownKeyDer;
    requireError(TlsListener::listen("127.0.0.1", 0, dock), Errc::Config, {"does not match"});
}

// The OpenSSL client keeps the camera's rules: the same rejections, the same error codes.
TEST_CASE("tls openssl client: rejects a dock of another agency CA")
{
    Agency agency("Metro Police");
    Agency other("County Sheriff");
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    other.issue(pki::CertKind::Dock, "dock-01", 365);
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");
    TlsConfig foreignDock = other.config(pki::CertKind::Dock, "dock-01");
    foreignDock.trustAnchorsDer = cam.trustAnchorsDer;
    foreignDock.crlsDer = cam.crlsDer;
    // The dock sends its CA with its certificate; like the dock, this client checks the
    // whole presented chain and names the foreign CA.
    requireRejected(Rejecter::Camera, foreignDock, cam,
                    {"County Sheriff", "does not chain to the trusted agency CA"},
                    tlsConnectOpenssl);
}

TEST_CASE("tls openssl client: rejects a revoked or expired dock")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    agency.issue(pki::CertKind::Dock, "dock-lost", 365);
    agency.issueAt(-8, pki::CertKind::Dock, "dock-old", 2);
    REQUIRE(agency.store->revoke("dock-lost", "keyCompromise").ok());
    REQUIRE(agency.store->writeCrl(30).ok());
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("revoked")
    {
        requireRejected(Rejecter::Camera, agency.config(pki::CertKind::Dock, "dock-lost"), cam,
                        {"dock-lost", "revoked"}, tlsConnectOpenssl);
    }
    SECTION("expired")
    {
        requireRejected(Rejecter::Camera, agency.config(pki::CertKind::Dock, "dock-old"), cam,
                        {"dock-old", "expired"}, tlsConnectOpenssl);
    }
}

TEST_CASE("tls openssl client: a missing or stale CRL, also at a configured time, fails")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    agency.clock->setUtcMs(utcNowMs() - 5 * kDayMs);
    REQUIRE(agency.store->writeCrl(2).ok());
    const Bytes staleCrl = agency.store->crlDer();
    agency.clock->setUtcMs(utcNowMs());
    REQUIRE(agency.store->writeCrl(30).ok());
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");
    TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    SECTION("no CRL")
    {
        cam.crlsDer.clear();
        requireRejected(Rejecter::Camera, dock, cam, {"no CRL from", "Metro Police"},
                        tlsConnectOpenssl);
    }
    SECTION("a stale CRL")
    {
        cam.crlsDer = {staleCrl};
        requireRejected(Rejecter::Camera, dock, cam, {"CRL from", "expired"}, tlsConnectOpenssl);
    }
    SECTION("forty days on, the current CRL is stale")
    {
        cam.nowUtcMs = utcNowMs() + 40 * kDayMs;
        requireRejected(Rejecter::Camera, dock, cam, {"CRL from", "expired"}, tlsConnectOpenssl);
    }
}

TEST_CASE("tls openssl client: the dock refusing the camera's certificate fails the handshake")
{
    Agency agency("Metro Police");
    Agency other("County Sheriff");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-lost", 365);
    other.issue(pki::CertKind::Device, "cam-0001", 365);
    REQUIRE(agency.store->revoke("cam-lost", "keyCompromise").ok());
    REQUIRE(agency.store->writeCrl(30).ok());
    const TlsConfig dock = agency.config(pki::CertKind::Dock, "dock-01");

    SECTION("a revoked camera")
    {
        Connection c =
            connectPair(dock, agency.config(pki::CertKind::Device, "cam-lost"), tlsConnectOpenssl);
        requireError(*c.server, Errc::Cert, {"client certificate rejected", "cam-lost", "revoked"});
        requireError(*c.client, Errc::Protocol,
                     {"handshake with dock 127.0.0.1:", "refused the connection with a fatal TLS "
                                                        "alert"});
    }
    SECTION("a camera of another agency")
    {
        TlsConfig foreignCam = other.config(pki::CertKind::Device, "cam-0001");
        foreignCam.trustAnchorsDer = dock.trustAnchorsDer;
        foreignCam.crlsDer = dock.crlsDer;
        Connection c = connectPair(dock, foreignCam, tlsConnectOpenssl);
        requireError(*c.server, Errc::Cert,
                     {"County Sheriff", "does not chain to the trusted agency CA"});
        requireError(*c.client, Errc::Protocol, {"fatal TLS alert"});
    }
}

TEST_CASE("tls openssl client: configuration errors and a dead port")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    agency.issue(pki::CertKind::Device, "cam-0002", 365);
    auto listener =
        TlsListener::listen("127.0.0.1", 0, agency.config(pki::CertKind::Dock, "dock-01"));
    REQUIRE(listener.ok());
    const uint16_t port = (*listener)->port();
    const TlsConfig cam = agency.config(pki::CertKind::Device, "cam-0001");

    TlsConfig wrongKey = cam;
    wrongKey.ownKeyDer = agency.config(pki::CertKind::Device, "cam-0002").ownKeyDer;
    requireError(tlsConnectOpenssl("127.0.0.1", port, wrongKey, kTimeoutMs), Errc::Config,
                 {"TLS client", "does not match"});
    TlsConfig noCert = cam;
    noCert.ownCertChainDer.clear();
    requireError(tlsConnectOpenssl("127.0.0.1", port, noCert, kTimeoutMs), Errc::Config,
                 {"no certificate configured"});
    TlsConfig noCa = cam;
    noCa.trustAnchorsDer.clear();
    requireError(tlsConnectOpenssl("127.0.0.1", port, noCa, kTimeoutMs), Errc::Config,
                 {"no agency CA certificate"});

    (*listener)->close();
    requireError(tlsConnectOpenssl("127.0.0.1", port, cam, kTimeoutMs), Errc::Io,
                 {"connect failed"});
}

TEST_CASE("tls openssl client: a dock that never answers times out")
{
    Agency agency("Metro Police");
    agency.issue(pki::CertKind::Dock, "dock-01", 365);
    agency.issue(pki::CertKind::Device, "cam-0001", 365);
    // A listener nobody accepts on: the kernel completes the TCP connection, the
    // ClientHello gets no answer.
    auto listener =
        TlsListener::listen("127.0.0.1", 0, agency.config(pki::CertKind::Dock, "dock-01"));
    REQUIRE(listener.ok());
    requireError(tlsConnectOpenssl("127.0.0.1", (*listener)->port(),
                                   agency.config(pki::CertKind::Device, "cam-0001"), 200),
                 Errc::Io, {"handshake with dock", "timed out"});
}

} // namespace
} // namespace bwc::net
