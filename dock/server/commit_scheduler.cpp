#include "dock/server/commit_scheduler.h"

namespace bwc::dock {

CommitScheduler::Lease::~Lease()
{
    if (owner_ != nullptr)
        owner_->release();
}

CommitScheduler::Lease CommitScheduler::acquire(bool priority)
{
    std::unique_lock lock(mutex_);
    if (!held_ && priority_.empty() && normal_.empty()) {
        held_ = true;
        return Lease(this);
    }
    const uint64_t ticket = nextTicket_++;
    (priority ? priority_ : normal_).push_back(ticket);
    handedOver_.wait(lock, [&] { return grantedTicket_ == ticket; });
    grantedTicket_ = kNone;
    return Lease(this);
}

void CommitScheduler::release()
{
    {
        std::lock_guard lock(mutex_);
        std::deque<uint64_t> *next = !priority_.empty() ? &priority_
                                     : !normal_.empty() ? &normal_
                                                        : nullptr;
        if (next == nullptr) {
            held_ = false;
            return;
        }
        // The lock stays held: it passes straight to the chosen waiter.
        grantedTicket_ = next->front();
        next->pop_front();
    }
    handedOver_.notify_all();
}

size_t CommitScheduler::waiting() const
{
    std::lock_guard lock(mutex_);
    return priority_.size() + normal_.size();
}

} // namespace bwc::dock
