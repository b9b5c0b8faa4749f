#include "firmware/control/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <system_error>

#include "common/base/file.h"
#include "common/base/log.h"
#include "firmware/control/json_read.h"

namespace bwc::fw {

namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : int(left.count());
}

// Waits for `events` on fd until the deadline. 1 ready, 0 timeout, -1 error (errno set).
int waitFor(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, remainingMs(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

enum class SendResult { Ok, Timeout, Closed, Failed };

SendResult sendAll(int fd, std::string_view data, Clock::time_point deadline)
{
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += size_t(n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return SendResult::Closed;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return SendResult::Failed;
        int ready = waitFor(fd, POLLOUT, deadline);
        if (ready == 0)
            return SendResult::Timeout;
        if (ready < 0)
            return SendResult::Failed;
    }
    return SendResult::Ok;
}

bool fillAddress(const std::string &path, sockaddr_un &addr)
{
    addr = {};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path) ||
        path.find('\0') != std::string::npos)
        return false;
    std::memcpy(addr.sun_path, path.data(), path.size());
    return true;
}

std::string socketPathProblem(const std::string &path)
{
    return "control socket " + (path.empty() ? std::string("\"\"") : path) +
           ": not a usable Unix socket path (empty, contains a NUL byte or longer than " +
           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)";
}

// A socket file at `path`: a live server there is an error, a stale one is removed.
Expected<void> clearOldSocket(const std::string &path, const sockaddr_un &addr)
{
    struct stat st {
    };
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return {};
        return Error(Errc::Io,
                     "control socket " + path + ": cannot check the path: " + errnoText(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return Error(Errc::Exists, "control socket " + path +
                                       ": the path exists and is not a socket; remove it or set "
                                       "control_socket to another path");
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe.isValid())
        return Error(Errc::Io, "control socket " + path + ": socket() failed: " + errnoText(errno));
    int rc;
    do {
        rc = ::connect(probe.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
        return Error(Errc::Exists, "another bwc-camd is running on " + path +
                                       " (it answers on the control socket); stop it first or "
                                       "set control_socket to another path");
    if (errno != ECONNREFUSED)
        return Error(Errc::Io, "control socket " + path +
                                   ": cannot check the existing socket: " + errnoText(errno));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Error(Errc::Io, "control socket " + path +
                                   ": cannot remove the stale socket: " + errnoText(errno));
    log::info("control socket " + path + ": removed a stale socket (no server was listening)");
    return {};
}

std::vector<std::string> splitWords(std::string_view line)
{
    std::vector<std::string> words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start)
            words.emplace_back(line.substr(start, i - start));
    }
    return words;
}

} // namespace

// ---- JSON writing ----

std::string jsonError(std::string_view message)
{
    return JsonObject().add("ok", false).add("error", message).str();
}

JsonObject &JsonObject::addRaw(std::string_view key, std::string_view json)
{
    if (!body_.empty())
        body_ += ',';
    body_ += jsonQuote(key);
    body_ += ':';
    body_ += json;
    return *this;
}

JsonObject &JsonObject::add(std::string_view key, std::string_view value)
{
    return addRaw(key, jsonQuote(value));
}

JsonObject &JsonObject::add(std::string_view key, int64_t value)
{
    return addRaw(key, std::to_string(value));
}

JsonObject &JsonObject::add(std::string_view key, uint64_t value)
{
    return addRaw(key, std::to_string(value));
}

JsonObject &JsonObject::add(std::string_view key, double value)
{
    if (!std::isfinite(value))
        return addRaw(key, "null");
    // Shortest text that reads back as the same double.
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    if (ec != std::errc())
        return addRaw(key, "null");
    return addRaw(key, std::string_view(buf, size_t(end - buf)));
}

JsonObject &JsonObject::add(std::string_view key, bool value)
{
    return addRaw(key, value ? "true" : "false");
}

std::string JsonObject::str() const
{
    return "{" + body_ + "}";
}

// ---- server ----

Expected<std::unique_ptr<ControlServer>>
ControlServer::start(const std::string &socketPath, std::map<std::string, ControlHandler> handlers)
{
    sockaddr_un addr{};
    if (!fillAddress(socketPath, addr))
        return Error(Errc::Config, socketPathProblem(socketPath) + "; set control_socket");
    BWC_TRY(clearOldSocket(socketPath, addr));

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.isValid())
        return Error(Errc::Io,
                     "control socket " + socketPath + ": socket() failed: " + errnoText(errno));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0) {
        int err = errno;
        if (err == EADDRINUSE)
            return Error(Errc::Exists, "control socket " + socketPath +
                                           ": the path was taken while starting (another "
                                           "bwc-camd starting?)");
        std::string hint = err == ENOENT ? "; create the folder or set control_socket"
                           : (err == EACCES || err == EROFS)
                               ? "; the folder must be writable by bwc-camd's user"
                               : "";
        return Error(err == ENOENT ? Errc::NotFound : Errc::Io,
                     "control socket " + socketPath + ": bind failed: " + errnoText(err) + hint);
    }
    auto server = std::unique_ptr<ControlServer>(new ControlServer());
    server->socketPath_ = socketPath;
    struct stat st {
    };
    if (::stat(socketPath.c_str(), &st) == 0) {
        server->socketDev_ = uint64_t(st.st_dev);
        server->socketIno_ = uint64_t(st.st_ino);
    }
    // From here on the socket file is ours: stop() (via the destructor) removes it on
    // every error path below.
    server->listenFd_ = std::move(fd);
    if (::chmod(socketPath.c_str(), 0660) != 0)
        return Error(Errc::Io,
                     "control socket " + socketPath + ": chmod 0660 failed: " + errnoText(errno));
    if (::listen(server->listenFd_.get(), 16) != 0)
        return Error(Errc::Io,
                     "control socket " + socketPath + ": listen failed: " + errnoText(errno));
    server->wakeFd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!server->wakeFd_.isValid())
        return Error(Errc::Io,
                     "control socket " + socketPath + ": eventfd failed: " + errnoText(errno));
    server->handlers_ = std::move(handlers);
    try {
        server->thread_ = std::thread([s = server.get()] { s->serve(); });
    } catch (const std::system_error &e) {
        return Error(Errc::Io, "control socket " + socketPath +
                                   ": cannot start the server thread: " + e.what());
    }
    return server;
}

ControlServer::~ControlServer()
{
    stop();
}

void ControlServer::stop()
{
    stopping_ = true;
    if (wakeFd_.isValid()) {
        uint64_t one = 1;
        ssize_t n;
        do {
            n = ::write(wakeFd_.get(), &one, sizeof(one));
        } while (n < 0 && errno == EINTR);
    }
    if (thread_.joinable())
        thread_.join();
    listenFd_.reset();
    {
        std::unique_lock lock(mutex_);
        // Wakes connection threads waiting for a request; a handler already running is
        // waited for.
        for (int fd : clients_)
            ::shutdown(fd, SHUT_RDWR);
        idle_.wait(lock, [this] { return active_.load() == 0; });
    }
    if (!socketPath_.empty()) {
        struct stat st {
        };
        if (::lstat(socketPath_.c_str(), &st) == 0 && uint64_t(st.st_dev) == socketDev_ &&
            uint64_t(st.st_ino) == socketIno_)
            ::unlink(socketPath_.c_str());
        socketPath_.clear();
    }
}

void ControlServer::serve()
{
    pollfd fds[2] = {{listenFd_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
    while (!stopping_) {
        int n = ::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log::error("control socket " + socketPath_ + ": poll failed: " + errnoText(errno) +
                       "; the control interface stops");
            return;
        }
        if (fds[1].revents != 0)
            return;
        if ((fds[0].revents & POLLIN) == 0)
            continue;
        int raw = ::accept4(listenFd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (raw < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
                continue;
            log::warn("control socket " + socketPath_ + ": accept failed: " + errnoText(err));
            // Out of descriptors or memory: back off instead of spinning on a readable
            // listening socket, but stay responsive to stop().
            pollfd wake{wakeFd_.get(), POLLIN, 0};
            ::poll(&wake, 1, 100);
            continue;
        }
        UniqueFd client(raw);
        if (active_.load() >= kMaxConnections) {
            rejectBusy(std::move(client));
            continue;
        }
        {
            std::lock_guard lock(mutex_);
            clients_.insert(raw);
            ++active_;
        }
        client.release();
        try {
            std::thread([this, raw] { handleClient(UniqueFd(raw)); }).detach();
        } catch (const std::system_error &e) {
            log::warn("control socket " + socketPath_ +
                      ": cannot start a connection thread: " + e.what());
            connectionDone(raw);
        }
    }
}

void ControlServer::rejectBusy(UniqueFd client)
{
    // Drain what the client already sent, then answer without waiting for anything.
    char buf[1024];
    while (::recv(client.get(), buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    std::string response = jsonError("busy: " + std::to_string(kMaxConnections) +
                                     " control connections are open; try again") +
                           "\n";
    if (::send(client.get(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log::debug("control socket " + socketPath_ + ": busy answer not sent: " + errnoText(errno));
}

void ControlServer::connectionDone(int fd)
{
    std::lock_guard lock(mutex_);
    clients_.erase(fd);
    ::close(fd);
    --active_;
    // Notified under the lock: stop() cannot return (and destroy *this) before it is
    // released, and nothing touches *this after that.
    idle_.notify_all();
}

std::string ControlServer::dispatch(const std::string &line)
{
    auto words = splitWords(line);
    std::string known;
    for (const auto &[name, handler] : handlers_)
        known += (known.empty() ? "" : ", ") + name;
    if (words.empty())
        return jsonError("empty request (known commands: " + known + ")");
    auto it = handlers_.find(words.front());
    if (it == handlers_.end())
        return jsonError("unknown command '" + words.front() + "' (known: " + known + ")");
    if (stopping_)
        return jsonError("bwc-camd is shutting down");
    try {
        std::string response = it->second(words);
        // One response line: a newline can only be JSON whitespace here.
        for (auto &c : response) {
            if (c == '\n' || c == '\r')
                c = ' ';
        }
        return response;
    } catch (const std::exception &e) {
        log::error("control command '" + words.front() + "' failed: " + e.what());
        return jsonError(words.front() + ": internal error: " + e.what());
    } catch (...) {
        log::error("control command '" + words.front() + "' failed with an unknown exception");
        return jsonError(words.front() + ": internal error (unknown exception)");
    }
}

void ControlServer::handleClient(UniqueFd client)
{
    int fd = client.release(); // closed by connectionDone(), under the lock
    try {
        auto deadline = Clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
        std::string request;
        std::string response;
        bool answer = true;
        char buf[1024];
        for (;;) {
            auto nl = request.find('\n');
            if (nl != std::string::npos) {
                request.resize(nl);
                if (!request.empty() && request.back() == '\r')
                    request.pop_back();
                if (request.size() > kMaxRequestBytes)
                    response = jsonError("request longer than " + std::to_string(kMaxRequestBytes) +
                                         " bytes");
                else
                    response = dispatch(request);
                break;
            }
            if (request.size() > kMaxRequestBytes) {
                response =
                    jsonError("request longer than " + std::to_string(kMaxRequestBytes) + " bytes");
                break;
            }
            ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                request.append(buf, size_t(n));
                continue;
            }
            if (n == 0) {
                // The client half-closed: a request without its newline still counts.
                if (request.empty() || stopping_)
                    answer = false;
                else
                    response = dispatch(request);
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                answer = false;
                break;
            }
            int ready = waitFor(fd, POLLIN, deadline);
            if (ready <= 0) {
                response = jsonError("no complete request line within " +
                                     std::to_string(kRequestTimeoutMs) + " ms");
                break;
            }
        }
        if (answer && !stopping_.load()) {
            response += '\n';
            auto sent = sendAll(fd, response, Clock::now() + std::chrono::seconds(5));
            if (sent != SendResult::Ok)
                log::debug("control socket " + socketPath_ + ": response not delivered");
        } else if (answer) {
            // Shutting down: the socket may already be shut down; try once, never wait.
            response += '\n';
            (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    } catch (const std::exception &e) {
        log::error(std::string("control connection failed: ") + e.what());
    }
    connectionDone(fd);
}

// ---- client ----

Expected<std::string> controlRequest(const std::string &socketPath, std::string_view request,
                                     int timeoutMs)
{
    if (request.find('\n') != std::string_view::npos)
        return Error(Errc::Usage, "control request must be one line (it contains a newline)");
    sockaddr_un addr{};
    if (!fillAddress(socketPath, addr))
        return Error(Errc::Usage, socketPathProblem(socketPath));
    auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs < 0 ? 0 : timeoutMs);

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.isValid())
        return Error(Errc::Io,
                     "control socket " + socketPath + ": socket() failed: " + errnoText(errno));
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
            return Error(Errc::NotFound,
                         "no bwc-camd listening on " + socketPath + " (is it running?)");
        if (err == EACCES || err == EPERM)
            return Error(Errc::Io, "control socket " + socketPath + ": " + errnoText(err) +
                                       "; run as a user who may use the socket (its owner or "
                                       "group)");
        if (err == EAGAIN)
            return Error(Errc::Io, "bwc-camd on " + socketPath +
                                       " is not accepting connections (its queue is full); try "
                                       "again");
        return Error(Errc::Io,
                     "control socket " + socketPath + ": connect failed: " + errnoText(err));
    }

    std::string line(request);
    line += '\n';
    auto sent = sendAll(fd.get(), line, deadline);
    if (sent == SendResult::Timeout)
        return Error(Errc::Io, "bwc-camd on " + socketPath + " did not take the request within " +
                                   std::to_string(timeoutMs) + " ms");
    if (sent == SendResult::Failed)
        return Error(Errc::Io,
                     "control socket " + socketPath + ": send failed: " + errnoText(errno));
    // SendResult::Closed: the server answered early (busy, error) and closed; read it.

    constexpr size_t kMaxResponse = size_t(1) << 20;
    std::string response;
    char buf[4096];
    for (;;) {
        auto nl = response.find('\n');
        if (nl != std::string::npos) {
            response.resize(nl);
            return response;
        }
        if (response.size() > kMaxResponse)
            return Error(Errc::Protocol, "bwc-camd on " + socketPath +
                                             ": response longer than 1 MiB without a newline");
        ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
        if (n > 0) {
            response.append(buf, size_t(n));
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return Error(Errc::Io, "bwc-camd on " + socketPath +
                                       " closed the connection without a complete answer");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return Error(Errc::Io,
                         "control socket " + socketPath + ": receive failed: " + errnoText(errno));
        int ready = waitFor(fd.get(), POLLIN, deadline);
        if (ready == 0)
            return Error(Errc::Io, "no answer from bwc-camd on " + socketPath + " within " +
                                       std::to_string(timeoutMs) + " ms");
        if (ready < 0)
            return Error(Errc::Io,
                         "control socket " + socketPath + ": poll failed: " + errnoText(errno));
    }
}

} // namespace bwc::fw
