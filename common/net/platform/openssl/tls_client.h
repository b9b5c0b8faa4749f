#pragma once

// A client for the offload transport over OpenSSL 3, with the same security rules as the
// camera's mbedTLS client (platform/mbedtls/tls_client.h). Used where the camera's TLS
// cost must not hide the dock's, e.g. the dock-side offload benchmark.

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/error.h"
#include "common/net/tls.h"

namespace bwc::net {

// Connects to the dock at host:port and runs the TLS handshake, all within `timeoutMs`.
// TLS 1.2 (the version the camera speaks, so the dock does the work a camera causes),
// ECDHE-ECDSA with AES-128/256-GCM, P-256 only; presents config.ownCertChainDer with
// config.ownKeyDer and checks the dock's chain against config.trustAnchorsDer and
// config.crlsDer (a current CRL from the CA is required) at config.nowUtcMs (0: the
// system clock). Errc::Cert if the dock's certificate is rejected (the message says why),
// Errc::Protocol if the dock refused ours or the handshake failed otherwise, Errc::Io for
// connection failures and timeouts, Errc::Config for an unusable own key or certificate.
Expected<std::unique_ptr<TlsStream>> tlsConnectOpenssl(const std::string &host, uint16_t port,
                                                       const TlsConfig &config, int timeoutMs);

} // namespace bwc::net
