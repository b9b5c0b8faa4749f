#include "common/container/clip_format.h"

#include <algorithm>

namespace bwc::container::format {

FixedHeader encodeFixedHeader(uint32_t headerLen)
{
    FixedHeader out{};
    std::copy(std::begin(kMagic), std::end(kMagic), out.begin());
    putU16(out.data() + 8, kVersion);
    putU16(out.data() + 10, 0);
    putU32(out.data() + 12, headerLen);
    return out;
}

crypto::GcmNonce chunkNonce(uint64_t chunkIndex, bool final)
{
    crypto::GcmNonce nonce{};
    // The top three bytes of the 11-byte index stay zero: a stream never has 2^64 chunks.
    for (size_t i = 0; i < 8; ++i)
        nonce[kChunkIndexLen - 1 - i] = uint8_t(chunkIndex >> (8 * i));
    nonce[kChunkIndexLen] = final ? 0x01 : 0x00;
    return nonce;
}

ChunkAad chunkAad(const crypto::Digest &headerSha256, uint8_t streamId, uint32_t length)
{
    ChunkAad aad{};
    std::copy(headerSha256.begin(), headerSha256.end(), aad.begin());
    aad[crypto::kSha256Len] = streamId;
    putU32(aad.data() + crypto::kSha256Len + 1, length);
    return aad;
}

Expected<std::unique_ptr<crypto::AesGcm>> streamCipher(const crypto::Backend &backend,
                                                       ByteView dek, ByteView streamNonce,
                                                       uint8_t streamId)
{
    std::array<uint8_t, kStreamInfoPrefix.size() + 1> info{};
    std::copy(kStreamInfoPrefix.begin(), kStreamInfoPrefix.end(), info.begin());
    info.back() = streamId;
    auto key = backend.hkdf(streamNonce, dek, info, crypto::kAesKeyLen);
    if (!key)
        return std::move(key).error().context("deriving the key of stream " +
                                              std::to_string(streamId));
    return backend.newAesGcm(key->view());
}

std::string keyIdPrefix(ByteView keyId)
{
    return toHex(keyId.first(std::min<size_t>(keyId.size(), 8)));
}

} // namespace bwc::container::format
