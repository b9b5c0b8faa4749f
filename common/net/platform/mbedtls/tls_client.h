#pragma once

// The camera's side of the offload transport: a TLS client over mbedTLS (2.28 or 3.6).

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/error.h"
#include "common/net/tls.h"

namespace bwc::net {

// Connects to the dock at host:port and runs the TLS handshake, all within `timeoutMs`.
// TLS 1.2 with ECDHE-ECDSA-AES-128/256-GCM only; presents config.ownCertChainDer and
// checks the dock's chain against config.trustAnchorsDer and config.crlsDer at
// config.nowUtcMs. Errc::Cert if the dock's certificate is rejected (the message says
// why), Errc::Protocol if the dock refused ours or the handshake failed, Errc::Io for
// connection failures and timeouts, Errc::Config for an unusable own key or certificate.
Expected<std::unique_ptr<TlsStream>> tlsConnect(const std::string &host, uint16_t port,
                                                const TlsConfig &config, int timeoutMs);

} // namespace bwc::net
