#include "firmware/camd/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/base/log.h"
#include "common/base/unique_fd.h"

namespace bwc::fw {

bool sdNotify(std::string_view state)
{
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0')
        return true;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@'))
        return false;
    std::memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.isValid())
        return false;
    const socklen_t addrLen = socklen_t(offsetof(sockaddr_un, sun_path) + len);
    if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr *>(&addr), addrLen) < 0) {
        log::debug(std::string("sd_notify to ") + path + " failed: " + std::strerror(errno));
        return false;
    }
    return true;
}

int64_t sdWatchdogIntervalNs()
{
    const char *usec = std::getenv("WATCHDOG_USEC");
    if (usec == nullptr)
        return 0;
    if (const char *pid = std::getenv("WATCHDOG_PID"); pid != nullptr) {
        if (std::strtol(pid, nullptr, 10) != ::getpid())
            return 0;
    }
    char *end = nullptr;
    const long long v = std::strtoll(usec, &end, 10);
    if (end == usec || *end != '\0' || v <= 0)
        return 0;
    return int64_t(v) * 1000;
}

} // namespace bwc::fw
