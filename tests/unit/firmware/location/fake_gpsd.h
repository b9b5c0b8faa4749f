#pragma once

// A small gpsd for tests: listens on 127.0.0.1 (ephemeral port) and speaks the start of
// gpsd's JSON protocol: a VERSION banner on connect, then, after the client's ?WATCH
// command, DEVICES and WATCH replies. Reports (TPV, SKY...) are sent by the test.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/base/unique_fd.h"

namespace bwc::fw::test {

class FakeGpsd
{
public:
    FakeGpsd();
    ~FakeGpsd();
    FakeGpsd(const FakeGpsd &) = delete;
    FakeGpsd &operator=(const FakeGpsd &) = delete;

    uint16_t port() const { return port_; }
    // Waits until `count` clients in total have finished the handshake.
    bool waitForClients(int count, int timeoutMs);
    // The ?WATCH command of the latest client.
    std::string watchCommand();
    // Sends one JSON object (a line) to the current client.
    bool send(std::string_view json);
    // Closes the current client's connection, as a gpsd that stops would.
    void dropClient();

private:
    void run();
    bool handshake(int fd, std::string &watch);

    UniqueFd listen_;
    uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    int clients_ = 0;
    UniqueFd client_;
    std::string watch_;
};

} // namespace bwc::fw::test
