#pragma once

// Pieces of the BWCCLIP v1 layout shared by the writer and the reader (private to
// bwc_container): fixed header, chunk nonces and AAD, key derivation.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::container::format {

// HPKE info of the wrapped DEK and the HKDF info prefix of every stream key.
constexpr std::string_view kDekInfo = "bwc/v1/dek";
constexpr std::string_view kStreamInfoPrefix = "bwc/v1/stream/";
constexpr size_t kDekLen = 32;
constexpr size_t kStreamNonceLen = 16;
constexpr size_t kUuidLen = 16;
constexpr size_t kKeyIdLen = crypto::kSha256Len;
constexpr size_t kWrappedDekLen = kDekLen + crypto::kGcmTagLen;
// header_sha256 || stream_id || length (u32 BE)
constexpr size_t kAadLen = crypto::kSha256Len + 1 + 4;
constexpr size_t kChunkIndexLen = 11;

static_assert(kFixedHeaderLen == sizeof(kMagic) + 2 + 2 + 4);
static_assert(kChunkIndexLen + 1 == crypto::kGcmNonceLen);
static_assert(kMaxRecordLen == kMaxChunkPlaintext + crypto::kGcmTagLen);

using FixedHeader = std::array<uint8_t, kFixedHeaderLen>;
using ChunkAad = std::array<uint8_t, kAadLen>;

FixedHeader encodeFixedHeader(uint32_t headerLen);

// chunk_index as 11 bytes big-endian, then the final flag (0x01 last chunk, else 0x00).
crypto::GcmNonce chunkNonce(uint64_t chunkIndex, bool final);
ChunkAad chunkAad(const crypto::Digest &headerSha256, uint8_t streamId, uint32_t length);

// HKDF-SHA256(ikm = DEK, salt = stream_nonce, info = "bwc/v1/stream/" || id), as a
// cipher object; the derived key bytes are zeroised before this returns.
Expected<std::unique_ptr<crypto::AesGcm>> streamCipher(const crypto::Backend &backend,
                                                       ByteView dek, ByteView streamNonce,
                                                       uint8_t streamId);

// The first bytes of a key id in hex, enough to tell keys apart in a message.
std::string keyIdPrefix(ByteView keyId);

} // namespace bwc::container::format
