#pragma once

// The camera's side of the offload protocol (proto/bwc/v1/offload.proto, DESIGN.md
// section 8): connect to the dock over mutual TLS, apply what the Welcome brings (time,
// officer, configuration, CRL), offer every manifest of the journal with its clip file in
// seq order (resuming where the dock left off), take the signed receipt, delete only the
// receipted clips, sign the WIPE manifest and hand it over.
//
// Nothing is deleted before a receipt that verifies: a connection that drops at any byte
// leaves the camera with everything it had, and the next session resends it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bwc/v1/offload.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "common/net/tls.h"

namespace bwc::fw {

using net::kOffloadProtocolVersion;

// What an offload needs from the rest of the camera. Called on the offload's thread.
class OffloadHost
{
public:
    virtual ~OffloadHost() = default;

    // The camera's UTC time (what Hello.device_utc_ms and the clock step compare).
    virtual int64_t utcMs() const = 0;
    // Steps the camera's clock to `newUtcMs` (the dock's time). The CLOCK_SET manifest is
    // signed by the offload after this returns.
    virtual Expected<void> setClock(int64_t newUtcMs) = 0;
    // Saves the officer assigned for the next shift (watermark and manifests use it).
    virtual Expected<void> setOfficer(const std::string &officerId) = 0;
    // Validates a configuration file sent by the dock and saves it in place of the
    // camera's configuration (applied at the next start). Errc::Config naming the field
    // when it is not valid: nothing is saved then. Errc::Exists when exactly these bytes
    // are already saved and wait for the next start (a dock sends them again at every
    // docking until then): nothing to do, and no second CONFIG manifest.
    virtual Expected<void> saveConfig(ByteView configFile) = 0;
    // SHA-256 of the configuration file the camera runs with (32 bytes).
    virtual Bytes configSha256() const = 0;
    // Saves a CRL (DER) that the offload has checked: signed by the agency CA, current,
    // and newer (thisUpdate) than every CRL of that CA in OffloadSettings::tls.crlsDer.
    virtual Expected<void> saveCrl(ByteView crlDer) = 0;
    virtual std::string fwVersion() const = 0;
    virtual v1::StorageState storage() const = 0;
    // Whether the officer flagged the clip (the dock serves such cameras first).
    virtual bool flagged(ByteView clipUuid) const = 0;
};

// Files next to a clip "<uuid>.bwcclip" in OffloadSettings::clipDir that go with it and
// are deleted with it after a receipt: the checkpoint log "<uuid>.ckpt" (normally gone
// once sealed) and the officer's flag "<uuid>.flag".
constexpr std::string_view kClipFlagSuffix = ".flag";

struct OffloadSettings {
    std::string host;
    uint16_t port = 0;
    // Device certificate chain and key, the agency CA, the camera's CRL.
    net::TlsConfig tls;
    // The folder holding <uuid>.bwcclip files.
    std::string clipDir;
    // Connect + handshake, and each wait for a frame from the dock.
    int connectTimeoutMs = 10'000;
    int ioTimeoutMs = 30'000;
    // Size of the Data frames (at most 1 MiB).
    size_t dataChunkBytes = 256 * 1024;
    // Called after every Data frame sent: bytes sent so far in this session, and the
    // total of the files offered.
    std::function<void(uint64_t sent, uint64_t total)> progress;
    // Set from another thread to stop: it is looked at between frames and at least every
    // 200 ms while waiting for the dock. runOffload then returns Errc::Io "offload
    // cancelled" having deleted nothing unreceipted.
    const std::atomic<bool> *cancel = nullptr;
    // How to open the TLS connection; empty: the camera's mbedTLS client (net::tlsConnect).
    // The dock-side benchmark sets an OpenSSL client here so the camera's TLS cost does
    // not hide the dock's.
    std::function<Expected<std::unique_ptr<net::TlsStream>>(
        const std::string &host, uint16_t port, const net::TlsConfig &tls, int timeoutMs)>
        connect;
};

struct OffloadResult {
    std::string dockId;
    uint64_t manifestsOffered = 0;
    uint64_t manifestsStored = 0;    // accepted (including idempotent resends)
    uint64_t bytesSent = 0;          // clip bytes sent as Data in this session
    uint64_t bytesResumedFrom = 0;   // bytes the dock already held (Resume offsets)
    std::vector<uint64_t> wipedSeqs; // clips deleted after the receipt
    uint64_t receiptLastSeq = 0;     // 0 when no receipt was given
    uint64_t wipeSeq = 0;            // the WIPE manifest signed (0: none)
    bool wipeReceipted = false;      // the dock stored and receipted the WIPE manifest
    bool clockSet = false;
    int64_t clockOldUtcMs = 0, clockNewUtcMs = 0;
    bool configSaved = false;
    // Why a configuration from the dock was not applied (it was invalid): nothing was
    // saved, no CONFIG manifest was signed, and the offload went on.
    std::string configError;
    bool crlSaved = false;
    // Why the dock's CRL was not kept (not signed by the agency CA, not newer, ...).
    std::string crlError;
    std::string officerId; // from the Welcome
    // The dock's reason when it refused a manifest (the camera kept that clip and every
    // later one).
    std::string refusedReason;
};

// Runs one session. Errors: Errc::Io for connection failures and timeouts, Errc::Cert
// when the dock's certificate is rejected, Errc::Protocol for a dock that breaks the
// protocol or sends Abort, Errc::Auth for a receipt that does not verify. In every error
// case the camera has deleted nothing that a verified receipt did not cover.
//
// Decisions where the protocol text leaves room:
// - A configuration the host refuses (invalid) is not an offload error: nothing is saved,
//   no CONFIG manifest is signed, OffloadResult::configError says why, the clips still go.
//   Likewise a CRL that is not the agency's or not newer (OffloadResult::crlError).
// - Welcome.receipt is not acted on: every journal manifest is offered anyway (the dock
//   answers Stored at once for what it holds) and the receipt after Done frees the clips.
// - Manifests the clip writer signs during the session are offered too, before Done.
// - After a receipt, the journal keeps any clip manifest whose file the camera still holds
//   (a clip not receipted with matching bytes), so it is offered again next time.
// - The WIPE manifest is handed over (Wiped) only when it directly follows the receipt's
//   last_seq; otherwise (a refusal left seqs between, or a clip was sealed meanwhile) it
//   stays in the journal, the session ends with Done, and the next session offers it.
Expected<OffloadResult> runOffload(const crypto::Backend &backend, chain::DeviceIdentity &identity,
                                   chain::ChainState &chain, OffloadHost &host,
                                   const OffloadSettings &settings);

// Checks a receipt as the camera must before deleting anything: signed by the leaf of
// `dockCertChainDer` (the dock's TLS certificate, already verified against the CA),
// dock_id equal to `dockId`, device_id equal to `deviceId`, session_nonce equal to
// `sessionNonce`, format_version 1, first_seq <= last_seq. Returns the parsed receipt.
// Errc::Auth naming the field that does not match.
Expected<v1::Receipt> verifyReceipt(const crypto::Backend &backend, const v1::SignedReceipt &sr,
                                    const std::vector<Bytes> &dockCertChainDer,
                                    const std::string &dockId, const std::string &deviceId,
                                    ByteView sessionNonce);

} // namespace bwc::fw
