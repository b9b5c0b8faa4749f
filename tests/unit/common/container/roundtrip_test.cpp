// Clips written by one backend and read by the other (and by itself): the plaintext, the
// chunk counts and every hash must come back exactly.

#include <random>

#include "tests/unit/common/container/clip_test_util.h"

using namespace bwc;
using namespace bwc::container;
using namespace bwc::container::test;

namespace {

struct Case {
    std::string name;
    std::vector<Step> steps;
};

// Media appended in pieces of random size with a flush at random points, interleaved with
// small metadata records: the shape of a real recording.
std::vector<Step> recordingSteps(size_t mediaBytes, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> piece(1, 200'000);
    std::uniform_int_distribution<int> action(0, 9);
    const Bytes media = patternBytes(mediaBytes, seed);
    std::vector<Step> steps;
    size_t at = 0;
    uint32_t metaSeed = seed * 7;
    while (at < media.size()) {
        const size_t n = std::min(piece(rng), media.size() - at);
        steps.push_back(appendStep(kMediaStreamId, Bytes(media.begin() + ptrdiff_t(at),
                                                         media.begin() + ptrdiff_t(at + n))));
        at += n;
        const int a = action(rng);
        if (a < 3)
            steps.push_back(appendStep(kMetadataStreamId, patternBytes(20 + a * 30, ++metaSeed)));
        if (a == 0 || a == 5)
            steps.push_back(flushStep());
    }
    steps.push_back(finishStep());
    return steps;
}

std::vector<Case> roundTripCases()
{
    std::vector<Case> cases;
    cases.push_back({"empty streams", {finishStep()}});
    cases.push_back({"one byte", {appendStep(kMediaStreamId, {0x42}), finishStep()}});
    cases.push_back({"exactly 64 KiB",
                     {appendStep(kMediaStreamId, patternBytes(kMaxChunkPlaintext, 2)),
                      appendStep(kMetadataStreamId, patternBytes(kMaxChunkPlaintext, 3)),
                      finishStep()}});
    cases.push_back({"64 KiB + 1",
                     {appendStep(kMediaStreamId, patternBytes(kMaxChunkPlaintext + 1, 4)),
                      appendStep(kMetadataStreamId, {0x01}), finishStep()}});
    cases.push_back({"64 KiB in single bytes then a flush", {}});
    {
        const Bytes data = patternBytes(kMaxChunkPlaintext, 5);
        for (uint8_t b : data)
            cases.back().steps.push_back(appendStep(kMediaStreamId, {b}));
        cases.back().steps.push_back(flushStep());
        cases.back().steps.push_back(finishStep());
    }
    // Larger than two 4 MiB read buffers: records cross buffer boundaries and the file
    // hash runs on the reader's second thread.
    cases.push_back({"9 MiB with random flush points", recordingSteps(9u << 20, 11)});
    return cases;
}

void checkRoundTrip(const crypto::Backend &writerBackend, const crypto::Backend &readerBackend,
                    const Case &c)
{
    INFO("case: " << c.name);
    TempDir dir;
    auto key = writerBackend.p256Generate();
    REQUIRE(key.ok());
    const std::string path = dir.file("clip.bwcclip");
    const WrittenClip written =
        writeClip(writerBackend, path, defaultOptions(writerBackend, {key->pub}), c.steps);
    const Bytes file = readBytes(path);

    // What the writer says is on the file is what is on the file.
    CHECK(written.state.ciphertextBytes == file.size());
    CHECK(written.state.ciphertextSha256 == sha256Of(readerBackend, file));
    CHECK(written.state.mediaPlaintextSha256 ==
          sha256Of(readerBackend, written.plaintext.at(kMediaStreamId)));

    // The records, parsed independently, match the writer's counts and chunking rule.
    const ClipLayout layout = layoutOf(file);
    std::map<uint8_t, uint64_t> records;
    for (const RecordRef &r : layout.records) {
        CHECK(r.length >= 16);
        CHECK(r.length <= kMaxRecordLen);
        records[r.stream]++;
    }
    for (const auto &[id, totals] : written.state.streams) {
        CHECK(totals.chunks == records[id]);
        CHECK(totals.finalWritten);
        CHECK(totals.plaintextBytes == written.plaintext.at(id).size());
    }

    // Structure and file hash without the key.
    auto open = readClip(readerBackend, path, nullptr);
    REQUIRE(open.ok());
    CHECK_FALSE(open->result.decrypted);
    CHECK(open->result.fileBytes == file.size());
    CHECK(open->result.ciphertextSha256 == written.state.ciphertextSha256);
    CHECK(open->plaintext.empty());
    for (const auto &[id, totals] : written.state.streams) {
        CHECK(open->result.streams.at(id).chunks == totals.chunks);
        CHECK(open->result.streams.at(id).plaintextBytes == totals.plaintextBytes);
    }

    // Everything with the key.
    auto full = readClip(readerBackend, path, &*key);
    if (!full.ok())
        FAIL(full.error().message);
    CHECK(full->result.decrypted);
    CHECK(full->result.fileBytes == file.size());
    CHECK(full->result.ciphertextSha256 == written.state.ciphertextSha256);
    CHECK(full->result.mediaPlaintextSha256 == written.state.mediaPlaintextSha256);
    for (const auto &[id, totals] : written.state.streams) {
        INFO("stream " << int(id));
        CHECK(full->result.streams.at(id).chunks == totals.chunks);
        CHECK(full->result.streams.at(id).plaintextBytes == totals.plaintextBytes);
        CHECK(full->result.streams.at(id).finalWritten);
        CHECK(sameBytes(full->plaintext[id], written.plaintext.at(id)) == "");
    }
    // The sink sees the chunks in file order.
    std::vector<uint8_t> fileOrder;
    for (const RecordRef &r : layout.records)
        fileOrder.push_back(r.stream);
    CHECK(full->sinkOrder == fileOrder);
}

} // namespace

TEST_CASE("clips round-trip between every pair of backends")
{
    CLIP_EACH_BACKEND_PAIR(writer, reader);
    for (const Case &c : roundTripCases())
        checkRoundTrip(writer, reader, c);
}

TEST_CASE("chunking follows the 64 KiB rule")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());
    struct Expect {
        size_t bytes;
        std::vector<uint32_t> lengths; // record lengths of stream 0, final last
    };
    const uint32_t full = kMaxRecordLen;
    for (const Expect &e : std::vector<Expect>{
             {0, {16}},
             {1, {17}},
             {kMaxChunkPlaintext, {full, 16}},
             {kMaxChunkPlaintext + 1, {full, 17}},
             {3 * kMaxChunkPlaintext - 1, {full, full, full - 1}},
         }) {
        INFO("media bytes " << e.bytes);
        const std::string path = dir.file("c" + std::to_string(e.bytes));
        std::vector<Step> steps;
        if (e.bytes)
            steps.push_back(appendStep(kMediaStreamId, patternBytes(e.bytes, 9)));
        steps.push_back(finishStep());
        writeClip(backend, path, defaultOptions(backend, {key->pub}), steps);
        std::vector<uint32_t> lengths;
        for (const RecordRef &r : layoutOf(readBytes(path)).records)
            if (r.stream == kMediaStreamId)
                lengths.push_back(r.length);
        CHECK(lengths == e.lengths);
    }
}

TEST_CASE("every recipient can open the clip")
{
    CLIP_EACH_BACKEND_PAIR(writer, reader);
    TempDir dir;
    auto agency = writer.p256Generate();
    auto escrow = writer.p256Generate();
    auto stranger = writer.p256Generate();
    REQUIRE(agency.ok());
    REQUIRE(escrow.ok());
    REQUIRE(stranger.ok());
    const std::string path = dir.file("two.bwcclip");
    const Bytes media = patternBytes(70'000, 21);
    writeClip(writer, path, defaultOptions(writer, {agency->pub, escrow->pub}),
              {appendStep(kMediaStreamId, media), finishStep()});

    for (const crypto::P256KeyPair *k : {&*agency, &*escrow}) {
        auto back = readClip(reader, path, k);
        REQUIRE(back.ok());
        CHECK(sameBytes(back->plaintext[kMediaStreamId], media) == "");
    }
    auto refused = readClip(reader, path, &*stranger);
    requireError(refused, Errc::NotFound, "this clip was not sealed to that key");
    const crypto::Digest strangerId = crypto::p256KeyId(reader, stranger->pub);
    requireError(refused, Errc::NotFound,
                 "no recipient entry for key " + toHex(ByteView(strangerId).first(8)));
}

TEST_CASE("the reader reports its header, progress and sink errors")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    auto key = backend.p256Generate();
    REQUIRE(key.ok());
    const std::string path = dir.file("r.bwcclip");
    const WrittenClip written = writeClip(
        backend, path, defaultOptions(backend, {key->pub}),
        {appendStep(kMediaStreamId, patternBytes(200'000, 5)), flushStep(),
         appendStep(kMetadataStreamId, toBytes("event")), finishStep()});
    const Bytes file = readBytes(path);

    auto reader = ClipReader::open(backend, path);
    REQUIRE(reader.ok());
    ClipReader &r = **reader;
    CHECK(r.header().SerializeAsString() == written.header.SerializeAsString());
    CHECK(r.headerSha256() == written.state.headerSha256);
    const ClipUuid uuid = r.clipUuid();
    CHECK(std::string(uuid.begin(), uuid.end()) == written.header.clip_uuid());
    CHECK(r.headerBytes() == layoutOf(file).headerEnd);

    SECTION("decrypting needs unlock() first")
    {
        ReadOptions o;
        o.decrypt = true;
        requireError(r.read(o), Errc::Internal, "call unlock()");
    }
    SECTION("progress ends at the file size")
    {
        uint64_t lastDone = 0;
        uint64_t lastTotal = 0;
        int calls = 0;
        ReadOptions o;
        o.progress = [&](uint64_t done, uint64_t total) {
            CHECK(done >= lastDone);
            lastDone = done;
            lastTotal = total;
            ++calls;
        };
        auto result = r.read(o);
        REQUIRE(result.ok());
        CHECK(calls >= 1);
        CHECK(lastDone == file.size());
        CHECK(lastTotal == file.size());
    }
    SECTION("a sink error stops the read and is returned")
    {
        REQUIRE(r.unlock(*key).ok());
        ReadOptions o;
        o.decrypt = true;
        int calls = 0;
        o.sink = [&](uint8_t, ByteView) -> Expected<void> {
            if (++calls == 2)
                return Error(Errc::NoSpace, "export disk full");
            return {};
        };
        requireError(r.read(o), Errc::NoSpace, "export disk full");
        CHECK(calls == 2);
    }
    SECTION("read() can run again on the same reader")
    {
        REQUIRE(r.unlock(*key).ok());
        ReadOptions o;
        o.decrypt = true;
        auto first = r.read(o);
        auto second = r.read(o);
        REQUIRE(first.ok());
        REQUIRE(second.ok());
        CHECK(first->ciphertextSha256 == second->ciphertextSha256);
        CHECK(first->mediaPlaintextSha256 == second->mediaPlaintextSha256);
        CHECK(first->mediaPlaintextSha256 == written.state.mediaPlaintextSha256);
    }
}
