#pragma once

// The offload server's commit lock (dock_server.h): every call into the EvidenceStore,
// which is used by one thread at a time, runs under a Lease. When several sessions wait,
// the lock goes to the sessions of cameras with flagged clips first (priority waiters),
// in the order they asked; the others follow in the order they asked.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace bwc::dock {

class CommitScheduler
{
public:
    // Holds the lock until destroyed (or moved from).
    class Lease
    {
    public:
        Lease(Lease &&other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
        Lease &operator=(Lease &&) = delete;
        Lease(const Lease &) = delete;
        ~Lease();

    private:
        friend class CommitScheduler;
        explicit Lease(CommitScheduler *owner) : owner_(owner) {}
        CommitScheduler *owner_;
    };

    CommitScheduler() = default;
    CommitScheduler(const CommitScheduler &) = delete;
    CommitScheduler &operator=(const CommitScheduler &) = delete;

    // Waits for the lock: at once when it is free and nobody waits; otherwise after
    // every priority waiter that asked earlier and, for a normal waiter, after every
    // priority waiter and every normal waiter that asked earlier.
    [[nodiscard]] Lease acquire(bool priority);

    // Threads waiting in acquire() now (priority + normal).
    size_t waiting() const;

private:
    void release();

    mutable std::mutex mutex_;
    std::condition_variable handedOver_;
    bool held_ = false;
    uint64_t nextTicket_ = 0;
    // The ticket the lock was handed to; it is set by release() and cleared by the waiter
    // that holds the ticket. kNone when no hand-over is pending.
    static constexpr uint64_t kNone = UINT64_MAX;
    uint64_t grantedTicket_ = kNone;
    std::deque<uint64_t> priority_;
    std::deque<uint64_t> normal_;
};

} // namespace bwc::dock
