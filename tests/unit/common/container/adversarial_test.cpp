// Adversarial clips, each written to a file: bit flips, truncations, reordered, dropped,
// duplicated and spliced chunks, swapped headers, bad lengths and versions. Every one is
// checked for the exact error category and the phrase a user would read.

#include "tests/unit/common/container/clip_test_util.h"

using namespace bwc;
using namespace bwc::container;
using namespace bwc::container::test;

namespace {

// The steps of the clip every case starts from. Its records, in file order:
//   0 s0c0 (64 KiB)  1 s0c1 (64 KiB)  2 s0c2  3 s1c0  4 s0c3 (64 KiB)  5 s0c4  6 s1c1
//   7 s0c5 final     8 s1c2 final (empty)
std::vector<Step> baseSteps(uint32_t seed)
{
    return {appendStep(kMediaStreamId, patternBytes(150'000, seed)),
            appendStep(kMetadataStreamId, patternBytes(300, seed + 1)),
            flushStep(),
            appendStep(kMediaStreamId, patternBytes(70'000, seed + 2)),
            appendStep(kMetadataStreamId, patternBytes(200, seed + 3)),
            flushStep(),
            appendStep(kMediaStreamId, patternBytes(5'000, seed + 4)),
            finishStep()};
}

class Adversary {
public:
    explicit Adversary(const crypto::Backend &backend) : backend_(backend)
    {
        auto k = backend.p256Generate();
        REQUIRE(k.ok());
        key_ = *k;
        clip_ = writeClip(backend, dir_.file("base.bwcclip"), defaultOptions(backend, {key_.pub}),
                          baseSteps(100));
        file_ = readBytes(clip_.path);
        layout_ = layoutOf(file_);
        REQUIRE(layout_.records.size() == 9);
        const uint8_t streams[] = {0, 0, 0, 1, 0, 0, 1, 0, 1};
        for (size_t i = 0; i < 9; ++i)
            REQUIRE(layout_.records[i].stream == streams[i]);
        REQUIRE(layout_.records[0].length == kMaxRecordLen);
        REQUIRE(layout_.records[1].length == kMaxRecordLen);
        REQUIRE(layout_.records[8].length == 16);
    }

    const crypto::Backend &backend() const { return backend_; }
    const crypto::P256KeyPair &key() const { return key_; }
    const Bytes &file() const { return file_; }
    const ClipLayout &layout() const { return layout_; }
    const WrittenClip &clip() const { return clip_; }
    const TempDir &dir() const { return dir_; }
    ByteView header() const { return ByteView(file_).first(layout_.headerEnd); }
    Bytes record(size_t i) const { return recordBytes(file_, layout_.records[i]); }
    std::vector<Bytes> records() const
    {
        std::vector<Bytes> out;
        for (size_t i = 0; i < layout_.records.size(); ++i)
            out.push_back(record(i));
        return out;
    }
    size_t recordOffset(size_t i) const { return layout_.records[i].offset; }

    // Another clip with the same shape, sealed to `key` (this one's key by default).
    WrittenClip other(const std::string &name, const crypto::P256KeyPair *key = nullptr) const
    {
        return writeClip(backend_, dir_.file(name),
                         defaultOptions(backend_, {(key ? *key : key_).pub}), baseSteps(200));
    }

    // Writes an adversarial variant to the temp dir and returns its path.
    std::string variant(const std::string &name, ByteView data) const
    {
        const std::string path = dir_.file(name + ".bwcclip");
        writeBytes(path, data);
        return path;
    }
    std::string flipped(const std::string &name, size_t offset, uint8_t mask = 0x01) const
    {
        Bytes data = file_;
        REQUIRE(offset < data.size());
        data[offset] ^= mask;
        return variant(name, data);
    }

    // open + unlock + read with decryption.
    Expected<ReadBack> verify(const std::string &path,
                              std::optional<std::map<uint8_t, uint64_t>> counts = {}) const
    {
        return readClip(backend_, path, &key_, std::move(counts));
    }
    // open + read without the key: structure and the file hash only.
    Expected<ReadBack> structure(const std::string &path) const
    {
        return readClip(backend_, path, nullptr);
    }

private:
    const crypto::Backend &backend_;
    TempDir dir_;
    crypto::P256KeyPair key_;
    WrittenClip clip_;
    Bytes file_;
    ClipLayout layout_;
};

size_t headerFieldOffset(const Adversary &a, const std::string &value)
{
    return findBytes(a.file(), asBytes(value));
}

} // namespace

TEST_CASE("the unaltered base clip verifies")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    auto back = a.verify(a.clip().path);
    REQUIRE(back.ok());
    CHECK(back->result.ciphertextSha256 == a.clip().state.ciphertextSha256);
    CHECK(sameBytes(back->plaintext[0], a.clip().plaintext.at(0)) == "");
    CHECK(sameBytes(back->plaintext[1], a.clip().plaintext.at(1)) == "");
}

TEST_CASE("altered fixed header")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    const uint32_t headerLen = uint32_t(a.layout().headerEnd - kFixedHeaderLen);

    requireError(a.verify(a.flipped("magic", 0)), Errc::Format, "not a BWCCLIP file (bad magic");
    requireError(a.verify(a.flipped("magic-nul", 7)), Errc::Format, "bad magic");
    {
        Bytes data = toBytes("GARBAGE!");
        data.insert(data.end(), a.file().begin(), a.file().end());
        requireError(a.verify(a.variant("leading-garbage", data)), Errc::Format, "bad magic");
    }
    requireError(a.verify(a.variant("empty", {})), Errc::Format, "bad magic");
    requireError(a.verify(a.variant("ten-bytes", ByteView(a.file()).first(10))), Errc::Format,
                 "10 bytes, shorter than the 16-byte BWCCLIP header");
    {
        Bytes data = a.file();
        putU16(data.data() + 8, 2);
        requireError(a.verify(a.variant("version-2", data)), Errc::Format,
                     "unsupported BWCCLIP version 2; this tool reads version 1");
    }
    requireError(a.verify(a.flipped("version-high-bit", 8, 0x80)), Errc::Format,
                 "unsupported BWCCLIP version 32769; this tool reads version 1");
    requireError(a.verify(a.flipped("version-0", 9)), Errc::Format,
                 "unsupported BWCCLIP version 0");
    requireError(a.verify(a.flipped("flags", 11)), Errc::Format, "header flags are 1");
    requireError(a.verify(a.flipped("flags-high", 10, 0x80)), Errc::Format, "header flags are 32768");
    requireError(a.verify(a.flipped("header-len-high", 12, 0x80)), Errc::Format,
                 "exceeds the maximum of 65536");
    {
        Bytes data = a.file();
        putU32(data.data() + 12, kMaxHeaderLen + 1);
        requireError(a.verify(a.variant("header-len-max", data)), Errc::Format,
                     "header length 65537 exceeds the maximum");
    }
    for (int delta : {-1, +1}) {
        Bytes data = a.file();
        putU32(data.data() + 12, uint32_t(int(headerLen) + delta));
        requireError(a.verify(a.variant("header-len" + std::to_string(delta), data)),
                     Errc::Format, "the ClipHeader does not parse");
    }
    {
        const Bytes data(a.file().begin(), a.file().begin() + ptrdiff_t(a.layout().headerEnd - 10));
        requireError(a.verify(a.variant("header-cut", data)), Errc::Format,
                     "header length " + std::to_string(headerLen) + " runs past the end of the");
    }
}

TEST_CASE("altered ClipHeader")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    const v1::ClipHeader &h = a.clip().header;

    SECTION("device id: every chunk is bound to the header hash")
    {
        const std::string path = a.flipped("device-id", headerFieldOffset(a, h.device_id()) + 2);
        auto opened = ClipReader::open(backend, path);
        REQUIRE(opened.ok());
        CHECK((*opened)->header().device_id() != h.device_id());
        CHECK((*opened)->headerSha256() != a.clip().state.headerSha256);
        requireError(a.verify(path), Errc::Auth,
                     "chunk 0 of stream 0 failed authentication (file altered, reordered, or "
                     "spliced from another clip)");
        // Without the key the structure is intact; the file hash is what differs.
        auto s = a.structure(path);
        REQUIRE(s.ok());
        CHECK(s->result.ciphertextSha256 != a.clip().state.ciphertextSha256);
    }
    SECTION("content type")
    {
        requireError(a.verify(a.flipped("content-type", headerFieldOffset(a, "video/mp4"))),
                     Errc::Auth, "chunk 0 of stream 0 failed authentication");
    }
    SECTION("clip uuid: the wrapped key is bound to it")
    {
        requireError(a.verify(a.flipped("clip-uuid", headerFieldOffset(a, h.clip_uuid()) + 5)),
                     Errc::Auth, "the wrapped data key does not open with this key");
    }
    SECTION("stream nonce: every stream key changes")
    {
        requireError(
            a.verify(a.flipped("stream-nonce", headerFieldOffset(a, h.stream_nonce()) + 15)),
            Errc::Auth, "chunk 0 of stream 0 failed authentication");
    }
    SECTION("protobuf framing")
    {
        Bytes data = a.file();
        data[kFixedHeaderLen] = 0x07; // field 0 with wire type 7: not protobuf
        requireError(a.verify(a.variant("proto-tag", data)), Errc::Format,
                     "the ClipHeader does not parse");
    }
    SECTION("clip uuid length")
    {
        // The length byte of clip_uuid follows its tag (0x0a): 16 becomes 17, and the
        // extra byte is taken from the next field, which then no longer parses or the
        // uuid is refused.
        Bytes data = a.file();
        REQUIRE(data[kFixedHeaderLen] == 0x0a);
        REQUIRE(data[kFixedHeaderLen + 1] == 16);
        data[kFixedHeaderLen + 1] = 15;
        auto r = a.verify(a.variant("uuid-len", data));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
    }
}

TEST_CASE("altered recipient entries")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    const v1::Recipient &r = a.clip().header.recipients(0);
    const size_t enc = headerFieldOffset(a, r.hpke_enc());

    requireError(a.verify(a.flipped("wrapped-dek", headerFieldOffset(a, r.wrapped_dek()) + 3)),
                 Errc::Auth, "the wrapped data key does not open with this key");
    requireError(a.verify(a.flipped("wrapped-dek-tag", headerFieldOffset(a, r.wrapped_dek()) + 47)),
                 Errc::Auth, "the wrapped data key does not open with this key");
    // A flipped x coordinate is (but for a 2^-256 chance) no longer on the curve.
    requireError(a.verify(a.flipped("hpke-enc-x", enc + 10)), Errc::Crypto,
                 "the wrapped data key cannot be opened");
    requireError(a.verify(a.flipped("hpke-enc-prefix", enc, 0x06)), Errc::Crypto,
                 "the wrapped data key cannot be opened");
    {
        // y + 1: same x, off the curve.
        Bytes data = a.file();
        for (size_t i = enc + 64;; --i) {
            if (++data[i] != 0)
                break;
        }
        requireError(a.verify(a.variant("hpke-enc-invalid-point", data)), Errc::Crypto,
                     "the wrapped data key cannot be opened");
    }
    {
        Bytes data = a.file();
        std::fill(data.begin() + ptrdiff_t(enc + 1), data.begin() + ptrdiff_t(enc + 65), 0);
        requireError(a.verify(a.variant("hpke-enc-zero", data)), Errc::Crypto,
                     "the wrapped data key cannot be opened");
    }
    {
        // A valid point from another clip: it decapsulates, to the wrong key.
        const WrittenClip b = a.other("b.bwcclip");
        const std::string &otherEnc = b.header.recipients(0).hpke_enc();
        Bytes data = a.file();
        std::copy(otherEnc.begin(), otherEnc.end(), data.begin() + ptrdiff_t(enc));
        requireError(a.verify(a.variant("hpke-enc-other-clip", data)), Errc::Auth,
                     "the wrapped data key does not open with this key");
    }
    {
        const std::string path = a.flipped("key-id", headerFieldOffset(a, r.key_id()) + 31);
        requireError(a.verify(path), Errc::NotFound, "no recipient entry for key ");
        requireError(a.verify(path), Errc::NotFound, "this clip was not sealed to that key");
        // The structure is still readable without a key.
        CHECK(a.structure(path).ok());
    }
}

TEST_CASE("altered chunks")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);

    SECTION("a bit of a GCM tag")
    {
        const RecordRef &r = a.layout().records[1];
        requireError(a.verify(a.flipped("tag", r.offset + r.size() - 1, 0x80)), Errc::Auth,
                     "chunk 1 of stream 0 failed authentication (file altered, reordered, or "
                     "spliced from another clip)");
    }
    SECTION("a bit of ciphertext")
    {
        requireError(a.verify(a.flipped("ciphertext", a.recordOffset(4) + 5 + 1000)), Errc::Auth,
                     "chunk 3 of stream 0 failed authentication");
        requireError(a.verify(a.flipped("ciphertext-meta", a.recordOffset(6) + 5)), Errc::Auth,
                     "chunk 1 of stream 1 failed authentication");
    }
    SECTION("the stream id of a record")
    {
        // Record 2 (chunk 2 of stream 0) relabelled as stream 1: key and aad differ.
        requireError(a.verify(a.flipped("stream-id", a.recordOffset(2))), Errc::Auth,
                     "chunk 0 of stream 1 failed authentication");
    }
    SECTION("plaintext reaches the sink only after its tag verified")
    {
        const RecordRef &r = a.layout().records[1];
        const std::string path = a.flipped("tag-sink", r.offset + r.size() - 1);
        auto reader = ClipReader::open(backend, path);
        REQUIRE(reader.ok());
        REQUIRE((*reader)->unlock(a.key()).ok());
        std::vector<Bytes> delivered;
        ReadOptions o;
        o.decrypt = true;
        o.sink = [&](uint8_t, ByteView p) -> Expected<void> {
            delivered.emplace_back(p.begin(), p.end());
            return {};
        };
        requireError((*reader)->read(o), Errc::Auth, "chunk 1 of stream 0");
        REQUIRE(delivered.size() == 1);
        CHECK(sameBytes(delivered[0],
                        ByteView(a.clip().plaintext.at(0)).first(kMaxChunkPlaintext)) == "");
    }
}

TEST_CASE("reordered, duplicated, dropped and spliced chunks")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    const std::vector<Bytes> recs = a.records();
    auto build = [&](const std::string &name, std::vector<Bytes> records) {
        return a.variant(name, joinRecords(a.header(), records));
    };

    SECTION("reordered within a stream")
    {
        std::vector<Bytes> r = recs;
        std::swap(r[0], r[1]);
        requireError(a.verify(build("reordered", r)), Errc::Auth,
                     "chunk 0 of stream 0 failed authentication");
    }
    SECTION("interleaving between streams is not bound by the chunks but by the file hash")
    {
        std::vector<Bytes> r = recs;
        std::swap(r[2], r[3]); // s0c2 and s1c0 change places
        const std::string path = build("interleaving", r);
        auto back = a.verify(path);
        REQUIRE(back.ok());
        CHECK(sameBytes(back->plaintext[0], a.clip().plaintext.at(0)) == "");
        // The signed manifest's ciphertext_sha256 is what catches this.
        CHECK(back->result.ciphertextSha256 != a.clip().state.ciphertextSha256);
    }
    SECTION("duplicated")
    {
        std::vector<Bytes> r = recs;
        r.insert(r.begin() + 2, recs[1]);
        requireError(a.verify(build("duplicated", r)), Errc::Auth,
                     "chunk 2 of stream 0 failed authentication");
    }
    SECTION("dropped from the middle")
    {
        std::vector<Bytes> r = recs;
        r.erase(r.begin() + 1);
        requireError(a.verify(build("dropped-middle", r)), Errc::Auth,
                     "chunk 1 of stream 0 failed authentication");
    }
    SECTION("the final chunk dropped")
    {
        std::vector<Bytes> r = recs;
        r.erase(r.begin() + 7);
        const std::string path = build("dropped-final-media", r);
        requireError(a.verify(path), Errc::Format,
                     "stream 0 ends after 5 chunks without its final chunk");
        // Without the key a missing final chunk cannot be seen.
        auto s = a.structure(path);
        REQUIRE(s.ok());
        CHECK(s->result.streams.at(0).chunks == 5);
    }
    SECTION("the last record dropped")
    {
        std::vector<Bytes> r = recs;
        r.pop_back();
        requireError(a.verify(build("dropped-last", r)), Errc::Format,
                     "stream 1 ends after 2 chunks without its final chunk");
    }
    SECTION("spliced from another clip sealed to the same key")
    {
        const WrittenClip b = a.other("same-key.bwcclip");
        const Bytes bFile = readBytes(b.path);
        const ClipLayout bLayout = layoutOf(bFile);
        std::vector<Bytes> r = recs;
        r[1] = recordBytes(bFile, bLayout.records[1]);
        REQUIRE(r[1].size() == recs[1].size());
        requireError(a.verify(build("spliced-same-key", r)), Errc::Auth,
                     "chunk 1 of stream 0 failed authentication");
    }
    SECTION("spliced from a clip sealed to another key")
    {
        auto otherKey = backend.p256Generate();
        REQUIRE(otherKey.ok());
        const WrittenClip c = a.other("other-key.bwcclip", &*otherKey);
        const Bytes cFile = readBytes(c.path);
        const ClipLayout cLayout = layoutOf(cFile);
        std::vector<Bytes> r = recs;
        r[6] = recordBytes(cFile, cLayout.records[6]);
        requireError(a.verify(build("spliced-other-key", r)), Errc::Auth,
                     "chunk 1 of stream 1 failed authentication");
    }
    SECTION("headers swapped between two clips")
    {
        const WrittenClip b = a.other("swap.bwcclip");
        const Bytes bFile = readBytes(b.path);
        const ClipLayout bLayout = layoutOf(bFile);
        std::vector<Bytes> bRecs;
        for (const RecordRef &rr : bLayout.records)
            bRecs.push_back(recordBytes(bFile, rr));
        requireError(a.verify(build("header-a-records-b", bRecs)), Errc::Auth,
                     "chunk 0 of stream 0 failed authentication");
        const std::string path =
            a.variant("header-b-records-a",
                      joinRecords(ByteView(bFile).first(bLayout.headerEnd), recs));
        requireError(a.verify(path), Errc::Auth, "chunk 0 of stream 0 failed authentication");
    }
}

TEST_CASE("truncated clips")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    const Bytes &file = a.file();
    auto cut = [&](const std::string &name, size_t length) {
        return a.variant(name, ByteView(file).first(length));
    };

    SECTION("at a chunk boundary")
    {
        const std::string path = cut("cut-boundary", a.recordOffset(5));
        requireError(a.verify(path), Errc::Format,
                     "stream 0 ends after 4 chunks without its final chunk");
        auto s = a.structure(path);
        REQUIRE(s.ok());
        CHECK(s->result.streams.at(0).chunks == 4);
        CHECK(s->result.streams.at(1).chunks == 1);
    }
    SECTION("right after the header")
    {
        requireError(a.verify(cut("cut-after-header", a.layout().headerEnd)), Errc::Format,
                     "stream 0 ends after 0 chunks without its final chunk");
    }
    SECTION("inside a record header")
    {
        const size_t at = a.recordOffset(5);
        const std::string msg = "ends 3 bytes into the 5-byte header of the record at offset " +
                                std::to_string(at) + " (chunk 4 of stream 0)";
        const std::string path = cut("cut-record-header", at + 3);
        requireError(a.verify(path), Errc::Format, msg);
        requireError(a.structure(path), Errc::Format, msg);
    }
    SECTION("inside a record body")
    {
        const RecordRef &r = a.layout().records[5];
        const std::string msg = "the record at offset " + std::to_string(r.offset) +
                                " (chunk 4 of stream 0) declares " + std::to_string(r.length) +
                                " bytes but the file ends after 100 of them";
        const std::string path = cut("cut-record-body", r.offset + 5 + 100);
        requireError(a.verify(path), Errc::Format, msg);
        requireError(a.structure(path), Errc::Format, msg);
    }
    SECTION("inside the final record's tag")
    {
        requireError(a.verify(cut("cut-final-tag", file.size() - 1)), Errc::Format,
                     "(chunk 2 of stream 1) declares 16 bytes but the file ends after 15");
    }
}

TEST_CASE("data after the final chunk")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);

    SECTION("a record appended to a finished clip")
    {
        std::vector<Bytes> r = a.records();
        r.push_back(a.record(0));
        const std::string path = a.variant("after-final", joinRecords(a.header(), r));
        requireError(a.verify(path), Errc::Format, "data after the final chunk");
        requireError(a.verify(path), Errc::Format, "(chunk 6 of stream 0)");
    }
    SECTION("early final: a finished short clip followed by records of a longer one")
    {
        // Same key, so only the final flag stands in the way.
        const std::string shortPath = a.dir().file("short.bwcclip");
        writeClip(backend, shortPath, defaultOptions(backend, {a.key().pub}),
                  {appendStep(kMediaStreamId, patternBytes(1000, 7)), finishStep()});
        Bytes data = readBytes(shortPath);
        const ClipLayout shortLayout = layoutOf(data);
        REQUIRE(shortLayout.records.size() == 2);
        // Drop the short clip's metadata final so only stream 0 carries an early final.
        data.resize(shortLayout.records[1].offset);
        for (size_t i = 1; i < a.layout().records.size(); ++i) {
            const Bytes rec = a.record(i);
            data.insert(data.end(), rec.begin(), rec.end());
        }
        const std::string path = a.variant("early-final", data);
        requireError(a.verify(path), Errc::Format,
                     "data after the final chunk: the record at offset " +
                         std::to_string(shortLayout.records[1].offset) +
                         " (chunk 1 of stream 0)");
    }
    SECTION("trailing bytes shorter than a record header")
    {
        Bytes data = a.file();
        data.push_back(0x00);
        data.push_back(0x00);
        requireError(a.verify(a.variant("trailing-bytes", data)), Errc::Format,
                     "ends 2 bytes into the 5-byte header");
    }
}

TEST_CASE("bad record lengths and stream ids")
{
    CLIP_EACH_BACKEND(backend);
    Adversary a(backend);
    auto withLength = [&](const std::string &name, size_t record, uint32_t length) {
        Bytes data = a.file();
        putU32(data.data() + a.recordOffset(record) + 1, length);
        return a.variant(name, data);
    };

    requireError(a.verify(withLength("length-max+1", 1, kMaxRecordLen + 1)), Errc::Format,
                 "(chunk 1 of stream 0) declares length 65553, more than the maximum of 65552");
    requireError(a.structure(withLength("length-huge", 0, 0xffffffffu)), Errc::Format,
                 "declares length 4294967295, more than the maximum");
    requireError(a.verify(withLength("length-15", 3, 15)), Errc::Format,
                 "(chunk 0 of stream 1) declares length 15, shorter than its 16-byte tag");
    requireError(a.verify(withLength("length-0", 3, 0)), Errc::Format, "declares length 0");
    // The last record (16 bytes) claims more than the file holds.
    requireError(a.verify(withLength("length-past-eof", 8, 1000)), Errc::Format,
                 "(chunk 2 of stream 1) declares 1000 bytes but the file ends after 16 of them");
    // A length that stays in range but moves the record boundaries.
    requireError(a.verify(withLength("length-shifted", 2, a.layout().records[2].length + 1)),
                 Errc::Auth, "chunk 2 of stream 0 failed authentication");
    {
        Bytes data = a.file();
        data[a.recordOffset(3)] = 7;
        const std::string path = a.variant("unknown-stream", data);
        const std::string msg = "the record at offset " + std::to_string(a.recordOffset(3)) +
                                " names stream 7, which the clip header does not declare";
        requireError(a.verify(path), Errc::Format, msg);
        requireError(a.structure(path), Errc::Format, msg);
    }
}

TEST_CASE("interrupted clips are accepted only at exactly the signed chunk count")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());

    // Power lost after the second flush: no final chunks.
    const std::string path = dir.file("interrupted.bwcclip");
    const WrittenClip w =
        writeClip(backend, path, defaultOptions(backend, {key->pub}),
                  {appendStep(kMediaStreamId, patternBytes(150'000, 1)),
                   appendStep(kMetadataStreamId, patternBytes(40, 2)), flushStep(),
                   appendStep(kMediaStreamId, patternBytes(1'000, 3)), flushStep()});
    REQUIRE(w.state.streams.at(0).chunks == 4);
    REQUIRE(w.state.streams.at(1).chunks == 1);
    using Counts = std::map<uint8_t, uint64_t>;

    requireError(readClip(backend, path, &*key), Errc::Format,
                 "stream 0 ends after 4 chunks without its final chunk");

    auto ok = readClip(backend, path, &*key, Counts{{0, 4}, {1, 1}});
    REQUIRE(ok.ok());
    CHECK(sameBytes(ok->plaintext[0], w.plaintext.at(0)) == "");
    CHECK(sameBytes(ok->plaintext[1], w.plaintext.at(1)) == "");
    CHECK_FALSE(ok->result.streams.at(0).finalWritten);
    CHECK(ok->result.mediaPlaintextSha256 == w.state.mediaPlaintextSha256);
    CHECK(ok->result.ciphertextSha256 == w.state.ciphertextSha256);

    requireError(readClip(backend, path, &*key, Counts{{0, 3}, {1, 1}}), Errc::Format,
                 "stream 0 chunk count differs from its INTERRUPTED manifest: expected 3, found 4");
    requireError(readClip(backend, path, &*key, Counts{{0, 5}, {1, 1}}), Errc::Format,
                 "expected 5, found 4");
    requireError(readClip(backend, path, &*key, Counts{{0, 4}, {1, 0}}), Errc::Format,
                 "stream 1 chunk count differs from its INTERRUPTED manifest: expected 0, found 1");
    // A stream the manifest does not count must still end with its final chunk.
    requireError(readClip(backend, path, &*key, Counts{{0, 4}}), Errc::Format,
                 "stream 1 ends after 1 chunks without its final chunk");
    requireError(readClip(backend, path, &*key, Counts{{0, 4}, {1, 1}, {9, 0}}), Errc::Format,
                 "for stream 9, which this clip does not declare");
    // Without the key the counts are checked too.
    CHECK(readClip(backend, path, nullptr, Counts{{0, 4}, {1, 1}}).ok());
    requireError(readClip(backend, path, nullptr, Counts{{0, 3}, {1, 1}}), Errc::Format,
                 "expected 3, found 4");

    // The last chunk dropped from the file: the signed count no longer matches.
    const Bytes file = readBytes(path);
    const ClipLayout layout = layoutOf(file);
    const std::string cutPath = dir.file("interrupted-cut.bwcclip");
    writeBytes(cutPath, ByteView(file).first(layout.records.back().offset));
    requireError(readClip(backend, cutPath, &*key, Counts{{0, 4}, {1, 1}}), Errc::Format,
                 "expected 4, found 3");

    // A finished clip under an INTERRUPTED manifest: fine at the right counts only.
    const std::string donePath = dir.file("finished.bwcclip");
    const WrittenClip done =
        writeClip(backend, donePath, defaultOptions(backend, {key->pub}),
                  {appendStep(kMediaStreamId, patternBytes(100, 4)), finishStep()});
    auto finished = readClip(backend, donePath, &*key, Counts{{0, 1}, {1, 1}});
    REQUIRE(finished.ok());
    CHECK(finished->result.streams.at(0).finalWritten);
    requireError(readClip(backend, donePath, &*key, Counts{{0, 2}, {1, 1}}), Errc::Format,
                 "expected 2, found 1");
}
