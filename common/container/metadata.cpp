#include "common/container/metadata.h"

#include <string>

namespace bwc::container {

namespace {

// Longest record accepted when reading (a location fix or an event is tens of bytes).
constexpr uint64_t kMaxRecordBytes = 1u << 20;

void appendVarint(Bytes &out, uint64_t value)
{
    while (value >= 0x80) {
        out.push_back(uint8_t(value | 0x80));
        value >>= 7;
    }
    out.push_back(uint8_t(value));
}

} // namespace

Bytes frameMetadataRecord(const v1::MetadataRecord &record)
{
    const std::string body = record.SerializeAsString();
    Bytes out;
    out.reserve(body.size() + 5);
    appendVarint(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Expected<std::vector<v1::MetadataRecord>> parseMetadataStream(ByteView stream)
{
    std::vector<v1::MetadataRecord> records;
    size_t pos = 0;
    while (pos < stream.size()) {
        const size_t start = pos;
        uint64_t length = 0;
        int shift = 0;
        for (;;) {
            if (pos >= stream.size() || shift > 63)
                return Error(Errc::Format, "metadata record " + std::to_string(records.size()) +
                                               " at byte " + std::to_string(start) +
                                               ": truncated length prefix");
            const uint8_t b = stream[pos++];
            length |= uint64_t(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
                break;
        }
        if (length > kMaxRecordBytes || length > stream.size() - pos)
            return Error(Errc::Format, "metadata record " + std::to_string(records.size()) +
                                           " at byte " + std::to_string(start) + ": length " +
                                           std::to_string(length) + " runs past the stream");
        v1::MetadataRecord record;
        if (!record.ParseFromArray(stream.data() + pos, int(length)))
            return Error(Errc::Format, "metadata record " + std::to_string(records.size()) +
                                           " at byte " + std::to_string(start) +
                                           ": not a MetadataRecord");
        records.push_back(std::move(record));
        pos += length;
    }
    return records;
}

} // namespace bwc::container
