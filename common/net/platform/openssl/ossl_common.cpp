// The OpenSSL 3 pieces shared by the offload transport's server and client.

#include "common/net/platform/openssl/ossl_common.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/base/clock.h"

namespace bwc::net::ossltls {

namespace {

namespace ossl = crypto::ossl;

constexpr const char *kCipherList = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
constexpr const char *kTls13Suites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

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
        return ossl::opensslError(Errc::Cert, "cannot encode a peer certificate");
    ossl::OpensslBuf owned(raw);
    return Bytes(raw, raw + len);
}

// Whether the error at the front of OpenSSL's queue is a fatal alert the peer sent:
// OpenSSL reports a received alert as reason SSL_AD_REASON_OFFSET + the alert number.
bool peerAlertQueued()
{
    const unsigned long code = ERR_peek_error();
    return ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
}

} // namespace

Context::Context(Side side, const TlsConfig &config)
    : side_(side), name_(side == Side::Server ? "TLS server" : "TLS client"),
      anchors_(config.trustAnchorsDer), crls_(config.crlsDer), nowUtcMs_(config.nowUtcMs),
      backend_(crypto::makeOpensslBackend())
{
}

Expected<std::shared_ptr<Context>> Context::create(Side side, const TlsConfig &config)
{
    std::shared_ptr<Context> context(new Context(side, config));
    BWC_TRY(context->configure(config));
    return context;
}

Expected<void> Context::configure(const TlsConfig &config)
{
    const bool server = side_ == Side::Server;
    const std::string self = server ? "dock" : "camera";
    if (config.ownCertChainDer.empty())
        return Error(Errc::Config, name_ + ": no certificate configured for this " + self +
                                       "; issue one with `bwc pki " +
                                       (server ? "issue-dock" : "issue-device") + "`");
    if (anchors_.empty())
        return Error(Errc::Config, name_ + ": no agency CA certificate configured; install "
                                           "ca.pem from `bwc pki`");
    ctx_.reset(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    if (!ctx_)
        return ossl::opensslError(Errc::Crypto, name_ + ": SSL_CTX_new failed");
    SSL_CTX *ctx = ctx_.get();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kCipherList) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "P-256") != 1 ||
        SSL_CTX_set1_sigalgs_list(ctx, "ECDSA+SHA256:ECDSA+SHA384") != 1)
        return ossl::opensslError(Errc::Crypto, name_ + ": cannot restrict the protocol to "
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
            return ossl::opensslError(Errc::Config, name_ + ": own certificate " +
                                                        std::to_string(i + 1) +
                                                        " is not a DER certificate");
        int ok = i == 0 ? SSL_CTX_use_certificate(ctx, cert.get())
                        : SSL_CTX_add1_chain_cert(ctx, cert.get());
        if (ok != 1)
            return ossl::opensslError(Errc::Config, name_ + ": own certificate " +
                                                        std::to_string(i + 1) + " not accepted");
    }
    const unsigned char *keyP = config.ownKeyDer.data();
    ossl::PkeyPtr key(d2i_AutoPrivateKey(nullptr, &keyP, long(config.ownKeyDer.size())));
    if (!key)
        return ossl::opensslError(Errc::Config, name_ + ": own private key cannot be parsed; "
                                                        "expected a PKCS#8 or SEC1 P-256 key");
    if (!ossl::isP256Key(*key))
        return Error(Errc::Config, name_ + ": own private key is " + ossl::describeKey(key.get()) +
                                       ", not P-256");
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return ossl::opensslError(Errc::Config, name_ + ": own private key does not match the " +
                                                    self +
                                                    " certificate; install the key issued with it");

    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    for (size_t i = 0; i < anchors_.size(); ++i) {
        const unsigned char *p = anchors_[i].data();
        ossl::X509Ptr cert(d2i_X509(nullptr, &p, long(anchors_[i].size())));
        if (!cert || X509_STORE_add_cert(store, cert.get()) != 1)
            return ossl::opensslError(Errc::Config, name_ + ": trust anchor " +
                                                        std::to_string(i + 1) +
                                                        " is not a usable DER certificate");
    }
    for (size_t i = 0; i < crls_.size(); ++i) {
        const unsigned char *p = crls_[i].data();
        ossl::CrlPtr crl(d2i_X509_CRL(nullptr, &p, long(crls_[i].size())));
        if (!crl || X509_STORE_add_crl(store, crl.get()) != 1)
            return ossl::opensslError(Errc::Config, name_ + ": CRL " + std::to_string(i + 1) +
                                                        " is not a usable DER CRL");
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
    // SSL_VERIFY_FAIL_IF_NO_PEER_CERT only applies to a server; a client always gets the
    // server's certificate.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, verifyTrampoline, this);
    if (peerCheckIndex() < 0)
        return ossl::opensslError(Errc::Internal, name_ + ": SSL_get_ex_new_index failed");
    return {};
}

int Context::verifyTrampoline(X509_STORE_CTX *ctx, void *self)
{
    return static_cast<const Context *>(self)->verifyPeer(ctx);
}

int Context::verifyPeer(X509_STORE_CTX *ctx) const
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

Expected<void> Context::handshake(SSL *ssl, int fd, PeerCheck &check, const Deadline &deadline,
                                  int timeoutMs, const std::string &what) const
{
    SSL_set_ex_data(ssl, peerCheckIndex(), &check);
    struct Detach {
        SSL *ssl;
        ~Detach() { SSL_set_ex_data(ssl, peerCheckIndex(), nullptr); }
    } detach{ssl};
    for (;;) {
        ERR_clear_error();
        int ret = SSL_do_handshake(ssl);
        if (ret == 1)
            return {};
        if (SSL_get_error(ssl, ret) == SSL_ERROR_SSL && peerAlertQueued())
            check.peerAlert = true;
        BWC_TRY(handleSslResult(ssl, fd, ret, deadline, timeoutMs, what));
    }
}

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

Stream::Stream(UniqueFd fd, SslPtr ssl, std::shared_ptr<const Context> context,
               std::string peerName, PeerCheck check)
    : fd_(std::move(fd)), ssl_(std::move(ssl)), context_(std::move(context)),
      peerName_(std::move(peerName)), chain_(std::move(check.chainDer)),
      peerId_(std::move(check.commonName))
{
}

Expected<size_t> Stream::read(MutableByteView out, int timeoutMs)
{
    const std::string what = "TLS read from " + peerName_;
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

Expected<void> Stream::writeAll(ByteView data, int timeoutMs)
{
    const std::string what = "TLS write to " + peerName_;
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

void Stream::close()
{
    if (!ssl_)
        return;
    // Best effort: one attempt, the socket is non-blocking.
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    ssl_.reset();
    fd_.reset();
}

} // namespace bwc::net::ossltls
