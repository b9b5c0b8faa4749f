// bwc-dockd: the dock daemon. `bwc-dockd --config /etc/bwc/dockd.conf`: accepts docked
// cameras over mutual TLS (dock_server.h) into the evidence store named by the
// configuration (dock_config.h). Exit status: 0 after a clean stop (SIGTERM, SIGINT),
// 1 for a runtime failure, 2 for a bad configuration or command line.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include <string>
#include <string_view>
#include <optional>
#include <variant>

#include <CLI/CLI.hpp>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/base/unique_fd.h"
#include "common/crypto/pem.h"
#include "common/net/socket.h"
#include "dock/config/dock_config.h"
#include "dock/server/dock_server.h"
#include "dock/store/evidence_store.h"

namespace {

using namespace bwc;

constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;

// systemd's readiness protocol (sd_notify(3)): one datagram to $NOTIFY_SOCKET; nothing
// when it is unset. Written out rather than linking libsystemd.
void sdNotify(std::string_view state)
{
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0')
        return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
        log::warn(std::string("NOTIFY_SOCKET ") + path + " is not a usable socket path");
        return;
    }
    std::memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.isValid())
        return;
    const socklen_t addrLen = socklen_t(offsetof(sockaddr_un, sun_path) + len);
    if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr *>(&addr), addrLen) < 0)
        log::warn(std::string("sd_notify to ") + path + " failed: " + std::strerror(errno));
}

int fail(int code, const std::string &message)
{
    std::cerr << "bwc-dockd: " << message << "\n";
    return code;
}

int exitCodeFor(const Error &e)
{
    return e.code == Errc::Config || e.code == Errc::Usage || e.code == Errc::Format ||
                   e.code == Errc::NotFound || e.code == Errc::Cert
               ? kExitConfig
               : kExitRuntime;
}

std::string describe(const dock::SessionSummary &s)
{
    std::string line = "session " + s.deviceId + ": " + std::to_string(s.offered) +
                       " offered, " + std::to_string(s.stored) + " stored, " +
                       std::to_string(s.refused) + " refused, " +
                       std::to_string(s.bytesReceived) + " bytes received";
    line += s.receiptLastSeq > 0 ? ", receipt to seq " + std::to_string(s.receiptLastSeq)
                                 : std::string(", no receipt");
    if (s.wiped)
        line += ", WIPE recorded";
    line += s.error.empty() ? std::string(": ok") : ": " + s.error;
    return line;
}

struct Failure {
    int code;
    std::string message;
};

struct Loaded {
    dock::LoadedDockConfig config;
    net::TlsConfig tls;
    store::DockIdentity identity;
    std::optional<crypto::P256KeyPair> aek;
};

// Everything read from the configuration's files, checked; exit code and message on
// failure.
std::variant<Loaded, Failure> load(const std::string &path,
                                                      const crypto::Backend &backend)
{
    auto config = dock::loadDockConfig(path);
    if (!config)
        return Failure{kExitConfig, config.error().message};
    const v1::DockConfig &c = config->config;
    auto tls = net::loadTlsConfig(c.cert_path(), c.key_path(), c.ca_path(), c.crl_path());
    if (!tls)
        return Failure{kExitConfig, path + ": TLS material (cert_path, key_path, ca_path, "
                                           "crl_path): " +
                                        tls.error().message};
    auto key = backend.parsePrivateKeyDer(tls->ownKeyDer.view());
    if (!key)
        return Failure{kExitConfig, path + ": key_path " + c.key_path() + ": " +
                                        key.error().message};
    auto leaf = backend.parseCertificateDer(tls->ownCertChainDer.front());
    if (!leaf)
        return Failure{kExitConfig, path + ": cert_path " + c.cert_path() + ": " +
                                        leaf.error().message};
    if (leaf->publicKey != key->pub)
        return Failure{kExitConfig, path + ": key_path " + c.key_path() +
                                        " is not the key of the certificate in cert_path " +
                                        c.cert_path() + "; configure the pair `bwc pki issue-dock` "
                                                        "wrote"};
    if (leaf->subjectCommonName != c.dock_id())
        return Failure{kExitConfig, path + ": dock_id \"" + c.dock_id() +
                                        "\" but the certificate in cert_path " + c.cert_path() +
                                        " is issued to \"" + leaf->subjectCommonName +
                                        "\"; set dock_id to the certificate's name or issue a "
                                        "certificate for this dock"};
    Loaded loaded{std::move(*config), std::move(*tls), {}, std::nullopt};
    loaded.identity.key = *key;
    loaded.identity.certChainDer = loaded.tls.ownCertChainDer;
    if (!c.aek_key_path().empty()) {
        auto blocks = crypto::readPemFile(c.aek_key_path(), "PRIVATE KEY");
        if (!blocks)
            return Failure{kExitConfig,
                           path + ": aek_key_path: " + blocks.error().message};
        if (blocks->size() != 1)
            return Failure{kExitConfig, path + ": aek_key_path " + c.aek_key_path() + " holds " +
                                            std::to_string(blocks->size()) +
                                            " private keys; expected exactly one"};
        auto aek = backend.parsePrivateKeyDer(blocks->front());
        secureZero(blocks->front().data(), blocks->front().size());
        if (!aek)
            return Failure{kExitConfig, path + ": aek_key_path " + c.aek_key_path() + ": " +
                                            aek.error().message};
        loaded.aek = *aek;
    }
    if (!c.camera_config_dir().empty()) {
        struct stat st{};
        if (::stat(c.camera_config_dir().c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            return Failure{kExitConfig, path + ": camera_config_dir " + c.camera_config_dir() +
                                            " is not a folder; create it or remove the field"};
    }
    return loaded;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"bwc-dockd: the dock's offload server (mutual TLS, evidence store, receipts)"};
    std::string configPath;
    bool checkOnly = false;
    bool version = false;
    app.add_option("-c,--config", configPath, "dock configuration (protobuf text format)");
    app.add_flag("--check-config", checkOnly,
                 "load and check the configuration and the files it names, then exit");
    app.add_flag("--version", version, "print the version");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : kExitConfig;
    }
    if (version) {
        std::cout << "bwc-dockd " << BWC_VERSION << "\n";
        return 0;
    }
    if (configPath.empty())
        return fail(kExitConfig, "no --config given; pass the dock's configuration, e.g. "
                                 "--config board/sim/dockd.conf");
    log::setProgram("bwc-dockd");

    auto backend = crypto::makeOpensslBackend();
    auto loaded = load(configPath, *backend);
    if (auto *failure = std::get_if<Failure>(&loaded))
        return fail(failure->code, failure->message);
    Loaded &l = std::get<Loaded>(loaded);
    const v1::DockConfig &c = l.config.config;
    if (checkOnly) {
        std::cout << configPath << ": valid (dock " << c.dock_id() << ", listen "
                  << net::endpointName(l.config.host, l.config.port) << ", store "
                  << c.store_path() << (l.aek ? ", full decrypt-verify" : "") << ")\n";
        return 0;
    }

    // Signals go to the main thread only (blocked before any other thread starts), which
    // turns them into a clean stop.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    SystemClock clock;
    auto store = store::EvidenceStore::open(c.store_path(), l.identity, *backend, clock);
    if (!store)
        return fail(exitCodeFor(store.error()),
                    configPath + ": store_path " + c.store_path() + ": " + store.error().message);
    {
        auto days = (*store)->catalog().categoryRetentionDays(store::kDefaultCategory);
        if (days && days->value_or(-1) != int(c.default_retention_days())) {
            auto r = (*store)->defineCategory(store::kDefaultCategory,
                                              int(c.default_retention_days()), "dock",
                                              "default_retention_days in " + configPath);
            if (!r)
                return fail(kExitRuntime, r.error().message);
        }
    }

    dock::DockServerOptions options;
    options.host = l.config.host;
    options.port = l.config.port;
    options.tls = l.tls;
    options.maxSessions = c.max_sessions();
    options.sessionTimeoutMs = int(c.session_timeout_seconds()) * 1000;
    options.evidenceKey = l.aek;
    options.cameraConfigDir = c.camera_config_dir();
    options.crlPath = c.crl_path();
    options.reserveBytes = c.reserve_bytes();
    options.onSessionEnd = [](const dock::SessionSummary &s) {
        if (s.error.empty())
            log::info(describe(s));
        else
            log::warn(describe(s));
    };
    auto server = dock::DockServer::start(**store, *backend, clock, std::move(options));
    if (!server)
        return fail(exitCodeFor(server.error()),
                    configPath + ": listen " + c.listen() + ": " + server.error().message);

    std::cout << "bwc-dockd: listening on " << net::endpointName(l.config.host, (*server)->port())
              << " (dock " << c.dock_id() << ", store " << c.store_path() << ")" << std::endl;
    sdNotify("READY=1\nSTATUS=listening on " + net::endpointName(l.config.host, (*server)->port()));

    int sig = 0;
    sigwait(&signals, &sig);
    log::info(std::string("signal ") + strsignal(sig) + ": stopping (running sessions end with "
                                                        "Abort; partial files stay for Resume)");
    sdNotify("STOPPING=1");
    (*server)->stop();
    server->reset();
    return 0;
}
