#pragma once

// The metadata stream's plaintext ("application/x-bwc-metadata"): a sequence of
// MetadataRecord messages (proto/bwc/v1/clip.proto), each preceded by its length as a
// protobuf varint. Written by the camera's recorder and `bwc seal`, read by `bwc` and tests.

#include <vector>

#include "bwc/v1/clip.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::container {

constexpr std::string_view kMetadataContentType = "application/x-bwc-metadata";

// One record, length-prefixed, ready to append to the metadata stream.
Bytes frameMetadataRecord(const v1::MetadataRecord &record);

// Splits a whole metadata stream back into records. Errc::Format naming the record index
// and byte offset when a length runs past the end or a record does not parse.
Expected<std::vector<v1::MetadataRecord>> parseMetadataStream(ByteView stream);

} // namespace bwc::container
