// The camera's TLS client over mbedTLS. Written once for 2.28 (Debian 12) and 3.6; the
// few TLS calls that differ are wrapped at the top of this file, the rest of the
// differences live in common/crypto/platform/mbedtls/mbedtls_compat.h.
//
// The peer's chain is checked twice: by mbedTLS against the CA and CRL (signatures,
// revocation), and, from the verify callback, by the project's own chain validation
// (common/crypto verifyCertChain), which also insists that a current CRL from the CA is
// present and checks validity at TlsConfig::nowUtcMs; its message names what failed.

#include "common/net/platform/mbedtls/tls_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>

#include "common/base/clock.h"
#include "common/base/unique_fd.h"
#include "common/crypto/crypto.h"
#include "common/crypto/platform/mbedtls/mbedtls_compat.h"
#include "common/crypto/platform/mbedtls/mbedtls_util.h"
#include "common/net/socket.h"

#if !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_SSL_PROTO_TLS1_2) ||                           \
    !defined(MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED)
#error "the TLS client needs MBEDTLS_SSL_CLI_C, MBEDTLS_SSL_PROTO_TLS1_2 and ECDHE-ECDSA"
#endif

namespace bwc::net {

namespace {

namespace mbed = crypto::mbed;

using SslConfig =
    mbed::Context<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free>;
using SslContext = mbed::Context<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free>;

// ECDHE with ECDSA certificates and AES-GCM, nothing else.
const int kCiphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    0,
};

// TLS 1.2 exactly: mbedTLS 2.28 has no TLS 1.3, and on 3.6 the client keeps to the one
// version both series speak, so the camera behaves the same whichever it is built with.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
const uint16_t kGroups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
void configureVersionAndGroups(mbedtls_ssl_config *conf)
{
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_groups(conf, kGroups);
}
#else
const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE};
void configureVersionAndGroups(mbedtls_ssl_config *conf)
{
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_curves(conf, kCurves);
}
#endif

Expected<void> initLibrary()
{
    static std::once_flag once;
    static int result = 0;
    std::call_once(once, [] { result = crypto::mbed::compat::libraryInit(); });
    if (result != 0)
        return Error(Errc::Crypto, "mbedTLS: PSA crypto initialisation failed");
    return {};
}

class MbedTlsStream final : public TlsStream
{
public:
    MbedTlsStream(UniqueFd fd, std::string endpoint, const TlsConfig &config)
        : fd_(std::move(fd)), endpoint_(std::move(endpoint)), anchors_(config.trustAnchorsDer),
          crls_(config.crlsDer), nowUtcMs_(config.nowUtcMs), backend_(crypto::makeMbedtlsBackend())
    {
    }
    ~MbedTlsStream() override { close(); }
    MbedTlsStream(const MbedTlsStream &) = delete;
    MbedTlsStream &operator=(const MbedTlsStream &) = delete;

    Expected<void> setup(const TlsConfig &config);
    Expected<void> handshake(int timeoutMs);

    Expected<size_t> read(MutableByteView out, int timeoutMs) override;
    Expected<void> writeAll(ByteView data, int timeoutMs) override;
    void close() override;
    const std::vector<Bytes> &peerCertChainDer() const override { return peerChain_; }
    std::string peerId() const override { return peerId_; }

private:
    static int sendTrampoline(void *self, const unsigned char *buf, size_t len);
    static int recvTrampoline(void *self, unsigned char *buf, size_t len);
    static int verifyTrampoline(void *self, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

    int checkPeer(const mbedtls_x509_crt &leaf, uint32_t *flags);
    // The error for mbedTLS result `ret`; `during` is "handshake with", "read from" or
    // "write to".
    Error failure(const std::string &during, int ret) const;
    // Waits for the socket after mbedTLS asked for more (WANT_READ/WANT_WRITE).
    Expected<void> waitFor(int ret, const Deadline &deadline, int timeoutMs,
                           const std::string &what);

    UniqueFd fd_;
    std::string endpoint_;
    std::vector<Bytes> anchors_;
    std::vector<Bytes> crls_;
    int64_t nowUtcMs_;
    std::unique_ptr<crypto::Backend> backend_;

    SslConfig conf_;
    SslContext ssl_;
    mbed::X509Crt ownChain_;
    mbed::PkContext ownKey_;
    mbed::X509Crt caChain_;
    mbed::X509Crl crl_;

    std::optional<Error> verifyError_;
    std::vector<Bytes> peerChain_;
    std::string peerId_;
    bool open_ = true;
};

Expected<void> MbedTlsStream::setup(const TlsConfig &config)
{
    if (config.ownCertChainDer.empty())
        return Error(Errc::Config, "TLS client: no certificate configured for this camera; "
                                   "issue one with `bwc pki issue-device`");
    for (size_t i = 0; i < config.ownCertChainDer.size(); ++i) {
        const Bytes &der = config.ownCertChainDer[i];
        int ret = mbedtls_x509_crt_parse_der(ownChain_.get(), der.data(), der.size());
        if (ret != 0)
            return Error(Errc::Config, "TLS client: own certificate " + std::to_string(i + 1) +
                                           " cannot be parsed: " + mbed::describeError(ret));
    }
    int ret = mbed::compat::pkParseKey(ownKey_.get(), config.ownKeyDer.data(),
                                       config.ownKeyDer.size(), mbed::kernelRandom, nullptr);
    if (ret != 0)
        return Error(Errc::Config, "TLS client: own private key cannot be parsed: " +
                                       mbed::describeError(ret) + "; expected a P-256 key");
    // The key must belong to the certificate, or every dock would refuse the handshake.
    BWC_ASSIGN(ownInfo, backend_->parseCertificateDer(config.ownCertChainDer[0]));
    BWC_ASSIGN(ownKey, backend_->parsePrivateKeyDer(config.ownKeyDer.view()));
    if (ownKey.pub != ownInfo.publicKey)
        return Error(Errc::Config, "TLS client: own private key does not match certificate " +
                                       ownInfo.subject + "; install the key issued with it");
    for (size_t i = 0; i < anchors_.size(); ++i) {
        ret = mbedtls_x509_crt_parse_der(caChain_.get(), anchors_[i].data(), anchors_[i].size());
        if (ret != 0)
            return Error(Errc::Config, "TLS client: trust anchor " + std::to_string(i + 1) +
                                           " cannot be parsed: " + mbed::describeError(ret));
    }
    if (anchors_.empty())
        return Error(Errc::Config, "TLS client: no agency CA certificate configured; install "
                                   "ca.pem from `bwc pki`");
    for (size_t i = 0; i < crls_.size(); ++i) {
        ret = mbedtls_x509_crl_parse_der(crl_.get(), crls_[i].data(), crls_[i].size());
        if (ret != 0)
            return Error(Errc::Config, "TLS client: CRL " + std::to_string(i + 1) +
                                           " cannot be parsed: " + mbed::describeError(ret));
    }

    ret = mbedtls_ssl_config_defaults(conf_.get(), MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        return Error(Errc::Crypto, "TLS client: configuration failed: " + mbed::describeError(ret));
    configureVersionAndGroups(conf_.get());
    mbedtls_ssl_conf_ciphersuites(conf_.get(), kCiphersuites);
    mbedtls_ssl_conf_authmode(conf_.get(), MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_rng(conf_.get(), mbed::kernelRandom, nullptr);
    // An empty CRL list is not given to mbedTLS (which would then skip revocation); the
    // verify callback refuses the peer in that case.
    mbedtls_ssl_conf_ca_chain(conf_.get(), caChain_.get(), crls_.empty() ? nullptr : crl_.get());
    mbedtls_ssl_conf_verify(conf_.get(), verifyTrampoline, this);
    ret = mbedtls_ssl_conf_own_cert(conf_.get(), ownChain_.get(), ownKey_.get());
    if (ret != 0)
        return Error(Errc::Config,
                     "TLS client: own certificate rejected: " + mbed::describeError(ret));
    ret = mbedtls_ssl_setup(ssl_.get(), conf_.get());
    if (ret != 0)
        return Error(Errc::Crypto, "TLS client: setup failed: " + mbed::describeError(ret));
    // Peers are identified by their certificate's CN (device or dock id), not by host name.
    ret = mbedtls_ssl_set_hostname(ssl_.get(), nullptr);
    if (ret != 0)
        return Error(Errc::Crypto, "TLS client: setup failed: " + mbed::describeError(ret));
    mbedtls_ssl_set_bio(ssl_.get(), this, sendTrampoline, recvTrampoline, nullptr);
    return {};
}

int MbedTlsStream::sendTrampoline(void *self, const unsigned char *buf, size_t len)
{
    auto *stream = static_cast<MbedTlsStream *>(self);
    ssize_t n = ::send(stream->fd_.get(), buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return int(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

int MbedTlsStream::recvTrampoline(void *self, unsigned char *buf, size_t len)
{
    auto *stream = static_cast<MbedTlsStream *>(self);
    ssize_t n = ::recv(stream->fd_.get(), buf, len, 0);
    if (n >= 0)
        return int(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

int MbedTlsStream::verifyTrampoline(void *self, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    auto *stream = static_cast<MbedTlsStream *>(self);
    // With a configured time, validity is judged by our own check at that time, not by
    // mbedTLS against the system clock.
    if (stream->nowUtcMs_ != 0)
        *flags &= ~uint32_t(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE |
                            MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE);
    if (depth != 0 || !crt)
        return 0;
    return stream->checkPeer(*crt, flags);
}

int MbedTlsStream::checkPeer(const mbedtls_x509_crt &leaf, uint32_t *flags)
{
    peerChain_.clear();
    for (const mbedtls_x509_crt *c = &leaf; c; c = c->next)
        if (c->raw.p)
            peerChain_.emplace_back(c->raw.p, c->raw.p + c->raw.len);
    const int64_t now = nowUtcMs_ != 0 ? nowUtcMs_ : utcNowMs();
    crypto::ChainRequest request;
    request.leafDer = peerChain_.front();
    request.intermediatesDer.assign(peerChain_.begin() + 1, peerChain_.end());
    request.trustAnchorsDer = anchors_;
    request.crlsDer = crls_;
    request.validityTimeUtcMs = now;
    request.nowUtcMs = now;
    auto info = backend_->verifyCertChain(request);
    if (!info) {
        verifyError_ = info.error();
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        return 0;
    }
    peerId_ = info->subjectCommonName;
    return 0;
}

Error MbedTlsStream::failure(const std::string &during, int ret) const
{
    const std::string what = "TLS " + during + " dock " + endpoint_;
    if (verifyError_)
        return Error(Errc::Cert, what + ": dock certificate rejected: " + verifyError_->message);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        std::array<char, 512> info{};
        mbedtls_x509_crt_verify_info(info.data(), info.size(), "",
                                     mbedtls_ssl_get_verify_result(ssl_.get()));
        std::string text(info.data());
        for (char &c : text)
            if (c == '\n')
                c = ';';
        return Error(Errc::Cert, what + ": dock certificate rejected: " + text);
    }
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
        return Error(Errc::Protocol,
                     what + ": the dock refused the connection with a fatal TLS alert (usually "
                            "this camera's certificate was rejected: expired, revoked or from "
                            "another agency CA); see the dock's log");
    if (ret == MBEDTLS_ERR_NET_CONN_RESET || ret == MBEDTLS_ERR_SSL_CONN_EOF ||
        ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0)
        return Error(Errc::Io, what + ": connection closed by peer");
    if (ret == MBEDTLS_ERR_NET_SEND_FAILED || ret == MBEDTLS_ERR_NET_RECV_FAILED)
        return Error(Errc::Io, what + ": socket error: " + mbed::describeError(ret));
    return Error(Errc::Protocol, what + " failed: " + mbed::describeError(ret));
}

Expected<void> MbedTlsStream::waitFor(int ret, const Deadline &deadline, int timeoutMs,
                                      const std::string &what)
{
    const short events = ret == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN;
    return waitReady(fd_.get(), events, deadline, timeoutMs, what);
}

Expected<void> MbedTlsStream::handshake(int timeoutMs)
{
    const Deadline deadline(timeoutMs);
    for (;;) {
        int ret = mbedtls_ssl_handshake(ssl_.get());
        if (ret == 0)
            break;
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE)
            return failure("handshake with", ret);
        BWC_TRY(waitFor(ret, deadline, timeoutMs, "TLS handshake with dock " + endpoint_));
    }
    if (peerId_.empty() || verifyError_)
        return Error(Errc::Internal, "TLS handshake with dock " + endpoint_ +
                                         " completed without a verified dock certificate");
    return {};
}

Expected<size_t> MbedTlsStream::read(MutableByteView out, int timeoutMs)
{
    const std::string what = "TLS read from dock " + endpoint_;
    if (!open_)
        return Error(Errc::Io, what + ": connection closed");
    if (out.empty())
        return size_t(0);
    const Deadline deadline(timeoutMs);
    for (;;) {
        int ret = mbedtls_ssl_read(ssl_.get(), out.data(), out.size());
        if (ret > 0)
            return size_t(ret);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            BWC_TRY(waitFor(ret, deadline, timeoutMs, what));
            continue;
        }
        return failure("read from", ret);
    }
}

Expected<void> MbedTlsStream::writeAll(ByteView data, int timeoutMs)
{
    const std::string what = "TLS write to dock " + endpoint_;
    if (!open_)
        return Error(Errc::Io, what + ": connection closed");
    const Deadline deadline(timeoutMs);
    while (!data.empty()) {
        int ret = mbedtls_ssl_write(ssl_.get(), data.data(), data.size());
        if (ret > 0) {
            data = data.subspan(size_t(ret));
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            BWC_TRY(waitFor(ret, deadline, timeoutMs, what));
            continue;
        }
        return failure("write to", ret);
    }
    return {};
}

void MbedTlsStream::close()
{
    if (!open_)
        return;
    open_ = false;
    // Best effort: one attempt, the socket is non-blocking.
    mbedtls_ssl_close_notify(ssl_.get());
    fd_.reset();
}

} // namespace

Expected<std::unique_ptr<TlsStream>> tlsConnect(const std::string &host, uint16_t port,
                                                const TlsConfig &config, int timeoutMs)
{
    BWC_TRY(initLibrary());
    const Deadline deadline(timeoutMs);
    BWC_ASSIGN(fd, tcpConnect(host, port, timeoutMs));
    auto stream = std::make_unique<MbedTlsStream>(std::move(fd), endpointName(host, port), config);
    BWC_TRY(stream->setup(config));
    const int left = deadline.remainingMs();
    if (left == 0)
        return Error(Errc::Io, "TLS handshake with dock " + endpointName(host, port) +
                                   ": timed out after " + std::to_string(timeoutMs) + " ms");
    BWC_TRY(stream->handshake(left));
    return std::unique_ptr<TlsStream>(std::move(stream));
}

} // namespace bwc::net
