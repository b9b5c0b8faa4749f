#include "common/container/container.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <string.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "common/base/unique_fd.h"
#include "common/container/clip_format.h"
#include "common/crypto/hpke.h"

// The reader in one pass over the file:
// - the main thread reads 4 MiB buffers (posix_fadvise SEQUENTIAL), parses the records
//   and, when decrypting, opens each chunk with one-shot AES-GCM into a reused plaintext
//   buffer, hands it to the sink only after the tag verified, hashes the media plaintext
//   and wipes the buffer;
// - a second thread computes the SHA-256 of the whole file over the same buffers (two of
//   them: the next one is read while the previous one is still being hashed).
// A record that crosses a buffer boundary is reassembled in a buffer of its own, so the
// read buffers are never written while the hash thread may be reading them.
//
// Final chunks: each chunk is tried with the final flag 0, then 1. A chunk that opens
// with 1 ends its stream; any later record of that stream is refused before it is
// decrypted. With ReadOptions::interruptedCounts, a named stream must hold exactly that
// many chunks and may lack its final chunk; a final chunk is accepted too when the count
// matches (the camera lost power after finishing the clip but before signing its
// manifest, and recovery sealed it INTERRUPTED at its last checkpoint). A stream the
// counts do not name must end with its final chunk. Without decryption the counts are
// still compared, but final flags cannot be seen.

namespace bwc::container {

namespace {

// Large sequential reads; the SHA-256 of each buffer runs on a second thread while the
// next one is read and decrypted.
constexpr size_t kReadBufferLen = 4u << 20;
constexpr size_t kReadBuffers = 2;
constexpr int16_t kNoStream = -1;

static_assert(kReadBufferLen > kFixedHeaderLen + kMaxHeaderLen);
// ClipStreamReader copies what it is given into a ring of buffers of this size, hashed
// and decrypted on two threads while the caller goes on (receiving, writing).
constexpr size_t kStreamBufferLen = 1u << 20;
constexpr size_t kStreamBuffers = 4;

Error ioError(const std::string &path, const char *what, int err)
{
    return Error(err == ENOENT ? Errc::NotFound : Errc::Io,
                 path + ": " + what + " failed: " + errnoText(err));
}

// Reads until `buf` is full or the file ends; returns the count read.
Expected<size_t> preadFull(int fd, MutableByteView buf, uint64_t offset, const std::string &path)
{
    size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, off_t(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ioError(path, "read", errno);
        }
        if (n == 0)
            break;
        done += size_t(n);
    }
    return done;
}

// Wipes memory without the per-byte cost of secureZero (this runs once per chunk).
void wipe(uint8_t *data, size_t len)
{
    if (len > 0)
        explicit_bzero(data, len);
}

// Buffers filled in turn by one thread and handed, in order, to consumers that each see
// every buffer: each consumer on a thread of its own, or all of them inline when not
// threaded. The filling thread fills buffer (seq % count), hands it over with submit()
// and, before refilling it, waits in acquire() until every consumer is done with it.
// finish() lets the consumers take what is left and joins; the destructor abandons the
// work and joins, so every error path is safe. read() hashes the file this way; the
// stream reader hashes it and runs its decrypting pass.
class BufferRing {
public:
    using Consumer = std::function<void(uint64_t seq, ByteView data)>;

    BufferRing(const std::vector<Bytes> &buffers, std::vector<Consumer> consumers, bool threaded)
        : buffers_(buffers), lengths_(buffers.size(), 0)
    {
        for (Consumer &c : consumers)
            workers_.push_back(std::make_unique<Worker>(Worker{std::move(c), 0, {}}));
        if (threaded)
            for (size_t i = 0; i < workers_.size(); ++i)
                workers_[i]->thread = std::thread([this, i] { run(*workers_[i]); });
    }

    ~BufferRing()
    {
        {
            std::lock_guard lock(mutex_);
            abandon_ = true;
        }
        cv_.notify_all();
        join();
    }

    BufferRing(const BufferRing &) = delete;
    BufferRing &operator=(const BufferRing &) = delete;

    size_t count() const { return buffers_.size(); }

    void acquire(uint64_t seq)
    {
        if (!threaded() || seq < count())
            return;
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return slowest() + count() > seq; });
    }

    // `data` lies in buffer (seq % count()) when threaded.
    void submit(uint64_t seq, ByteView data)
    {
        if (!threaded()) {
            for (auto &w : workers_)
                w->consume(seq, data);
            return;
        }
        {
            std::lock_guard lock(mutex_);
            lengths_[seq % count()] = data.size();
            submitted_ = seq + 1;
        }
        cv_.notify_all();
    }

    void finish()
    {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        join();
    }

private:
    struct Worker {
        Consumer consume;
        uint64_t taken = 0; // buffers consumed
        std::thread thread;
    };

    bool threaded() const { return !workers_.empty() && workers_.front()->thread.joinable(); }

    uint64_t slowest() const
    {
        uint64_t least = UINT64_MAX;
        for (const auto &w : workers_)
            least = std::min(least, w->taken);
        return least;
    }

    void join()
    {
        for (auto &w : workers_)
            if (w->thread.joinable())
                w->thread.join();
    }

    void run(Worker &w)
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return abandon_ || done_ || w.taken < submitted_; });
            if (abandon_ || (w.taken == submitted_ && done_))
                return;
            const uint64_t seq = w.taken;
            const size_t slot = size_t(seq % count());
            const size_t len = lengths_[slot];
            lock.unlock();
            w.consume(seq, ByteView(buffers_[slot].data(), len));
            lock.lock();
            ++w.taken;
            cv_.notify_all();
        }
    }

    const std::vector<Bytes> &buffers_;
    std::vector<size_t> lengths_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::mutex mutex_;
    std::condition_variable cv_;
    uint64_t submitted_ = 0;
    bool done_ = false;
    bool abandon_ = false;
};

struct StreamProgress {
    uint64_t chunks = 0;
    uint64_t plaintextBytes = 0;
    bool finalSeen = false;
};

// What a read() pass needs to know about the clip.
struct ClipState {
    std::string uuidText;
    crypto::Digest headerSha256{};
    std::vector<uint8_t> streamIds; // in header order
    std::array<int16_t, 256> streamIndex{};
    std::vector<std::unique_ptr<crypto::AesGcm>> ciphers; // per stream, after unlock()

    Error clipError(Errc code, const std::string &message) const
    {
        return Error(code, "clip " + uuidText + ": " + message);
    }
};

// The state of one read() pass.
class RecordScanner {
public:
    RecordScanner(const ClipState &clip, const ReadOptions &options,
                  crypto::Sha256 *mediaHash)
        : clip_(clip), options_(options), mediaHash_(mediaHash),
          streams_(clip.streamIds.size()), pending_(kRecordHeaderLen + kMaxRecordLen),
          plaintext_(kMaxChunkPlaintext)
    {
    }

    ~RecordScanner() { wipe(plaintext_.data(), plaintext_.size()); }

    RecordScanner(const RecordScanner &) = delete;
    RecordScanner &operator=(const RecordScanner &) = delete;

    // Parses `data`, the bytes of the file at [offset, offset + data.size()), which start
    // on or after the first record.
    Expected<void> consume(ByteView data, uint64_t offset)
    {
        size_t pos = 0;
        if (pendingLen_ > 0) {
            // Complete the record that started in an earlier buffer.
            if (pendingLen_ < kRecordHeaderLen) {
                const size_t take = std::min(kRecordHeaderLen - pendingLen_, data.size());
                std::memcpy(pending_.data() + pendingLen_, data.data(), take);
                pendingLen_ += take;
                pos += take;
                if (pendingLen_ < kRecordHeaderLen)
                    return {};
                BWC_TRY(checkRecordHeader(pending_.data(), pendingOffset_));
            }
            const size_t need = kRecordHeaderLen + getU32(pending_.data() + 1);
            const size_t take = std::min(need - pendingLen_, data.size() - pos);
            std::memcpy(pending_.data() + pendingLen_, data.data() + pos, take);
            pendingLen_ += take;
            pos += take;
            if (pendingLen_ < need)
                return {};
            BWC_TRY(processRecord(pending_.data()));
            pendingLen_ = 0;
        }
        while (data.size() - pos >= kRecordHeaderLen) {
            const uint8_t *record = data.data() + pos;
            BWC_TRY(checkRecordHeader(record, offset + pos));
            const size_t length = getU32(record + 1);
            if (data.size() - pos - kRecordHeaderLen < length)
                break;
            BWC_TRY(processRecord(record));
            pos += kRecordHeaderLen + length;
        }
        if (pos < data.size()) {
            pendingLen_ = data.size() - pos;
            pendingOffset_ = offset + pos;
            std::memcpy(pending_.data(), data.data() + pos, pendingLen_);
        }
        return {};
    }

    // After the last byte of the file: truncation, final chunks and counts.
    Expected<void> end(uint64_t fileBytes)
    {
        if (pendingLen_ > 0) {
            if (pendingLen_ < kRecordHeaderLen)
                return clip_.clipError(
                    Errc::Format,
                    "file truncated: it ends " + std::to_string(pendingLen_) +
                        " bytes into the 5-byte header of the record at offset " +
                        std::to_string(pendingOffset_) + describeNext(pending_[0]) +
                        "; the file was cut short or altered");
            const uint32_t length = getU32(pending_.data() + 1);
            return clip_.clipError(
                Errc::Format,
                "file truncated: the record at offset " + std::to_string(pendingOffset_) + " (" +
                    chunkName(pending_[0]) + ") declares " + std::to_string(length) +
                    " bytes but the file ends after " +
                    std::to_string(pendingLen_ - kRecordHeaderLen) + " of them, at byte " +
                    std::to_string(fileBytes) + "; the file was cut short or its length altered");
        }
        const auto &expected = options_.interruptedCounts;
        if (expected) {
            for (const auto &[id, count] : *expected) {
                if (clip_.streamIndex[id] == kNoStream)
                    return clip_.clipError(
                        Errc::Format, "the manifest names a chunk count (" +
                                          std::to_string(count) + ") for stream " +
                                          std::to_string(id) +
                                          ", which this clip does not declare; the manifest "
                                          "does not belong to this clip");
            }
        }
        for (size_t i = 0; i < streams_.size(); ++i) {
            const uint8_t id = clip_.streamIds[i];
            const StreamProgress &s = streams_[i];
            std::optional<uint64_t> interrupted;
            if (expected) {
                if (auto it = expected->find(id); it != expected->end())
                    interrupted = it->second;
            }
            if (interrupted) {
                // An INTERRUPTED clip: the count must be exactly what the manifest signed.
                // A final chunk is allowed too (the camera lost power after finishing the
                // clip but before signing it) as long as the count matches.
                if (s.chunks != *interrupted)
                    return clip_.clipError(
                        Errc::Format,
                        "stream " + std::to_string(id) + " chunk count differs from its " +
                            "INTERRUPTED manifest: expected " + std::to_string(*interrupted) +
                            ", found " + std::to_string(s.chunks) +
                            "; chunks were dropped or added after the clip was sealed");
                continue;
            }
            if (options_.decrypt && !s.finalSeen)
                return clip_.clipError(
                    Errc::Format,
                    "stream " + std::to_string(id) + " ends after " + std::to_string(s.chunks) +
                        " chunks without its final chunk: the clip was truncated or its last "
                        "chunks were removed (an interrupted recording is accepted only with "
                        "the chunk counts of its INTERRUPTED manifest)");
        }
        return {};
    }

    std::map<uint8_t, StreamTotals> totals() const
    {
        std::map<uint8_t, StreamTotals> out;
        for (size_t i = 0; i < streams_.size(); ++i) {
            StreamTotals t;
            t.chunks = streams_[i].chunks;
            t.plaintextBytes = streams_[i].plaintextBytes;
            t.finalWritten = streams_[i].finalSeen;
            out[clip_.streamIds[i]] = t;
        }
        return out;
    }

private:
    std::string chunkName(uint8_t streamId) const
    {
        const int16_t i = clip_.streamIndex[streamId];
        return "chunk " + std::to_string(streams_[size_t(i)].chunks) + " of stream " +
               std::to_string(streamId);
    }

    // " (chunk i of stream s)" when the stream byte was read and names a known stream.
    std::string describeNext(uint8_t streamId) const
    {
        if (clip_.streamIndex[streamId] == kNoStream)
            return "";
        return " (" + chunkName(streamId) + ")";
    }

    Expected<void> checkRecordHeader(const uint8_t *record, uint64_t offset) const
    {
        const uint8_t id = record[0];
        const uint32_t length = getU32(record + 1);
        const int16_t i = clip_.streamIndex[id];
        if (i == kNoStream)
            return clip_.clipError(Errc::Format,
                                   "the record at offset " + std::to_string(offset) +
                                       " names stream " + std::to_string(id) +
                                       ", which the clip header does not declare (file "
                                       "altered or corrupt)");
        const std::string where =
            "the record at offset " + std::to_string(offset) + " (" + chunkName(id) + ")";
        if (length < crypto::kGcmTagLen)
            return clip_.clipError(Errc::Format, where + " declares length " +
                                                     std::to_string(length) +
                                                     ", shorter than its 16-byte tag (file "
                                                     "altered or corrupt)");
        if (length > kMaxRecordLen)
            return clip_.clipError(Errc::Format, where + " declares length " +
                                                     std::to_string(length) +
                                                     ", more than the maximum of " +
                                                     std::to_string(kMaxRecordLen) +
                                                     " (file altered or corrupt)");
        if (streams_[size_t(i)].finalSeen)
            return clip_.clipError(Errc::Format,
                                   "data after the final chunk: " + where +
                                       " follows the chunk that ended stream " +
                                       std::to_string(id) +
                                       " (records appended or spliced after the clip was "
                                       "finished)");
        return {};
    }

    Expected<void> processRecord(const uint8_t *record)
    {
        const uint8_t id = record[0];
        const uint32_t length = getU32(record + 1);
        StreamProgress &s = streams_[size_t(clip_.streamIndex[id])];
        const size_t plainLen = length - crypto::kGcmTagLen;
        if (options_.decrypt) {
            crypto::AesGcm &cipher = *clip_.ciphers[size_t(clip_.streamIndex[id])];
            const ByteView body(record + kRecordHeaderLen, length);
            const MutableByteView out(plaintext_.data(), plainLen);
            const auto aad = format::chunkAad(clip_.headerSha256, id, length);
            bool final = false;
            auto opened = cipher.open(format::chunkNonce(s.chunks, false), aad, body, out);
            if (!opened && opened.error().code == Errc::Auth) {
                opened = cipher.open(format::chunkNonce(s.chunks, true), aad, body, out);
                final = bool(opened);
            }
            if (!opened) {
                wipe(out.data(), out.size());
                if (opened.error().code != Errc::Auth)
                    return clip_.clipError(opened.error().code,
                                           chunkName(id) + ": " + opened.error().message);
                return clip_.clipError(Errc::Auth,
                                       chunkName(id) +
                                           " failed authentication (file altered, reordered, "
                                           "or spliced from another clip)");
            }
            Expected<void> delivered;
            if (options_.sink)
                delivered = options_.sink(id, out);
            if (mediaHash_ && id == kMediaStreamId)
                mediaHash_->update(out);
            wipe(out.data(), out.size());
            if (!delivered)
                return std::move(delivered).error();
            s.finalSeen = final;
        }
        s.chunks++;
        s.plaintextBytes += plainLen;
        return {};
    }

    const ClipState &clip_;
    const ReadOptions &options_;
    crypto::Sha256 *mediaHash_;
    std::vector<StreamProgress> streams_;
    // A record that spans two read buffers, reassembled here.
    Bytes pending_;
    size_t pendingLen_ = 0;
    uint64_t pendingOffset_ = 0;
    Bytes plaintext_;
};

// The clip header as read (open() on a file, or the first bytes a ClipStreamReader sees),
// and the stream ciphers once a recipient key opened it.
struct ParsedHeader : ClipState {
    Bytes headerBytes; // fixed header and ClipHeader, exactly as on the file
    v1::ClipHeader header;
    ClipUuid uuid{};
};

Error formatError(const std::string &name, const std::string &message)
{
    return Error(Errc::Format, name + ": " + message);
}

// Checks the fixed header in `fixed` (the file's first bytes, up to 16) and returns the
// ClipHeader's length. A file shorter than 16 bytes fails as truncated.
Expected<uint32_t> checkFixedHeader(ByteView fixed, const std::string &name)
{
    const size_t got = std::min(fixed.size(), kFixedHeaderLen);
    const size_t magicSeen = std::min(got, sizeof(kMagic));
    if (!std::equal(fixed.begin(), fixed.begin() + ptrdiff_t(magicSeen), std::begin(kMagic)) ||
        got == 0)
        return formatError(name, "not a BWCCLIP file (bad magic; expected \"BWCCLIP\\0\")");
    if (got < kFixedHeaderLen)
        return formatError(name, "file is " + std::to_string(got) +
                                     " bytes, shorter than the 16-byte BWCCLIP header (truncated)");
    const uint16_t version = getU16(fixed.data() + 8);
    if (version != kVersion)
        return formatError(name, "unsupported BWCCLIP version " + std::to_string(version) +
                                     "; this tool reads version " + std::to_string(kVersion));
    const uint16_t flags = getU16(fixed.data() + 10);
    if (flags != 0)
        return formatError(name, "header flags are " + std::to_string(flags) +
                                     ", but BWCCLIP v1 defines none (expected 0; file altered or "
                                     "from an incompatible writer)");
    const uint32_t headerLen = getU32(fixed.data() + 12);
    if (headerLen > kMaxHeaderLen)
        return formatError(name, "header length " + std::to_string(headerLen) +
                                     " exceeds the maximum of " + std::to_string(kMaxHeaderLen) +
                                     " (file altered or corrupt)");
    return headerLen;
}

// Parses and checks the ClipHeader in h.headerBytes (fixed header included, complete).
Expected<void> parseHeaderBytes(const crypto::Backend &backend, ParsedHeader &h,
                                const std::string &name)
{
    const size_t headerLen = h.headerBytes.size() - kFixedHeaderLen;
    if (!h.header.ParseFromArray(h.headerBytes.data() + kFixedHeaderLen, int(headerLen)))
        return formatError(name, "the ClipHeader does not parse (file altered or corrupt)");
    h.headerSha256 = backend.sha256(h.headerBytes);

    if (h.header.clip_uuid().size() != format::kUuidLen)
        return formatError(name, "clip_uuid is " + std::to_string(h.header.clip_uuid().size()) +
                                     " bytes, expected 16 (file altered or corrupt)");
    std::copy(h.header.clip_uuid().begin(), h.header.clip_uuid().end(), h.uuid.begin());
    h.uuidText = uuidToString(h.uuid);
    const std::string clipName = name + ": clip " + h.uuidText;

    if (h.header.stream_nonce().size() != format::kStreamNonceLen)
        return Error(Errc::Format, clipName + ": stream_nonce is " +
                                       std::to_string(h.header.stream_nonce().size()) +
                                       " bytes, expected 16 (file altered or corrupt)");
    if (h.header.streams().empty())
        return Error(Errc::Format, clipName + ": the header declares no streams");
    h.streamIndex.fill(kNoStream);
    for (const v1::StreamInfo &s : h.header.streams()) {
        if (s.id() > 255)
            return Error(Errc::Format, clipName + ": stream id " + std::to_string(s.id()) +
                                           " does not fit the one-byte record stream id");
        if (h.streamIndex[s.id()] != kNoStream)
            return Error(Errc::Format, clipName + ": stream id " + std::to_string(s.id()) +
                                           " is declared twice");
        h.streamIndex[s.id()] = int16_t(h.streamIds.size());
        h.streamIds.push_back(uint8_t(s.id()));
    }
    if (h.header.recipients().empty())
        return Error(Errc::Format,
                     clipName + ": the header has no recipients, so no key can open it");
    for (int i = 0; i < h.header.recipients_size(); ++i) {
        const v1::Recipient &r = h.header.recipients(i);
        const std::string which = clipName + ": recipient " + std::to_string(i) + ": ";
        if (r.key_id().size() != format::kKeyIdLen)
            return Error(Errc::Format, which + "key_id is " + std::to_string(r.key_id().size()) +
                                           " bytes, expected 32");
        if (r.hpke_enc().size() != crypto::kP256PointLen)
            return Error(Errc::Format, which + "hpke_enc is " +
                                           std::to_string(r.hpke_enc().size()) +
                                           " bytes, expected 65");
        if (r.wrapped_dek().size() != format::kWrappedDekLen)
            return Error(Errc::Format, which + "wrapped_dek is " +
                                           std::to_string(r.wrapped_dek().size()) +
                                           " bytes, expected 48");
    }
    return {};
}

// Unwraps the DEK with a recipient's key pair and derives h.ciphers.
Expected<void> unlockHeader(const crypto::Backend &backend, ParsedHeader &h,
                            const crypto::P256KeyPair &recipient)
{
    const crypto::Digest keyId = crypto::p256KeyId(backend, recipient.pub);
    const ByteView keyIdView(keyId);
    std::optional<Error> lastError;
    for (const v1::Recipient &r : h.header.recipients()) {
        if (!std::equal(keyId.begin(), keyId.end(), asBytes(r.key_id()).begin()))
            continue;
        crypto::P256Point enc{};
        std::copy(r.hpke_enc().begin(), r.hpke_enc().end(), enc.begin());
        auto dek = crypto::hpkeOpenBase(backend, recipient, enc, asBytes(format::kDekInfo),
                                        h.uuid, asBytes(r.wrapped_dek()));
        if (!dek) {
            const Errc code = dek.error().code;
            const std::string cause =
                code == Errc::Auth
                    ? "the wrapped data key does not open with this key (wrapped_dek, "
                      "hpke_enc or clip_uuid altered, or a different key with the same id)"
                    : "the wrapped data key cannot be opened: " + dek.error().message;
            lastError = h.clipError(code, "recipient " + format::keyIdPrefix(keyIdView) +
                                              "...: " + cause);
            continue;
        }
        if (dek->size() != format::kDekLen) {
            lastError = h.clipError(Errc::Format, "the wrapped data key is " +
                                                      std::to_string(dek->size()) +
                                                      " bytes, expected 32");
            continue;
        }
        std::vector<std::unique_ptr<crypto::AesGcm>> ciphers;
        for (uint8_t id : h.streamIds) {
            auto cipher = format::streamCipher(backend, dek->view(),
                                               asBytes(h.header.stream_nonce()), id);
            if (!cipher)
                return h.clipError(cipher.error().code, cipher.error().message);
            ciphers.push_back(std::move(*cipher));
        }
        dek->wipe();
        h.ciphers = std::move(ciphers);
        return {};
    }
    if (lastError)
        return *lastError;
    return h.clipError(Errc::NotFound, "no recipient entry for key " +
                                           format::keyIdPrefix(keyIdView) +
                                           "...; this clip was not sealed to that key");
}

} // namespace

struct ClipReader::Impl : ParsedHeader {
    const crypto::Backend &backend;
    std::string path;
    UniqueFd fd;
    uint64_t openSize = 0;

    explicit Impl(const crypto::Backend &b) : backend(b) {}

    Expected<void> parseHeader();
};

Expected<void> ClipReader::Impl::parseHeader()
{
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return ioError(path, "stat", errno);
    openSize = uint64_t(st.st_size);

    std::array<uint8_t, kFixedHeaderLen> fixed{};
    BWC_ASSIGN(got, preadFull(fd.get(), fixed, 0, path));
    BWC_ASSIGN(headerLen, checkFixedHeader(ByteView(fixed.data(), got), path));
    if (kFixedHeaderLen + uint64_t(headerLen) > openSize)
        return formatError(path, "header length " + std::to_string(headerLen) +
                                     " runs past the end of the " + std::to_string(openSize) +
                                     "-byte file (truncated or altered)");

    headerBytes.assign(fixed.begin(), fixed.end());
    headerBytes.resize(kFixedHeaderLen + headerLen);
    BWC_ASSIGN(gotHeader,
               preadFull(fd.get(), MutableByteView(headerBytes).subspan(kFixedHeaderLen),
                         kFixedHeaderLen, path));
    if (gotHeader != headerLen)
        return formatError(path, "the file ended while reading its header (truncated while open?)");
    return parseHeaderBytes(backend, *this, path);
}

ClipReader::ClipReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClipReader::~ClipReader() = default;

Expected<std::unique_ptr<ClipReader>> ClipReader::open(const crypto::Backend &backend,
                                                       const std::string &path)
{
    auto impl = std::make_unique<Impl>(backend);
    impl->path = path;
    impl->fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!impl->fd.isValid())
        return ioError(path, "open", errno);
    BWC_TRY(impl->parseHeader());
    return std::unique_ptr<ClipReader>(new ClipReader(std::move(impl)));
}

const v1::ClipHeader &ClipReader::header() const
{
    return impl_->header;
}

const crypto::Digest &ClipReader::headerSha256() const
{
    return impl_->headerSha256;
}

ClipUuid ClipReader::clipUuid() const
{
    return impl_->uuid;
}

uint64_t ClipReader::headerBytes() const
{
    return impl_->headerBytes.size();
}

Expected<void> ClipReader::unlock(const crypto::P256KeyPair &recipient)
{
    return unlockHeader(impl_->backend, *impl_, recipient);
}

Expected<ReadResult> ClipReader::read(const ReadOptions &options)
{
    Impl &d = *impl_;
    if (options.decrypt && d.ciphers.empty())
        return d.clipError(Errc::Internal,
                           "decrypting needs the data key: call unlock() with a recipient key "
                           "first");

    ::posix_fadvise(d.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

    // A file larger than one buffer is hashed on a second thread; a small one is read
    // whole into one buffer and hashed inline.
    std::vector<Bytes> buffers(kReadBuffers);
    const bool threaded = d.openSize > kReadBufferLen;
    if (threaded) {
        for (Bytes &b : buffers)
            b.resize(kReadBufferLen);
    } else {
        buffers[0].resize(size_t(d.openSize) + 1);
    }

    auto fileHash = d.backend.newSha256();
    std::unique_ptr<crypto::Sha256> mediaHash;
    if (options.decrypt)
        mediaHash = d.backend.newSha256();
    RecordScanner scanner(d, options, mediaHash.get());

    uint64_t offset = 0;
    BufferRing hasher(buffers, {[&](uint64_t, ByteView data) { fileHash->update(data); }},
                      threaded);
    for (uint64_t seq = 0;; ++seq) {
        hasher.acquire(seq);
        // Inline hashing is done with a buffer when submit() returns, so one is enough.
        Bytes &buf = buffers[threaded ? seq % kReadBuffers : 0];
        BWC_ASSIGN(got, preadFull(d.fd.get(), buf, offset, d.path));
        if (got == 0)
            break;
        ByteView data(buf.data(), got);
        hasher.submit(seq, data);
        if (offset < d.headerBytes.size()) {
            // The header parsed by open() must still be what the file starts with.
            const size_t headerPart = std::min<size_t>(size_t(d.headerBytes.size() - offset), got);
            if (!std::equal(data.begin(), data.begin() + ptrdiff_t(headerPart),
                            d.headerBytes.begin() + ptrdiff_t(offset)))
                return d.clipError(Errc::Format, "the file's header changed after it was opened "
                                                 "(is the clip still being written?)");
            data = data.subspan(headerPart);
        }
        if (!data.empty())
            BWC_TRY(scanner.consume(data, offset + (got - data.size())));
        offset += got;
        if (options.progress)
            options.progress(offset, std::max(offset, d.openSize));
    }
    if (offset < d.headerBytes.size())
        return d.clipError(Errc::Format, "the file shrank to " + std::to_string(offset) +
                                             " bytes, inside its header, after it was opened");
    BWC_TRY(scanner.end(offset));

    ReadResult result;
    result.fileBytes = offset;
    hasher.finish();
    result.ciphertextSha256 = fileHash->finish();
    result.streams = scanner.totals();
    result.decrypted = options.decrypt;
    if (mediaHash)
        result.mediaPlaintextSha256 = mediaHash->finish();
    return result;
}

struct ClipStreamReader::Impl {
    // One read() pass over the records, as ClipReader runs it, fed as bytes arrive.
    struct Pass {
        ReadOptions options;
        std::unique_ptr<crypto::Sha256> mediaHash;
        std::unique_ptr<RecordScanner> scanner;
        std::optional<Error> error;
    };

    Impl(const crypto::Backend &b, std::string n, std::optional<crypto::P256KeyPair> k)
        : backend(b), name(std::move(n)), key(std::move(k)), fileHash(b.newSha256())
    {
    }

    // Called once the header is complete: parses it, unlocks, and starts the passes.
    void startRecords()
    {
        if (auto parsed = parseHeaderBytes(backend, clip, name); !parsed) {
            headerError = std::move(parsed).error();
            return;
        }
        scan.scanner = std::make_unique<RecordScanner>(clip, scan.options, nullptr);
        if (!key)
            return;
        if (auto unlocked = unlockHeader(backend, clip, *key); !unlocked) {
            unlockError = std::move(unlocked).error();
            return;
        }
        decrypt.options.decrypt = true;
        decrypt.mediaHash = backend.newSha256();
        decrypt.scanner =
            std::make_unique<RecordScanner>(clip, decrypt.options, decrypt.mediaHash.get());
        decrypting = true;
    }

    static void feed(Pass &pass, ByteView data, uint64_t offset)
    {
        if (!pass.scanner)
            return;
        if (auto consumed = pass.scanner->consume(data, offset); !consumed) {
            pass.error = std::move(consumed).error();
            pass.scanner.reset(); // wipes its plaintext buffer
        }
    }

    std::optional<ReadResult> end(Pass &pass, bool decrypted)
    {
        if (!pass.scanner)
            return std::nullopt;
        if (auto ended = pass.scanner->end(bytes); !ended) {
            pass.error = std::move(ended).error();
            return std::nullopt;
        }
        ReadResult result;
        result.fileBytes = bytes;
        result.streams = pass.scanner->totals();
        result.decrypted = decrypted;
        if (pass.mediaHash)
            result.mediaPlaintextSha256 = pass.mediaHash->finish();
        return result;
    }

    // The header, then the structure pass over the records, inline. `data` ends at `bytes`.
    void structure(ByteView data)
    {
        if (headerError)
            return;
        if (!recordsStarted) {
            // Gather the fixed header, then the ClipHeader it announces.
            Bytes &h = clip.headerBytes;
            if (h.size() < kFixedHeaderLen) {
                const size_t take = std::min(kFixedHeaderLen - h.size(), data.size());
                h.insert(h.end(), data.begin(), data.begin() + ptrdiff_t(take));
                data = data.subspan(take);
                if (h.size() < kFixedHeaderLen)
                    return;
                auto fixed = checkFixedHeader(h, name);
                if (!fixed) {
                    headerError = std::move(fixed).error();
                    return;
                }
                headerLen = kFixedHeaderLen + *fixed;
            }
            const size_t take = std::min(headerLen - h.size(), data.size());
            h.insert(h.end(), data.begin(), data.begin() + ptrdiff_t(take));
            data = data.subspan(take);
            if (h.size() < headerLen)
                return;
            recordsStarted = true;
            startRecords();
            if (headerError || data.empty())
                return;
        }
        feed(scan, data, bytes - data.size());
    }

    // Every byte is copied into the ring's buffers; each full buffer goes to one thread
    // that hashes the file and, holding the key, to one that runs the decrypting pass,
    // while the caller goes on (receiving, writing, the structure pass).
    void handOver(ByteView data)
    {
        if (!ring) {
            buffers.assign(kStreamBuffers, Bytes(kStreamBufferLen));
            std::vector<BufferRing::Consumer> consumers{
                [this](uint64_t, ByteView b) { fileHash->update(b); }};
            if (key)
                consumers.emplace_back([this](uint64_t seq, ByteView b) { decryptBuffer(seq, b); });
            ring = std::make_unique<BufferRing>(buffers, std::move(consumers), true);
        }
        while (!data.empty()) {
            Bytes &buf = buffers[ringSeq % kStreamBuffers];
            const size_t n = std::min(data.size(), buf.size() - fill);
            std::memcpy(buf.data() + fill, data.data(), n);
            fill += n;
            data = data.subspan(n);
            if (fill == buf.size()) {
                submit();
                ring->acquire(ringSeq);
            }
        }
    }

    void submit()
    {
        // Where the records start, as known when the buffer is handed over (everything in
        // it has been through the structure pass): before the header was complete, the
        // buffer holds header bytes only.
        recordsFrom[ringSeq % kStreamBuffers] = decrypting ? headerLen : UINT64_MAX;
        ring->submit(ringSeq, ByteView(buffers[ringSeq % kStreamBuffers].data(), fill));
        ++ringSeq;
        fill = 0;
    }

    // On the decrypting thread: the record bytes of buffer `seq`.
    void decryptBuffer(uint64_t seq, ByteView b)
    {
        const uint64_t from = recordsFrom[seq % kStreamBuffers];
        if (from == UINT64_MAX)
            return;
        const uint64_t at = seq * kStreamBufferLen;
        const uint64_t skip = from > at ? std::min<uint64_t>(from - at, b.size()) : 0;
        if (skip < b.size())
            feed(decrypt, b.subspan(size_t(skip)), at + skip);
    }

    // Hands over the last, partial buffer and waits for both threads; the file's SHA-256.
    crypto::Digest finishRing()
    {
        if (ring) {
            if (fill > 0)
                submit();
            ring->finish();
        }
        return fileHash->finish();
    }

    const crypto::Backend &backend;
    std::string name;
    std::optional<crypto::P256KeyPair> key;
    std::unique_ptr<crypto::Sha256> fileHash;
    std::vector<Bytes> buffers;
    std::array<uint64_t, kStreamBuffers> recordsFrom{};
    uint64_t ringSeq = 0;
    size_t fill = 0;
    uint64_t bytes = 0;
    ParsedHeader clip;
    size_t headerLen = 0; // fixed header + ClipHeader, once the fixed header is in
    bool recordsStarted = false;
    std::optional<Error> headerError, unlockError;
    bool decrypting = false; // the decrypting pass was started (set before any record byte
                             // is handed over; never changed by the threads)
    Pass scan, decrypt;
    // Last: its threads are joined before anything they use goes.
    std::unique_ptr<BufferRing> ring;
};

ClipStreamReader::ClipStreamReader(const crypto::Backend &backend, std::string name,
                                   std::optional<crypto::P256KeyPair> key)
    : impl_(std::make_unique<Impl>(backend, std::move(name), std::move(key)))
{
}

ClipStreamReader::~ClipStreamReader() = default;

uint64_t ClipStreamReader::size() const
{
    return impl_->bytes;
}

void ClipStreamReader::append(ByteView data)
{
    Impl &d = *impl_;
    if (data.empty())
        return;
    d.bytes += data.size();
    d.structure(data);
    // After the structure pass saw these bytes: a buffer handed over knows where the
    // records start.
    d.handOver(data);
}

StreamedClip
ClipStreamReader::finish(const std::optional<std::map<uint8_t, uint64_t>> &interruptedCounts)
{
    Impl &d = *impl_;
    StreamedClip out;
    out.fileBytes = d.bytes;
    out.fileSha256 = d.finishRing();
    if (!d.headerError && !d.recordsStarted) {
        // The file ended inside its header: the messages a file of this length gets.
        const Bytes &h = d.clip.headerBytes;
        if (h.size() < kFixedHeaderLen) {
            // Fewer than 16 bytes always fail the fixed header's checks.
            auto fixed = checkFixedHeader(h, d.name);
            d.headerError = fixed ? formatError(d.name, "truncated in its fixed header")
                                  : std::move(fixed).error();
        } else {
            d.headerError = formatError(
                d.name, "header length " + std::to_string(d.headerLen - kFixedHeaderLen) +
                            " runs past the end of the " + std::to_string(d.bytes) +
                            "-byte file (truncated or altered)");
        }
    }
    if (d.headerError) {
        out.headerError = d.headerError;
        return out;
    }
    out.header = d.clip.header;
    out.headerSha256 = d.clip.headerSha256;
    out.clipUuid = d.clip.uuid;
    out.unlockError = d.unlockError;
    d.scan.options.interruptedCounts = interruptedCounts;
    d.decrypt.options.interruptedCounts = interruptedCounts;
    out.scanned = d.end(d.scan, false);
    out.scanError = d.scan.error;
    if (!d.unlockError && d.key) {
        out.decrypted = d.end(d.decrypt, true);
        out.decryptError = d.decrypt.error;
    }
    for (std::optional<ReadResult> *r : {&out.scanned, &out.decrypted})
        if (*r)
            (*r)->ciphertextSha256 = out.fileSha256;
    d.scan.scanner.reset();
    d.decrypt.scanner.reset();
    return out;
}

} // namespace bwc::container
