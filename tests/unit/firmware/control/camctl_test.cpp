// Runs the built bwc-camctl (BWC_CAMCTL_PATH) against a ControlServer in this process.

#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/base/file.h"
#include "firmware/control/control.h"
#include "tests/unit/firmware/control/control_test_util.h"

extern char **environ;

using bwc::fw::ControlHandler;
using bwc::fw::ControlServer;
using bwc::fw::JsonObject;
using namespace bwc::fw::test;

namespace {

struct RunResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

// Runs bwc-camctl with `args`, its environment being ours plus `env` (NAME=VALUE), minus
// BWC_CAMD_SOCKET unless given.
RunResult runCamctl(const TempDir &dir, const std::vector<std::string> &args,
                    const std::vector<std::string> &env = {})
{
    std::string outPath = dir.path() + "/out.txt", errPath = dir.path() + "/err.txt";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);

    std::vector<std::string> argStore{BWC_CAMCTL_PATH};
    argStore.insert(argStore.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : argStore)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> envStore;
    for (char **e = environ; *e; ++e) {
        if (std::string_view(*e).starts_with("BWC_CAMD_SOCKET="))
            continue;
        envStore.emplace_back(*e);
    }
    envStore.insert(envStore.end(), env.begin(), env.end());
    std::vector<char *> envp;
    for (auto &e : envStore)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = 0;
    int rc = posix_spawn(&pid, BWC_CAMCTL_PATH, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    RunResult r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = *bwc::readTextFile(outPath);
    r.err = *bwc::readTextFile(errPath);
    return r;
}

// A fake camera: records the requests it gets.
struct FakeCamd {
    std::mutex mutex;
    std::vector<std::vector<std::string>> requests;

    std::map<std::string, ControlHandler> handlers()
    {
        auto record = [this](const std::vector<std::string> &args) {
            std::lock_guard lock(mutex);
            requests.push_back(args);
        };
        std::map<std::string, ControlHandler> h;
        h["status"] = [record](const std::vector<std::string> &args) {
            record(args);
            return JsonObject()
                .add("ok", true)
                .add("state", "recording")
                .add("clips", 3)
                .addRaw("leds", "{\"record\":\"on\"}")
                .add("officer", "O'Neil \"Jr\"")
                .str();
        };
        h["press"] = [record](const std::vector<std::string> &args) {
            record(args);
            return JsonObject().add("ok", false).add("error", "not a sim board").str();
        };
        h["release"] = [record](const std::vector<std::string> &args) {
            record(args);
            return std::string("this is not json");
        };
        h["hold"] = [record](const std::vector<std::string> &args) {
            record(args);
            return JsonObject().add("ok", true).add("held_ms", std::stoi(args.at(1))).str();
        };
        h["dock"] = [record](const std::vector<std::string> &args) {
            record(args);
            return JsonObject().add("ok", true).str();
        };
        return h;
    }
    size_t count()
    {
        std::lock_guard lock(mutex);
        return requests.size();
    }
    std::vector<std::string> last()
    {
        std::lock_guard lock(mutex);
        return requests.empty() ? std::vector<std::string>{} : requests.back();
    }
};

} // namespace

TEST_CASE("bwc-camctl status prints the answer and exits 0")
{
    TempDir dir;
    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto r = runCamctl(dir, {"--socket", dir.socket(), "status"});
    CHECK(r.exitCode == 0);
    CHECK(r.out == "{\"ok\":true,\"state\":\"recording\",\"clips\":3,\"leds\":{\"record\":\"on\"},"
                   "\"officer\":\"O'Neil \\\"Jr\\\"\"}\n");
    CHECK(r.err.empty());
    CHECK(camd.last() == std::vector<std::string>{"status"});

    // Options may also follow the command; --pretty indents.
    auto pretty = runCamctl(dir, {"status", "--pretty", "--socket", dir.socket()});
    CHECK(pretty.exitCode == 0);
    CHECK(pretty.out == "{\n  \"ok\": true,\n  \"state\": \"recording\",\n  \"clips\": 3,\n"
                        "  \"leds\": {\n    \"record\": \"on\"\n  },\n"
                        "  \"officer\": \"O'Neil \\\"Jr\\\"\"\n}\n");
}

TEST_CASE("bwc-camctl status --field prints one value")
{
    TempDir dir;
    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto state = runCamctl(dir, {"--socket", dir.socket(), "status", "--field", "state"});
    CHECK(state.exitCode == 0);
    CHECK(state.out == "recording\n");
    auto clips = runCamctl(dir, {"--socket", dir.socket(), "status", "--field", "clips"});
    CHECK(clips.out == "3\n");
    auto officer = runCamctl(dir, {"--socket", dir.socket(), "status", "--field", "officer"});
    CHECK(officer.out == "O'Neil \"Jr\"\n");
    auto leds = runCamctl(dir, {"--socket", dir.socket(), "status", "--field", "leds"});
    CHECK(leds.out == "{\"record\":\"on\"}\n");

    auto missing = runCamctl(dir, {"--socket", dir.socket(), "status", "--field", "nope"});
    CHECK(missing.exitCode == 2);
    CHECK(missing.out.empty());
    CHECK(missing.err == "bwc-camctl: status has no field 'nope' (fields: ok, state, clips, leds, "
                         "officer)\n");
}

TEST_CASE("bwc-camctl exits 1 and prints the camera's error when it answers ok:false")
{
    TempDir dir;
    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto r = runCamctl(dir, {"--socket", dir.socket(), "press"});
    CHECK(r.exitCode == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "bwc-camctl: press: not a sim board\n");
}

TEST_CASE("bwc-camctl hold sends the duration; a bad duration never reaches the camera")
{
    TempDir dir;
    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto r = runCamctl(dir, {"--socket", dir.socket(), "hold", "2500"});
    CHECK(r.exitCode == 0);
    CHECK(r.out == "{\"ok\":true,\"held_ms\":2500}\n");
    CHECK(camd.last() == std::vector<std::string>{"hold", "2500"});

    size_t before = camd.count();
    for (const char *bad : {"0", "60001", "-5", "soon"}) {
        auto b = runCamctl(dir, {"--socket", dir.socket(), "hold", bad});
        INFO(bad << ": " << b.err);
        CHECK(b.exitCode == 2);
        CHECK(b.err.find("run `bwc-camctl --help` for usage") != std::string::npos);
    }
    auto none = runCamctl(dir, {"--socket", dir.socket(), "hold"});
    CHECK(none.exitCode == 2);
    CHECK(none.err.starts_with("bwc-camctl: MS is required"));
    CHECK(camd.count() == before);

    auto dock = runCamctl(dir, {"--socket", dir.socket(), "dock"});
    CHECK(dock.exitCode == 0);
    CHECK(camd.last() == std::vector<std::string>{"dock"});
}

TEST_CASE("bwc-camctl takes the socket from BWC_CAMD_SOCKET, --socket wins")
{
    TempDir dir;
    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto env = runCamctl(dir, {"dock"}, {"BWC_CAMD_SOCKET=" + dir.socket()});
    CHECK(env.exitCode == 0);
    CHECK(env.out == "{\"ok\":true}\n");

    auto both = runCamctl(dir, {"--socket", dir.path() + "/other.sock", "dock"},
                          {"BWC_CAMD_SOCKET=" + dir.socket()});
    CHECK(both.exitCode == 2);
    CHECK(both.err ==
          "bwc-camctl: no bwc-camd listening on " + dir.path() + "/other.sock (is it running?)\n");
}

TEST_CASE("bwc-camctl exits 2 when nothing listens, on usage errors and bad answers")
{
    TempDir dir;
    auto nothing = runCamctl(dir, {"--socket", dir.socket(), "status"});
    CHECK(nothing.exitCode == 2);
    CHECK(nothing.out.empty());
    CHECK(nothing.err ==
          "bwc-camctl: no bwc-camd listening on " + dir.socket() + " (is it running?)\n");

    FakeCamd camd;
    auto server = ControlServer::start(dir.socket(), camd.handlers());
    REQUIRE(server);

    auto malformed = runCamctl(dir, {"--socket", dir.socket(), "release"});
    CHECK(malformed.exitCode == 2);
    CHECK(malformed.err.starts_with("bwc-camctl: bwc-camd on " + dir.socket() +
                                    " sent a malformed answer"));

    auto unknown = runCamctl(dir, {"--socket", dir.socket(), "selfdestruct"});
    CHECK(unknown.exitCode == 2);
    CHECK(unknown.err.starts_with("bwc-camctl: unknown command 'selfdestruct' (known: status, "
                                  "press, release, hold, dock, flag)"));

    auto noCommand = runCamctl(dir, {"--socket", dir.socket()});
    CHECK(noCommand.exitCode == 2);
    CHECK(noCommand.err.starts_with("bwc-camctl: a command is required"));

    auto extra = runCamctl(dir, {"--socket", dir.socket(), "status", "now"});
    CHECK(extra.exitCode == 2);
    CHECK(extra.err.starts_with("bwc-camctl: unexpected argument 'now' for status"));

    auto badTimeout = runCamctl(dir, {"--timeout", "0", "--socket", dir.socket(), "status"});
    CHECK(badTimeout.exitCode == 2);
}

TEST_CASE("bwc-camctl --timeout bounds the wait for the answer")
{
    TempDir dir;
    std::atomic<bool> done{false};
    std::map<std::string, ControlHandler> handlers;
    handlers["status"] = [&done](const std::vector<std::string> &) {
        for (int i = 0; i < 300 && !done; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return JsonObject().add("ok", true).str();
    };
    auto server = ControlServer::start(dir.socket(), handlers);
    REQUIRE(server);

    auto r = runCamctl(dir, {"--socket", dir.socket(), "--timeout", "200", "status"});
    done = true;
    CHECK(r.exitCode == 2);
    CHECK(r.err == "bwc-camctl: no answer from bwc-camd on " + dir.socket() + " within 200 ms\n");
}

TEST_CASE("bwc-camctl --help lists the commands")
{
    TempDir dir;
    auto r = runCamctl(dir, {"--help"});
    CHECK(r.exitCode == 0);
    for (const char *word : {"status", "press", "release", "hold", "dock", "--socket", "--timeout",
                             "BWC_CAMD_SOCKET", "Exit status"}) {
        INFO(word);
        CHECK(r.out.find(word) != std::string::npos);
    }
}
