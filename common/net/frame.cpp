#include "common/net/frame.h"

#include <algorithm>
#include <string>

namespace bwc::net {

namespace {

Error lengthError(uint32_t length)
{
    if (length == 0)
        return Error(Errc::Protocol, "offload stream: frame length 0 (every frame carries a "
                                     "message); the peer is not speaking the offload protocol");
    return Error(Errc::Protocol, "offload stream: frame of " + std::to_string(length) +
                                     " bytes exceeds the 1 MiB limit (at most " +
                                     std::to_string(kMaxFrameBytes) +
                                     " bytes); the peer is not speaking the offload protocol");
}

bool lengthValid(uint32_t length)
{
    return length != 0 && length <= kMaxFrameBytes;
}

} // namespace

Bytes encodeFrame(const v1::Frame &frame)
{
    const size_t size = frame.ByteSizeLong();
    Bytes out(kFrameHeaderBytes + size);
    putU32(out.data(), uint32_t(size));
    if (size > 0)
        frame.SerializeWithCachedSizesToArray(out.data() + kFrameHeaderBytes);
    return out;
}

Expected<void> checkFrame(const v1::Frame &frame)
{
    if (frame.msg_case() == v1::Frame::MSG_NOT_SET)
        return Error(Errc::Protocol, "offload frame has no message set; set one of hello, "
                                     "welcome, offer, resume, data, stored, done, receipt, "
                                     "wiped or abort");
    const size_t size = frame.ByteSizeLong();
    if (size > kMaxFrameBytes)
        return Error(Errc::Protocol, "offload frame of " + std::to_string(size) +
                                         " bytes exceeds the 1 MiB limit (at most " +
                                         std::to_string(kMaxFrameBytes) +
                                         " bytes); send file data in chunks of at most 1 MiB");
    return {};
}

size_t FrameDecoder::wanted() const
{
    if (error_)
        return 0;
    if (filled_ < kFrameHeaderBytes)
        return kFrameHeaderBytes - filled_;
    const uint32_t length = getU32(buffer_.data());
    if (!lengthValid(length))
        return 0;
    return kFrameHeaderBytes + length - filled_;
}

bool FrameDecoder::frameReady() const
{
    return !error_ && filled_ >= kFrameHeaderBytes && wanted() == 0 &&
           lengthValid(getU32(buffer_.data()));
}

MutableByteView FrameDecoder::space(size_t max)
{
    const size_t n = std::min(max, wanted());
    if (buffer_.size() < filled_ + n)
        buffer_.resize(filled_ + n);
    return MutableByteView(buffer_.data() + filled_, n);
}

size_t FrameDecoder::commit(size_t n)
{
    n = std::min(n, wanted());
    const bool hadHeader = filled_ >= kFrameHeaderBytes;
    filled_ += n;
    if (!hadHeader && filled_ == kFrameHeaderBytes) {
        const uint32_t length = getU32(buffer_.data());
        if (!lengthValid(length))
            error_ = lengthError(length);
    }
    return n;
}

size_t FrameDecoder::feed(ByteView data)
{
    size_t taken = 0;
    while (taken < data.size()) {
        MutableByteView room = space(data.size() - taken);
        if (room.empty())
            break;
        std::copy_n(data.begin() + long(taken), room.size(), room.begin());
        taken += commit(room.size());
    }
    return taken;
}

Expected<std::optional<v1::Frame>> FrameDecoder::next()
{
    if (error_)
        return *error_;
    if (!frameReady())
        return std::optional<v1::Frame>();
    const uint32_t length = getU32(buffer_.data());
    v1::Frame frame;
    if (!frame.ParseFromArray(buffer_.data() + kFrameHeaderBytes, int(length))) {
        error_ = Error(Errc::Protocol, "offload stream: frame of " + std::to_string(length) +
                                           " bytes is not a bwc.v1.Frame (protobuf parse "
                                           "failed); the peer is not speaking the offload "
                                           "protocol");
        return *error_;
    }
    if (frame.msg_case() == v1::Frame::MSG_NOT_SET) {
        error_ = Error(Errc::Protocol, "offload stream: frame of " + std::to_string(length) +
                                           " bytes has no message set (unknown message type?); "
                                           "the peer speaks another protocol version");
        return *error_;
    }
    filled_ = 0;
    return std::optional<v1::Frame>(std::move(frame));
}

const char *frameName(const v1::Frame &frame)
{
    switch (frame.msg_case()) {
    case v1::Frame::kHello:
        return "Hello";
    case v1::Frame::kWelcome:
        return "Welcome";
    case v1::Frame::kOffer:
        return "Offer";
    case v1::Frame::kResume:
        return "Resume";
    case v1::Frame::kData:
        return "Data";
    case v1::Frame::kStored:
        return "Stored";
    case v1::Frame::kDone:
        return "Done";
    case v1::Frame::kReceipt:
        return "Receipt";
    case v1::Frame::kWiped:
        return "Wiped";
    case v1::Frame::kAbort:
        return "Abort";
    case v1::Frame::MSG_NOT_SET:
        break;
    }
    return "an empty frame";
}

} // namespace bwc::net
