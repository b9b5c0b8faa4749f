#pragma once

// systemd's readiness and watchdog protocol (sd_notify(3)): a datagram to the Unix socket
// named by $NOTIFY_SOCKET. Written here (a dozen lines) rather than linking libsystemd,
// so boards without systemd's library still build; without $NOTIFY_SOCKET it does nothing.

#include <cstdint>
#include <string_view>

namespace bwc::fw {

// Sends `state` ("READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1"); false if it
// could not be sent (logged at debug level), true if sent or no manager listens.
bool sdNotify(std::string_view state);

// The watchdog interval from $WATCHDOG_USEC (if $WATCHDOG_PID is unset or ours), in
// nanoseconds; 0 when no watchdog is configured.
int64_t sdWatchdogIntervalNs();

} // namespace bwc::fw
