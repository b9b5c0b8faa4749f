#include "firmware/overlay/watermark.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "common/base/log.h"

namespace bwc::fw {

namespace {

// The dark box behind the text: how much of the picture it covers (of 256) and its luma.
constexpr int kBoxOpacity = 150;
constexpr int kBoxLuma = 16;
// Text colour: white in limited-range BT.601/709 luma, neutral chroma.
constexpr int kTextLuma = 235;
constexpr int kNeutralChroma = 128;

// The message text of a FreeType error code (this FreeType is built without
// FT_Error_String's table, so the list is expanded from fterrors.h as its comment describes).
const char *freetypeErrorText(FT_Error code)
{
#undef FTERRORS_H_
#define FT_ERROR_START_LIST switch (code) {
#define FT_ERRORDEF(e, v, s)                                                                       \
    case v:                                                                                        \
        return s;
#define FT_ERROR_END_LIST }
#include FT_ERRORS_H
    return "unknown FreeType error";
}

std::string freetypeError(FT_Error code)
{
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s (FreeType error 0x%02x)", freetypeErrorText(code),
                  static_cast<unsigned>(code));
    return buf;
}

struct FtLibraryDeleter {
    void operator()(FT_Library lib) const { FT_Done_FreeType(lib); }
};
struct FtFaceDeleter {
    void operator()(FT_Face face) const { FT_Done_Face(face); }
};
using FtLibraryPtr = std::unique_ptr<FT_LibraryRec_, FtLibraryDeleter>;
using FtFacePtr = std::unique_ptr<FT_FaceRec_, FtFaceDeleter>;

const char *clockMark(v1::ClockSource source)
{
    switch (source) {
    case v1::CLOCK_SOURCE_DOCK:
        return "DOCK";
    case v1::CLOCK_SOURCE_GNSS:
        return "GNSS";
    case v1::CLOCK_SOURCE_NTP:
        return "NTP";
    case v1::CLOCK_SOURCE_RTC:
        return "RTC";
    case v1::CLOCK_SOURCE_MANUAL:
        return "MAN";
    default:
        return "UNSYNCED";
    }
}

// "52.52000N", "13.40500E": five decimals (about a metre), hemisphere letter. A value that
// rounds to zero gets the positive hemisphere so the mark does not flicker around 0.
std::string coordinate(double deg, char positive, char negative)
{
    const double magnitude = std::fabs(deg);
    const bool isZero = std::llround(magnitude * 1e5) == 0;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.5f%c", magnitude, (deg < 0 && !isZero) ? negative : positive);
    return buf;
}

// Blends one plane's rectangle: p = (p * mul + add) >> 8, with rounding folded into add.
void blendRect(uint8_t *plane, int stride, uint32_t x0, uint32_t y0, uint32_t width,
               uint32_t height, const uint16_t *mul, const uint16_t *add)
{
    for (uint32_t r = 0; r < height; ++r) {
        uint8_t *__restrict row =
            plane + static_cast<size_t>(y0 + r) * static_cast<size_t>(stride) + x0;
        const uint16_t *__restrict m = mul + static_cast<size_t>(r) * width;
        const uint16_t *__restrict a = add + static_cast<size_t>(r) * width;
        for (uint32_t c = 0; c < width; ++c)
            row[c] = static_cast<uint8_t>((uint32_t(row[c]) * m[c] + a[c]) >> 8);
    }
}

} // namespace

std::vector<std::string> watermarkLines(const WatermarkFields &fields)
{
    std::vector<std::string> lines;
    lines.push_back(fields.deviceId + "  OFFICER " +
                    (fields.officerId.empty() ? std::string("-") : fields.officerId));

    // Floor to the second (also for times before 1970).
    int64_t seconds = fields.utcMs / 1000;
    if (fields.utcMs % 1000 < 0)
        --seconds;
    const time_t t = static_cast<time_t>(seconds);
    struct tm tmUtc {
    };
    char when[64];
    if (gmtime_r(&t, &tmUtc) != nullptr) {
        std::snprintf(when, sizeof when, "%04d-%02d-%02d %02d:%02d:%02dZ %s", tmUtc.tm_year + 1900,
                      tmUtc.tm_mon + 1, tmUtc.tm_mday, tmUtc.tm_hour, tmUtc.tm_min, tmUtc.tm_sec,
                      clockMark(fields.clockSource));
    } else {
        std::snprintf(when, sizeof when, "INVALID TIME %s", clockMark(fields.clockSource));
    }
    lines.emplace_back(when);

    if (fields.latitudeDeg && fields.longitudeDeg && std::isfinite(*fields.latitudeDeg) &&
        std::isfinite(*fields.longitudeDeg)) {
        lines.push_back(coordinate(*fields.latitudeDeg, 'N', 'S') + " " +
                        coordinate(*fields.longitudeDeg, 'E', 'W'));
    }
    return lines;
}

struct Watermark::Impl {
    FtLibraryPtr library;
    FtFacePtr face;
    uint32_t frameWidth = 0;
    uint32_t frameHeight = 0;
    uint32_t pixelSize = 0;

    std::vector<std::string> lines;
    uint64_t renderCount = 0;
    mutable std::atomic<bool> warnedSize{false};

    // The box in luma coordinates (all even, so chroma maps exactly); empty when no text.
    uint32_t boxX = 0;
    uint32_t boxY = 0;
    uint32_t boxW = 0;
    uint32_t boxH = 0;
    // Per-pixel blend factors: luma boxW x boxH, chroma (boxW/2) x (boxH/2).
    std::vector<uint16_t> lumaMul, lumaAdd, chromaMul, chromaAdd;
    // Text coverage (0..255) inside the box, kept between renders to avoid reallocation.
    std::vector<uint8_t> coverage;

    void render();
    void drawGlyph(const FT_Bitmap &bitmap, int left, int top);
};

void Watermark::Impl::drawGlyph(const FT_Bitmap &bitmap, int left, int top)
{
    for (unsigned r = 0; r < bitmap.rows; ++r) {
        const int y = top + static_cast<int>(r);
        if (y < 0 || y >= static_cast<int>(boxH))
            continue;
        const uint8_t *src = bitmap.buffer + static_cast<ptrdiff_t>(r) * bitmap.pitch;
        uint8_t *dst = coverage.data() + static_cast<size_t>(y) * boxW;
        for (unsigned c = 0; c < bitmap.width; ++c) {
            const int x = left + static_cast<int>(c);
            if (x < 0 || x >= static_cast<int>(boxW))
                continue;
            dst[x] = std::max(dst[x], src[c]);
        }
    }
}

void Watermark::Impl::render()
{
    ++renderCount;
    boxW = boxH = 0;
    if (lines.empty())
        return;

    FT_Face f = face.get();
    const FT_Size_Metrics &metrics = f->size->metrics;
    const int ascender = static_cast<int>((metrics.ascender + 63) >> 6);
    const int lineHeight = static_cast<int>((metrics.height + 63) >> 6);
    const int pad = std::max(2, static_cast<int>(pixelSize) / 4);
    const int margin = std::max(2, static_cast<int>(pixelSize) / 2);

    // Printable ASCII only; anything else is drawn as '?'.
    std::vector<std::string> text = lines;
    for (auto &line : text)
        for (auto &ch : line)
            if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e)
                ch = '?';

    // Measure with the hinted advances the drawing pass uses.
    long widest = 0;
    for (const auto &line : text) {
        long pen = 0;
        for (char ch : line)
            if (FT_Load_Char(f, static_cast<unsigned char>(ch), FT_LOAD_DEFAULT) == 0)
                pen += f->glyph->advance.x;
        widest = std::max(widest, pen);
    }

    auto even = [](long v) { return static_cast<uint32_t>(std::max(0L, v) & ~1L); };
    const uint32_t maxW = even(static_cast<long>(frameWidth) - 2 * margin);
    const uint32_t maxH = even(static_cast<long>(frameHeight) - 2 * margin);
    boxW = std::min(maxW, even(((widest + 63) >> 6) + 2 * pad + 1));
    boxH = std::min(maxH, even(static_cast<long>(text.size()) * lineHeight + 2 * pad + 1));
    if (boxW == 0 || boxH == 0) {
        boxW = boxH = 0;
        return;
    }
    boxX = even(margin);
    boxY = even(static_cast<long>(frameHeight) - margin - static_cast<long>(boxH));

    coverage.assign(static_cast<size_t>(boxW) * boxH, 0);
    int baseline = pad + ascender;
    for (const auto &line : text) {
        long pen = static_cast<long>(pad) << 6;
        for (char ch : line) {
            if (FT_Load_Char(f, static_cast<unsigned char>(ch), FT_LOAD_RENDER) != 0)
                continue;
            const FT_GlyphSlot g = f->glyph;
            if (g->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY)
                drawGlyph(g->bitmap, static_cast<int>(pen >> 6) + g->bitmap_left,
                          baseline - g->bitmap_top);
            pen += g->advance.x;
        }
        baseline += lineHeight;
    }

    // Luma: box darkens to kBoxLuma by kBoxOpacity, text covers that with kTextLuma.
    const size_t lumaCount = static_cast<size_t>(boxW) * boxH;
    lumaMul.resize(lumaCount);
    lumaAdd.resize(lumaCount);
    const double keep = 1.0 - kBoxOpacity / 256.0;
    for (size_t i = 0; i < lumaCount; ++i) {
        const double t = coverage[i] / 255.0;
        const double mul = 256.0 * keep * (1.0 - t);
        const double add = 256.0 * (kBoxLuma * (1.0 - keep) * (1.0 - t) + kTextLuma * t);
        lumaMul[i] = static_cast<uint16_t>(std::lround(mul));
        lumaAdd[i] = static_cast<uint16_t>(std::lround(add) + 128);
    }

    // Chroma: the box and the text are both neutral, so colour is pulled towards 128 by
    // the combined opacity, from the mean coverage of the 2x2 luma pixels.
    const uint32_t cw = boxW / 2;
    const uint32_t ch = boxH / 2;
    chromaMul.resize(static_cast<size_t>(cw) * ch);
    chromaAdd.resize(static_cast<size_t>(cw) * ch);
    for (uint32_t y = 0; y < ch; ++y) {
        for (uint32_t x = 0; x < cw; ++x) {
            const uint8_t *c0 = coverage.data() + static_cast<size_t>(2 * y) * boxW + 2 * x;
            const uint8_t *c1 = c0 + boxW;
            const double t = (c0[0] + c0[1] + c1[0] + c1[1]) / (4.0 * 255.0);
            const double mul = 256.0 * keep * (1.0 - t);
            const long m = std::lround(mul);
            const size_t i = static_cast<size_t>(y) * cw + x;
            chromaMul[i] = static_cast<uint16_t>(m);
            chromaAdd[i] = static_cast<uint16_t>((256 - m) * kNeutralChroma + 128);
        }
    }
}

Watermark::Watermark(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Watermark::~Watermark() = default;

Expected<std::unique_ptr<Watermark>> Watermark::create(const WatermarkOptions &options)
{
    if (options.frameWidth < 2 || options.frameHeight < 2)
        return Error(Errc::Config, "watermark: frame size " + std::to_string(options.frameWidth) +
                                       "x" + std::to_string(options.frameHeight) +
                                       " is invalid; set the video format before the overlay");

    auto impl = std::make_unique<Impl>();
    impl->frameWidth = options.frameWidth & ~1u;
    impl->frameHeight = options.frameHeight & ~1u;
    impl->pixelSize =
        options.pixelSize != 0 ? options.pixelSize : std::max(12u, options.frameHeight / 30);

    FT_Library lib = nullptr;
    if (FT_Error err = FT_Init_FreeType(&lib); err != 0)
        return Error(Errc::Internal,
                     "watermark: FreeType initialisation failed: " + freetypeError(err));
    impl->library.reset(lib);

    FT_Face face = nullptr;
    if (FT_Error err = FT_New_Face(impl->library.get(), options.fontPath.c_str(), 0, &face);
        err != 0)
        return Error(Errc::Config, "watermark font " + options.fontPath +
                                       ": cannot be loaded: " + freetypeError(err) +
                                       "; install the font or set the overlay font path");
    impl->face.reset(face);

    if (FT_Error err = FT_Set_Pixel_Sizes(face, 0, impl->pixelSize); err != 0)
        return Error(Errc::Config, "watermark font " + options.fontPath + ": cannot be sized to " +
                                       std::to_string(impl->pixelSize) +
                                       " pixels: " + freetypeError(err) +
                                       "; use a scalable (TrueType/OpenType) font");

    return std::unique_ptr<Watermark>(new Watermark(std::move(impl)));
}

void Watermark::setLines(const std::vector<std::string> &lines)
{
    if (lines == impl_->lines)
        return;
    impl_->lines = lines;
    impl_->render();
}

void Watermark::apply(Frame &frame) const
{
    const Impl &m = *impl_;
    if (m.boxW == 0 || m.boxH == 0)
        return;
    if (frame.width() != m.frameWidth || frame.height() != m.frameHeight) {
        if (!m.warnedSize.exchange(true))
            log::warn("watermark: frame " + std::to_string(frame.width()) + "x" +
                      std::to_string(frame.height()) + " differs from the configured " +
                      std::to_string(m.frameWidth) + "x" + std::to_string(m.frameHeight) +
                      "; watermark not drawn");
        return;
    }
    blendRect(frame.plane(0), frame.stride(0), m.boxX, m.boxY, m.boxW, m.boxH, m.lumaMul.data(),
              m.lumaAdd.data());
    for (int p = 1; p <= 2; ++p)
        blendRect(frame.plane(p), frame.stride(p), m.boxX / 2, m.boxY / 2, m.boxW / 2, m.boxH / 2,
                  m.chromaMul.data(), m.chromaAdd.data());
}

uint64_t Watermark::renderCount() const
{
    return impl_->renderCount;
}

} // namespace bwc::fw
