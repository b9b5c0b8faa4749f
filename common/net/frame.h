#pragma once

// Wire framing of the offload protocol (proto/bwc/v1/offload.proto, DESIGN.md section 8):
// every message is a u32 big-endian length followed by a serialized bwc.v1.Frame of that
// length. A length of 0, or above kMaxFrameBytes, is a protocol error.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bwc/v1/offload.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::net {

// The offload protocol's version, in Hello and Welcome.
constexpr uint32_t kOffloadProtocolVersion = 1;

// "Hello", "Welcome", ... or "an empty frame": the frame's message for log and error text.
const char *frameName(const v1::Frame &frame);

// The largest serialized Frame: a 1 MiB Data chunk plus room for its fields.
constexpr size_t kMaxFrameBytes = 1024 * 1024 + 4 * 1024;
constexpr size_t kFrameHeaderBytes = 4;

// Length prefix + serialized frame. The caller keeps frames within kMaxFrameBytes (a Data
// chunk of at most 1 MiB); checkFrame() says whether a frame may be sent.
Bytes encodeFrame(const v1::Frame &frame);
// Errc::Protocol unless `frame` has a message set and serializes to 1..kMaxFrameBytes.
Expected<void> checkFrame(const v1::Frame &frame);

// Splits a byte stream into frames. It never holds more than one frame (header and
// body, at most kFrameHeaderBytes + kMaxFrameBytes): feed() takes bytes only up to the
// end of the current frame and says how many it took; the caller feeds the rest after
// next() has handed the frame out:
//
//     while (!data.empty()) {
//         data = data.subspan(decoder.feed(data));
//         while (auto frame = decoder.next()) { if (!*frame) break; ... }
//     }
//
// After an error the stream cannot be resynchronised: every later next() returns the
// same error and feed() takes nothing.
class FrameDecoder
{
public:
    // Appends bytes up to the end of the current frame; returns how many were taken.
    [[nodiscard]] size_t feed(ByteView data);
    // The same without feed()'s copy: room in the decoder's own buffer for the next
    // min(max, wanted()) bytes (empty when wanted() is 0). Read into it, then commit()
    // how many bytes were read; nothing else may change the decoder in between.
    MutableByteView space(size_t max);
    [[nodiscard]] size_t commit(size_t n);
    // Bytes still missing from the current header or frame (0 once a frame is complete
    // or the stream is broken): a reader can ask for exactly this many and never
    // consume bytes of the next frame.
    size_t wanted() const;

    // The next complete frame, an empty optional if more bytes are needed, or
    // Errc::Protocol naming what is wrong with the stream.
    Expected<std::optional<v1::Frame>> next();

    // Bytes held that do not yet form a frame.
    size_t buffered() const { return filled_; }
    // True once a header and body are complete and waiting for next().
    bool frameReady() const;

private:
    // The current frame is buffer_[0, filled_); buffer_ only grows (kept for the next
    // frame), so a stream of 1 MiB Data frames reuses one buffer.
    Bytes buffer_;
    size_t filled_ = 0;
    std::optional<Error> error_;
};

} // namespace bwc::net
