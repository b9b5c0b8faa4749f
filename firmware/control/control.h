#pragma once

// The daemon's control socket (a Unix stream socket, mode 0660): one request line, one
// JSON response line. `bwc-camctl` is its client; tests and people use it to operate a
// camera. Requests:
//   status                    -> {"ok":true,"state":"idle",...}
//   press | release           -> simulated button edge (sim board only)
//   hold MS                   -> press, wait MS milliseconds, release; replies after release
//   dock                      -> one offload to dock.address, answered when it is over:
//                                {"ok":true,"dock_id":...,"offered":N,"stored":N,
//                                 "bytes_sent":N,"resumed_from":N,"wiped":[seqs],
//                                 "wipe_seq":N,"receipt_last_seq":N,"refused":"...",
//                                 "clock_set":bool,"config_saved":bool,"config_error":"...",
//                                 "crl_saved":bool,"crl_error":"...","officer_id":"..."};
//                                refused while recording and while another offload runs
//   flag                      -> flags the clip being recorded, else the last sealed one:
//                                {"ok":true,"flagged":"<uuid>","recording":bool}
// Errors: {"ok":false,"error":"..."}.
// One request per connection; a request line is at most 4 KiB.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "common/base/json.h"
#include "common/base/unique_fd.h"

namespace bwc::fw {

// A minimal JSON object writer for the control protocol and status output.
class JsonObject
{
public:
    JsonObject &add(std::string_view key, std::string_view value);
    JsonObject &add(std::string_view key, const char *value)
    {
        return add(key, std::string_view(value));
    }
    JsonObject &add(std::string_view key, int64_t value);
    JsonObject &add(std::string_view key, uint64_t value);
    JsonObject &add(std::string_view key, uint32_t value) { return add(key, uint64_t{value}); }
    JsonObject &add(std::string_view key, int value) { return add(key, int64_t{value}); }
    JsonObject &add(std::string_view key, double value);
    JsonObject &add(std::string_view key, bool value);
    // `json` must already be valid JSON (an object, an array).
    JsonObject &addRaw(std::string_view key, std::string_view json);
    std::string str() const;

private:
    std::string body_;
};

// A JSON string literal (common/base/json.h): quotes, backslashes and control characters
// escaped, valid UTF-8 passed through, each byte of invalid UTF-8 replaced by U+FFFD.
using bwc::jsonQuote;
// {"ok":false,"error":MESSAGE}
std::string jsonError(std::string_view message);

// Handles one request: the words of the request line split on spaces; args[0] is the
// command (the handler's key), args[1...] its arguments. Returns the JSON response line
// (no newline). May run on several connection threads at once; an exception it throws
// becomes an error response.
using ControlHandler = std::function<std::string(const std::vector<std::string> &args)>;

class ControlServer
{
public:
    // Binds `socketPath` (an existing stale socket is replaced; anything else there is an
    // error naming the path) and serves requests on its own thread, one client at a time
    // per connection thread (bounded: 8 connections; more get a "busy" error).
    // Errc::Exists when another server answers on the path or the path is not a socket.
    static Expected<std::unique_ptr<ControlServer>>
    start(const std::string &socketPath, std::map<std::string, ControlHandler> handlers);
    ~ControlServer();
    ControlServer(const ControlServer &) = delete;
    ControlServer &operator=(const ControlServer &) = delete;
    // Stops accepting, shuts down open connections, waits for running handlers to return
    // and removes the socket. Idempotent; also done by the destructor.
    void stop();

    static constexpr int kMaxConnections = 8;
    static constexpr size_t kMaxRequestBytes = 4096;
    // A connection that sends no complete request line in this time is closed.
    static constexpr int kRequestTimeoutMs = 10'000;

private:
    ControlServer() = default;
    void serve();
    void handleClient(UniqueFd client);
    void rejectBusy(UniqueFd client);
    std::string dispatch(const std::string &line);
    void connectionDone(int fd);
    std::string socketPath_;
    UniqueFd listenFd_;
    UniqueFd wakeFd_; // eventfd to stop the accept loop
    std::map<std::string, ControlHandler> handlers_;
    std::thread thread_;
    std::atomic<int> active_{0};
    std::atomic<bool> stopping_{false};
    // Open client sockets (shut down by stop()) and the count of connection threads.
    std::mutex mutex_;
    std::condition_variable idle_;
    std::set<int> clients_;
    // The socket file we bound, so stop() never unlinks a successor's socket.
    uint64_t socketDev_ = 0;
    uint64_t socketIno_ = 0;
};

// Client side: sends one request line, returns the response line. Errc::NotFound when
// nothing listens at the path ("is bwc-camd running?"), Errc::Io on timeouts,
// Errc::Usage for a request containing a newline or longer than 4 KiB.
Expected<std::string> controlRequest(const std::string &socketPath, std::string_view request,
                                     int timeoutMs = 10'000);

} // namespace bwc::fw
