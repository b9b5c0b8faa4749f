#pragma once

// Internals of the OpenSSL 3 side of the offload transport, shared by the dock's server
// (tls_server.h) and the OpenSSL client (tls_client.h): the SSL_CTX both configure the
// same way, the peer check run inside the handshake, the handshake loop and the
// TlsStream over an established SSL.
//
// A peer's chain is checked twice inside the handshake (SSL_CTX_set_cert_verify_callback):
// by OpenSSL (X509_verify_cert against a store holding the agency CA and its CRL, with
// X509_V_FLAG_CRL_CHECK), which also picks the TLS alert, and by the project's own chain
// validation (common/crypto verifyCertChain), which checks that the CRL is current and
// says in its message what failed. Either failing fails the handshake.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/base/unique_fd.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/openssl/openssl_util.h"
#include "common/net/socket.h"
#include "common/net/tls.h"

namespace bwc::net::ossltls {

using SslCtxPtr = std::unique_ptr<SSL_CTX, crypto::ossl::Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, crypto::ossl::Deleter<SSL_free>>;

// Which end of the connection we are: the dock's server, or a client acting as a camera.
enum class Side { Server, Client };

// What the verify callback learned about one connection's peer.
struct PeerCheck {
    std::optional<Error> error;
    std::vector<Bytes> chainDer;
    std::string commonName;
    // The handshake failed on a fatal alert from the peer (e.g. it refused our certificate).
    bool peerAlert = false;
};

// An SSL_CTX for one side, from a TlsConfig: TLS 1.2 minimum, ECDHE-ECDSA with AES-GCM
// (and the TLS 1.3 AES-GCM suites), P-256 only, our certificate chain and key, the trust
// anchors and CRLs, and the peer check. Shared by the SSLs made from it; immutable after
// create(), so connections may run on other threads once their handshake is done.
class Context
{
public:
    // Errc::Config for an unusable own certificate or key, missing trust anchors or an
    // unparseable CRL; Errc::Crypto if OpenSSL cannot be set up.
    static Expected<std::shared_ptr<Context>> create(Side side, const TlsConfig &config);
    ~Context() = default;
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    SSL_CTX *get() const { return ctx_.get(); }

    // Runs the handshake on `ssl` (connect or accept state already set, socket attached)
    // within the deadline, recording the peer check in `check`. On failure returns the
    // error from handleSslResult; `check.error` then says whether (and why) the peer's
    // certificate was rejected, `check.peerAlert` whether the peer ended the handshake
    // with a fatal alert. After success, `check.commonName` is the verified peer id.
    Expected<void> handshake(SSL *ssl, int fd, PeerCheck &check, const Deadline &deadline,
                             int timeoutMs, const std::string &what) const;

private:
    Context(Side side, const TlsConfig &config);
    Expected<void> configure(const TlsConfig &config);
    static int verifyTrampoline(X509_STORE_CTX *ctx, void *self);
    int verifyPeer(X509_STORE_CTX *ctx) const;

    Side side_;
    std::string name_; // "TLS server" / "TLS client", for messages
    std::vector<Bytes> anchors_;
    std::vector<Bytes> crls_;
    int64_t nowUtcMs_;
    std::unique_ptr<crypto::Backend> backend_;
    SslCtxPtr ctx_;
};

// What to do after an SSL_* call returned `ret`: wait for the socket (ok), or the error:
// Errc::Io for timeouts, closes and socket errors, Errc::Protocol for TLS failures (with
// OpenSSL's reasons).
Expected<void> handleSslResult(SSL *ssl, int fd, int ret, const Deadline &deadline, int timeoutMs,
                               const std::string &what);

// A TLS connection after a successful handshake. `peerName` names the other end in
// messages ("camera at 10.0.0.5:40122", "dock 10.0.0.1:7400"). Holds `context` so the
// SSL_CTX and its verify callback outlive the connection.
class Stream final : public TlsStream
{
public:
    Stream(UniqueFd fd, SslPtr ssl, std::shared_ptr<const Context> context, std::string peerName,
           PeerCheck check);
    ~Stream() override { close(); }
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;

    Expected<size_t> read(MutableByteView out, int timeoutMs) override;
    Expected<void> writeAll(ByteView data, int timeoutMs) override;
    void close() override;
    const std::vector<Bytes> &peerCertChainDer() const override { return chain_; }
    std::string peerId() const override { return peerId_; }

private:
    UniqueFd fd_;
    SslPtr ssl_;
    std::shared_ptr<const Context> context_;
    std::string peerName_;
    std::vector<Bytes> chain_;
    std::string peerId_;
};

} // namespace bwc::net::ossltls
