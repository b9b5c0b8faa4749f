// The commit scheduler hands its lock to priority waiters (sessions of cameras with
// flagged clips) before normal ones, FIFO within each class. Waiters are queued one at a
// time (each confirmed by waiting()) so the order they asked in is known exactly.

#include <catch2/catch_test_macros.hpp>

#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dock/server/commit_scheduler.h"

namespace bwc::dock {
namespace {

struct Waiter {
    std::string name;
    bool priority;
};

// Holds the lock, queues `waiters` in order, releases, and returns the order in which
// they got the lock.
std::vector<std::string> grantOrder(const std::vector<Waiter> &waiters)
{
    CommitScheduler scheduler;
    std::mutex orderMutex;
    std::vector<std::string> order;
    std::vector<std::thread> threads;
    {
        auto held = scheduler.acquire(false);
        for (size_t i = 0; i < waiters.size(); ++i) {
            threads.emplace_back([&, w = waiters[i]] {
                auto lease = scheduler.acquire(w.priority);
                std::lock_guard lock(orderMutex);
                order.push_back(w.name);
            });
            while (scheduler.waiting() != i + 1)
                std::this_thread::yield();
        }
    }
    for (std::thread &t : threads)
        t.join();
    return order;
}

TEST_CASE("commit scheduler: a free lock is taken at once and released by the lease")
{
    CommitScheduler scheduler;
    {
        auto a = scheduler.acquire(false);
        CHECK(scheduler.waiting() == 0);
    }
    auto b = scheduler.acquire(true);
    CommitScheduler::Lease moved(std::move(b));
    CHECK(scheduler.waiting() == 0);
}

TEST_CASE("commit scheduler: FIFO among equals")
{
    CHECK(grantOrder({{"a", false}, {"b", false}, {"c", false}}) ==
          std::vector<std::string>{"a", "b", "c"});
    CHECK(grantOrder({{"a", true}, {"b", true}, {"c", true}}) ==
          std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("commit scheduler: flagged sessions go first, FIFO within each class")
{
    CHECK(grantOrder({{"n1", false}, {"n2", false}, {"f1", true}, {"n3", false}, {"f2", true}}) ==
          std::vector<std::string>{"f1", "f2", "n1", "n2", "n3"});
}

TEST_CASE("commit scheduler: a hand-over picks the flagged waiter that queued later")
{
    CommitScheduler scheduler;
    std::mutex orderMutex;
    std::vector<std::string> order;
    auto record = [&](const std::string &name) {
        std::lock_guard lock(orderMutex);
        order.push_back(name);
    };
    std::promise<void> holding, release;
    std::thread first([&] {
        auto lease = scheduler.acquire(false);
        record("first");
        holding.set_value();
        release.get_future().wait();
    });
    holding.get_future().wait();
    std::thread normal([&] {
        auto lease = scheduler.acquire(false);
        record("normal");
    });
    while (scheduler.waiting() != 1)
        std::this_thread::yield();
    std::thread flagged([&] {
        auto lease = scheduler.acquire(true);
        record("flagged");
    });
    while (scheduler.waiting() != 2)
        std::this_thread::yield();
    release.set_value();
    first.join();
    normal.join();
    flagged.join();
    CHECK(order == std::vector<std::string>{"first", "flagged", "normal"});
    CHECK(scheduler.waiting() == 0);
    auto again = scheduler.acquire(false); // free again
}

} // namespace
} // namespace bwc::dock
