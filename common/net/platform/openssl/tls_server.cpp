// The dock's TLS server over OpenSSL 3.
//
// A camera's chain is checked twice inside the handshake (SSL_CTX_set_cert_verify_callback):
// by OpenSSL (X509_verify_cert against a store holding the agency CA and its CRL, with
// X509_V_FLAG_CRL_CHECK), which also picks the TLS alert, and by the project's own chain
// validation (common/crypto verifyCertChain), which checks that the CRL is current and
// says in its message what failed. Either failing fails the handshake.

#include "common/net/platform/openssl/tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/base/clock.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/openssl/openssl_util.h"
#include "common/net/socket.h"

namespace bwc::net {

namespace {

namespace ossl = crypto::ossl;

using SslCtxPtr = std::unique_ptr<SSL_CTX, ossl::Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, ossl::Deleter<SSL_free>>;

constexpr const char *kCipherList = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
constexpr const char *kTls13Suites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

// What the verify callback learned about one connection's client.
struct PeerCheck {
    std::optional<Error> error;
    std::vector<Bytes> chainDer;
    std::string commonName;
};

int peerCheckIndex()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

Expected<Bytes> certDer(X509 *cert)
{
    unsigned char *raw = nullptr;
    int len = i2d_X509(cert, &raw);
    if (len <= 0)
        return ossl::opensslError(Errc::Cert, "cannot encode a client certificate");
    ossl::OpensslBuf owned(raw);
    return Bytes(raw, raw + len);
}

std::string peerAddress(int fd)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&addr), &len) < 0)
        return "an unknown address";
    char text[INET6_ADDRSTRLEN] = {};
    uint16_t port = 0;
    if (addr.ss_family == AF_INET) {
        const auto *in = reinterpret_cast<const sockaddr_in *>(&addr);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        port = ntohs(in6->sin6_port);
    }
    return endpointName(text, port);
}

// After a failed handshake: the alert OpenSSL just sent must reach the camera before the
// socket closes. Closing with the camera's last flight still unread would send a TCP reset
// that can discard the alert at the camera, which would then see only "connection reset".
// So: half-close, and read until the camera closes, for at most kLingerMs.
constexpr int kLingerMs = 250;

void lingerClose(UniqueFd fd)
{
    ::shutdown(fd.get(), SHUT_WR);
    const Deadline deadline(kLingerMs);
    std::array<uint8_t, 4096> sink{};
    for (;;) {
        ssize_t n = ::recv(fd.get(), sink.data(), sink.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return;
        if (n < 0 && !waitReady(fd.get(), POLLIN, deadline, kLingerMs, "linger").ok())
            return;
    }
}

class OsslTlsStream final : public TlsStream
{
public:
    OsslTlsStream(UniqueFd fd, SslPtr ssl, std::string peer, PeerCheck check)
        : fd_(std::move(fd)), ssl_(std::move(ssl)), peer_(std::move(peer)),
          chain_(std::move(check.chainDer)), peerId_(std::move(check.commonName))
    {
    }
    ~OsslTlsStream() override { close(); }
    OsslTlsStream(const OsslTlsStream &) = delete;
    OsslTlsStream &operator=(const OsslTlsStream &) = delete;

    Expected<size_t> read(MutableByteView out, int timeoutMs) override;
    Expected<void> writeAll(ByteView data, int timeoutMs) override;
    void close() override;
    const std::vector<Bytes> &peerCertChainDer() const override { return chain_; }
    std::string peerId() const override { return peerId_; }

private:
    UniqueFd fd_;
    SslPtr ssl_;
    std::string peer_;
    std::vector<Bytes> chain_;
    std::string peerId_;
};

// What to do after an SSL_* call returned `ret`: wait (ok), or the error.
Expected<void> handleSslResult(SSL *ssl, int fd, int ret, const Deadline &deadline, int timeoutMs,
                               const std::string &what)
{
    const int err = SSL_get_error(ssl, ret);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        return waitReady(fd, POLLIN, deadline, timeoutMs, what);
    case SSL_ERROR_WANT_WRITE:
        return waitReady(fd, POLLOUT, deadline, timeoutMs, what);
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return Error(Errc::Io, what + ": connection closed by peer");
    case SSL_ERROR_SYSCALL: {
        const int saved = errno;
        ERR_clear_error();
        if (saved == 0 || saved == ECONNRESET || saved == EPIPE)
            return Error(Errc::Io, what + ": connection closed by peer");
        return Error(Errc::Io, what + ": " + std::strerror(saved));
    }
    case SSL_ERROR_SSL: {
        const unsigned long code = ERR_peek_error();
        if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
            ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return Error(Errc::Io, what + ": connection closed by peer (without close_notify)");
        }
        return ossl::opensslError(Errc::Protocol, what + " failed");
    }
    default:
        ERR_clear_error();
        return Error(Errc::Protocol, what + ": OpenSSL error " + std::to_string(err));
    }
}

Expected<size_t> OsslTlsStream::read(MutableByteView out, int timeoutMs)
{
    const std::string what = "TLS read from camera at " + peer_;
    if (!ssl_)
        return Error(Errc::Io, what + ": connection closed");
    if (out.empty())
        return size_t(0);
    const Deadline deadline(timeoutMs);
    for (;;) {
        size_t got = 0;
        int ret = SSL_read_ex(ssl_.get(), out.data(), out.size(), &got);
        if (ret == 1)
            return got;
        BWC_TRY(handleSslResult(ssl_.get(), fd_.get(), ret, deadline, timeoutMs, what));
    }
}

Expected<void> OsslTlsStream::writeAll(ByteView data, int timeoutMs)
{
    const std::string what = "TLS write to camera at " + peer_;
    if (!ssl_)
        return Error(Errc::Io, what + ": connection closed");
    const Deadline deadline(timeoutMs);
    while (!data.empty()) {
        size_t written = 0;
        int ret = SSL_write_ex(ssl_.get(), data.data(), data.size(), &written);
        if (ret == 1) {
            data = data.subspan(written);
            continue;
        }
        BWC_TRY(handleSslResult(ssl_.get(), fd_.get(), ret, deadline, timeoutMs, what));
    }
    return {};
}

void OsslTlsStream::close()
{
    if (!ssl_)
        return;
    // Best effort: one attempt, the socket is non-blocking.
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    ssl_.reset();
    fd_.reset();
}

} // namespace

class TlsListenerImpl
{
public:
    TlsListenerImpl(UniqueFd fd, uint16_t port, const TlsConfig &config)
        : fd_(std::move(fd)), port_(port), anchors_(config.trustAnchorsDer), crls_(config.crlsDer),
          nowUtcMs_(config.nowUtcMs), backend_(crypto::makeOpensslBackend())
    {
    }

    Expected<void> configure(const TlsConfig &config);
    Expected<std::unique_ptr<TlsStream>> accept(int timeoutMs);

    UniqueFd fd_;
    uint16_t port_ = 0;

private:
    static int verifyTrampoline(X509_STORE_CTX *ctx, void *self);
    int verifyPeer(X509_STORE_CTX *ctx);
    Expected<std::unique_ptr<TlsStream>> handshake(UniqueFd fd, const Deadline &deadline,
                                                   int timeoutMs);

    std::vector<Bytes> anchors_;
    std::vector<Bytes> crls_;
    int64_t nowUtcMs_;
    std::unique_ptr<crypto::Backend> backend_;
    SslCtxPtr ctx_;
};

Expected<void> TlsListenerImpl::configure(const TlsConfig &config)
{
    if (config.ownCertChainDer.empty())
        return Error(Errc::Config, "TLS server: no certificate configured for this dock; issue "
                                   "one with `bwc pki issue-dock`");
    if (anchors_.empty())
        return Error(Errc::Config, "TLS server: no agency CA certificate configured; install "
                                   "ca.pem from `bwc pki`");
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    if (!ctx_)
        return ossl::opensslError(Errc::Crypto, "TLS server: SSL_CTX_new failed");
    SSL_CTX *ctx = ctx_.get();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kCipherList) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "P-256") != 1 ||
        SSL_CTX_set1_sigalgs_list(ctx, "ECDSA+SHA256:ECDSA+SHA384") != 1)
        return ossl::opensslError(Errc::Crypto, "TLS server: cannot restrict the protocol to "
                                                "ECDHE-ECDSA with AES-GCM on P-256");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    for (size_t i = 0; i < config.ownCertChainDer.size(); ++i) {
        const Bytes &der = config.ownCertChainDer[i];
        const unsigned char *p = der.data();
        ossl::X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
        if (!cert || p != der.data() + der.size())
            return ossl::opensslError(Errc::Config, "TLS server: own certificate " +
                                                        std::to_string(i + 1) +
                                                        " is not a DER certificate");
        int ok = i == 0 ? SSL_CTX_use_certificate(ctx, cert.get())
                        : SSL_CTX_add1_chain_cert(ctx, cert.get());
        if (ok != 1)
            return ossl::opensslError(Errc::Config, "TLS server: own certificate " +
                                                        std::to_string(i + 1) + " not accepted");
    }
    const unsigned char *keyP = config.ownKeyDer.data();
    ossl::PkeyPtr key(d2i_AutoPrivateKey(nullptr, &keyP, long(config.ownKeyDer.size())));
    if (!key)
        return ossl::opensslError(Errc::Config, "TLS server: own private key cannot be parsed; "
                                                "expected a PKCS#8 or SEC1 P-256 key");
    if (!ossl::isP256Key(*key))
        return Error(Errc::Config, "TLS server: own private key is " +
                                       ossl::describeKey(key.get()) + ", not P-256");
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return ossl::opensslError(Errc::Config, "TLS server: own private key does not match the "
                                                "dock certificate; install the key issued with it");

    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    for (size_t i = 0; i < anchors_.size(); ++i) {
        const unsigned char *p = anchors_[i].data();
        ossl::X509Ptr cert(d2i_X509(nullptr, &p, long(anchors_[i].size())));
        if (!cert || X509_STORE_add_cert(store, cert.get()) != 1)
            return ossl::opensslError(Errc::Config, "TLS server: trust anchor " +
                                                        std::to_string(i + 1) +
                                                        " is not a usable DER certificate");
    }
    for (size_t i = 0; i < crls_.size(); ++i) {
        const unsigned char *p = crls_[i].data();
        ossl::CrlPtr crl(d2i_X509_CRL(nullptr, &p, long(crls_[i].size())));
        if (!crl || X509_STORE_add_crl(store, crl.get()) != 1)
            return ossl::opensslError(Errc::Config, "TLS server: CRL " + std::to_string(i + 1) +
                                                        " is not a usable DER CRL");
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, verifyTrampoline, this);
    if (peerCheckIndex() < 0)
        return ossl::opensslError(Errc::Internal, "TLS server: SSL_get_ex_new_index failed");
    return {};
}

int TlsListenerImpl::verifyTrampoline(X509_STORE_CTX *ctx, void *self)
{
    return static_cast<TlsListenerImpl *>(self)->verifyPeer(ctx);
}

int TlsListenerImpl::verifyPeer(X509_STORE_CTX *ctx)
{
    auto *ssl =
        static_cast<SSL *>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto *check = ssl ? static_cast<PeerCheck *>(SSL_get_ex_data(ssl, peerCheckIndex())) : nullptr;
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
    if (!check || !leaf) {
        X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    const int64_t now = nowUtcMs_ != 0 ? nowUtcMs_ : utcNowMs();

    // The presented chain, leaf first.
    check->chainDer.clear();
    auto leafDer = certDer(leaf);
    if (!leafDer) {
        check->error = leafDer.error();
        X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    check->chainDer.push_back(std::move(*leafDer));
    STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(ctx);
    for (int i = 0; untrusted && i < sk_X509_num(untrusted); ++i) {
        X509 *cert = sk_X509_value(untrusted, i);
        if (X509_cmp(cert, leaf) == 0)
            continue;
        auto der = certDer(cert);
        if (der)
            check->chainDer.push_back(std::move(*der));
    }

    // OpenSSL's verification, at our time; it chooses the alert.
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), time_t(now / 1000));
    const int opensslOk = X509_verify_cert(ctx);
    const int opensslError = X509_STORE_CTX_get_error(ctx);
    ERR_clear_error();

    crypto::ChainRequest request;
    request.leafDer = check->chainDer.front();
    request.intermediatesDer.assign(check->chainDer.begin() + 1, check->chainDer.end());
    request.trustAnchorsDer = anchors_;
    request.crlsDer = crls_;
    request.validityTimeUtcMs = now;
    request.nowUtcMs = now;
    auto info = backend_->verifyCertChain(request);
    if (!info) {
        check->error = info.error();
        if (opensslOk == 1)
            X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    if (opensslOk != 1) {
        check->error = Error(Errc::Cert, "certificate " + info->subject + " rejected by OpenSSL: " +
                                             X509_verify_cert_error_string(opensslError));
        return 0;
    }
    check->commonName = info->subjectCommonName;
    return 1;
}

Expected<std::unique_ptr<TlsStream>> TlsListenerImpl::accept(int timeoutMs)
{
    if (!fd_.isValid())
        return Error(Errc::Io, "TLS server: the listener is closed");
    const Deadline deadline(timeoutMs);
    const std::string what = "TLS server on port " + std::to_string(port_) + ": accept";
    for (;;) {
        UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (conn.isValid()) {
            int one = 1;
            ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return handshake(std::move(conn), deadline, timeoutMs);
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
            BWC_TRY(waitReady(fd_.get(), POLLIN, deadline, timeoutMs, what));
            continue;
        }
        return Error(Errc::Io, what + " failed: " + std::strerror(errno));
    }
}

Expected<std::unique_ptr<TlsStream>>
TlsListenerImpl::handshake(UniqueFd fd, const Deadline &deadline, int timeoutMs)
{
    const std::string peer = peerAddress(fd.get());
    const std::string what = "TLS handshake with camera at " + peer;
    SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1)
        return ossl::opensslError(Errc::Crypto, what + ": SSL_new failed");
    PeerCheck check;
    SSL_set_ex_data(ssl.get(), peerCheckIndex(), &check);
    for (;;) {
        ERR_clear_error();
        int ret = SSL_accept(ssl.get());
        if (ret == 1)
            break;
        auto waited = handleSslResult(ssl.get(), fd.get(), ret, deadline, timeoutMs, what);
        if (!waited) {
            SSL_set_ex_data(ssl.get(), peerCheckIndex(), nullptr);
            ssl.reset();
            lingerClose(std::move(fd));
            if (check.error)
                return Error(Errc::Cert,
                             what + ": client certificate rejected: " + check.error->message);
            Error error = std::move(waited).error();
            if (error.message.find("peer did not return a certificate") != std::string::npos)
                return Error(Errc::Cert, what + ": the camera presented no certificate; every "
                                                "camera needs one from `bwc pki issue-device`");
            return error;
        }
    }
    SSL_set_ex_data(ssl.get(), peerCheckIndex(), nullptr);
    if (check.commonName.empty() || check.error)
        return Error(Errc::Internal, what + ": completed without a verified client certificate");
    return std::unique_ptr<TlsStream>(
        std::make_unique<OsslTlsStream>(std::move(fd), std::move(ssl), peer, std::move(check)));
}

Expected<std::unique_ptr<TlsListener>> TlsListener::listen(const std::string &host, uint16_t port,
                                                           const TlsConfig &config)
{
    BWC_ASSIGN(fd, tcpListen(host, port, 16));
    BWC_ASSIGN(bound, localPort(fd.get()));
    auto impl = std::make_unique<TlsListenerImpl>(std::move(fd), bound, config);
    BWC_TRY(impl->configure(config));
    return std::unique_ptr<TlsListener>(new TlsListener(std::move(impl)));
}

TlsListener::TlsListener(std::unique_ptr<TlsListenerImpl> impl) : impl_(std::move(impl)) {}
TlsListener::~TlsListener() = default;

uint16_t TlsListener::port() const
{
    return impl_->port_;
}

Expected<std::unique_ptr<TlsStream>> TlsListener::accept(int timeoutMs)
{
    return impl_->accept(timeoutMs);
}

void TlsListener::close()
{
    impl_->fd_.reset();
}

} // namespace bwc::net
