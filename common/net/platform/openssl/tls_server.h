#pragma once

// The dock's side of the offload transport: a TLS server over OpenSSL 3.

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/error.h"
#include "common/base/unique_fd.h"
#include "common/net/tls.h"

namespace bwc::net {

class TlsListenerImpl;

// How long a connected camera has to complete the TLS handshake.
constexpr int kHandshakeTimeoutMs = 10'000;

// A listening socket and the TLS server configuration; accept() hands out one verified
// connection at a time. accept() may be called from one thread at a time; the streams
// it returns are independent and may be used from other threads.
class TlsListener
{
public:
    // Binds host:port (port 0: an ephemeral port, see port()). TLS 1.2 minimum (1.3
    // allowed), ECDHE-ECDSA with AES-GCM (and the TLS 1.3 AES-GCM suites), P-256 only;
    // clients must present a certificate that chains to config.trustAnchorsDer and is
    // not revoked by a current CRL in config.crlsDer. Errc::Config for an unusable own
    // certificate or key, Errc::Io if the address cannot be bound.
    static Expected<std::unique_ptr<TlsListener>> listen(const std::string &host, uint16_t port,
                                                         const TlsConfig &config);
    ~TlsListener();
    TlsListener(const TlsListener &) = delete;
    TlsListener &operator=(const TlsListener &) = delete;

    uint16_t port() const;

    // Waits up to `timeoutMs` (negative: forever) for a connection, then runs the TLS
    // handshake with a time of its own (kHandshakeTimeoutMs), so a camera that connects
    // at the end of the wait is not cut short. Errc::Io "timed out" if no camera connected;
    // Errc::Cert naming the cause if the camera's certificate is rejected ("client
    // certificate ... revoked", "no CRL from ...", "does not chain to the trusted agency
    // CA"); Errc::Protocol or Errc::Io if the handshake failed otherwise. A failed
    // handshake only affects that connection: the listener keeps working.
    Expected<std::unique_ptr<TlsStream>> accept(int timeoutMs);

    // Stops listening. Streams already accepted are not affected.
    void close();

private:
    explicit TlsListener(std::unique_ptr<TlsListenerImpl> impl);
    std::unique_ptr<TlsListenerImpl> impl_;
};

} // namespace bwc::net
