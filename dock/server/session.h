#pragma once

// One offload session on the dock (proto/bwc/v1/offload.proto, the normative frame-by-
// frame description): Hello -> Welcome, then Offer -> Stored | Resume, Data... -> Stored,
// Done -> Receipt, Wiped -> Stored + Receipt, a second Done ends it; Abort on any
// protocol error, timeout or shutdown. Run by DockServer on the session's own thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/base/clock.h"
#include "common/crypto/crypto.h"
#include "common/net/tls.h"
#include "dock/server/commit_scheduler.h"
#include "dock/server/crl_source.h"
#include "dock/server/dock_server.h"
#include "dock/store/evidence_store.h"

namespace bwc::dock {

using net::kOffloadProtocolVersion;
// Received bytes are flushed (and the durable length recorded for Resume) every this many
// bytes, behind the receiving (IncomingFile::syncBehind), and synchronously whenever a
// session ends before its file is complete and before a commit.
constexpr uint64_t kSyncEveryBytes = 8u << 20;
// The largest Data chunk (offload.proto).
constexpr size_t kMaxDataBytes = 1u << 20;
constexpr size_t kSessionNonceBytes = 16;
// Largest <device_id>.conf handed out in a Welcome.
constexpr uint64_t kMaxCameraConfigBytes = 256u << 10;

// The devices in session now: a second session of the same device is refused.
class DeviceRegistry
{
public:
    // False if the device is already in session.
    bool claim(const std::string &deviceId);
    void release(const std::string &deviceId);

private:
    std::mutex mutex_;
    std::set<std::string> active_;
};

// What a session shares with the server and the other sessions; all of it outlives the
// session.
struct SessionEnv {
    store::EvidenceStore &store;
    const crypto::Backend &backend;
    const Clock &clock;
    const DockServerOptions &options;
    CommitScheduler &scheduler; // every store call runs under a lease
    CrlSource &crl;
    DeviceRegistry &devices;
    const std::atomic<bool> &stopping; // set by DockServer::stop()
};

// Runs a session to its end on the calling thread and closes the stream. Never throws;
// what went wrong is in the summary's `error` (and was sent to the camera as Abort when
// the connection still stood).
SessionSummary runSession(SessionEnv &env, std::unique_ptr<net::TlsStream> stream);

} // namespace bwc::dock
