#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "firmware/audio/audio_source.h"
#include "firmware/media/packet.h"

namespace bwc::fw::test {

// Power of `freqHz` in `samples` (Goertzel), normalised by the number of samples squared:
// a full-scale sine of that frequency gives about 0.25.
double tonePower(std::span<const float> samples, double freqHz, double sampleRate);

// A packet copied out of a sink call.
struct OwnedPacket {
    bool keyframe = false;
    int64_t pts = 0;
    int64_t dts = 0;
    int64_t duration = 0;
    int64_t monoNs = 0;
    Bytes data;
};

// A sink that appends copies to `out`.
PacketSink collectInto(std::vector<OwnedPacket> &out);

// Decodes AAC packets with libavcodec's decoder (configured by `extradata` only, as a
// player would from the MP4 track). Returns one vector of float samples per channel per
// packet: result[packet][channel][sample].
std::vector<std::vector<std::vector<float>>> decodeAac(const std::vector<OwnedPacket> &packets,
                                                       const Bytes &extradata, uint32_t sampleRate,
                                                       uint32_t channels);

// A temporary directory removed (with its files) at the end of the scope.
class TempDir
{
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void writeBinaryFile(const std::string &path, ByteView data);

} // namespace bwc::fw::test
