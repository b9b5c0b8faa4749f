#include "tests/unit/common/container/clip_test_util.h"

#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "common/base/file.h"

namespace bwc::container::test {

TempDir::TempDir()
{
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bwc-clip-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

Bytes patternBytes(size_t n, uint32_t seed)
{
    Bytes out(n);
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t(seed) * 0xbf58476d1ce4e5b9ull + 1);
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = uint8_t(x >> 24);
    }
    return out;
}

Bytes readBytes(const std::string &path)
{
    auto data = readFile(path);
    REQUIRE(data.ok());
    return std::move(data).value();
}

void writeBytes(const std::string &path, ByteView data)
{
    auto r = atomicReplace(path, data);
    REQUIRE(r.ok());
}

WriterOptions defaultOptions(const crypto::Backend &backend,
                             std::vector<crypto::P256Point> recipients)
{
    WriterOptions options;
    auto uuid = newClipUuid(backend);
    REQUIRE(uuid.ok());
    options.clipUuid = *uuid;
    options.deviceId = "cam-0042";
    options.createdUtcMs = 1'760'000'123'456;
    options.streams = {
        StreamSpec{kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
        StreamSpec{kMetadataStreamId, v1::STREAM_TYPE_METADATA, "application/x-bwc-metadata"},
    };
    options.recipients = std::move(recipients);
    return options;
}

Step appendStep(uint8_t stream, Bytes data)
{
    return Step{Step::Kind::Append, stream, std::move(data)};
}

Step flushStep()
{
    return Step{Step::Kind::Flush, 0, {}};
}

Step finishStep()
{
    return Step{Step::Kind::Finish, 0, {}};
}

WrittenClip writeClip(const crypto::Backend &backend, const std::string &path,
                      const WriterOptions &options, const std::vector<Step> &steps)
{
    auto file = createFile(path);
    REQUIRE(file.ok());
    auto writer = ClipWriter::create(backend, std::move(file).value(), options);
    if (!writer.ok())
        FAIL("ClipWriter::create: " << writer.error().message);
    WrittenClip clip;
    clip.path = path;
    for (const StreamSpec &s : options.streams)
        clip.plaintext[s.id];
    for (const Step &step : steps) {
        switch (step.kind) {
        case Step::Kind::Append: {
            auto r = (*writer)->append(step.stream, step.data);
            if (!r.ok())
                FAIL("append: " << r.error().message);
            Bytes &all = clip.plaintext[step.stream];
            all.insert(all.end(), step.data.begin(), step.data.end());
            break;
        }
        case Step::Kind::Flush: {
            auto r = (*writer)->flush();
            if (!r.ok())
                FAIL("flush: " << r.error().message);
            break;
        }
        case Step::Kind::Finish: {
            auto r = (*writer)->finish();
            if (!r.ok())
                FAIL("finish: " << r.error().message);
            break;
        }
        }
    }
    clip.state = (*writer)->state();
    clip.header = (*writer)->header();
    return clip;
}

namespace {

Expected<ReadBack> readClipFile(const crypto::Backend &backend, const std::string &path,
                                const crypto::P256KeyPair *key,
                                const std::optional<std::map<uint8_t, uint64_t>> &interruptedCounts)
{
    BWC_ASSIGN(reader, ClipReader::open(backend, path));
    if (key)
        BWC_TRY(reader->unlock(*key));
    ReadBack back;
    ReadOptions options;
    options.decrypt = key != nullptr;
    options.interruptedCounts = interruptedCounts;
    options.sink = [&back](uint8_t streamId, ByteView plaintext) -> Expected<void> {
        Bytes &all = back.plaintext[streamId];
        all.insert(all.end(), plaintext.begin(), plaintext.end());
        back.sinkOrder.push_back(streamId);
        return {};
    };
    BWC_ASSIGN(result, reader->read(options));
    back.result = std::move(result);
    return back;
}

// The stream reader must reach the file reader's verdict, error message included.
void requireSameOutcome(const Expected<ReadBack> &file, const Expected<ReadBack> &streamed)
{
    INFO("file reader: " << (file ? std::string("ok") : file.error().message));
    INFO("stream reader: " << (streamed ? std::string("ok") : streamed.error().message));
    REQUIRE(file.ok() == streamed.ok());
    if (!file.ok()) {
        CHECK(file.error().code == streamed.error().code);
        CHECK(file.error().message == streamed.error().message);
        return;
    }
    const ReadResult &a = file->result, &b = streamed->result;
    CHECK(a.fileBytes == b.fileBytes);
    CHECK(a.ciphertextSha256 == b.ciphertextSha256);
    CHECK(a.decrypted == b.decrypted);
    CHECK(a.mediaPlaintextSha256 == b.mediaPlaintextSha256);
    REQUIRE(a.streams.size() == b.streams.size());
    for (const auto &[id, t] : a.streams) {
        REQUIRE(b.streams.count(id) == 1);
        CHECK(t.chunks == b.streams.at(id).chunks);
        CHECK(t.plaintextBytes == b.streams.at(id).plaintextBytes);
        CHECK(t.finalWritten == b.streams.at(id).finalWritten);
    }
}

} // namespace

Expected<ReadBack> streamClip(const crypto::Backend &backend, const std::string &path,
                              const crypto::P256KeyPair *key,
                              const std::optional<std::map<uint8_t, uint64_t>> &interruptedCounts,
                              uint32_t seed)
{
    const Bytes file = readBytes(path);
    std::optional<crypto::P256KeyPair> k;
    if (key)
        k = *key;
    ClipStreamReader reader(backend, path, k);
    // Pieces from 1 byte to a little over a record, so that headers, record headers and
    // records are split everywhere.
    uint32_t x = seed * 2654435761u + 1;
    size_t at = 0;
    while (at < file.size()) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const size_t want = (x % 4 == 0) ? 1 + x % 7 : 1 + x % (kMaxRecordLen + 300);
        const size_t n = std::min(want, file.size() - at);
        reader.append(ByteView(file.data() + at, n));
        at += n;
    }
    REQUIRE(reader.size() == file.size());
    StreamedClip out = reader.finish(interruptedCounts);
    CHECK(out.fileBytes == file.size());
    CHECK(out.fileSha256 == sha256Of(backend, file));
    if (out.headerError)
        return *out.headerError;
    if (key) {
        if (out.unlockError)
            return *out.unlockError;
        if (out.decryptError)
            return *out.decryptError;
        REQUIRE(out.decrypted);
        return ReadBack{*out.decrypted, {}, {}};
    }
    if (out.scanError)
        return *out.scanError;
    REQUIRE(out.scanned);
    return ReadBack{*out.scanned, {}, {}};
}

Expected<ReadBack> readClip(const crypto::Backend &backend, const std::string &path,
                            const crypto::P256KeyPair *key,
                            std::optional<std::map<uint8_t, uint64_t>> interruptedCounts)
{
    auto fromFile = readClipFile(backend, path, key, interruptedCounts);
    for (uint32_t seed : {1u, 2u})
        requireSameOutcome(fromFile, streamClip(backend, path, key, interruptedCounts, seed));
    return fromFile;
}

ClipLayout layoutOf(const Bytes &file)
{
    REQUIRE(file.size() >= kFixedHeaderLen);
    ClipLayout layout;
    layout.headerEnd = kFixedHeaderLen + getU32(file.data() + 12);
    size_t at = layout.headerEnd;
    while (at < file.size()) {
        REQUIRE(file.size() - at >= kRecordHeaderLen);
        RecordRef r;
        r.offset = at;
        r.stream = file[at];
        r.length = getU32(file.data() + at + 1);
        REQUIRE(file.size() - at >= r.size());
        layout.records.push_back(r);
        at += r.size();
    }
    return layout;
}

Bytes recordBytes(const Bytes &file, const RecordRef &record)
{
    return Bytes(file.begin() + ptrdiff_t(record.offset),
                 file.begin() + ptrdiff_t(record.offset + record.size()));
}

Bytes joinRecords(ByteView header, const std::vector<Bytes> &records)
{
    Bytes out(header.begin(), header.end());
    for (const Bytes &r : records)
        out.insert(out.end(), r.begin(), r.end());
    return out;
}

size_t findBytes(const Bytes &haystack, ByteView needle)
{
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
    REQUIRE(it != haystack.end());
    return size_t(it - haystack.begin());
}

crypto::Digest sha256Of(const crypto::Backend &backend, ByteView data)
{
    return backend.sha256(data);
}

std::string sameBytes(ByteView a, ByteView b)
{
    const size_t common = std::min(a.size(), b.size());
    const auto diff = std::mismatch(a.begin(), a.begin() + ptrdiff_t(common), b.begin());
    const size_t at = size_t(diff.first - a.begin());
    if (at == common && a.size() == b.size())
        return "";
    return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
           ", first difference at offset " + std::to_string(at);
}

crypto::P256KeyPair fuzzRecipientKey(const crypto::Backend &backend)
{
    // Any fixed scalar in [1, n) will do; tests/fuzz/fuzz_clip_reader.cpp has the same one.
    static constexpr std::string_view kScalarHex =
        "6b7e1b3a2f5c4d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5";
    auto scalar = fromHex(kScalarHex);
    REQUIRE(scalar.has_value());
    crypto::P256KeyPair key;
    key.priv = crypto::P256Scalar(*scalar);
    auto pub = backend.p256PublicFromPrivate(key.priv);
    REQUIRE(pub.ok());
    key.pub = *pub;
    return key;
}

} // namespace bwc::container::test
