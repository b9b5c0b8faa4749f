#pragma once

// Helpers of the control tests: a temporary folder and a raw client socket.

#include <string>

#include "common/base/unique_fd.h"

namespace bwc::fw::test {

class TempDir
{
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string socket() const { return path_ + "/camd.sock"; }

private:
    std::string path_;
};

// A blocking client connection to a Unix socket; an invalid fd when connect fails.
UniqueFd connectRaw(const std::string &path);
// Reads until a newline, EOF or `timeoutMs`; returns what was read (newline included).
std::string readLine(int fd, int timeoutMs = 5000);
// True when the peer closed (EOF or reset) within `timeoutMs`.
bool waitForClose(int fd, int timeoutMs);

} // namespace bwc::fw::test
