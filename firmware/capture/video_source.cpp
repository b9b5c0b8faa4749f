#include "firmware/capture/video_source.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "firmware/capture/sources.h"

namespace bwc::fw {

namespace {

// ---- Counter layout, shared by the renderer and the reader -------------------------------
//
// Two rows of square blocks along the top edge, 20 columns each: two guard blocks, 16 data
// bits (most significant first; row 0 holds bits 31..16, row 1 bits 15..0), two guard blocks.
// Block size: 16 px per started 320 px of width (16 at 320, 64 at 1280, 96 at 1920), so
// blocks align with 16x16 macroblocks and survive H.264 at low bitrates.

constexpr uint8_t kBlack = 16;
constexpr uint8_t kWhite = 235;
constexpr uint8_t kNeutralChroma = 128;
constexpr int kCounterRows = 2;
constexpr int kCounterColumns = 20;
constexpr int kGuardColumns = 2;
constexpr int kBitsPerRow = 16;

// Guard block colours: true = white. Row 1 is row 0 inverted.
constexpr std::array<bool, 4> kGuardRow0 = {true, false, false, true};

uint32_t counterBlockSize(uint32_t width)
{
    if (width >= 320)
        return 16 * (width / 320);
    return (width / kCounterColumns) & ~1u;
}

bool counterFits(uint32_t block, uint32_t width, uint32_t height)
{
    return block >= 2 && block * kCounterColumns <= width && block * kCounterRows <= height;
}

// The colour of block (row, column) for counter value `value`; true = white.
bool counterBlockWhite(uint32_t value, int row, int column)
{
    if (column < kGuardColumns || column >= kGuardColumns + kBitsPerRow) {
        const int guard = column < kGuardColumns ? column : column - kBitsPerRow;
        return kGuardRow0[static_cast<size_t>(guard)] != (row == 1);
    }
    const int bit = 31 - (row * kBitsPerRow + column - kGuardColumns);
    return ((value >> bit) & 1u) != 0;
}

// ---- Drawing primitives ------------------------------------------------------------------

// Fills a rectangle of luma with `y` and the chroma under it with neutral grey; clipped.
void fillRect(Frame &frame, int x, int y, int w, int h, uint8_t luma)
{
    const int width = static_cast<int>(frame.width());
    const int height = static_cast<int>(frame.height());
    const int x0 = std::clamp(x, 0, width);
    const int y0 = std::clamp(y, 0, height);
    const int x1 = std::clamp(x + w, 0, width);
    const int y1 = std::clamp(y + h, 0, height);
    if (x0 >= x1 || y0 >= y1)
        return;
    for (int row = y0; row < y1; ++row)
        std::memset(frame.plane(0) + static_cast<size_t>(row) * frame.stride(0) + x0, luma,
                    static_cast<size_t>(x1 - x0));
    const int cx0 = x0 / 2;
    const int cx1 = (x1 + 1) / 2;
    for (int row = y0 / 2; row < (y1 + 1) / 2; ++row) {
        for (int p = 1; p <= 2; ++p)
            std::memset(frame.plane(p) + static_cast<size_t>(row) * frame.stride(p) + cx0,
                        kNeutralChroma, static_cast<size_t>(cx1 - cx0));
    }
}

// ---- Background: two diagonal layers moving at different speeds --------------------------
//
// Luma row y is A[(x + y + 3i) mod 256] + T[(x - y + 2i) mod 61]: soft colour bars (A) plus a
// pseudo-random diagonal texture (T) sliding the other way, so an encoder must code real
// residuals. Chroma makes diagonal colour bands (U) and horizontal bands (V). Every row is a
// few vectorisable adds or copies from small tables built once.

constexpr int kPeriodA = 256;
constexpr int kPeriodT = 61;
constexpr int kPeriodU = 128;
constexpr int kPeriodV = 90;
constexpr int kChunk = 256;

struct PatternTables {
    std::array<uint8_t, kPeriodA + kChunk> a{};
    std::array<uint8_t, kPeriodT + kChunk> t{};
    std::array<uint8_t, kPeriodU + kChunk> u{};
    std::array<uint8_t, kPeriodV> v{};
};

uint8_t triangle(int i, int period, int amplitude)
{
    const int half = period / 2;
    const int pos = i % period;
    const int rise = pos < half ? pos : period - pos;
    return static_cast<uint8_t>(128 - amplitude + 2 * amplitude * rise / half);
}

const PatternTables &patternTables()
{
    static const PatternTables tables = [] {
        PatternTables t;
        for (size_t i = 0; i < t.a.size(); ++i) {
            const int p = static_cast<int>(i) % kPeriodA;
            // 8 bars of 32 px with distinct levels, each with a gentle ramp: 40..186.
            t.a[i] = static_cast<uint8_t>(40 + 2 * (p % 32) + 12 * ((p / 32) * 5 % 8));
        }
        uint32_t state = 0x2545f491u;
        std::array<uint8_t, kPeriodT> texture{};
        for (auto &value : texture) {
            state = state * 1664525u + 1013904223u;
            value = static_cast<uint8_t>(state >> 27); // 0..31
        }
        for (size_t i = 0; i < t.t.size(); ++i)
            t.t[i] = texture[i % kPeriodT];
        for (size_t i = 0; i < t.u.size(); ++i)
            t.u[i] = triangle(static_cast<int>(i), kPeriodU, 60);
        for (size_t i = 0; i < t.v.size(); ++i)
            t.v[i] = triangle(static_cast<int>(i), kPeriodV, 50);
        return t;
    }();
    return tables;
}

void drawBackground(uint64_t index, Frame &frame)
{
    const PatternTables &tables = patternTables();
    const int width = static_cast<int>(frame.width());
    const int height = static_cast<int>(frame.height());
    const int shiftA = static_cast<int>(3 * (index % kPeriodA) % kPeriodA);
    const int shiftT = static_cast<int>(2 * (index % kPeriodT) % kPeriodT);
    for (int y = 0; y < height; ++y) {
        uint8_t *out = frame.plane(0) + static_cast<size_t>(y) * frame.stride(0);
        int ia = (y % kPeriodA + shiftA) % kPeriodA;
        int it = (kPeriodT - y % kPeriodT + shiftT) % kPeriodT;
        for (int x = 0; x < width;) {
            const int n = std::min(kChunk, width - x);
            const uint8_t *a = tables.a.data() + ia;
            const uint8_t *t = tables.t.data() + it;
            for (int k = 0; k < n; ++k)
                out[x + k] = static_cast<uint8_t>(a[k] + t[k]);
            x += n;
            ia = (ia + n) % kPeriodA;
            it = (it + n) % kPeriodT;
        }
    }
    const int cw = width / 2;
    const int ch = height / 2;
    const int shiftU = static_cast<int>(2 * (index % kPeriodU) % kPeriodU);
    const int shiftV = static_cast<int>(index % kPeriodV);
    for (int y = 0; y < ch; ++y) {
        uint8_t *u = frame.plane(1) + static_cast<size_t>(y) * frame.stride(1);
        int iu = (y % kPeriodU + shiftU) % kPeriodU;
        for (int x = 0; x < cw;) {
            const int n = std::min(kChunk, cw - x);
            std::memcpy(u + x, tables.u.data() + iu, static_cast<size_t>(n));
            x += n;
            iu = (iu + n) % kPeriodU;
        }
        std::memset(frame.plane(2) + static_cast<size_t>(y) * frame.stride(2),
                    tables.v[static_cast<size_t>((y + shiftV) % kPeriodV)],
                    static_cast<size_t>(cw));
    }
}

// ---- Simulated clock: HH:MM:SS.ff in a seven-segment style -------------------------------

// Segments a..g in bits 0..6.
constexpr std::array<uint8_t, 10> kDigitSegments = {0x3F, 0x06, 0x5B, 0x4F, 0x66,
                                                    0x6D, 0x7D, 0x07, 0x7F, 0x6F};

struct GlyphMetrics {
    int height;    // digit height
    int width;     // digit width
    int thickness; // segment thickness
    int gap;       // space after each glyph
};

void drawDigit(Frame &frame, int x, int y, int digit, const GlyphMetrics &m)
{
    const uint8_t segments = kDigitSegments[static_cast<size_t>(digit)];
    const int w = m.width;
    const int h = m.height;
    const int t = m.thickness;
    const int half = h / 2;
    struct Rect {
        int x, y, w, h;
    };
    const std::array<Rect, 7> rects = {{
        {0, 0, w, t},               // a: top
        {w - t, 0, t, half},        // b: upper right
        {w - t, half, t, h - half}, // c: lower right
        {0, h - t, w, t},           // d: bottom
        {0, half, t, h - half},     // e: lower left
        {0, 0, t, half},            // f: upper left
        {0, (h - t) / 2, w, t},     // g: middle
    }};
    for (size_t s = 0; s < rects.size(); ++s) {
        if (segments & (1u << s))
            fillRect(frame, x + rects[s].x, y + rects[s].y, rects[s].w, rects[s].h, kWhite);
    }
}

void drawClock(uint64_t index, uint32_t fps, uint32_t block, Frame &frame)
{
    const uint64_t seconds = index / fps;
    const uint64_t hundredths = (index % fps) * 100 / fps;
    const std::array<int, 8> digits = {
        static_cast<int>(seconds / 3600 % 100 / 10), static_cast<int>(seconds / 3600 % 10),
        static_cast<int>(seconds / 60 % 60 / 10),    static_cast<int>(seconds / 60 % 10),
        static_cast<int>(seconds % 60 / 10),         static_cast<int>(seconds % 10),
        static_cast<int>(hundredths / 10),           static_cast<int>(hundredths % 10)};

    const int b = static_cast<int>(block);
    GlyphMetrics m{};
    m.height = b;
    m.width = std::max(3, b * 9 / 16);
    m.thickness = std::max(1, b / 8);
    m.gap = std::max(1, b / 4);
    const int separator = m.thickness + m.gap; // ':' and '.' glyph advance
    const int margin = m.gap;
    const int textWidth = 8 * (m.width + m.gap) + 3 * separator - m.gap;
    const int left = b / 2;
    const int top = kCounterRows * b + b / 2;

    fillRect(frame, left - margin, top - margin, textWidth + 2 * margin, m.height + 2 * margin,
             kBlack);
    int x = left;
    for (size_t i = 0; i < digits.size(); ++i) {
        drawDigit(frame, x, top, digits[i], m);
        x += m.width + m.gap;
        if (i == 1 || i == 3) { // ':' after hours and minutes
            fillRect(frame, x, top + m.height / 4, m.thickness, m.thickness, kWhite);
            fillRect(frame, x, top + 3 * m.height / 4 - m.thickness, m.thickness, m.thickness,
                     kWhite);
            x += separator;
        } else if (i == 5) { // '.' before the hundredths
            fillRect(frame, x, top + m.height - m.thickness, m.thickness, m.thickness, kWhite);
            x += separator;
        }
    }
}

bool isKnownKind(std::string_view kind)
{
    return kind == "synthetic" || kind == "file" || kind == "v4l2" || kind == "libcamera";
}

Expected<void> validate(const VideoSourceOptions &options)
{
    if (!isKnownKind(options.kind))
        return Error(Errc::Config, "video source kind '" + options.kind +
                                       "' unknown; use one of synthetic, file, v4l2, libcamera");
    const VideoFormat &f = options.format;
    constexpr uint32_t kMaxDimension = 8192;
    if (f.width == 0 || f.height == 0 || f.width % 2 != 0 || f.height % 2 != 0 ||
        f.width > kMaxDimension || f.height > kMaxDimension)
        return Error(Errc::Config, "video source: size " + std::to_string(f.width) + "x" +
                                       std::to_string(f.height) +
                                       " invalid; width and height must be even and 2 to " +
                                       std::to_string(kMaxDimension));
    if (f.fps == 0 || f.fps > 120)
        return Error(Errc::Config, "video source: frame rate " + std::to_string(f.fps) +
                                       " invalid; use 1 to 120 frames per second");
    if ((options.kind == "file" || options.kind == "v4l2") && options.device.empty())
        return Error(Errc::Config, "video source kind " + options.kind + " needs a " +
                                       (options.kind == "file" ? "file path" : "device node") +
                                       " (video.device)");
    if (options.kind == "v4l2" && !options.pixelFormat.empty() && options.pixelFormat != "YUYV" &&
        options.pixelFormat != "NV12" && options.pixelFormat != "MJPEG")
        return Error(Errc::Config, "video source: pixel format '" + options.pixelFormat +
                                       "' unknown; use YUYV, NV12, MJPEG or leave it empty");
    return {};
}

} // namespace

Expected<std::unique_ptr<VideoSource>> openVideoSource(const VideoSourceOptions &options)
{
    BWC_TRY(validate(options));
    if (options.kind == "synthetic")
        return openSyntheticSource(options);
    if (options.kind == "file")
        return openFileSource(options);
    if (options.kind == "v4l2")
        return openV4l2Source(options);
#if BWC_WITH_LIBCAMERA
    return openLibcameraSource(options);
#else
    return Error(Errc::Config, "video source kind libcamera: this build has no libcamera "
                               "support; rebuild with BWC_WITH_LIBCAMERA=ON or use v4l2");
#endif
}

void renderSyntheticFrame(uint64_t index, uint32_t fps, Frame &frame)
{
    if (frame.empty())
        return;
    fps = std::max(fps, 1u);
    drawBackground(index, frame);
    const uint32_t block = counterBlockSize(frame.width());
    if (!counterFits(block, frame.width(), frame.height()))
        return;
    const auto value = static_cast<uint32_t>(index);
    const int b = static_cast<int>(block);
    for (int row = 0; row < kCounterRows; ++row) {
        for (int column = 0; column < kCounterColumns; ++column)
            fillRect(frame, column * b, row * b, b, b,
                     counterBlockWhite(value, row, column) ? kWhite : kBlack);
    }
    drawClock(index, fps, block, frame);
}

std::optional<uint64_t> readFrameCounter(const uint8_t *luma, int stride, uint32_t width,
                                         uint32_t height)
{
    const uint32_t block = counterBlockSize(width);
    if (luma == nullptr || !counterFits(block, width, height) || stride < static_cast<int>(width))
        return std::nullopt;
    // Sample the middle half of each block (edges blur under compression); a block is read
    // when at least 3/4 of its samples lie on one side of mid-grey.
    const int b = static_cast<int>(block);
    const int inset = b / 4;
    const int samples = (b - 2 * inset) * (b - 2 * inset);
    uint32_t value = 0;
    for (int row = 0; row < kCounterRows; ++row) {
        for (int column = 0; column < kCounterColumns; ++column) {
            int bright = 0;
            for (int y = row * b + inset; y < (row + 1) * b - inset; ++y) {
                const uint8_t *line = luma + static_cast<size_t>(y) * stride;
                for (int x = column * b + inset; x < (column + 1) * b - inset; ++x)
                    bright += line[x] >= 128 ? 1 : 0;
            }
            bool white = false;
            if (4 * bright >= 3 * samples)
                white = true;
            else if (4 * bright > samples)
                return std::nullopt; // neither clearly black nor clearly white
            const bool isGuard = column < kGuardColumns || column >= kGuardColumns + kBitsPerRow;
            if (isGuard) {
                if (white != counterBlockWhite(0, row, column))
                    return std::nullopt;
            } else if (white) {
                value |= 1u << (31 - (row * kBitsPerRow + column - kGuardColumns));
            }
        }
    }
    return value;
}

} // namespace bwc::fw
