#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "firmware/encode/video_encoder.h"
#include "tests/unit/firmware/encode/test_media.h"

using namespace bwc;
using namespace bwc::fw;
using bwc::fw::test::OwnedPacket;

namespace {

constexpr int kNalIdr = 5;
constexpr int kNalSps = 7;
constexpr int kNalPps = 8;

VideoEncoderOptions smallOptions()
{
    VideoEncoderOptions opts;
    opts.format = {320, 240, 30};
    opts.bitrateKbps = 800;
    opts.threads = 1;
    return opts;
}

std::vector<uint64_t> keyframeIndexes(const std::vector<OwnedPacket> &packets)
{
    std::vector<uint64_t> keys;
    for (const auto &p : packets)
        if (p.keyframe)
            keys.push_back(static_cast<uint64_t>(p.pts / 3000));
    return keys;
}

} // namespace

TEST_CASE("libx264: 3 s at 30 fps has keyframes exactly at 0, 30, 60 and 90 kHz pts")
{
    const auto clip = test::encodeVideo(320, 240, 30, 90, 800);
    REQUIRE(clip.packets.size() == 90);
    CHECK(keyframeIndexes(clip.packets) == std::vector<uint64_t>{0, 30, 60});

    for (size_t i = 0; i < clip.packets.size(); ++i) {
        const auto &p = clip.packets[i];
        INFO("packet " << i);
        CHECK(p.track == Track::Video);
        CHECK(p.pts == static_cast<int64_t>(i) * 3000);
        CHECK(p.dts == p.pts); // no B-frames
        CHECK(p.duration == 3000);
        CHECK(p.monoNs == test::monoNsOf(i, 30));
        CHECK(test::startsWithStartCode(p.data));
        if (p.keyframe) {
            // SPS and PPS in-band before every keyframe, and the keyframe is an IDR.
            CHECK(test::containsNalType(p.data, kNalSps));
            CHECK(test::containsNalType(p.data, kNalPps));
            CHECK(test::containsNalType(p.data, kNalIdr));
        } else {
            CHECK_FALSE(test::containsNalType(p.data, kNalIdr));
        }
    }

    const StreamParams &params = clip.params;
    CHECK(params.track == Track::Video);
    CHECK(params.codec == "h264");
    CHECK(params.width == 320);
    CHECK(params.height == 240);
    CHECK(params.fps == 30);
    CHECK(params.bitrateKbps == 800);
    // Size is roughly the bitrate (CBR-ish): 3 s at 800 kbit/s is 300 kB.
    size_t bytes = 0;
    for (const auto &p : clip.packets)
        bytes += p.data.size();
    CHECK(bytes > 100'000);
    CHECK(bytes < 500'000);
}

TEST_CASE("libx264: SPS and PPS are in extradata right after create()")
{
    auto enc = VideoEncoder::create(smallOptions());
    REQUIRE(enc.ok());
    const Bytes &extra = (*enc)->params().extradata;
    REQUIRE(extra.size() > 8);
    CHECK(extra[0] == 0);
    CHECK(extra[1] == 0);
    CHECK(extra[2] == 0);
    CHECK(extra[3] == 1);
    CHECK((extra[4] & 0x1f) == kNalSps);
    CHECK(test::containsNalType(extra, kNalPps));
    CHECK_FALSE(test::containsNalType(extra, kNalIdr));
}

TEST_CASE("libx264: dropped frames keep pts = index * 3000 and seconds still start on keyframes")
{
    auto enc = VideoEncoder::create(smallOptions());
    REQUIRE(enc.ok());
    std::vector<OwnedPacket> packets;
    auto sink = [&](const PacketView &p) { packets.push_back(OwnedPacket::from(p)); };
    Frame frame(320, 240);
    std::vector<uint64_t> sent;
    for (uint64_t i = 0; i < 75; ++i) {
        if (i == 7 || i == 8 || i == 30 || i == 59)
            continue; // dropped by the source
        test::fillPattern(frame, i);
        frame.monoNs = test::monoNsOf(i, 30);
        REQUIRE((*enc)->encode(frame, sink).ok());
        sent.push_back(i);
    }
    REQUIRE((*enc)->flush(sink).ok());
    REQUIRE(packets.size() == sent.size());
    for (size_t k = 0; k < sent.size(); ++k) {
        INFO("frame " << sent[k]);
        CHECK(packets[k].pts == static_cast<int64_t>(sent[k]) * 3000);
        CHECK(packets[k].monoNs == test::monoNsOf(sent[k], 30));
    }
    // Frame 30 was dropped: the first frame of that second (31) is the keyframe; 60 is one
    // as usual even though 59 is missing.
    CHECK(keyframeIndexes(packets) == std::vector<uint64_t>{0, 31, 60});
}

TEST_CASE("libx264: flush drains, and the encoder refuses frames after it")
{
    auto enc = VideoEncoder::create(smallOptions());
    REQUIRE(enc.ok());
    size_t count = 0;
    auto sink = [&](const PacketView &) { ++count; };
    Frame frame(320, 240);
    for (uint64_t i = 0; i < 10; ++i) {
        test::fillPattern(frame, i);
        REQUIRE((*enc)->encode(frame, sink).ok());
    }
    REQUIRE((*enc)->flush(sink).ok());
    CHECK(count == 10);
    REQUIRE((*enc)->flush(sink).ok()); // idempotent
    CHECK(count == 10);

    test::fillPattern(frame, 10);
    auto after = (*enc)->encode(frame, sink);
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == Errc::Internal);
    CHECK(after.error().message.find("after flush") != std::string::npos);
}

TEST_CASE("libx264: wrong frame size and repeated index are internal errors")
{
    auto enc = VideoEncoder::create(smallOptions());
    REQUIRE(enc.ok());
    auto sink = [](const PacketView &) {};

    Frame big(640, 480);
    test::fillPattern(big, 0);
    auto wrong = (*enc)->encode(big, sink);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::Internal);
    CHECK(wrong.error().message.find("640x480 does not match the configured 320x240") !=
          std::string::npos);

    Frame frame(320, 240);
    test::fillPattern(frame, 5);
    REQUIRE((*enc)->encode(frame, sink).ok());
    auto again = (*enc)->encode(frame, sink);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Errc::Internal);
    CHECK(again.error().message.find("frame index 5 does not follow 5") != std::string::npos);
}

TEST_CASE("unknown or unusable encoders and bad formats are config errors")
{
    auto opts = smallOptions();
    opts.codec = "mpeg2video";
    auto unknown = VideoEncoder::create(opts);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::Config);
    CHECK(unknown.error().message.find("\"mpeg2video\": not supported") != std::string::npos);

    opts = smallOptions();
    opts.preset = "warp-speed";
    auto preset = VideoEncoder::create(opts);
    REQUIRE_FALSE(preset.ok());
    CHECK(preset.error().code == Errc::Config);
    CHECK(preset.error().message.find("preset \"warp-speed\"") != std::string::npos);

    opts = smallOptions();
    opts.format.fps = 7;
    auto fps = VideoEncoder::create(opts);
    REQUIRE_FALSE(fps.ok());
    CHECK(fps.error().code == Errc::Config);
    CHECK(fps.error().message.find("7 fps does not divide the 90 kHz clock") != std::string::npos);

    opts = smallOptions();
    opts.format.width = 321;
    auto odd = VideoEncoder::create(opts);
    REQUIRE_FALSE(odd.ok());
    CHECK(odd.error().code == Errc::Config);
    CHECK(odd.error().message.find("frame size 321x240 is invalid") != std::string::npos);

    opts = smallOptions();
    opts.bitrateKbps = 0;
    auto rate = VideoEncoder::create(opts);
    REQUIRE_FALSE(rate.ok());
    CHECK(rate.error().code == Errc::Config);
    CHECK(rate.error().message.find("bitrate is 0") != std::string::npos);
}

TEST_CASE("h264_v4l2m2m fails cleanly without a mem2mem device, and works with one")
{
    auto opts = smallOptions();
    opts.codec = "h264_v4l2m2m";
    auto hw = VideoEncoder::create(opts);
    if (!hw.ok()) {
        // Build hosts and CI have no V4L2 mem2mem encoder: opening must fail with a device
        // (or, in a libavcodec built without it, config) error, never crash or hang.
        INFO(hw.error().message);
        CHECK((hw.error().code == Errc::Device || hw.error().code == Errc::Config));
        CHECK(hw.error().message.find("h264_v4l2m2m") != std::string::npos);
        if (hw.error().code == Errc::Device)
            CHECK(hw.error().message.find("V4L2 mem2mem H.264 encoder") != std::string::npos);
        return;
    }
    // On a board with a hardware encoder: the same contract as libx264.
    std::vector<OwnedPacket> packets;
    auto sink = [&](const PacketView &p) { packets.push_back(OwnedPacket::from(p)); };
    Frame frame(320, 240);
    for (uint64_t i = 0; i < 45; ++i) {
        test::fillPattern(frame, i);
        REQUIRE((*hw)->encode(frame, sink).ok());
    }
    REQUIRE((*hw)->flush(sink).ok());
    REQUIRE(packets.size() == 45);
    CHECK(keyframeIndexes(packets) == std::vector<uint64_t>{0, 30});
    CHECK(test::startsWithStartCode((*hw)->params().extradata));
    for (const auto &p : packets)
        if (p.keyframe)
            CHECK(test::containsNalType(p.data, kNalSps));
}
