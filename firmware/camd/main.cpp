// bwc-camd: the camera daemon. `bwc-camd --config /etc/bwc/camd.conf`; systemd starts it
// (board/*/bwc-camd.service) and `bwc-camctl` talks to it over its control socket.

#include <csignal>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include <thread>

#include <CLI/CLI.hpp>

extern "C" {
#include <libavutil/log.h>
}

#include "common/base/log.h"
#include "firmware/camd/daemon.h"

namespace {

std::atomic<bool> g_stop{false};

} // namespace

int main(int argc, char **argv)
{
    using namespace bwc;
    CLI::App app{"bwc-camd: body-worn camera daemon (capture, pre-record, record, seal)"};
    std::string configPath;
    bool checkOnly = false;
    bool version = false;
    app.add_option("-c,--config", configPath, "camera configuration (protobuf text format)");
    app.add_flag("--check-config", checkOnly, "load and validate the configuration, then exit");
    app.add_flag("--version", version, "print the firmware version");
    CLI11_PARSE(app, argc, argv);
    if (version) {
        std::cout << fw::firmwareVersion() << "\n";
        return 0;
    }
    if (configPath.empty()) {
        std::cerr << "bwc-camd: no --config given; pass the board's configuration, e.g. "
                     "--config board/sim/camd.conf\n";
        return 2;
    }
    log::setProgram("bwc-camd");
    // libav* report through our log only what needs attention (not per-encoder statistics).
    av_log_set_level(AV_LOG_WARNING);

    auto config = fw::loadCameraConfig(configPath);
    if (!config) {
        std::cerr << "bwc-camd: " << config.error().message << "\n";
        return 2;
    }
    if (checkOnly) {
        std::cout << configPath << ": valid\n";
        return 0;
    }

    // Signals go to one thread only, which turns them into a stop request.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::thread signalThread([signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        log::info(std::string("signal ") + strsignal(sig) + ": shutting down");
        g_stop = true;
    });
    signalThread.detach();

    auto daemon = fw::Daemon::create(*config);
    if (!daemon) {
        log::error(daemon.error().message);
        std::cerr << "bwc-camd: " << daemon.error().message << "\n";
        return 1;
    }
    Expected<void> result = (*daemon)->run(g_stop);
    daemon->reset();
    if (!result) {
        std::cerr << "bwc-camd: " << result.error().message << "\n";
        return 1;
    }
    return 0;
}
