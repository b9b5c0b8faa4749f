#include "firmware/camd/packet_router.h"

#include <chrono>

namespace bwc::fw {

PacketRouter::PacketRouter(std::unique_ptr<PacketRing> ring, uint64_t maxQueueBytes)
    : ring_(std::move(ring)), maxQueueBytes_(maxQueueBytes)
{
}

void PacketRouter::enqueue(WriterItem item, uint64_t bytes)
{
    queue_.push_back(std::move(item));
    queuedBytes_ += bytes;
    cv_.notify_one();
}

void PacketRouter::push(const PacketView &packet)
{
    std::lock_guard lock(mutex_);
    if (!recording_) {
        ring_->push(packet);
        return;
    }
    // Writer behind by maxQueueBytes: drop rather than block capture. Once dropping,
    // video resumes only at a keyframe so the clip never holds an undecodable GOP tail.
    if (queuedBytes_ + packet.data.size() > maxQueueBytes_)
        dropping_ = true;
    if (dropping_) {
        if (packet.track == Track::Video && packet.keyframe &&
            queuedBytes_ + packet.data.size() <= maxQueueBytes_ / 2)
            dropping_ = false;
        else {
            ++dropped_;
            return;
        }
    }
    OwnedPacket owned{packet.track,
                      packet.keyframe,
                      packet.pts,
                      packet.dts,
                      packet.duration,
                      packet.monoNs,
                      Bytes(packet.data.begin(), packet.data.end())};
    enqueue(std::move(owned), packet.data.size());
}

void PacketRouter::startRecording(int64_t pressMonoNs)
{
    std::lock_guard lock(mutex_);
    if (recording_)
        return;
    enqueue(StartClip{pressMonoNs, false}, 0);
    ring_->drain([this](const PacketView &p) {
        OwnedPacket owned{p.track,
                          p.keyframe,
                          p.pts,
                          p.dts,
                          p.duration,
                          p.monoNs,
                          Bytes(p.data.begin(), p.data.end())};
        enqueue(std::move(owned), p.data.size());
    });
    recording_ = true;
    dropping_ = false;
}

void PacketRouter::stopRecording(int64_t monoNs)
{
    std::lock_guard lock(mutex_);
    if (!recording_)
        return;
    enqueue(StopClip{monoNs}, 0);
    recording_ = false;
}

void PacketRouter::rollOver(int64_t monoNs)
{
    std::lock_guard lock(mutex_);
    if (recording_)
        enqueue(RollOver{monoNs}, 0);
}

void PacketRouter::metadata(v1::MetadataRecord record)
{
    std::lock_guard lock(mutex_);
    if (recording_)
        enqueue(std::move(record), 0);
}

bool PacketRouter::recording() const
{
    std::lock_guard lock(mutex_);
    return recording_;
}

std::optional<WriterItem> PacketRouter::pop(int timeoutMs)
{
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                 [this] { return !queue_.empty() || woken_; });
    woken_ = false;
    if (queue_.empty())
        return std::nullopt;
    WriterItem item = std::move(queue_.front());
    queue_.pop_front();
    if (const auto *p = std::get_if<OwnedPacket>(&item))
        queuedBytes_ -= p->data.size();
    return item;
}

void PacketRouter::wake()
{
    std::lock_guard lock(mutex_);
    woken_ = true;
    cv_.notify_all();
}

RouterStats PacketRouter::stats() const
{
    std::lock_guard lock(mutex_);
    return RouterStats{ring_->stats(), queuedBytes_, dropped_, recording_};
}

} // namespace bwc::fw
