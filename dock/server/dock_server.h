#pragma once

// bwc-dockd's offload service (proto/bwc/v1/offload.proto, DESIGN.md section 8): accepts
// docked cameras over mutual TLS, one thread per session (up to max_sessions at once),
// receives their manifests and clip files into the evidence store, verifies and commits
// them, sends signed receipts and records the cameras' WIPE manifests.
//
// Store commits are serialised (the EvidenceStore is used by one thread at a time);
// sessions of cameras that offer flagged clips are served first when several wait.
// Receiving file bytes, fsyncing them and TLS run in parallel across sessions.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/config.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "common/net/tls.h"
#include "dock/store/evidence_store.h"

namespace bwc::dock {

// What a session did, for the log, the status and the tests.
struct SessionSummary {
    std::string deviceId;
    // The TLS client certificate's common name (net::TlsStream does not expose the peer's
    // address); differs from deviceId when a Hello claimed another device.
    std::string peer;
    uint64_t offered = 0, stored = 0, refused = 0;
    uint64_t bytesReceived = 0;
    uint64_t receiptLastSeq = 0;
    bool wiped = false;   // the camera's WIPE manifest was recorded
    std::string error;    // empty for a session that ended with the protocol
};

struct DockServerOptions {
    std::string host = "127.0.0.1";
    uint16_t port = 0; // 0: ephemeral (see DockServer::port())
    net::TlsConfig tls;
    size_t maxSessions = 8;
    int sessionTimeoutMs = 30'000;
    // The agency evidence key: full decrypt-verify of every clip when present.
    std::optional<crypto::P256KeyPair> evidenceKey;
    // Folder of <device_id>.conf files handed out in Welcome (empty: none).
    std::string cameraConfigDir;
    // The CRL file to send in Welcome and to re-read when it changes (empty: tls.crlsDer[0]).
    std::string crlPath;
    // Free space kept on the store's file system: an offer whose file would leave less is
    // refused with Stored{accepted=false, "dock storage full: ..."} and the camera keeps
    // its clip.
    uint64_t reserveBytes = 1ull << 30;
    // Called after each session ends (any thread), once the device may dock again.
    std::function<void(const SessionSummary &)> onSessionEnd;
};

class DockServer
{
public:
    // Listens (the TLS configuration is checked here: Errc::Config for an unusable own
    // certificate or key). The store, backend and clock must outlive the server. SIGPIPE
    // is ignored from here on unless the program installed its own handler (a camera that
    // disconnects while the dock writes must not end the process). When the CRL file
    // (crlPath) changes, the server listens again on the same port with the new CRL, and
    // every session checks the camera's certificate against the current CRL at Hello.
    static Expected<std::unique_ptr<DockServer>> start(store::EvidenceStore &store,
                                                       const crypto::Backend &backend,
                                                       const Clock &clock,
                                                       DockServerOptions options);
    ~DockServer(); // stop()
    DockServer(const DockServer &) = delete;
    DockServer &operator=(const DockServer &) = delete;

    uint16_t port() const;
    // Sessions running now.
    size_t activeSessions() const;
    // Stops accepting, ends running sessions (Abort "dock shutting down"; partial files
    // stay durable for Resume) and joins every thread. Idempotent.
    void stop();

private:
    class Impl;
    explicit DockServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace bwc::dock
