// ClipStreamReader beyond what readClip's cross-check covers (every container test feeds
// its clips through it and compares with ClipReader): what it still knows when the key
// does not open the clip or a chunk fails, and that it never needs the file.

#include "tests/unit/common/container/clip_test_util.h"

using namespace bwc;
using namespace bwc::container;
using namespace bwc::container::test;

namespace {

std::vector<Step> steps()
{
    return {appendStep(kMediaStreamId, patternBytes(200'000, 7)),
            appendStep(kMetadataStreamId, patternBytes(500, 8)), flushStep(),
            appendStep(kMediaStreamId, patternBytes(3'000, 9)), finishStep()};
}

StreamedClip streamAll(const crypto::Backend &backend, const Bytes &file,
                       std::optional<crypto::P256KeyPair> key, size_t piece)
{
    ClipStreamReader reader(backend, "incoming.part", std::move(key));
    for (size_t at = 0; at < file.size(); at += piece)
        reader.append(ByteView(file.data() + at, std::min(piece, file.size() - at)));
    return reader.finish(std::nullopt);
}

// A clip of steps() sealed to a fresh key, in a temporary folder.
struct Sealed {
    explicit Sealed(const crypto::Backend &backend)
    {
        auto k = backend.p256Generate();
        REQUIRE(k.ok());
        key = *k;
        clip = writeClip(backend, dir.file("c.bwcclip"), defaultOptions(backend, {key.pub}),
                         steps());
    }
    TempDir dir;
    crypto::P256KeyPair key;
    WrittenClip clip;
};

} // namespace

TEST_CASE("a clip streamed one byte at a time decrypts like one read from its file")
{
    CLIP_EACH_BACKEND(backend);
    const Sealed sealed(backend);
    const crypto::P256KeyPair *key = &sealed.key;
    const WrittenClip &clip = sealed.clip;
    const Bytes file = readBytes(clip.path);
    const StreamedClip s = streamAll(backend, file, *key, 1);
    REQUIRE_FALSE(s.headerError);
    REQUIRE_FALSE(s.unlockError);
    REQUIRE_FALSE(s.decryptError);
    REQUIRE(s.decrypted);
    CHECK(s.decrypted->decrypted);
    CHECK(s.decrypted->streams.at(kMediaStreamId).chunks == 5);
    CHECK(s.decrypted->streams.at(kMediaStreamId).finalWritten);
    CHECK(s.decrypted->mediaPlaintextSha256 == clip.state.mediaPlaintextSha256);
    CHECK(s.fileSha256 == clip.state.ciphertextSha256);
    CHECK(s.headerSha256 == clip.state.headerSha256);
    CHECK(s.header.device_id() == clip.header.device_id());
    REQUIRE(s.scanned);
    CHECK(s.scanned->streams.at(kMediaStreamId).chunks == 5);
}

TEST_CASE("a key that does not open the clip leaves the structure and the hashes known")
{
    CLIP_EACH_BACKEND(backend);
    const Sealed sealed(backend);
    const WrittenClip &clip = sealed.clip;
    auto other = backend.p256Generate();
    REQUIRE(other.ok());
    const StreamedClip s = streamAll(backend, readBytes(clip.path), *other, 4096);
    REQUIRE(s.unlockError);
    CHECK(s.unlockError->code == Errc::NotFound);
    CHECK_THAT(s.unlockError->message,
               Catch::Matchers::ContainsSubstring("this clip was not sealed to that key"));
    CHECK_FALSE(s.decrypted);
    REQUIRE(s.scanned);
    CHECK(s.scanned->streams.at(kMediaStreamId).chunks == 5);
    CHECK_FALSE(s.scanned->decrypted);
    CHECK(s.fileSha256 == clip.state.ciphertextSha256);
}

TEST_CASE("a chunk that fails authentication stops decryption, not the structure pass")
{
    CLIP_EACH_BACKEND(backend);
    const Sealed sealed(backend);
    const crypto::P256KeyPair *key = &sealed.key;
    const WrittenClip &clip = sealed.clip;
    Bytes file = readBytes(clip.path);
    const ClipLayout layout = layoutOf(file);
    file[layout.records[1].offset + kRecordHeaderLen + 100] ^= 0x20;
    const StreamedClip s = streamAll(backend, file, *key, 65'536);
    REQUIRE(s.decryptError);
    CHECK(s.decryptError->code == Errc::Auth);
    CHECK_THAT(s.decryptError->message,
               Catch::Matchers::ContainsSubstring("chunk 1 of stream 0 failed authentication"));
    CHECK_FALSE(s.decrypted);
    REQUIRE(s.scanned);
    CHECK_FALSE(s.scanError);
    CHECK(s.scanned->streams.at(kMediaStreamId).chunks == 5);
    CHECK(s.fileSha256 != clip.state.ciphertextSha256);
}

TEST_CASE("bytes that are not a clip are hashed and refused with the file reader's words")
{
    CLIP_EACH_BACKEND(backend);
    const Bytes junk = patternBytes(1000, 3);
    const StreamedClip s = streamAll(backend, junk, std::nullopt, 10);
    REQUIRE(s.headerError);
    CHECK(s.headerError->code == Errc::Format);
    CHECK_THAT(s.headerError->message,
               Catch::Matchers::ContainsSubstring("incoming.part: not a BWCCLIP file (bad magic"));
    CHECK(s.fileBytes == 1000);
    CHECK(s.fileSha256 == sha256Of(backend, junk));
    const StreamedClip empty = streamAll(backend, {}, std::nullopt, 10);
    REQUIRE(empty.headerError);
    CHECK_THAT(empty.headerError->message, Catch::Matchers::ContainsSubstring("bad magic"));
}

TEST_CASE("a clip of several hash buffers streams to the file reader's hashes")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());
    // 3.5 MB: the copy-and-hash buffers (1 MiB) fill, hand over and wrap several times.
    const WrittenClip clip = writeClip(backend, dir.file("big.bwcclip"),
                                       defaultOptions(backend, {key->pub}),
                                       {appendStep(kMediaStreamId, patternBytes(3'500'000, 11)),
                                        flushStep(), finishStep()});
    const Bytes file = readBytes(clip.path);
    REQUIRE(file.size() > 3u << 20);
    for (size_t piece : {size_t(1) << 20, size_t(65'557), size_t(3'000'001)}) {
        const StreamedClip s = streamAll(backend, file, *key, piece);
        INFO("pieces of " << piece);
        REQUIRE(s.decrypted);
        CHECK(s.fileSha256 == clip.state.ciphertextSha256);
        CHECK(s.decrypted->mediaPlaintextSha256 == clip.state.mediaPlaintextSha256);
        CHECK(s.fileBytes == file.size());
    }
    // And through readClip's cross-check with pieces of every size.
    CHECK(readClip(backend, clip.path, &*key).ok());
}
