#pragma once

// The offload transport: TCP + TLS (1.2 or 1.3) with mutual certificate authentication
// against the agency CA and its CRL (DESIGN.md sections 4 and 8). The camera is the TLS
// client (mbedTLS, platform/mbedtls/tls_client.h); the dock is the server (OpenSSL 3,
// platform/openssl/tls_server.h). Both sides accept only ECDHE key exchange with AES-GCM
// and P-256 ECDSA certificates, and reject a peer whose chain does not lead to a trust
// anchor, whose certificate is expired, not yet valid or revoked, or whose CA's CRL is
// missing or stale.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bwc/v1/offload.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/net/frame.h"

namespace bwc::net {

// One TLS connection after a successful handshake. Not thread-safe: one user at a time.
class TlsStream
{
public:
    virtual ~TlsStream() = default;

    // Reads at least one byte and at most out.size() bytes. Errc::Io "timed out" if
    // nothing arrived within `timeoutMs` (negative: wait forever), Errc::Io
    // "connection closed by peer" on an orderly close or EOF, Errc::Io/Protocol for
    // other failures.
    virtual Expected<size_t> read(MutableByteView out, int timeoutMs) = 0;
    // Writes all of `data` within `timeoutMs` (Errc::Io "timed out" otherwise).
    virtual Expected<void> writeAll(ByteView data, int timeoutMs) = 0;
    // Sends close_notify (best effort) and closes the socket. Idempotent.
    virtual void close() = 0;

    // The peer's certificate chain as it presented it, leaf first (DER).
    virtual const std::vector<Bytes> &peerCertChainDer() const = 0;
    // The subject CN of the verified peer leaf certificate (device or dock id).
    virtual std::string peerId() const = 0;
};

struct TlsConfig {
    // Our certificate, then any intermediates (DER).
    std::vector<Bytes> ownCertChainDer;
    // Our private key: PKCS#8 or SEC1 DER of a P-256 key matching ownCertChainDer[0].
    SecretBytes ownKeyDer;
    // The agency CA certificate(s) a peer must chain to (DER).
    std::vector<Bytes> trustAnchorsDer;
    // A current CRL from every CA in the peer's path (DER).
    std::vector<Bytes> crlsDer;
    // The time to check certificates and CRLs at, ms since the epoch; 0 = system clock.
    int64_t nowUtcMs = 0;
};

// Loads a TlsConfig from PEM files as `bwc pki` writes them: `certChainPath` (leaf, then
// CA), `keyPath` (PKCS#8), `caPath`, `crlPath`.
Expected<TlsConfig> loadTlsConfig(const std::string &certChainPath, const std::string &keyPath,
                                  const std::string &caPath, const std::string &crlPath);

// encodeFrame + writeAll, after checkFrame().
Expected<void> sendFrame(TlsStream &stream, const v1::Frame &frame, int timeoutMs);
// Reads until `decoder` yields a frame, within `timeoutMs` for the whole frame (Errc::Io
// "timed out"). Reads no further than the end of that frame, so the next call starts at
// the next frame. Errc::Protocol if the stream is not valid framing (see FrameDecoder).
Expected<v1::Frame> receiveFrame(TlsStream &stream, FrameDecoder &decoder, int timeoutMs);

} // namespace bwc::net
