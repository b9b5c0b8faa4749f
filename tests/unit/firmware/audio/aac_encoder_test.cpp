#include <cmath>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "firmware/audio/aac_encoder.h"
#include "tests/unit/firmware/audio/audio_test_util.h"

using namespace bwc;
using namespace bwc::fw;
using test::OwnedPacket;

namespace {

std::unique_ptr<AacEncoder> makeEncoder(uint32_t rate, uint32_t channels, uint32_t kbps = 96)
{
    AacEncoderOptions options;
    options.format = {rate, channels};
    options.bitrateKbps = kbps;
    auto enc = AacEncoder::create(options);
    REQUIRE(enc.ok());
    return std::move(enc).value();
}

// Blocks of synthetic tone as a source would deliver them.
struct BlockMaker {
    uint32_t rate;
    uint32_t channels;
    std::vector<int16_t> buffer;

    AudioBlock make(uint64_t firstFrame, uint32_t frames, int64_t monoNs)
    {
        buffer.resize(size_t(frames) * channels);
        for (uint32_t i = 0; i < frames; ++i)
            for (uint32_t c = 0; c < channels; ++c)
                buffer[size_t(i) * channels + c] = syntheticAudioSample(firstFrame + i, rate);
        AudioBlock b;
        b.samples = buffer;
        b.frames = frames;
        b.firstFrame = firstFrame;
        b.monoNs = monoNs;
        return b;
    }
};

int64_t simulatedNs(int64_t frame, uint32_t rate)
{
    // floor(frame * 1e9 / rate), also for the priming samples before frame 0.
    const int64_t num = frame * 1'000'000'000;
    int64_t q = num / rate;
    if (num % rate != 0 && num < 0)
        --q;
    return q;
}

// Signal-to-error ratio (dB) of decoded channel `c` against the synthetic tone, over the
// packets in [from, to), each packet's samples placed at its pts (90 kHz -> samples).
double decodedSnrDb(const std::vector<OwnedPacket> &packets,
                    const std::vector<std::vector<std::vector<float>>> &decoded, size_t from,
                    size_t to, uint32_t rate, uint32_t c)
{
    double signal = 0, error = 0;
    for (size_t i = from; i < to; ++i) {
        const int64_t first = packets[i].pts * rate / 90'000;
        const std::vector<float> &s = decoded[i][c];
        for (size_t k = 0; k < s.size(); ++k) {
            const double ref = syntheticAudioSample(uint64_t(first + int64_t(k)), rate) / 32768.0;
            signal += ref * ref;
            error += (s[k] - ref) * (s[k] - ref);
        }
    }
    return 10 * std::log10(signal / error);
}

} // namespace

TEST_CASE("AAC: two seconds of 48 kHz tone encode to 1920-tick packets that decode back")
{
    auto enc = makeEncoder(48'000, 1);
    const StreamParams &p = enc->params();
    CHECK(p.track == Track::Audio);
    CHECK(p.codec == "aac");
    CHECK(p.sampleRate == 48'000);
    CHECK(p.channels == 1);
    CHECK(p.frameSize == 1024);
    CHECK(p.bitrateKbps == 96);
    // AudioSpecificConfig: object type 2 (AAC-LC), frequency index 3 (48000), 1 channel,
    // then the backward-compatible sync extension 0x2b7 saying "no SBR" (object type 5,
    // sbrPresentFlag 0), as libavcodec writes it.
    CHECK(p.extradata == Bytes{0x11, 0x88, 0x56, 0xe5, 0x00});

    AudioSourceOptions so;
    so.format = {48'000, 1};
    so.paced = false;
    auto source = openAudioSource(so);
    REQUIRE(source.ok());
    REQUIRE((*source)->start().ok());
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    for (int k = 0; k < 100; ++k) { // 100 x 20 ms
        auto block = (*source)->next(0);
        REQUIRE(block.ok());
        REQUIRE(enc->encode(*block, sink).ok());
    }
    REQUIRE(enc->flush(sink).ok());
    REQUIRE(enc->flush(sink).ok()); // a second flush is a no-op

    // 96000 samples: 93 full frames and one of 768, plus the encoder's priming frame.
    REQUIRE(packets.size() == 95);
    for (size_t i = 0; i < packets.size(); ++i) {
        const OwnedPacket &pk = packets[i];
        CHECK(pk.keyframe);
        CHECK(pk.dts == pk.pts);
        // The first packet carries the 1024 priming samples before sample 0.
        CHECK(pk.pts == -1920 + 1920 * int64_t(i));
        CHECK(pk.duration == (i + 1 < packets.size() ? 1920 : 768 * 90'000 / 48'000));
        // The simulated clock of the source: sample n at n / 48000 s.
        CHECK(pk.monoNs == simulatedNs(pk.pts * 48'000 / 90'000, 48'000));
        CHECK(!pk.data.empty());
    }
    CHECK(packets.back().pts + packets.back().duration == 180'000); // 96000 samples

    // Decode as a player would (extradata only) and compare with the tone, sample by
    // sample at the position each pts claims: a timeline off by even one sample would fail.
    auto decoded = test::decodeAac(packets, p.extradata, 48'000, 1);
    REQUIRE(decoded.size() == packets.size());
    for (size_t i = 0; i + 1 < decoded.size(); ++i)
        REQUIRE(decoded[i][0].size() == 1024);
    CHECK(decodedSnrDb(packets, decoded, 2, packets.size() - 1, 48'000, 0) > 25.0);

    std::vector<float> all;
    for (size_t i = 2; i + 1 < decoded.size(); ++i)
        all.insert(all.end(), decoded[i][0].begin(), decoded[i][0].end());
    const double tone = test::tonePower(all, 1000, 48'000);
    CHECK(tone > 0.03);
    CHECK(test::tonePower(all, 1500, 48'000) < tone * 1e-3);
    CHECK(test::tonePower(all, 3000, 48'000) < tone * 1e-3);
    CHECK(test::tonePower(all, 440, 48'000) < tone * 1e-3);
}

TEST_CASE("AAC: 44.1 kHz stereo keeps pts on the sample index")
{
    auto enc = makeEncoder(44'100, 2, 128);
    // Object type 2, frequency index 4 (44100), 2 channels; the same sync extension.
    CHECK(enc->params().extradata == Bytes{0x12, 0x10, 0x56, 0xe5, 0x00});
    BlockMaker maker{44'100, 2, {}};
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    // Blocks of an odd size, so frames straddle blocks.
    uint64_t first = 0;
    for (int k = 0; k < 60; ++k) {
        const uint32_t frames = 700 + uint32_t(k % 5) * 97;
        REQUIRE(
            enc->encode(maker.make(first, frames, simulatedNs(int64_t(first), 44'100)), sink).ok());
        first += frames;
    }
    REQUIRE(enc->flush(sink).ok());
    REQUIRE(packets.size() >= 40);
    for (size_t i = 0; i < packets.size(); ++i) {
        const int64_t sample = -1024 + 1024 * int64_t(i);
        // floor(sample * 90000 / 44100): not whole ticks, but never drifting.
        const int64_t ticks = (sample * 90'000 - (sample < 0 ? 44'099 : 0)) / 44'100;
        CHECK(packets[i].pts == ticks);
        if (i + 1 < packets.size())
            CHECK(packets[i].pts + packets[i].duration == packets[i + 1].pts);
    }
    auto decoded = test::decodeAac(packets, enc->params().extradata, 44'100, 2);
    REQUIRE(decoded.size() == packets.size());
    double signal = 0, error = 0;
    for (size_t i = 2; i + 1 < decoded.size(); ++i) {
        const int64_t start = -1024 + 1024 * int64_t(i);
        for (uint32_t c = 0; c < 2; ++c)
            for (size_t k = 0; k < decoded[i][c].size(); ++k) {
                const double ref = syntheticAudioSample(uint64_t(start) + k, 44'100) / 32768.0;
                signal += ref * ref;
                error += (decoded[i][c][k] - ref) * (decoded[i][c][k] - ref);
            }
    }
    CHECK(10 * std::log10(signal / error) > 25.0);
}

TEST_CASE("AAC: a gap of up to a second is filled with silence on a contiguous timeline")
{
    auto enc = makeEncoder(48'000, 1);
    BlockMaker maker{48'000, 1, {}};
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    const int64_t base = 7'000'000'000;
    uint64_t first = 0;
    for (int k = 0; k < 50; ++k, first += 960)
        REQUIRE(
            enc->encode(maker.make(first, 960, base + simulatedNs(int64_t(first), 48'000)), sink)
                .ok());
    const uint64_t gapStart = first;
    first += 24'000; // 500 ms lost by the source
    const uint64_t gapEnd = first;
    for (int k = 0; k < 50; ++k, first += 960)
        REQUIRE(
            enc->encode(maker.make(first, 960, base + simulatedNs(int64_t(first), 48'000)), sink)
                .ok());
    REQUIRE(enc->flush(sink).ok());

    // Contiguous: every packet starts where the previous one ended, up to the last sample.
    REQUIRE(!packets.empty());
    CHECK(packets.front().pts == -1920);
    for (size_t i = 0; i + 1 < packets.size(); ++i)
        REQUIRE(packets[i].pts + packets[i].duration == packets[i + 1].pts);
    CHECK(packets.back().pts + packets.back().duration == int64_t(first) * 90'000 / 48'000);
    for (const OwnedPacket &pk : packets)
        CHECK(pk.monoNs == base + simulatedNs(pk.pts * 48'000 / 90'000, 48'000));

    // The gap decodes to silence, the audio on both sides to the tone at its true position.
    auto decoded = test::decodeAac(packets, enc->params().extradata, 48'000, 1);
    REQUIRE(decoded.size() == packets.size());
    double gapEnergy = 0;
    size_t gapSamples = 0;
    std::vector<size_t> before, after;
    for (size_t i = 0; i < packets.size(); ++i) {
        const int64_t s0 = packets[i].pts * 48'000 / 90'000;
        const int64_t s1 = s0 + 1024;
        if (s0 >= int64_t(gapStart) + 2048 && s1 <= int64_t(gapEnd) - 1024) {
            for (float v : decoded[i][0])
                gapEnergy += double(v) * v;
            gapSamples += decoded[i][0].size();
        } else if (i >= 2 && s1 <= int64_t(gapStart) - 1024) {
            before.push_back(i);
        } else if (s0 >= int64_t(gapEnd) + 2048 && i + 1 < packets.size()) {
            after.push_back(i);
        }
    }
    REQUIRE(gapSamples >= 16'000);
    CHECK(gapEnergy / double(gapSamples) < 1e-8);
    REQUIRE(before.size() > 30);
    REQUIRE(after.size() > 30);
    CHECK(decodedSnrDb(packets, decoded, before.front(), before.back() + 1, 48'000, 0) > 25.0);
    CHECK(decodedSnrDb(packets, decoded, after.front(), after.back() + 1, 48'000, 0) > 25.0);
}

TEST_CASE("AAC: a gap over a second restarts the stream at the new sample index")
{
    auto enc = makeEncoder(48'000, 1);
    BlockMaker maker{48'000, 1, {}};
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    uint64_t first = 0;
    for (int k = 0; k < 25; ++k, first += 960)
        REQUIRE(
            enc->encode(maker.make(first, 960, simulatedNs(int64_t(first), 48'000)), sink).ok());
    const uint64_t firstEnd = first; // 24000
    first += 3 * 48'000;             // three seconds lost (a device that was reopened)
    const uint64_t restart = first;
    for (int k = 0; k < 25; ++k, first += 960)
        REQUIRE(
            enc->encode(maker.make(first, 960, simulatedNs(int64_t(first), 48'000)), sink).ok());
    REQUIRE(enc->flush(sink).ok());

    // First stream: priming + 23 full frames + one of 448 samples (24000 = 23*1024 + 448).
    // Second stream: the same again, starting 1024 samples before `restart`.
    REQUIRE(packets.size() == 50);
    for (size_t i = 0; i < 25; ++i)
        CHECK(packets[i].pts == -1920 + 1920 * int64_t(i));
    CHECK(packets[24].pts + packets[24].duration == int64_t(firstEnd) * 90'000 / 48'000);
    for (size_t i = 25; i < 50; ++i)
        CHECK(packets[i].pts ==
              (int64_t(restart) - 1024) * 90'000 / 48'000 + 1920 * int64_t(i - 25));
    for (size_t i = 0; i + 1 < packets.size(); ++i)
        CHECK(packets[i].dts < packets[i + 1].dts);
    for (const OwnedPacket &pk : packets)
        CHECK(pk.monoNs == simulatedNs(pk.pts * 48'000 / 90'000, 48'000));
    CHECK(packets.back().pts + packets.back().duration == int64_t(first) * 90'000 / 48'000);

    // Each stream decodes on its own (a player starts a new decoder at the discontinuity).
    const std::vector<OwnedPacket> second(packets.begin() + 25, packets.end());
    auto decoded = test::decodeAac(second, enc->params().extradata, 48'000, 1);
    REQUIRE(decoded.size() == second.size());
    CHECK(decodedSnrDb(second, decoded, 2, second.size() - 1, 48'000, 0) > 25.0);
}

TEST_CASE("AAC: monoNs follows the blocks' timestamps, not a fixed clock")
{
    auto enc = makeEncoder(48'000, 1);
    BlockMaker maker{48'000, 1, {}};
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    // The capture clock steps by +3 ms at block 20 (as a timestamp correction would).
    auto blockMono = [](uint64_t k) {
        return int64_t(1'000'000'000) + int64_t(k) * 20'000'000 + (k >= 20 ? 3'000'000 : 0);
    };
    for (uint64_t k = 0; k < 40; ++k)
        REQUIRE(enc->encode(maker.make(k * 960, 960, blockMono(k)), sink).ok());
    REQUIRE(enc->flush(sink).ok());
    REQUIRE(packets.size() == 39); // 38400 samples = 37.5 frames -> 38, plus priming
    for (const OwnedPacket &pk : packets) {
        const int64_t sample = pk.pts * 48'000 / 90'000;
        // The block that holds the packet's first sample (block 0 for the priming samples).
        const uint64_t k = sample < 0 ? 0 : uint64_t(sample) / 960;
        const int64_t offset = sample - int64_t(k * 960);
        CHECK(pk.monoNs == blockMono(k) + simulatedNs(offset, 48'000));
    }
}

TEST_CASE("AAC: invalid options and misuse fail with the right category")
{
    AacEncoderOptions o;
    o.format = {44'000, 1};
    auto r = AacEncoder::create(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("44000 Hz is not an AAC sample rate") != std::string::npos);

    o.format = {48'000, 9};
    r = AacEncoder::create(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("9 channels is outside 1..8") != std::string::npos);

    o.format = {48'000, 1};
    o.bitrateKbps = 0;
    r = AacEncoder::create(o);
    REQUIRE(!r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.find("0 kbit/s is outside 8..256") != std::string::npos);

    auto enc = makeEncoder(48'000, 1);
    BlockMaker maker{48'000, 1, {}};
    std::vector<OwnedPacket> packets;
    const PacketSink sink = test::collectInto(packets);
    REQUIRE(enc->encode(maker.make(9600, 960, 0), sink).ok());
    auto back = enc->encode(maker.make(0, 960, 0), sink);
    REQUIRE(!back.ok());
    CHECK(back.error().code == Errc::Internal);
    CHECK(back.error().message.find("before the expected 10560 (the source went backwards)") !=
          std::string::npos);
    // An empty block (a source timeout) is ignored.
    REQUIRE(enc->encode(AudioBlock{}, sink).ok());
    REQUIRE(enc->flush(sink).ok());
    auto late = enc->encode(maker.make(10'560, 960, 0), sink);
    REQUIRE(!late.ok());
    CHECK(late.error().code == Errc::Internal);
    CHECK(late.error().message.find("encode() after flush()") != std::string::npos);
    // The timeline started at the first block's index, not at 0.
    REQUIRE(!packets.empty());
    CHECK(packets.front().pts == (9600 - 1024) * 90'000 / 48'000);
}
