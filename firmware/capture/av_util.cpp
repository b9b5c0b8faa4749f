#include "firmware/capture/av_util.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
}

namespace bwc::fw {

namespace {

// The full-range ("J") pixel formats of JPEG decoders: their limited-range twin, or
// AV_PIX_FMT_NONE when `format` is not one of them.
AVPixelFormat limitedTwin(AVPixelFormat format)
{
    switch (format) {
    case AV_PIX_FMT_YUVJ420P:
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        return AV_PIX_FMT_YUV411P;
    default:
        return AV_PIX_FMT_NONE;
    }
}

} // namespace

std::string avErrorText(int err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(err, text, sizeof text);
    return text;
}

Expected<void> FrameScaler::scale(const uint8_t *const srcData[], const int srcStride[],
                                  int srcWidth, int srcHeight, AVPixelFormat srcFormat, Frame &dst)
{
    if (!ctx_ || srcWidth != srcWidth_ || srcHeight != srcHeight_ || srcFormat != srcFormat_ ||
        dst.width() != dstWidth_ || dst.height() != dstHeight_) {
        const AVPixelFormat twin = limitedTwin(srcFormat);
        const bool fullRange = twin != AV_PIX_FMT_NONE;
        const AVPixelFormat inFormat = fullRange ? twin : srcFormat;
        ctx_.reset(sws_getContext(srcWidth, srcHeight, inFormat, static_cast<int>(dst.width()),
                                  static_cast<int>(dst.height()), AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                                  nullptr, nullptr, nullptr));
        if (!ctx_) {
            const char *name = av_get_pix_fmt_name(srcFormat);
            return Error(Errc::Internal, "libswscale cannot convert " + std::to_string(srcWidth) +
                                             "x" + std::to_string(srcHeight) + " " +
                                             (name ? name : "unknown format") + " to I420 " +
                                             std::to_string(dst.width()) + "x" +
                                             std::to_string(dst.height()));
        }
        if (fullRange) {
            const int *coefficients = sws_getCoefficients(SWS_CS_ITU601);
            sws_setColorspaceDetails(ctx_.get(), coefficients, 1, coefficients, 0, 0, 1 << 16,
                                     1 << 16);
        }
        srcWidth_ = srcWidth;
        srcHeight_ = srcHeight;
        srcFormat_ = srcFormat;
        dstWidth_ = dst.width();
        dstHeight_ = dst.height();
    }
    uint8_t *const dstData[4] = {dst.plane(0), dst.plane(1), dst.plane(2), nullptr};
    const int dstStride[4] = {dst.stride(0), dst.stride(1), dst.stride(2), 0};
    const int rows = sws_scale(ctx_.get(), srcData, srcStride, 0, srcHeight, dstData, dstStride);
    if (rows != static_cast<int>(dst.height()))
        return Error(Errc::Internal, "libswscale produced " + std::to_string(rows) + " of " +
                                         std::to_string(dst.height()) + " rows");
    return {};
}

Expected<void> FrameScaler::scale(const AVFrame &src, Frame &dst)
{
    return scale(src.data, src.linesize, src.width, src.height,
                 static_cast<AVPixelFormat>(src.format), dst);
}

} // namespace bwc::fw
