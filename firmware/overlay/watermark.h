#pragma once

// The watermark burned into every frame: device id, officer id, UTC time with a mark of
// the clock source, and the location when known. Text is rasterised with FreeType into an
// alpha mask only when it changes (at most once a second); each frame then only blends
// the cached mask into its planes, which costs a few hundred microseconds at 1080p.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/clip.pb.h"
#include "common/base/error.h"
#include "firmware/media/frame.h"

namespace bwc::fw {

struct WatermarkOptions {
    // A TrueType/OpenType font file (monospace recommended).
    std::string fontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
    uint32_t frameWidth = 0;
    uint32_t frameHeight = 0;
    // Text height in pixels; 0 picks frameHeight / 30 (at least 12).
    uint32_t pixelSize = 0;
};

struct WatermarkFields {
    std::string deviceId;
    std::string officerId;
    int64_t utcMs = 0;
    v1::ClockSource clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    std::optional<double> latitudeDeg;
    std::optional<double> longitudeDeg;
};

// The lines drawn, e.g. {"CAM-0042  OFFICER 1234", "2026-11-23 14:05:09Z DOCK",
// "52.52000N 13.40500E"}. Time is shown to the second; the clock-source mark names
// where the time came from (DOCK, GNSS, NTP, RTC, MAN, or "UNSYNCED" when unknown).
std::vector<std::string> watermarkLines(const WatermarkFields &fields);

class Watermark
{
public:
    // Loads the font; Errc::Config naming the font path when it cannot be loaded.
    static Expected<std::unique_ptr<Watermark>> create(const WatermarkOptions &options);
    ~Watermark();
    Watermark(const Watermark &) = delete;
    Watermark &operator=(const Watermark &) = delete;

    // Sets the text; re-rasterises only when the lines differ from the current ones.
    // Characters outside printable ASCII are drawn as '?'.
    void setLines(const std::vector<std::string> &lines);
    // Blends the current text (white on a translucent dark box, bottom left) into `frame`.
    // The frame must have the size given at create().
    void apply(Frame &frame) const;
    // How many times text has been rasterised (tests check it is not per frame).
    uint64_t renderCount() const;

private:
    struct Impl;
    explicit Watermark(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace bwc::fw
