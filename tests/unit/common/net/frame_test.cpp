#include "common/net/frame.h"

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace bwc::net {
namespace {

v1::Frame helloFrame()
{
    v1::Frame frame;
    v1::Hello *hello = frame.mutable_hello();
    hello->set_protocol_version(1);
    hello->set_device_id("cam-0001");
    hello->set_fw_version("1.2.3");
    hello->set_session_nonce(std::string(16, '\x5a'));
    hello->set_device_utc_ms(1'767'225'600'000);
    v1::PendingClip *clip = hello->add_pending();
    clip->set_seq(7);
    clip->set_ciphertext_bytes(123456);
    return frame;
}

v1::Frame dataFrame(size_t bytes)
{
    v1::Frame frame;
    v1::Data *data = frame.mutable_data();
    data->set_seq(9);
    data->set_offset(4096);
    std::string payload(bytes, '\0');
    for (size_t i = 0; i < bytes; ++i)
        payload[i] = char(i * 131 + 7);
    data->set_bytes(payload);
    return frame;
}

bool sameFrame(const v1::Frame &a, const v1::Frame &b)
{
    return a.SerializeAsString() == b.SerializeAsString();
}

// Feeds all of `wire` the way a reader should, collecting every frame.
Expected<std::vector<v1::Frame>> decodeAll(FrameDecoder &decoder, ByteView wire)
{
    std::vector<v1::Frame> frames;
    while (!wire.empty()) {
        const size_t taken = decoder.feed(wire);
        wire = wire.subspan(taken);
        BWC_ASSIGN(frame, decoder.next());
        if (frame)
            frames.push_back(std::move(*frame));
        else if (taken == 0)
            return Error(Errc::Internal, "decoder took nothing and gave nothing");
    }
    return frames;
}

void requireProtocolError(const Expected<std::optional<v1::Frame>> &result,
                          const std::string &phrase)
{
    REQUIRE_FALSE(result.ok());
    INFO("error: " << result.error().message);
    CHECK(result.error().code == Errc::Protocol);
    CHECK(result.error().message.find(phrase) != std::string::npos);
}

TEST_CASE("frame: encode puts a big-endian length before the serialized frame")
{
    const v1::Frame frame = helloFrame();
    const Bytes wire = encodeFrame(frame);
    const std::string body = frame.SerializeAsString();
    REQUIRE(wire.size() == 4 + body.size());
    CHECK(getU32(wire.data()) == body.size());
    CHECK(std::string(wire.begin() + 4, wire.end()) == body);

    v1::Frame done;
    done.mutable_done();
    const Bytes doneWire = encodeFrame(done);
    CHECK(doneWire == Bytes{0, 0, 0, 2, 0x3a, 0x00});
}

TEST_CASE("frame: round trip through the decoder in one chunk and byte by byte")
{
    const v1::Frame frame = helloFrame();
    const Bytes wire = encodeFrame(frame);

    FrameDecoder whole;
    CHECK(whole.feed(wire) == wire.size());
    auto got = whole.next();
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK(sameFrame(**got, frame));
    auto none = whole.next();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    CHECK(whole.buffered() == 0);

    FrameDecoder bytewise;
    for (size_t i = 0; i < wire.size(); ++i) {
        auto early = bytewise.next();
        REQUIRE(early.ok());
        REQUIRE_FALSE(early->has_value());
        CHECK(bytewise.wanted() == (i < 4 ? 4 - i : wire.size() - i));
        REQUIRE(bytewise.feed(ByteView(&wire[i], 1)) == 1);
    }
    CHECK(bytewise.wanted() == 0);
    auto last = bytewise.next();
    REQUIRE(last.ok());
    REQUIRE(last->has_value());
    CHECK(sameFrame(**last, frame));
}

TEST_CASE("frame: two frames in one chunk come out one after the other")
{
    v1::Frame second;
    second.mutable_stored()->set_seq(3);
    second.mutable_stored()->set_reason("chain gap");
    Bytes wire = encodeFrame(helloFrame());
    const size_t firstLen = wire.size();
    const Bytes secondWire = encodeFrame(second);
    wire.insert(wire.end(), secondWire.begin(), secondWire.end());

    FrameDecoder decoder;
    // The decoder stops at the end of the first frame: never more than one buffered.
    CHECK(decoder.feed(wire) == firstLen);
    CHECK(decoder.feed(ByteView(wire).subspan(firstLen)) == 0);
    auto first = decoder.next();
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK(sameFrame(**first, helloFrame()));
    CHECK(decoder.feed(ByteView(wire).subspan(firstLen)) == secondWire.size());
    auto next = decoder.next();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    CHECK(sameFrame(**next, second));

    FrameDecoder loop;
    auto all = decodeAll(loop, wire);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK((*all)[1].stored().reason() == "chain gap");
}

TEST_CASE("frame: a 1 MiB Data frame fits, one byte over the maximum does not")
{
    const v1::Frame big = dataFrame(1024 * 1024);
    CHECK(checkFrame(big).ok());
    const Bytes wire = encodeFrame(big);
    FrameDecoder decoder;
    auto all = decodeAll(decoder, wire);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 1);
    CHECK(sameFrame(all->front(), big));

    const v1::Frame huge = dataFrame(kMaxFrameBytes);
    auto refused = checkFrame(huge);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::Protocol);
    CHECK(refused.error().message.find("exceeds the 1 MiB limit") != std::string::npos);

    // A header announcing kMaxFrameBytes + 1 is refused before any body arrives.
    Bytes header(4);
    putU32(header.data(), uint32_t(kMaxFrameBytes + 1));
    FrameDecoder over;
    CHECK(over.feed(header) == 4);
    CHECK(over.wanted() == 0);
    requireProtocolError(over.next(), "frame of 1052673 bytes exceeds the 1 MiB limit");
    // Broken for good: nothing more is taken, the same error comes back.
    CHECK(over.feed(wire) == 0);
    requireProtocolError(over.next(), "exceeds the 1 MiB limit");

    Bytes maxHeader(4);
    putU32(maxHeader.data(), uint32_t(kMaxFrameBytes));
    FrameDecoder atMax;
    CHECK(atMax.feed(maxHeader) == 4);
    CHECK(atMax.wanted() == kMaxFrameBytes);
}

TEST_CASE("frame: a zero length is a protocol error")
{
    FrameDecoder decoder;
    const Bytes zero{0, 0, 0, 0, 0x3a, 0x00};
    CHECK(decoder.feed(zero) == 4);
    requireProtocolError(decoder.next(), "frame length 0");
}

TEST_CASE("frame: a body that is not a Frame, or a Frame without a message, is refused")
{
    // Field 1 (hello) as a length-delimited field claiming 100 bytes it does not have.
    const Bytes garbage{0, 0, 0, 3, 0x0a, 0x64, 0x01};
    FrameDecoder bad;
    CHECK(bad.feed(garbage) == garbage.size());
    requireProtocolError(bad.next(), "is not a bwc.v1.Frame");

    // A group end tag without a start: never valid protobuf.
    const Bytes badTag{0, 0, 0, 2, 0x0c, 0x00};
    FrameDecoder bad2;
    CHECK(bad2.feed(badTag) == badTag.size());
    requireProtocolError(bad2.next(), "is not a bwc.v1.Frame");

    // Field 99 (unknown to this version) only: parses, but carries no message.
    const Bytes unknown{0, 0, 0, 3, 0x98, 0x06, 0x01};
    FrameDecoder empty;
    CHECK(empty.feed(unknown) == unknown.size());
    requireProtocolError(empty.next(), "has no message set");

    auto refused = checkFrame(v1::Frame());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::Protocol);
    CHECK(refused.error().message.find("no message set") != std::string::npos);
}

TEST_CASE("frame: reading into the decoder's own buffer gives the same frames as feed()")
{
    const v1::Frame big = dataFrame(1024 * 1024);
    const v1::Frame hello = helloFrame();
    Bytes wire = encodeFrame(big);
    const Bytes second = encodeFrame(hello);
    wire.insert(wire.end(), second.begin(), second.end());

    // Reads of odd sizes, as a socket returns them; never past the current frame.
    FrameDecoder decoder;
    std::vector<v1::Frame> out;
    size_t at = 0, step = 1;
    while (at < wire.size()) {
        MutableByteView room = decoder.space(step);
        REQUIRE(room.size() == std::min(step, decoder.wanted()));
        REQUIRE_FALSE(room.empty());
        std::copy_n(wire.begin() + long(at), room.size(), room.begin());
        REQUIRE(decoder.commit(room.size()) == room.size());
        at += room.size();
        step = step * 7 % 65521 + 1;
        for (;;) {
            auto next = decoder.next();
            REQUIRE(next.ok());
            if (!next->has_value())
                break;
            out.push_back(std::move(**next));
        }
    }
    REQUIRE(out.size() == 2);
    CHECK(sameFrame(out[0], big));
    CHECK(sameFrame(out[1], hello));
    CHECK(decoder.buffered() == 0);
    CHECK(decoder.space(100).size() == 4); // the next header only

    // A bad length committed through space() breaks the stream as feed() does.
    FrameDecoder bad;
    MutableByteView header = bad.space(4);
    REQUIRE(header.size() == 4);
    putU32(header.data(), 0);
    CHECK(bad.commit(4) == 4);
    CHECK(bad.space(100).empty());
    requireProtocolError(bad.next(), "frame length 0");
}

} // namespace
} // namespace bwc::net
