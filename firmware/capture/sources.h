#pragma once

// Internal: the factories behind openVideoSource(), one per platform implementation. They
// take options that openVideoSource() has already validated (kind, size, frame rate).

#include <memory>

#include "firmware/capture/video_source.h"

namespace bwc::fw {

Expected<std::unique_ptr<VideoSource>> openSyntheticSource(const VideoSourceOptions &options);
Expected<std::unique_ptr<VideoSource>> openFileSource(const VideoSourceOptions &options);
Expected<std::unique_ptr<VideoSource>> openV4l2Source(const VideoSourceOptions &options);
#if BWC_WITH_LIBCAMERA
Expected<std::unique_ptr<VideoSource>> openLibcameraSource(const VideoSourceOptions &options);
#endif

} // namespace bwc::fw
