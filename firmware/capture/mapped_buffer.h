#pragma once

// A region mapped with mmap (a V4L2 driver buffer, a libcamera dmabuf plane), unmapped
// when the owner goes away. Movable, not copyable.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bwc::fw {

class MappedBuffer
{
public:
    MappedBuffer(void *addr, size_t length) : addr_(addr), length_(length) {}
    MappedBuffer(const MappedBuffer &) = delete;
    MappedBuffer &operator=(const MappedBuffer &) = delete;
    MappedBuffer(MappedBuffer &&other) noexcept
        : addr_(std::exchange(other.addr_, nullptr)), length_(std::exchange(other.length_, 0))
    {
    }
    MappedBuffer &operator=(MappedBuffer &&other) noexcept
    {
        if (this != &other) {
            unmap();
            addr_ = std::exchange(other.addr_, nullptr);
            length_ = std::exchange(other.length_, 0);
        }
        return *this;
    }
    ~MappedBuffer() { unmap(); }

    const uint8_t *data() const { return static_cast<const uint8_t *>(addr_); }
    size_t length() const { return length_; }

private:
    void unmap()
    {
        if (addr_ != nullptr)
            ::munmap(addr_, length_);
        addr_ = nullptr;
    }

    void *addr_;
    size_t length_;
};

} // namespace bwc::fw
