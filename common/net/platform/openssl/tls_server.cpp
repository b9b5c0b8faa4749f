// The dock's TLS server over OpenSSL 3. The context, the peer check inside the handshake
// and the stream are shared with the OpenSSL client (ossl_common.h).

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
#include <string>
#include <utility>

#include <openssl/ssl.h>

#include "common/crypto/platform/openssl/openssl_util.h"
#include "common/net/platform/openssl/ossl_common.h"
#include "common/net/socket.h"

namespace bwc::net {

namespace {

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

} // namespace

class TlsListenerImpl
{
public:
    TlsListenerImpl(UniqueFd fd, uint16_t port, std::shared_ptr<const ossltls::Context> context)
        : fd_(std::move(fd)), port_(port), context_(std::move(context))
    {
    }

    Expected<std::unique_ptr<TlsStream>> accept(int timeoutMs);

    UniqueFd fd_;
    uint16_t port_ = 0;

private:
    Expected<std::unique_ptr<TlsStream>> handshake(UniqueFd fd, const Deadline &deadline,
                                                   int timeoutMs);

    std::shared_ptr<const ossltls::Context> context_;
};

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
            // The handshake's own time: the wait for a connection is not its budget.
            return handshake(std::move(conn), Deadline(kHandshakeTimeoutMs),
                             kHandshakeTimeoutMs);
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
    ossltls::SslPtr ssl(SSL_new(context_->get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1)
        return crypto::ossl::opensslError(Errc::Crypto, what + ": SSL_new failed");
    SSL_set_accept_state(ssl.get());
    ossltls::PeerCheck check;
    auto done = context_->handshake(ssl.get(), fd.get(), check, deadline, timeoutMs, what);
    if (!done) {
        ssl.reset();
        lingerClose(std::move(fd));
        if (check.error)
            return Error(Errc::Cert,
                         what + ": client certificate rejected: " + check.error->message);
        Error error = std::move(done).error();
        if (error.message.find("peer did not return a certificate") != std::string::npos)
            return Error(Errc::Cert, what + ": the camera presented no certificate; every "
                                            "camera needs one from `bwc pki issue-device`");
        return error;
    }
    if (check.commonName.empty() || check.error)
        return Error(Errc::Internal, what + ": completed without a verified client certificate");
    return std::unique_ptr<TlsStream>(std::make_unique<ossltls::Stream>(
        std::move(fd), std::move(ssl), context_, "camera at " + peer, std::move(check)));
}

Expected<std::unique_ptr<TlsListener>> TlsListener::listen(const std::string &host, uint16_t port,
                                                           const TlsConfig &config)
{
    BWC_ASSIGN(fd, tcpListen(host, port, 16));
    BWC_ASSIGN(bound, localPort(fd.get()));
    BWC_ASSIGN(context, ossltls::Context::create(ossltls::Side::Server, config));
    auto impl = std::make_unique<TlsListenerImpl>(std::move(fd), bound, std::move(context));
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
