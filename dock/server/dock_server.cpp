#include "dock/server/dock_server.h"

#include <csignal>
#include <list>
#include <mutex>
#include <thread>

#include "common/base/log.h"
#include "common/net/platform/openssl/tls_server.h"
#include "common/net/socket.h"
#include "dock/server/commit_scheduler.h"
#include "dock/server/crl_source.h"
#include "dock/server/session.h"

namespace bwc::dock {

namespace {

// How long one accept() waits for a camera (the TLS handshake then has a time of its
// own, net::kHandshakeTimeoutMs); stop() wakes the wait with a connection of its own.
constexpr int kAcceptWaitMs = 30'000;
constexpr int kBusyAbortMs = 2000;

bool timedOut(const Error &e)
{
    return e.code == Errc::Io && e.message.find("timed out") != std::string::npos;
}

// An address to reach our own listener at (to wake its accept()).
std::string wakeHost(const std::string &host)
{
    if (host.empty() || host == "0.0.0.0")
        return "127.0.0.1";
    if (host == "::" || host == "[::]")
        return "::1";
    return host;
}

} // namespace

class DockServer::Impl
{
public:
    Impl(store::EvidenceStore &store, const crypto::Backend &backend, const Clock &clock,
         DockServerOptions options)
        : options_(std::move(options)), crl_(options_.crlPath, options_.tls.crlsDer),
          env_{store, backend, clock, options_, scheduler_, crl_, devices_, stopping_}
    {
    }

    ~Impl() { stop(); }

    Expected<void> start()
    {
        BWC_TRY(listen(options_.port));
        port_ = listener_->port();
        acceptThread_ = std::thread([this] { acceptLoop(); });
        return {};
    }

    void stop()
    {
        {
            std::lock_guard lock(stopMutex_);
            if (stopped_)
                return;
            stopped_ = true;
        }
        stopping_ = true;
        if (acceptThread_.joinable()) {
            // Wake the accept() wait: the connection fails its handshake and the loop sees
            // the stop flag.
            (void)net::tcpConnect(wakeHost(options_.host), port_.load(), 1000);
            acceptThread_.join();
        }
        if (listener_)
            listener_->close();
        reap(true);
    }

    uint16_t port() const { return port_.load(); }
    size_t activeSessions() const { return active_.load(); }

private:
    Expected<void> listen(uint16_t port)
    {
        net::TlsConfig config = options_.tls;
        const uint64_t generation = crl_.generation();
        const std::vector<Bytes> crls = crl_.current();
        if (!crls.empty())
            config.crlsDer = crls;
        BWC_ASSIGN(listener, net::TlsListener::listen(options_.host, port, config));
        listener_ = std::move(listener);
        listenerCrlGeneration_ = generation;
        return {};
    }

    // A new CRL reaches the TLS handshakes by listening again with it on the same port
    // (the listener takes its CRLs at creation); cameras that connect in that moment are
    // refused and retry.
    void relistenIfCrlChanged()
    {
        if (listener_ && crl_.generation() == listenerCrlGeneration_)
            return;
        const uint16_t port = port_.load();
        if (listener_) {
            log::info("offload: the CRL " + crl_.path() +
                      " changed; new TLS handshakes check the new one");
            listener_->close();
            listener_.reset();
        }
        if (auto r = listen(port); !r)
            log::error("offload: cannot listen on " + net::endpointName(options_.host, port) +
                       " again: " + r.error().message + "; retrying");
    }

    void acceptLoop()
    {
        while (!stopping_) {
            reap(false);
            relistenIfCrlChanged();
            if (!listener_) {
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
                continue;
            }
            auto stream = listener_->accept(kAcceptWaitMs);
            if (stopping_)
                break;
            if (!stream) {
                if (!timedOut(stream.error()))
                    log::warn("offload: " + stream.error().message);
                continue;
            }
            if (active_.load() >= options_.maxSessions) {
                refuseBusy(**stream);
                continue;
            }
            startSession(std::move(*stream));
        }
    }

    void refuseBusy(net::TlsStream &stream)
    {
        const std::string message = "dock busy: all " + std::to_string(options_.maxSessions) +
                                    " bays in use; retry";
        log::warn("offload: refused " + stream.peerId() + ": " + message);
        v1::Frame abort;
        abort.mutable_abort()->set_message(message);
        (void)net::sendFrame(stream, abort, kBusyAbortMs);
        stream.close();
    }

    void startSession(std::unique_ptr<net::TlsStream> stream)
    {
        auto done = std::make_shared<std::atomic<bool>>(false);
        ++active_;
        std::lock_guard lock(sessionsMutex_);
        sessions_.push_back(Running{
            std::thread([this, done, s = std::move(stream)]() mutable {
                SessionSummary summary = runSession(env_, std::move(s));
                --active_;
                if (options_.onSessionEnd)
                    options_.onSessionEnd(summary);
                *done = true;
            }),
            done});
    }

    // Joins the session threads that have ended (all of them when `all`).
    void reap(bool all)
    {
        std::list<Running> ended;
        {
            std::lock_guard lock(sessionsMutex_);
            for (auto it = sessions_.begin(); it != sessions_.end();) {
                if (all || it->done->load()) {
                    ended.push_back(std::move(*it));
                    it = sessions_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (Running &r : ended)
            r.thread.join();
    }

    struct Running {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };

    DockServerOptions options_;
    CommitScheduler scheduler_;
    CrlSource crl_;
    DeviceRegistry devices_;
    std::atomic<bool> stopping_{false};
    SessionEnv env_;

    // Used by the accept thread only (and by start/stop around it).
    std::unique_ptr<net::TlsListener> listener_;
    uint64_t listenerCrlGeneration_ = 0;
    std::thread acceptThread_;

    std::atomic<uint16_t> port_{0};
    std::atomic<size_t> active_{0};
    std::mutex sessionsMutex_;
    std::list<Running> sessions_;
    std::mutex stopMutex_;
    bool stopped_ = false;
};

Expected<std::unique_ptr<DockServer>> DockServer::start(store::EvidenceStore &store,
                                                        const crypto::Backend &backend,
                                                        const Clock &clock,
                                                        DockServerOptions options)
{
    if (options.maxSessions == 0)
        return Error(Errc::Config, "offload server: max_sessions is 0; at least one bay is needed");
    if (options.sessionTimeoutMs <= 0)
        return Error(Errc::Config, "offload server: the session timeout must be positive");
    if (options.tls.trustAnchorsDer.empty())
        return Error(Errc::Config,
                     "offload server: no agency CA certificate to check cameras against");
    if (options.tls.crlsDer.empty() && options.crlPath.empty())
        return Error(Errc::Config, "offload server: no agency CRL; cameras cannot be checked "
                                   "for revocation (write one with `bwc pki`)");
    // A camera that disconnects while the dock writes must not kill the dock: the TLS
    // server's socket writes can raise SIGPIPE, so it is ignored unless the program has
    // its own handler.
    struct sigaction current{};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
        std::signal(SIGPIPE, SIG_IGN);
    auto impl = std::make_unique<Impl>(store, backend, clock, std::move(options));
    BWC_TRY(impl->start());
    return std::unique_ptr<DockServer>(new DockServer(std::move(impl)));
}

DockServer::DockServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DockServer::~DockServer()
{
    stop();
}

uint16_t DockServer::port() const
{
    return impl_->port();
}

size_t DockServer::activeSessions() const
{
    return impl_->activeSessions();
}

void DockServer::stop()
{
    impl_->stop();
}

} // namespace bwc::dock
