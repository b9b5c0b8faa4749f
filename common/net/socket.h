#pragma once

// TCP plumbing shared by the TLS client and server: deadlines, waiting on a socket,
// connecting with a timeout. Sockets are non-blocking; timeouts come from poll(2).

#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "common/base/unique_fd.h"

namespace bwc::net {

// A point in time `timeoutMs` from now on the monotonic clock; negative = never.
class Deadline
{
public:
    explicit Deadline(int timeoutMs);
    // Milliseconds left for poll(2): -1 for no deadline, 0 once it has passed.
    int remainingMs() const;
    bool expired() const { return remainingMs() == 0; }

private:
    int64_t endNs_ = -1;
};

// Waits until `fd` is ready for `events` (POLLIN/POLLOUT). Errc::Io "<what>: timed out
// after N ms" when the deadline passes; POLLERR/POLLHUP count as ready (the next read or
// write reports them).
Expected<void> waitReady(int fd, short events, const Deadline &deadline, int timeoutMs,
                         const std::string &what);

// Resolves `host` (name or address) and connects to `port` with a deadline; the socket
// is returned non-blocking with TCP_NODELAY. Errc::Io naming host:port and the cause.
Expected<UniqueFd> tcpConnect(const std::string &host, uint16_t port, int timeoutMs);

// Binds and listens on host:port (port 0: an ephemeral port), non-blocking.
Expected<UniqueFd> tcpListen(const std::string &host, uint16_t port, int backlog);
// The local port a socket is bound to.
Expected<uint16_t> localPort(int fd);

// "host:port", with brackets around IPv6 addresses.
std::string endpointName(const std::string &host, uint16_t port);

} // namespace bwc::net
