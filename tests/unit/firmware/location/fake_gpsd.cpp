#include "tests/unit/firmware/location/fake_gpsd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <catch2/catch_test_macros.hpp>

namespace bwc::fw::test {

namespace {

bool sendAll(int fd, std::string_view text)
{
    while (!text.empty()) {
        const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        text.remove_prefix(size_t(n));
    }
    return true;
}

} // namespace

FakeGpsd::FakeGpsd()
{
    listen_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listen_.isValid());
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(listen_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_.get(), 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
}

FakeGpsd::~FakeGpsd()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

bool FakeGpsd::handshake(int fd, std::string &watch)
{
    if (!sendAll(fd, "{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":\"3.22\","
                     "\"proto_major\":3,\"proto_minor\":14}\r\n"))
        return false;
    // The client's command: ?WATCH={...};
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (got.find("?WATCH=") == std::string::npos ||
           got.find(';', got.find("?WATCH=")) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0)
            continue;
        char buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        got.append(buf, size_t(n));
    }
    const size_t start = got.find("?WATCH=");
    watch = got.substr(start, got.find(';', start) - start + 1);
    return sendAll(fd, "{\"class\":\"DEVICES\",\"devices\":[{\"class\":\"DEVICE\","
                       "\"path\":\"/dev/ttyACM0\",\"driver\":\"u-blox\",\"activated\":"
                       "\"2026-01-02T03:04:00.000Z\",\"native\":1,\"bps\":9600,\"parity\":\"N\","
                       "\"stopbits\":1,\"cycle\":1.00}]}\r\n"
                       "{\"class\":\"WATCH\",\"enable\":true,\"json\":true,\"nmea\":false,"
                       "\"raw\":0,\"scaled\":false,\"timing\":false,\"split24\":false,"
                       "\"pps\":false}\r\n");
}

void FakeGpsd::run()
{
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stop_)
                return;
        }
        pollfd p{listen_.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0)
            continue;
        UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!fd.isValid())
            continue;
        std::string watch;
        if (!handshake(fd.get(), watch))
            continue;
        std::lock_guard lock(mutex_);
        client_ = std::move(fd);
        watch_ = watch;
        ++clients_;
        cv_.notify_all();
    }
}

bool FakeGpsd::waitForClients(int count, int timeoutMs)
{
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                        [&] { return clients_ >= count; });
}

std::string FakeGpsd::watchCommand()
{
    std::lock_guard lock(mutex_);
    return watch_;
}

bool FakeGpsd::send(std::string_view json)
{
    std::lock_guard lock(mutex_);
    return client_.isValid() && sendAll(client_.get(), std::string(json) + "\r\n");
}

void FakeGpsd::dropClient()
{
    std::lock_guard lock(mutex_);
    client_.reset();
}

} // namespace bwc::fw::test
