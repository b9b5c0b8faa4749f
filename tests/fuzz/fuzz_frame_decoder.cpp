// libFuzzer harness for the offload protocol's frame decoder (common/net/frame.h): the
// first bytes a dock reads from any camera, before anything else checks them.
//
// The first input byte picks the chunk size the stream is fed in (1..256 bytes), the rest
// is the stream. Checked on every input: the decoder never holds more than one frame,
// makes progress on every chunk until a frame is waiting, stops for good after an error,
// and every frame it yields has a message, passes checkFrame and decodes again to the
// same message after encodeFrame.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "common/net/frame.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // Mutated frames make protobuf log every invalid UTF-8 string; the decoder already
    // turns them into errors, so the log lines only slow the fuzzer down.
    google::protobuf::SetLogHandler(nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace bwc;
    if (size == 0)
        return 0;
    const size_t chunk = size_t(data[0]) + 1;
    ByteView stream(data + 1, size - 1);

    net::FrameDecoder decoder;
    bool broken = false;
    while (!stream.empty()) {
        const ByteView piece = stream.first(std::min(chunk, stream.size()));
        const size_t taken = decoder.feed(piece);
        if (taken > piece.size())
            std::abort();
        if (broken && taken != 0)
            std::abort(); // a broken stream takes nothing more
        if (decoder.buffered() > net::kFrameHeaderBytes + net::kMaxFrameBytes)
            std::abort();
        stream = stream.subspan(taken);

        auto next = decoder.next();
        if (!next) {
            if (next.error().code != Errc::Protocol)
                std::abort();
            broken = true;
            if (decoder.feed(stream) != 0 || decoder.next().ok())
                std::abort();
            break;
        }
        if (!*next) {
            if (taken == 0)
                std::abort(); // neither progress nor a frame
            continue;
        }
        const v1::Frame &frame = **next;
        if (frame.msg_case() == v1::Frame::MSG_NOT_SET || !net::checkFrame(frame).ok())
            std::abort();
        // Re-encoding a decoded frame and decoding it again gives the same message.
        const Bytes again = net::encodeFrame(frame);
        net::FrameDecoder second;
        if (second.feed(again) != again.size())
            std::abort();
        auto round = second.next();
        if (!round || !*round || (*round)->SerializeAsString() != frame.SerializeAsString())
            std::abort();
    }
    return 0;
}
