#pragma once

// A scripted dock for the camera's offload tests: the dock's real TLS listener (OpenSSL)
// and one session that follows proto/bwc/v1/offload.proto frame by frame, signing its
// receipts with the dock key, with knobs to drop the connection, refuse, resume, abort,
// hold the session or forge its receipts. It keeps in memory what it received.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bwc/v1/offload.pb.h"
#include "common/crypto/crypto.h"
#include "common/net/frame.h"
#include "common/net/platform/openssl/tls_server.h"
#include "common/net/tls.h"

namespace bwc::fw::test {

inline const std::string kDockId = "dock-01";

struct Knobs {
    enum class Drop { None, AfterHello, MidData, BeforeReceipt };
    Drop drop = Drop::None;
    std::string abortAfterHello;
    // Called on the dock's thread between Hello and Welcome (a test can hold it there).
    std::function<void()> beforeWelcome;
    int64_t dockUtcMs = 0;
    std::string officer;
    std::string configFile;
    Bytes crl;
    std::optional<uint64_t> refuseSeq;
    // Answers the WIPE manifest with Stored{accepted=false} (then the receipt as before).
    bool refuseWipe = false;
    std::map<uint64_t, uint64_t> resumeAt;
    // Applied to the first receipt (after Done) before it is signed.
    std::function<void(v1::Receipt &)> tamper;
    // Signs the first receipt with this key instead of the dock's.
    std::optional<crypto::P256KeyPair> forgeKey;
};

struct DockLog {
    v1::Hello hello;
    std::vector<uint64_t> offered;
    std::map<uint64_t, v1::SignedManifest> manifests;
    std::map<uint64_t, uint64_t> dataStart;   // first Data offset per seq
    std::map<uint64_t, std::string> received; // Data bytes per seq, from dataStart
    uint64_t dataFrames = 0;
    int dones = 0;
    std::vector<std::string> receiptBytes; // every receipt sent, exact bytes
    std::optional<v1::SignedManifest> wiped;
    std::string error; // what went wrong on the dock's side (tests check it is empty)
};

class ScriptedDock
{
public:
    // Listens on 127.0.0.1 (ephemeral port) and serves one session on its own thread:
    // waits up to `acceptTimeoutMs` for the camera (until destroyed when negative), then up
    // to `timeoutMs` for each frame. `backend` (the dock's, OpenSSL) signs receipts with
    // `key` and must outlive the dock.
    ScriptedDock(const crypto::Backend &backend, net::TlsConfig tls, crypto::P256KeyPair key,
                 Knobs knobs, int timeoutMs = 5000, int acceptTimeoutMs = 5000);
    ~ScriptedDock();
    ScriptedDock(const ScriptedDock &) = delete;
    ScriptedDock &operator=(const ScriptedDock &) = delete;

    uint16_t port() const { return listener_->port(); }
    // Waits for the session to end and returns what the dock saw.
    const DockLog &join();

private:
    Expected<v1::Frame> receive();
    Expected<void> send(const v1::Frame &f);
    Expected<v1::SignedReceipt> receipt(bool first);
    Expected<void> session();
    void serve();

    const crypto::Backend &backend_;
    crypto::P256KeyPair key_;
    Knobs knobs_;
    int timeoutMs_;
    int acceptTimeoutMs_;
    std::atomic<bool> stopping_{false};
    std::unique_ptr<net::TlsListener> listener_;
    std::unique_ptr<net::TlsStream> stream_;
    net::FrameDecoder decoder_;
    std::set<uint64_t> accepted_;
    DockLog log_;
    std::thread thread_;
};

} // namespace bwc::fw::test
