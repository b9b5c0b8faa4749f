// The clip uuid helpers and the writer's own rules: what it refuses to create, what it
// refuses to append, and that its state always describes the bytes on the file.

#include <set>

#include "common/base/file.h"
#include "tests/unit/common/container/clip_test_util.h"

using namespace bwc;
using namespace bwc::container;
using namespace bwc::container::test;

TEST_CASE("clip uuids print in canonical form and parse back")
{
    ClipUuid uuid{};
    for (size_t i = 0; i < uuid.size(); ++i)
        uuid[i] = uint8_t(0x3f + 0x11 * i);
    const std::string text = uuidToString(uuid);
    CHECK(text == "3f506172-8394-a5b6-c7d8-e9fa0b1c2d3e");
    auto back = uuidFromString(text);
    REQUIRE(back.has_value());
    CHECK(*back == uuid);

    // Upper case is read too; the output is always lower case.
    auto upper = uuidFromString("3F506172-8394-A5B6-C7D8-E9FA0B1C2D3E");
    REQUIRE(upper.has_value());
    CHECK(*upper == uuid);

    for (std::string_view bad : {
             "",
             "3f506172-8394-a5b6-c7d8-e9fa0b1c2d3",   // one digit short
             "3f506172-8394-a5b6-c7d8-e9fa0b1c2d3e0", // one digit long
             "3f5061728394-a5b6-c7d8-e9fa0b1c2d3e-",  // dash in the wrong place
             "3f506172-8394-a5b6-c7d8-e9fa0b1c2d3g",  // not hex
             "3f506172_8394_a5b6_c7d8_e9fa0b1c2d3e",
             "{3f506172-8394-a5b6-c7d8-e9fa0b1c2d}",
         }) {
        INFO("input '" << bad << "'");
        CHECK_FALSE(uuidFromString(bad).has_value());
    }
}

TEST_CASE("new clip uuids are random version 4 uuids")
{
    CLIP_EACH_BACKEND(backend);
    std::set<ClipUuid> seen;
    for (int i = 0; i < 64; ++i) {
        auto uuid = newClipUuid(backend);
        REQUIRE(uuid.ok());
        CHECK(((*uuid)[6] & 0xf0) == 0x40);
        CHECK(((*uuid)[8] & 0xc0) == 0x80);
        const std::string text = uuidToString(*uuid);
        CHECK(text[14] == '4');
        CHECK(uuidFromString(text) == *uuid);
        seen.insert(*uuid);
    }
    CHECK(seen.size() == 64);
}

namespace {

std::unique_ptr<WritableFile> newFile(const TempDir &dir, const std::string &name)
{
    auto file = createFile(dir.file(name));
    REQUIRE(file.ok());
    return std::move(file).value();
}

} // namespace

TEST_CASE("the writer refuses options that would make a bad clip")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());
    const WriterOptions good = defaultOptions(backend, {key->pub});
    uint64_t sizeBefore = 0;

    SECTION("empty device id")
    {
        WriterOptions o = good;
        o.deviceId.clear();
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Config,
                     "device id is empty");
    }
    SECTION("zero recipients")
    {
        WriterOptions o = good;
        o.recipients.clear();
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Config,
                     "no recipients");
    }
    SECTION("a recipient that is not a curve point")
    {
        WriterOptions o = good;
        crypto::P256Point bad = key->pub;
        bad[64] ^= 0x01; // same x, wrong y
        o.recipients.push_back(bad);
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Crypto,
                     "recipient 1");
        crypto::P256Point compressed = key->pub;
        compressed[0] = 0x02;
        o.recipients = {compressed};
        requireError(ClipWriter::create(backend, newFile(dir, "b"), o), Errc::Crypto,
                     "not a valid P-256 public key");
    }
    SECTION("duplicate stream ids")
    {
        WriterOptions o = good;
        o.streams.push_back(StreamSpec{kMetadataStreamId, v1::STREAM_TYPE_METADATA, "x"});
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Config,
                     "stream id 1 is declared twice");
    }
    SECTION("no streams")
    {
        WriterOptions o = good;
        o.streams.clear();
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Config,
                     "no streams");
    }
    SECTION("an all-zero uuid")
    {
        WriterOptions o = good;
        o.clipUuid = ClipUuid{};
        requireError(ClipWriter::create(backend, newFile(dir, "a"), o), Errc::Config,
                     "uuid is all zero");
    }
    SECTION("a file that is not empty")
    {
        auto file = newFile(dir, "a");
        REQUIRE(file->append(asBytes("leftover")).ok());
        sizeBefore = 8;
        requireError(ClipWriter::create(backend, std::move(file), good), Errc::Exists,
                     "already holds 8 bytes");
    }
    // A refused create() leaves the file as it was.
    for (const char *name : {"a", "b"}) {
        if (pathExists(dir.file(name))) {
            auto size = fileSize(dir.file(name));
            REQUIRE(size.ok());
            CHECK(*size == sizeBefore);
        }
    }
}

TEST_CASE("the writer refuses appends to unknown streams and after finish")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());
    auto writer =
        ClipWriter::create(backend, newFile(dir, "c.bwcclip"), defaultOptions(backend, {key->pub}));
    REQUIRE(writer.ok());
    ClipWriter &w = **writer;

    requireError(w.append(7, asBytes("x")), Errc::Internal, "stream 7");
    REQUIRE(w.append(kMediaStreamId, asBytes("frame")).ok());
    REQUIRE(w.finish().ok());
    requireError(w.append(kMediaStreamId, asBytes("late")), Errc::Internal,
                 "append to stream 0 after the clip was finished");
    requireError(w.append(kMetadataStreamId, asBytes("late")), Errc::Internal,
                 "append to stream 1 after the clip was finished");
    requireError(w.finish(), Errc::Internal, "finish() called twice");
    CHECK(w.path() == dir.file("c.bwcclip"));
}

TEST_CASE("the writer's header and state describe the file")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    auto escrow = backend.p256Generate();
    REQUIRE(key.ok());
    REQUIRE(escrow.ok());
    const WriterOptions options = defaultOptions(backend, {key->pub, escrow->pub});
    const std::string path = dir.file("s.bwcclip");
    auto writer = ClipWriter::create(backend, newFile(dir, "s.bwcclip"), options);
    REQUIRE(writer.ok());
    ClipWriter &w = **writer;

    const v1::ClipHeader &h = w.header();
    CHECK(h.clip_uuid() == std::string(options.clipUuid.begin(), options.clipUuid.end()));
    CHECK(h.device_id() == "cam-0042");
    CHECK(h.created_utc_ms() == options.createdUtcMs);
    CHECK(h.stream_nonce().size() == 16);
    REQUIRE(h.streams_size() == 2);
    CHECK(h.streams(0).id() == 0);
    CHECK(h.streams(0).type() == v1::STREAM_TYPE_MEDIA);
    CHECK(h.streams(0).content_type() == "video/mp4");
    CHECK(h.streams(1).id() == 1);
    CHECK(h.streams(1).type() == v1::STREAM_TYPE_METADATA);
    REQUIRE(h.recipients_size() == 2);
    const crypto::Digest keyId = crypto::p256KeyId(backend, key->pub);
    const crypto::Digest escrowId = crypto::p256KeyId(backend, escrow->pub);
    CHECK(h.recipients(0).key_id() == std::string(keyId.begin(), keyId.end()));
    CHECK(h.recipients(1).key_id() == std::string(escrowId.begin(), escrowId.end()));
    CHECK(h.recipients(0).hpke_enc().size() == 65);
    CHECK(h.recipients(0).wrapped_dek().size() == 48);
    // Each recipient gets its own encapsulation.
    CHECK(h.recipients(0).hpke_enc() != h.recipients(1).hpke_enc());

    // Right after create(): the header is on the file, synced, and hashed.
    Bytes file = readBytes(path);
    CHECK(Bytes(file.begin(), file.begin() + 8) == Bytes(std::begin(kMagic), std::end(kMagic)));
    CHECK(getU16(file.data() + 8) == 1);
    CHECK(getU16(file.data() + 10) == 0);
    CHECK(kFixedHeaderLen + getU32(file.data() + 12) == file.size());
    CHECK(w.headerSha256() == sha256Of(backend, file));
    WriterState st = w.state();
    CHECK(st.ciphertextBytes == file.size());
    CHECK(st.ciphertextSha256 == sha256Of(backend, file));
    CHECK(st.headerSha256 == w.headerSha256());
    CHECK(st.streams.at(0).chunks == 0);

    // Buffered data is not on the file yet, so it is not in the state either.
    const Bytes media = patternBytes(100'000, 1);
    REQUIRE(w.append(kMediaStreamId, media).ok());
    st = w.state();
    CHECK(st.streams.at(0).chunks == 1); // one full 64 KiB chunk went out
    CHECK(st.streams.at(0).plaintextBytes == kMaxChunkPlaintext);
    CHECK(st.ciphertextBytes == readBytes(path).size());

    // flush() writes the partial chunk; its state matches an independent hash of the file.
    REQUIRE(w.append(kMetadataStreamId, asBytes("location fix")).ok());
    auto flushed = w.flush();
    REQUIRE(flushed.ok());
    file = readBytes(path);
    CHECK(flushed->ciphertextBytes == file.size());
    CHECK(flushed->ciphertextSha256 == sha256Of(backend, file));
    CHECK(flushed->mediaPlaintextSha256 == sha256Of(backend, media));
    CHECK(flushed->streams.at(0).chunks == 2);
    CHECK(flushed->streams.at(0).plaintextBytes == media.size());
    CHECK_FALSE(flushed->streams.at(0).finalWritten);
    CHECK(flushed->streams.at(1).chunks == 1);
    CHECK(flushed->streams.at(1).plaintextBytes == 12);

    // A flush with nothing buffered changes nothing.
    auto again = w.flush();
    REQUIRE(again.ok());
    CHECK(again->ciphertextSha256 == flushed->ciphertextSha256);
    CHECK(readBytes(path).size() == file.size());

    auto finished = w.finish();
    REQUIRE(finished.ok());
    file = readBytes(path);
    CHECK(finished->ciphertextBytes == file.size());
    CHECK(finished->ciphertextSha256 == sha256Of(backend, file));
    CHECK(finished->streams.at(0).chunks == 3); // an empty final chunk
    CHECK(finished->streams.at(0).finalWritten);
    CHECK(finished->streams.at(1).chunks == 2);
    CHECK(finished->streams.at(1).finalWritten);
    const ClipLayout layout = layoutOf(file);
    REQUIRE(layout.records.size() == 5);
    CHECK(layout.records[3].length == 16);
    CHECK(layout.records[4].length == 16);
}
