#include "common/net/socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/base/clock.h"

namespace bwc::net {

namespace {

struct AddrInfoDeleter {
    void operator()(addrinfo *p) const { freeaddrinfo(p); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

std::string errnoText(int err)
{
    return std::strerror(err);
}

Expected<AddrInfoPtr> resolve(const std::string &host, uint16_t port, bool passive)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo *list = nullptr;
    const std::string service = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0)
        return Error(Errc::Io, endpointName(host, port) + ": cannot resolve the address: " +
                                   gai_strerror(rc) + "; check the host name");
    return AddrInfoPtr(list);
}

Expected<void> setNonBlocking(int fd, const std::string &what)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return Error(Errc::Io, what + ": cannot make the socket non-blocking: " + errnoText(errno));
    return {};
}

} // namespace

Deadline::Deadline(int timeoutMs)
{
    if (timeoutMs >= 0)
        endNs_ = monoNowNs() + int64_t(timeoutMs) * 1'000'000;
}

int Deadline::remainingMs() const
{
    if (endNs_ < 0)
        return -1;
    const int64_t left = endNs_ - monoNowNs();
    if (left <= 0)
        return 0;
    // Round up so that a poll does not return just before the deadline and spin.
    return int((left + 999'999) / 1'000'000);
}

Expected<void> waitReady(int fd, short events, const Deadline &deadline, int timeoutMs,
                         const std::string &what)
{
    for (;;) {
        const int wait = deadline.remainingMs();
        if (wait == 0)
            return Error(Errc::Io, what + ": timed out after " + std::to_string(timeoutMs) + " ms");
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, wait);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return Error(Errc::Io, what + ": poll failed: " + errnoText(errno));
        }
        if (rc > 0)
            return {};
    }
}

std::string endpointName(const std::string &host, uint16_t port)
{
    if (host.find(':') != std::string::npos)
        return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

Expected<UniqueFd> tcpConnect(const std::string &host, uint16_t port, int timeoutMs)
{
    const std::string what = endpointName(host, port);
    const Deadline deadline(timeoutMs);
    BWC_ASSIGN(list, resolve(host, port, false));
    Error last(Errc::Io, what + ": no address to connect to");
    for (addrinfo *ai = list.get(); ai; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd.isValid()) {
            last = Error(Errc::Io, what + ": cannot create a socket: " + errnoText(errno));
            continue;
        }
        BWC_TRY(setNonBlocking(fd.get(), what));
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0)
            return fd;
        if (errno != EINPROGRESS) {
            last = Error(Errc::Io, what + ": connect failed: " + errnoText(errno) +
                                       "; is the dock running and reachable?");
            continue;
        }
        auto ready = waitReady(fd.get(), POLLOUT, deadline, timeoutMs, what + ": connect");
        if (!ready)
            return std::move(ready).error();
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == 0)
            return fd;
        last = Error(Errc::Io, what + ": connect failed: " + errnoText(err) +
                                   "; is the dock running and reachable?");
    }
    return last;
}

Expected<UniqueFd> tcpListen(const std::string &host, uint16_t port, int backlog)
{
    const std::string what = endpointName(host, port);
    BWC_ASSIGN(list, resolve(host, port, true));
    Error last(Errc::Io, what + ": no address to listen on");
    for (addrinfo *ai = list.get(); ai; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd.isValid()) {
            last = Error(Errc::Io, what + ": cannot create a socket: " + errnoText(errno));
            continue;
        }
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0) {
            last = Error(Errc::Io, what + ": bind failed: " + errnoText(errno) +
                                       "; is another dock already listening on this port?");
            continue;
        }
        if (::listen(fd.get(), backlog) < 0) {
            last = Error(Errc::Io, what + ": listen failed: " + errnoText(errno));
            continue;
        }
        BWC_TRY(setNonBlocking(fd.get(), what));
        return fd;
    }
    return last;
}

Expected<uint16_t> localPort(int fd)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) < 0)
        return Error(Errc::Io, std::string("getsockname failed: ") + errnoText(errno));
    if (addr.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in *>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6 *>(&addr)->sin6_port);
    return Error(Errc::Io, "getsockname: not an IP socket");
}

} // namespace bwc::net
