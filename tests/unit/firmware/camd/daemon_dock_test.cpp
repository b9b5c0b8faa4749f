// The daemon's `dock` and `flag` control commands, in process, on the simulated board
// against a scripted dock: a recorded clip is flagged and offloaded, the camera refuses to
// dock while recording and runs one offload at a time, the dock's time and officer reach
// the status, and a shutdown during an offload cancels it.

#include "firmware/camd/daemon.h"

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/base/file.h"
#include "common/crypto/pem.h"
#include "common/net/tls.h"
#include "dock/pki/pki_store.h"
#include "firmware/control/control.h"
#include "firmware/control/json_read.h"
#include "tests/unit/firmware/offload/scripted_dock.h"

namespace bwc::fw {
namespace {

using namespace std::chrono_literals;

constexpr int kWaitMs = 15'000;

template <typename T> T must(Expected<T> e)
{
    INFO((e.ok() ? std::string() : e.error().message));
    REQUIRE(e.ok());
    return std::move(e).value();
}

// The members of a JSON object answer, by key (values as JSON text).
std::map<std::string, std::string> members(const std::string &json)
{
    std::map<std::string, std::string> out;
    INFO(json);
    for (const JsonMember &m : must(jsonObjectMembers(json)))
        out[m.key] = m.value;
    return out;
}

class TempDir
{
public:
    TempDir()
    {
        char tmpl[] = "/tmp/bwc-dockcmd-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path_ = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A provisioned simulated camera and the dock it is configured for.
struct Bench {
    TempDir dir;
    std::unique_ptr<crypto::Backend> dockBackend = crypto::makeOpensslBackend();
    std::optional<pki::PkiStore> pki;
    net::TlsConfig dockTls;
    crypto::P256KeyPair dockKey;
    std::unique_ptr<Daemon> daemon;
    std::atomic<bool> stop{false};
    std::thread thread;
    std::promise<void> finished;

    Bench()
    {
        pki.emplace(must(pki::PkiStore::init(dir.file("pki"), "Test Agency", 3650)));
        must(pki->issueDevice("cam-0001", 365));
        must(pki->issueRecipient("aek", 365));
        auto dock = must(pki->issueDock(test::kDockId, 365));
        dockTls = must(
            net::loadTlsConfig(dock.certPath, dock.keyPath, pki->caCertPath(), pki->crlPath()));
        auto keys = must(crypto::readPemFile(dock.keyPath, "PRIVATE KEY"));
        dockKey = must(dockBackend->parsePrivateKeyDer(keys.at(0)));
    }
    ~Bench()
    {
        stop = true;
        if (thread.joinable())
            thread.join();
    }

    std::string socket() const { return dir.file("camd.sock"); }

    void start(uint16_t dockPort)
    {
        std::ofstream(dir.file("camd.conf"))
            << "format_version: 1\n"
            << "device_id: \"cam-0001\"\n"
            << "video { source: \"synthetic\" width: 320 height: 240 fps: 15 bitrate_kbps: 300 "
               "encoder: \"libx264\" preset: \"ultrafast\" }\n"
            << "audio { enabled: false }\n"
            << "prerecord { seconds: 1 }\n"
            << "hal { backend: \"sim\" long_press_ms: 3000 }\n"
            << "storage { path: \"data\" warn_percent: 99 reserve_bytes: 1048576 }\n"
            << "identity { key_path: \"pki/devices/cam-0001.key\" cert_path: "
               "\"pki/devices/cam-0001.pem\" ca_path: \"pki/ca.pem\" crl_path: \"pki/crl.pem\" "
               "recipient_cert_paths: \"pki/recipients/aek.pem\" }\n"
            << "dock { address: \"127.0.0.1:" << dockPort << "\" }\n"
            << "control_socket: \"camd.sock\"\n";
        const LoadedConfig config = must(loadCameraConfig(dir.file("camd.conf")));
        daemon = must(Daemon::create(config));
        thread = std::thread([this] {
            auto r = daemon->run(stop);
            if (!r)
                FAIL_CHECK("daemon: " << r.error().message);
            finished.set_value();
        });
        waitFor([](const auto &s) {
            return s.at("state") == "\"idle\"" && s.at("ready") == "true";
        });
    }

    std::string request(const std::string &line, int timeoutMs = 10'000)
    {
        return must(controlRequest(socket(), line, timeoutMs));
    }

    // Polls status until `pred` holds (REQUIREs it within kWaitMs).
    template <typename Pred> std::map<std::string, std::string> waitFor(Pred pred)
    {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
        for (;;) {
            auto answer = controlRequest(socket(), "status", 2000);
            if (answer) {
                auto s = members(*answer);
                if (pred(s))
                    return s;
                if (std::chrono::steady_clock::now() > deadline) {
                    INFO(*answer);
                    REQUIRE(false);
                }
            }
            REQUIRE(std::chrono::steady_clock::now() <= deadline);
            std::this_thread::sleep_for(50ms);
        }
    }
};

// Holds the scripted dock between Hello and Welcome until opened. Opened at the latest
// by an Opener declared after the dock and the threads using it, so that a failing test
// unwinds without deadlock.
struct Gate {
    std::promise<void> promise;
    std::shared_future<void> opened = promise.get_future().share();
    std::once_flag once;
    std::atomic<bool> held{false};
    void open()
    {
        std::call_once(once, [this] { promise.set_value(); });
    }
    std::function<void()> hold()
    {
        return [this, opened = opened] {
            held = true;
            opened.wait();
        };
    }
};
struct Opener {
    Gate &gate;
    ~Opener() { gate.open(); }
};

TEST_CASE("camd: `flag` then `dock` offloads the clip; refused while recording or running")
{
    Bench bench;
    Gate gate;
    test::Knobs knobs;
    knobs.officer = "OFC-9";
    knobs.dockUtcMs = utcNowMs() + 2 * 3'600'000;
    knobs.beforeWelcome = gate.hold();
    test::ScriptedDock dock(*bench.dockBackend, bench.dockTls, bench.dockKey, knobs, 20'000, -1);
    bench.start(dock.port());

    CHECK(members(bench.request("flag")).at("error").find("no clip to flag") != std::string::npos);

    // Record a clip: press and release, then a long press stops and seals it. Edges are
    // kept 100 ms apart, beyond the 30 ms debounce (closer ones are taken for bounce).
    bench.request("press");
    bench.waitFor([](const auto &s) { return s.at("state") == "\"recording\""; });
    const auto refused = members(bench.request("dock"));
    CHECK(refused.at("ok") == "false");
    CHECK(refused.at("error") == "\"recording in progress: stop recording before docking\"");
    std::this_thread::sleep_for(100ms);
    bench.request("release");
    std::this_thread::sleep_for(100ms);
    bench.request("hold 3100", 20'000);
    auto idle = bench.waitFor(
        [](const auto &s) { return s.at("state") == "\"idle\"" && s.at("last_clip_seq") != "0"; });
    const std::string clipUuid = must(jsonUnquote(idle.at("last_clip")));
    const auto flagged = members(bench.request("flag"));
    REQUIRE(flagged.at("ok") == "true");
    CHECK(flagged.at("flagged") == "\"" + clipUuid + "\"");
    CHECK(pathExists(bench.dir.file("data/clips/" + clipUuid + ".flag")));

    // Dock; a second `dock` while the first waits for the dock's Welcome is refused.
    Expected<std::string> answer = Error(Errc::Io, "no answer");
    std::jthread docking([&] { answer = controlRequest(bench.socket(), "dock", 30'000); });
    Opener opener{gate};
    bench.waitFor([&](const auto &) { return gate.held.load(); });
    const auto running = members(bench.request("status"));
    CHECK(members(running.at("offload")).at("running") == "true");
    CHECK(members(bench.request("dock")).at("error") == "\"offload already running\"");
    gate.open();
    docking.join();
    REQUIRE(answer.ok());

    const test::DockLog &log = dock.join();
    INFO("dock: " << log.error << "\nanswer: " << *answer);
    CHECK(log.error.empty());
    const auto r = members(*answer);
    REQUIRE(r.at("ok") == "true");
    CHECK(r.at("dock_id") == "\"dock-01\"");
    CHECK(r.at("wiped") == "[1]");
    CHECK(r.at("clock_set") == "true");
    CHECK(r.at("officer_id") == "\"OFC-9\"");
    CHECK(r.at("stored") == r.at("offered"));
    CHECK(r.at("bytes_sent") != "0");
    REQUIRE(log.hello.pending_size() == 1);
    CHECK(log.hello.pending(0).flagged());
    REQUIRE(log.wiped);

    // The clip and its flag are gone; the dock's time and officer are the camera's now.
    for (const auto &entry : std::filesystem::directory_iterator(bench.dir.file("data/clips")))
        CHECK(entry.path().extension() != ".bwcclip");
    CHECK_FALSE(pathExists(bench.dir.file("data/clips/" + clipUuid + ".flag")));
    CHECK(must(readTextFile(bench.dir.file("data/officer"))) == "OFC-9\n");
    CHECK(pathExists(bench.dir.file("data/clock_offset")));
    const auto status = members(bench.request("status"));
    CHECK(status.at("officer_id") == "\"OFC-9\"");
    CHECK(status.at("clock_source") == "\"CLOCK_SOURCE_DOCK\"");
    CHECK(status.at("config_pending_restart") == "false");
    const auto offload = members(status.at("offload"));
    CHECK(offload.at("running") == "false");
    CHECK(members(offload.at("last_result")).at("ok") == "true");
}

TEST_CASE("camd: stopping during an offload cancels it")
{
    Bench bench;
    Gate gate;
    test::Knobs knobs;
    knobs.beforeWelcome = gate.hold();
    test::ScriptedDock dock(*bench.dockBackend, bench.dockTls, bench.dockKey, knobs, 20'000, -1);
    bench.start(dock.port());
    std::future<void> finished = bench.finished.get_future();

    std::optional<Expected<std::string>> answer;
    std::jthread docking([&] { answer.emplace(controlRequest(bench.socket(), "dock", 30'000)); });
    Opener opener{gate};
    bench.waitFor([&](const auto &) { return gate.held.load(); });
    bench.stop = true;
    // The daemon stops while the dock still holds the session: the offload was cancelled
    // (without the cancel it would wait for the dock's 30 s frame timeout).
    const bool stopped =
        finished.wait_for(std::chrono::milliseconds(kWaitMs)) == std::future_status::ready;
    gate.open();
    docking.join();
    CHECK(stopped);
    REQUIRE(answer);
    // The answer reached the client, or the server closed the connection on its way down.
    if (answer->ok())
        CHECK(answer->value().find("cancelled") != std::string::npos);
}

} // namespace
} // namespace bwc::fw
