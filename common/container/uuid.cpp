#include "common/container/container.h"

#include <algorithm>

namespace bwc::container {

namespace {

// Positions of the dashes in "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
constexpr bool isDashPosition(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

} // namespace

std::string uuidToString(const ClipUuid &uuid)
{
    std::string hex = toHex(uuid);
    for (size_t pos : {8, 13, 18, 23})
        hex.insert(pos, 1, '-');
    return hex;
}

std::optional<ClipUuid> uuidFromString(std::string_view text)
{
    if (text.size() != 36)
        return std::nullopt;
    std::string hex;
    for (size_t i = 0; i < text.size(); ++i) {
        if (isDashPosition(i) != (text[i] == '-'))
            return std::nullopt;
        if (!isDashPosition(i))
            hex.push_back(text[i]);
    }
    auto bytes = fromHex(hex);
    if (!bytes)
        return std::nullopt;
    ClipUuid uuid{};
    std::copy(bytes->begin(), bytes->end(), uuid.begin());
    return uuid;
}

Expected<ClipUuid> newClipUuid(const crypto::Backend &backend)
{
    ClipUuid uuid{};
    auto r = backend.randomBytes(uuid);
    if (!r)
        return std::move(r).error().context("generating a clip uuid");
    uuid[6] = uint8_t((uuid[6] & 0x0f) | 0x40); // version 4
    uuid[8] = uint8_t((uuid[8] & 0x3f) | 0x80); // RFC 4122 variant
    return uuid;
}

} // namespace bwc::container
