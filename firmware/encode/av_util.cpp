#include "firmware/encode/av_util.h"

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/error.h>
}

namespace bwc::fw::av {

std::string errorText(int averror)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(averror, buf, sizeof buf);
    return std::string(buf) + " (" + std::to_string(averror) + ")";
}

std::string Dictionary::firstUnused() const
{
    const AVDictionaryEntry *entry = av_dict_get(dict_, "", nullptr, AV_DICT_IGNORE_SUFFIX);
    return entry != nullptr ? std::string(entry->key) : std::string();
}

} // namespace bwc::fw::av
