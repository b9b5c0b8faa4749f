#include "firmware/control/control.h"

#include <catch2/catch_test_macros.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/base/file.h"
#include "tests/unit/firmware/control/control_test_util.h"

using bwc::Errc;
using bwc::fw::ControlHandler;
using bwc::fw::controlRequest;
using bwc::fw::ControlServer;
using bwc::fw::JsonObject;
using namespace bwc::fw::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, ControlHandler> basicHandlers()
{
    std::map<std::string, ControlHandler> h;
    h["status"] = [](const std::vector<std::string> &) {
        return JsonObject().add("ok", true).add("state", "idle").str();
    };
    h["echo"] = [](const std::vector<std::string> &args) {
        std::string joined;
        for (const auto &a : args)
            joined += "[" + a + "]";
        return JsonObject().add("ok", true).add("args", joined).str();
    };
    return h;
}

std::unique_ptr<ControlServer> startServer(const std::string &path,
                                           std::map<std::string, ControlHandler> handlers)
{
    auto s = ControlServer::start(path, std::move(handlers));
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s);
    return std::move(s).value();
}

double elapsedMs(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
        .count();
}

} // namespace

TEST_CASE("a request and its response go round trip over the socket")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());

    struct stat st {
    };
    REQUIRE(::lstat(dir.socket().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);

    auto r = controlRequest(dir.socket(), "status");
    REQUIRE(r);
    CHECK(*r == "{\"ok\":true,\"state\":\"idle\"}");

    // Words split on spaces and tabs; args[0] is the command.
    auto e = controlRequest(dir.socket(), "  echo  hold\t250 ");
    REQUIRE(e);
    CHECK(*e == "{\"ok\":true,\"args\":\"[echo][hold][250]\"}");
}

TEST_CASE("a request line may end in CRLF or come without a newline before EOF")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());

    auto crlf = connectRaw(dir.socket());
    REQUIRE(crlf.isValid());
    REQUIRE(::send(crlf.get(), "echo a\r\n", 8, MSG_NOSIGNAL) == 8);
    CHECK(readLine(crlf.get()) == "{\"ok\":true,\"args\":\"[echo][a]\"}\n");

    auto halfClosed = connectRaw(dir.socket());
    REQUIRE(halfClosed.isValid());
    REQUIRE(::send(halfClosed.get(), "status", 6, MSG_NOSIGNAL) == 6);
    ::shutdown(halfClosed.get(), SHUT_WR);
    CHECK(readLine(halfClosed.get()) == "{\"ok\":true,\"state\":\"idle\"}\n");
}

TEST_CASE("an unknown command and an empty request get an error listing the commands")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());

    auto r = controlRequest(dir.socket(), "selfdestruct now");
    REQUIRE(r);
    CHECK(*r ==
          "{\"ok\":false,\"error\":\"unknown command 'selfdestruct' (known: echo, status)\"}");

    auto empty = controlRequest(dir.socket(), "   ");
    REQUIRE(empty);
    CHECK(*empty == "{\"ok\":false,\"error\":\"empty request (known commands: echo, status)\"}");
}

TEST_CASE("a request longer than 4 KiB gets an error response")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());

    auto r = controlRequest(dir.socket(), "echo " + std::string(5000, 'x'));
    REQUIRE(r);
    CHECK(*r == "{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}");

    // Without any newline the server stops reading after the limit and answers.
    auto raw = connectRaw(dir.socket());
    REQUIRE(raw.isValid());
    std::string big(8192, 'y');
    REQUIRE(::send(raw.get(), big.data(), big.size(), MSG_NOSIGNAL) == ssize_t(big.size()));
    CHECK(readLine(raw.get()) == "{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}\n");

    // 4096 bytes exactly is still a request.
    auto limit = controlRequest(dir.socket(), "echo " + std::string(4091, 'z'));
    REQUIRE(limit);
    CHECK(limit->starts_with("{\"ok\":true,"));
}

TEST_CASE("a handler that throws gets an error response and the server keeps serving")
{
    TempDir dir;
    auto handlers = basicHandlers();
    handlers["boom"] = [](const std::vector<std::string> &) -> std::string {
        throw std::runtime_error("encoder on fire");
    };
    handlers["weird"] = [](const std::vector<std::string> &) -> std::string { throw 42; };
    auto server = startServer(dir.socket(), handlers);

    auto r = controlRequest(dir.socket(), "boom");
    REQUIRE(r);
    CHECK(*r == "{\"ok\":false,\"error\":\"boom: internal error: encoder on fire\"}");
    auto w = controlRequest(dir.socket(), "weird");
    REQUIRE(w);
    CHECK(*w == "{\"ok\":false,\"error\":\"weird: internal error (unknown exception)\"}");
    auto s = controlRequest(dir.socket(), "status");
    REQUIRE(s);
    CHECK(*s == "{\"ok\":true,\"state\":\"idle\"}");
}

TEST_CASE("a slow handler does not block a second client")
{
    TempDir dir;
    std::promise<void> release;
    auto released = release.get_future().share();
    auto handlers = basicHandlers();
    handlers["slow"] = [released](const std::vector<std::string> &) {
        bool ok = released.wait_for(5s) == std::future_status::ready;
        return JsonObject().add("ok", ok).str();
    };
    auto server = startServer(dir.socket(), handlers);

    auto slow =
        std::async(std::launch::async, [&] { return controlRequest(dir.socket(), "slow"); });
    // The slow request is in its handler (or about to be); a second client is served.
    auto start = std::chrono::steady_clock::now();
    auto fast = controlRequest(dir.socket(), "status", 2000);
    REQUIRE(fast);
    CHECK(*fast == "{\"ok\":true,\"state\":\"idle\"}");
    CHECK(elapsedMs(start) < 1000);
    CHECK(slow.wait_for(0ms) == std::future_status::timeout);

    release.set_value();
    auto slowResult = slow.get();
    REQUIRE(slowResult);
    CHECK(*slowResult == "{\"ok\":true}");
}

TEST_CASE("more than 8 connections at once: the extra one is told the server is busy")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());

    std::vector<bwc::UniqueFd> idle;
    for (int i = 0; i < ControlServer::kMaxConnections; ++i) {
        idle.push_back(connectRaw(dir.socket()));
        REQUIRE(idle.back().isValid());
    }
    // The server takes connections in order; the ninth finds all slots taken.
    auto r = controlRequest(dir.socket(), "status", 2000);
    REQUIRE(r);
    CHECK(*r == "{\"ok\":false,\"error\":\"busy: 8 control connections are open; try again\"}");

    // Once the idle connections are gone, requests are served again.
    idle.clear();
    std::string answer;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto again = controlRequest(dir.socket(), "status", 2000);
        REQUIRE(again);
        answer = *again;
        if (answer.starts_with("{\"ok\":true"))
            break;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(answer == "{\"ok\":true,\"state\":\"idle\"}");
}

TEST_CASE("a stale socket file is replaced")
{
    TempDir dir;
    {
        // A server that died: the socket file stays, nothing listens.
        bwc::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, dir.socket().data(), dir.socket().size());
        REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
    }
    REQUIRE(bwc::pathExists(dir.socket()));
    // A client is told nothing listens there.
    auto none = controlRequest(dir.socket(), "status");
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::NotFound);

    auto server = startServer(dir.socket(), basicHandlers());
    auto r = controlRequest(dir.socket(), "status");
    REQUIRE(r);
    CHECK(*r == "{\"ok\":true,\"state\":\"idle\"}");
}

TEST_CASE("a live server on the path is Errc::Exists, and it keeps running")
{
    TempDir dir;
    auto first = startServer(dir.socket(), basicHandlers());
    auto second = ControlServer::start(dir.socket(), basicHandlers());
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::Exists);
    CHECK(second.error().message.starts_with("another bwc-camd is running on " + dir.socket()));

    auto r = controlRequest(dir.socket(), "status");
    REQUIRE(r);
    CHECK(*r == "{\"ok\":true,\"state\":\"idle\"}");
}

TEST_CASE("a path that is not a socket is Errc::Exists and is left alone")
{
    TempDir dir;
    std::ofstream(dir.socket()) << "precious";
    auto s = ControlServer::start(dir.socket(), basicHandlers());
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Exists);
    CHECK(s.error().message ==
          "control socket " + dir.socket() +
              ": the path exists and is not a socket; remove it or set control_socket to "
              "another path");
    CHECK(*bwc::readTextFile(dir.socket()) == "precious");
}

TEST_CASE("a socket path that is too long or in a missing folder is reported")
{
    TempDir dir;
    auto longPath = ControlServer::start(dir.path() + "/" + std::string(120, 's'), {});
    REQUIRE_FALSE(longPath);
    CHECK(longPath.error().code == Errc::Config);
    CHECK(longPath.error().message.find("longer than 107 bytes") != std::string::npos);

    auto missing = ControlServer::start(dir.path() + "/no/such/camd.sock", {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(missing.error().message.find(dir.path() + "/no/such/camd.sock: bind failed") !=
          std::string::npos);
}

TEST_CASE("stop() returns promptly with a client connected and removes the socket")
{
    TempDir dir;
    auto server = startServer(dir.socket(), basicHandlers());
    auto idle = connectRaw(dir.socket());
    REQUIRE(idle.isValid());
    // Make sure the server has the connection (served, or waiting for its request).
    auto r = controlRequest(dir.socket(), "status");
    REQUIRE(r);

    auto start = std::chrono::steady_clock::now();
    server->stop();
    CHECK(elapsedMs(start) < 500);
    CHECK_FALSE(bwc::pathExists(dir.socket()));
    CHECK(waitForClose(idle.get(), 1000));

    server->stop(); // idempotent
    auto after = controlRequest(dir.socket(), "status");
    REQUIRE_FALSE(after);
    CHECK(after.error().code == Errc::NotFound);
}

TEST_CASE("stop() waits for a running handler and leaves a successor's socket alone")
{
    TempDir dir;
    std::promise<void> entered;
    auto handlers = basicHandlers();
    handlers["slow"] = [&entered](const std::vector<std::string> &) {
        entered.set_value();
        std::this_thread::sleep_for(200ms);
        return JsonObject().add("ok", true).str();
    };
    auto server = startServer(dir.socket(), handlers);
    auto slow =
        std::async(std::launch::async, [&] { return controlRequest(dir.socket(), "slow"); });
    REQUIRE(entered.get_future().wait_for(5s) == std::future_status::ready);

    // Someone replaces the socket file while we run: ours is gone from the path.
    REQUIRE(::unlink(dir.socket().c_str()) == 0);
    auto successor = startServer(dir.socket(), basicHandlers());

    auto start = std::chrono::steady_clock::now();
    server->stop();
    CHECK(elapsedMs(start) >= 100); // waited for the handler
    (void)slow.get();
    REQUIRE(bwc::pathExists(dir.socket()));
    auto r = controlRequest(dir.socket(), "status");
    REQUIRE(r);
    CHECK(*r == "{\"ok\":true,\"state\":\"idle\"}");
}

TEST_CASE("controlRequest with nothing listening is NotFound")
{
    TempDir dir;
    auto r = controlRequest(dir.socket(), "status");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::NotFound);
    CHECK(r.error().message == "no bwc-camd listening on " + dir.socket() + " (is it running?)");
}

TEST_CASE("controlRequest times out with Errc::Io when no answer comes")
{
    TempDir dir;
    std::promise<void> release;
    auto released = release.get_future().share();
    auto handlers = basicHandlers();
    handlers["stuck"] = [released](const std::vector<std::string> &) {
        released.wait_for(5s);
        return JsonObject().add("ok", true).str();
    };
    auto server = startServer(dir.socket(), handlers);

    auto start = std::chrono::steady_clock::now();
    auto r = controlRequest(dir.socket(), "stuck", 200);
    double ms = elapsedMs(start);
    release.set_value();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Io);
    CHECK(r.error().message == "no answer from bwc-camd on " + dir.socket() + " within 200 ms");
    CHECK(ms >= 190);
    CHECK(ms < 1500);
}

TEST_CASE("controlRequest refuses a request with a newline")
{
    TempDir dir;
    auto r = controlRequest(dir.socket(), "status\nrelease");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Usage);
}

TEST_CASE("the destructor stops the server")
{
    TempDir dir;
    {
        auto server = startServer(dir.socket(), basicHandlers());
        REQUIRE(bwc::pathExists(dir.socket()));
    }
    CHECK_FALSE(bwc::pathExists(dir.socket()));
}
