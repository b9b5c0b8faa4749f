#pragma once

// BWCCLIP v1: one file per clip, written append-only while recording.
// Normative layout (DESIGN.md section 5):
//   magic "BWCCLIP\0" (8) | version u16 BE = 1 | flags u16 BE = 0 | header_len u32 BE
//   ClipHeader protobuf (header_len bytes)
//   header_sha256 = SHA-256(all bytes above)
//   records: stream_id u8 | length u32 BE | AES-256-GCM(ciphertext || tag16)  (length bytes)
//     nonce = chunk_index (11 bytes BE, per stream, from 0) || final (0x01 last chunk, else 0x00)
//     aad   = header_sha256 || stream_id || length (u32 BE)
//   stream key = HKDF-SHA256(ikm = DEK, salt = stream_nonce, info = "bwc/v1/stream/" || id byte)

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/clip.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/base/file.h"
#include "common/crypto/crypto.h"

namespace bwc::container {

constexpr uint8_t kMagic[8] = {'B', 'W', 'C', 'C', 'L', 'I', 'P', 0};
constexpr uint16_t kVersion = 1;
constexpr size_t kFixedHeaderLen = 16;
constexpr uint32_t kMaxHeaderLen = 64 * 1024;
constexpr size_t kRecordHeaderLen = 5;
constexpr size_t kMaxChunkPlaintext = 64 * 1024;
constexpr uint32_t kMaxRecordLen = kMaxChunkPlaintext + crypto::kGcmTagLen;
constexpr uint8_t kMediaStreamId = 0;
constexpr uint8_t kMetadataStreamId = 1;

using ClipUuid = std::array<uint8_t, 16>;
// "3f2a9c1e-...": the canonical text form used in file names and messages.
std::string uuidToString(const ClipUuid &uuid);
std::optional<ClipUuid> uuidFromString(std::string_view text);
// A fresh random version 4 UUID.
Expected<ClipUuid> newClipUuid(const crypto::Backend &backend);

struct StreamSpec {
    uint8_t id = 0;
    v1::StreamType type = v1::STREAM_TYPE_MEDIA;
    std::string contentType; // "video/mp4", "application/x-bwc-metadata"
};

struct WriterOptions {
    ClipUuid clipUuid{};
    std::string deviceId;
    int64_t createdUtcMs = 0;
    std::vector<StreamSpec> streams;
    // The DEK is wrapped to each of these (agency evidence key, escrow). At least one.
    std::vector<crypto::P256Point> recipients;
};

struct StreamTotals {
    uint64_t chunks = 0;          // records written, the final one included
    uint64_t plaintextBytes = 0;  // plaintext bytes in those records
    bool finalWritten = false;
};

// What is on the file (not what is buffered): the basis of a checkpoint or manifest.
struct WriterState {
    std::map<uint8_t, StreamTotals> streams;
    uint64_t ciphertextBytes = 0;       // file length
    crypto::Digest ciphertextSha256{};  // SHA-256 of the file's bytes so far
    crypto::Digest headerSha256{};
    crypto::Digest mediaPlaintextSha256{}; // SHA-256 of the media plaintext in the file so far
};

// Append-only writer. Buffers plaintext per stream; a chunk is written when it reaches
// 64 KiB, and every partially filled chunk at flush(). The DEK exists only inside the
// writer and is zeroised by finish() and by the destructor: nothing can read the clip
// back without a recipient's private key.
class ClipWriter {
public:
    static Expected<std::unique_ptr<ClipWriter>> create(const crypto::Backend &backend,
                                                        std::unique_ptr<WritableFile> file,
                                                        const WriterOptions &options);
    ~ClipWriter();
    ClipWriter(const ClipWriter &) = delete;
    ClipWriter &operator=(const ClipWriter &) = delete;

    Expected<void> append(uint8_t streamId, ByteView data);
    // Writes every non-empty partial chunk (not final) and syncs the file. The returned
    // state is what a checkpoint signs.
    Expected<WriterState> flush();
    // Writes the final chunk of every stream (with any buffered data; possibly empty),
    // syncs, and zeroises the keys. No append() afterwards.
    Expected<WriterState> finish();

    WriterState state() const;
    const crypto::Digest &headerSha256() const;
    const v1::ClipHeader &header() const;
    const std::string &path() const;

private:
    struct Impl;
    explicit ClipWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct ReadOptions {
    // Decrypt and authenticate every chunk (needs unlock()).
    bool decrypt = false;
    // For a clip sealed INTERRUPTED: the exact chunk count per stream that the signed
    // manifest names; those streams may end without a final chunk, but only at exactly
    // that count. Without it every stream must end with its final chunk (when decrypting).
    std::optional<std::map<uint8_t, uint64_t>> interruptedCounts;
    // Receives each chunk's plaintext, in file order, only after its tag verified.
    std::function<Expected<void>(uint8_t streamId, ByteView plaintext)> sink;
    // Called now and then with bytes processed and the file size.
    std::function<void(uint64_t done, uint64_t total)> progress;
};

struct ReadResult {
    uint64_t fileBytes = 0;
    crypto::Digest ciphertextSha256{};
    std::map<uint8_t, StreamTotals> streams; // finalWritten is known only when decrypted
    bool decrypted = false;
    crypto::Digest mediaPlaintextSha256{};   // when decrypted
};

// Streaming reader. open() parses and checks the fixed header and ClipHeader; read()
// makes one pass over the records: structure (stream ids, lengths, truncation) and the
// SHA-256 of the whole file always; with decrypt, one-shot authenticated decryption of
// every chunk and the ordering/final-flag rules: it refuses reordered, duplicated,
// dropped or spliced chunks, data after a final chunk, a stream without its final chunk
// (unless interruptedCounts says exactly that), unknown versions, oversized lengths.
// Every error names the clip, the stream and chunk index, and the cause.
class ClipReader {
public:
    static Expected<std::unique_ptr<ClipReader>> open(const crypto::Backend &backend,
                                                      const std::string &path);
    ~ClipReader();
    ClipReader(const ClipReader &) = delete;
    ClipReader &operator=(const ClipReader &) = delete;

    const v1::ClipHeader &header() const;
    const crypto::Digest &headerSha256() const;
    ClipUuid clipUuid() const;
    uint64_t headerBytes() const; // offset of the first record

    // Unwraps the DEK with a recipient's key pair. Errc::NotFound when no recipient entry
    // has this key's id; Errc::Auth when the wrapped key does not open.
    Expected<void> unlock(const crypto::P256KeyPair &recipient);

    Expected<ReadResult> read(const ReadOptions &options);

private:
    struct Impl;
    explicit ClipReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// What one pass of ClipStreamReader found: the same facts and failures as
// ClipReader::open(), unlock() and read() on a file holding the same bytes.
struct StreamedClip {
    // open()'s checks. When set, nothing past the hashes below is known.
    std::optional<Error> headerError;
    v1::ClipHeader header;
    crypto::Digest headerSha256{};
    ClipUuid clipUuid{};
    // Set when a key was given and did not open the clip (unlock()'s error).
    std::optional<Error> unlockError;
    // read() with decryption (when unlocked): its result, or why it failed.
    std::optional<ReadResult> decrypted;
    std::optional<Error> decryptError;
    // read() without decryption: the structure and counts, or why they are malformed.
    std::optional<ReadResult> scanned;
    std::optional<Error> scanError;
    // Always: every byte appended, whatever else failed.
    uint64_t fileBytes = 0;
    crypto::Digest fileSha256{};
};

// A clip read as its bytes arrive (the dock verifies while receiving, so the file is
// never read back): open()'s header checks once the header is in, then read()'s record
// rules, with and (when a key is given and opens the clip) without decryption, and the
// SHA-256 of every byte. append() never fails: a failure stops the pass it belongs to
// and is reported by finish(), while hashing goes on to the last byte.
class ClipStreamReader {
public:
    // `name` names the clip in messages (its file's path). The backend must outlive
    // the reader.
    ClipStreamReader(const crypto::Backend &backend, std::string name,
                     std::optional<crypto::P256KeyPair> key);
    ~ClipStreamReader();
    ClipStreamReader(const ClipStreamReader &) = delete;
    ClipStreamReader &operator=(const ClipStreamReader &) = delete;

    // The next bytes of the file, in order.
    void append(ByteView data);
    uint64_t size() const;
    // After the last byte: truncation, final chunks and counts (`interruptedCounts` as in
    // ReadOptions). The reader must not be used afterwards.
    StreamedClip finish(const std::optional<std::map<uint8_t, uint64_t>> &interruptedCounts);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace bwc::container
