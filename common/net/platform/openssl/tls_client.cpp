// The OpenSSL client of the offload transport. The context, the check of the dock's chain
// inside the handshake and the stream are the server's (ossl_common.h); this file only
// connects and says what a failed handshake means from the camera's side.

#include "common/net/platform/openssl/tls_client.h"

#include <memory>
#include <string>
#include <utility>

#include <openssl/ssl.h>

#include "common/crypto/platform/openssl/openssl_util.h"
#include "common/net/platform/openssl/ossl_common.h"
#include "common/net/socket.h"

namespace bwc::net {

Expected<std::unique_ptr<TlsStream>> tlsConnectOpenssl(const std::string &host, uint16_t port,
                                                       const TlsConfig &config, int timeoutMs)
{
    const Deadline deadline(timeoutMs);
    const std::string endpoint = endpointName(host, port);
    const std::string what = "TLS handshake with dock " + endpoint;
    BWC_ASSIGN(context, ossltls::Context::create(ossltls::Side::Client, config));
    BWC_ASSIGN(fd, tcpConnect(host, port, timeoutMs));
    if (deadline.expired())
        return Error(Errc::Io, what + ": timed out after " + std::to_string(timeoutMs) + " ms");

    ossltls::SslPtr ssl(SSL_new(context->get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1)
        return crypto::ossl::opensslError(Errc::Crypto, what + ": SSL_new failed");
    // TLS 1.2 only, as the camera: with TLS 1.3 the client finishes before the dock has
    // judged its certificate, so a refusal would only show at the first read.
    if (SSL_set_max_proto_version(ssl.get(), TLS1_2_VERSION) != 1)
        return crypto::ossl::opensslError(Errc::Crypto, what + ": cannot limit TLS to 1.2");
    // The dock is identified by its certificate's CN (checked by the caller), not by host
    // name: no SNI, no host name check.
    SSL_set_connect_state(ssl.get());

    ossltls::PeerCheck check;
    auto done = context->handshake(ssl.get(), fd.get(), check, deadline, timeoutMs, what);
    if (!done) {
        if (check.error)
            return Error(Errc::Cert, what + ": dock certificate rejected: " + check.error->message);
        Error error = std::move(done).error();
        if (check.peerAlert)
            return Error(Errc::Protocol,
                         error.message +
                             "; the dock refused the connection with a fatal TLS alert (usually "
                             "this camera's certificate was rejected: expired, revoked or from "
                             "another agency CA); see the dock's log");
        return error;
    }
    if (check.commonName.empty() || check.error)
        return Error(Errc::Internal, what + ": completed without a verified dock certificate");
    return std::unique_ptr<TlsStream>(std::make_unique<ossltls::Stream>(
        std::move(fd), std::move(ssl), std::move(context), "dock " + endpoint, std::move(check)));
}

} // namespace bwc::net
