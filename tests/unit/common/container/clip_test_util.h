#pragma once

#include "tests/unit/common/crypto/test_backends.h"

// Helpers of the container tests: the backends, temporary directories, writing a clip
// from a list of steps, reading one back, and an independent parse of a clip's records
// so that tests can cut, flip, reorder and splice them.

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::container::test {

using crypto::test::BackendKind;
using crypto::test::backendFor;
using crypto::test::backendKinds;
using crypto::test::kindName;


// A directory under $TMPDIR (or /tmp), removed with everything in it at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
    std::string path_;
};

// Deterministic test data (xorshift), different for every seed.
Bytes patternBytes(size_t n, uint32_t seed);

Bytes readBytes(const std::string &path);
void writeBytes(const std::string &path, ByteView data);

// Streams 0 (media) and 1 (metadata), a fresh uuid, sealed to `recipients`.
WriterOptions defaultOptions(const crypto::Backend &backend,
                             std::vector<crypto::P256Point> recipients);

// One thing done to a writer.
struct Step {
    enum class Kind { Append, Flush, Finish };
    Kind kind = Kind::Append;
    uint8_t stream = 0;
    Bytes data;
};
Step appendStep(uint8_t stream, Bytes data);
Step flushStep();
Step finishStep();

struct WrittenClip {
    std::string path;
    WriterState state;                    // after the last step
    std::map<uint8_t, Bytes> plaintext;   // everything appended, per stream
    v1::ClipHeader header;
};

// Runs `steps` on a new writer for `path`; REQUIREs every step to succeed.
WrittenClip writeClip(const crypto::Backend &backend, const std::string &path,
                      const WriterOptions &options, const std::vector<Step> &steps);

struct ReadBack {
    ReadResult result;
    std::map<uint8_t, Bytes> plaintext; // what the sink received, per stream
    std::vector<uint8_t> sinkOrder;     // stream id of every sink call, in order
};

// open(), unlock() when `key` is given, read() with decrypt = (key != nullptr). The first
// error of the three is returned. The same bytes are also fed to a ClipStreamReader in
// pieces of every size, which must reach the same result or the same error, word for word.
Expected<ReadBack> readClip(const crypto::Backend &backend, const std::string &path,
                            const crypto::P256KeyPair *key,
                            std::optional<std::map<uint8_t, uint64_t>> interruptedCounts = {});

// The file's bytes through a ClipStreamReader in pieces of 1 byte to a record and more
// (sizes drawn from `seed`), its outcome as readClip would give it (no plaintext).
Expected<ReadBack> streamClip(const crypto::Backend &backend, const std::string &path,
                              const crypto::P256KeyPair *key,
                              const std::optional<std::map<uint8_t, uint64_t>> &interruptedCounts,
                              uint32_t seed);

// An independent parse of a well-formed clip file.
struct RecordRef {
    size_t offset = 0;
    uint8_t stream = 0;
    uint32_t length = 0;
    size_t size() const { return kRecordHeaderLen + length; }
};
struct ClipLayout {
    size_t headerEnd = 0; // offset of the first record
    std::vector<RecordRef> records;
};
ClipLayout layoutOf(const Bytes &file);

// The bytes of one record, and a file rebuilt from a header and a list of records.
Bytes recordBytes(const Bytes &file, const RecordRef &record);
Bytes joinRecords(ByteView header, const std::vector<Bytes> &records);

// Offset of the first occurrence of `needle` in `haystack`; REQUIREs one to exist.
size_t findBytes(const Bytes &haystack, ByteView needle);

crypto::Digest sha256Of(const crypto::Backend &backend, ByteView data);

// "" when equal, else where two byte strings first differ: CHECK(sameBytes(a, b) == "")
// keeps failure messages short where printing megabytes would not help.
std::string sameBytes(ByteView a, ByteView b);

// The recipient key that the fuzz harness (tests/fuzz/fuzz_clip_reader.cpp) unlocks with,
// so that its seed clips reach the decryption path. The same scalar is written there.
crypto::P256KeyPair fuzzRecipientKey(const crypto::Backend &backend);

// Checks an error's category and that its message contains `phrase`.
template <typename T>
void requireError(const Expected<T> &result, Errc code, std::string_view phrase)
{
    REQUIRE_FALSE(result.ok());
    const Error &e = result.error();
    INFO("error [" << errcName(e.code) << "] " << e.message);
    CHECK(e.code == code);
    CHECK_THAT(e.message, Catch::Matchers::ContainsSubstring(std::string(phrase)));
}

} // namespace bwc::container::test

// Picks one backend per run of the enclosing test case.
#define CLIP_EACH_BACKEND(var)                                                                     \
    const auto var##Kind = GENERATE(                                                               \
        Catch::Generators::from_range(::bwc::container::test::backendKinds()));                    \
    const ::bwc::crypto::Backend &var = ::bwc::container::test::backendFor(var##Kind);             \
    INFO("backend " << ::bwc::container::test::kindName(var##Kind))

// Picks one ordered pair (writer, reader) of backends per run, the same one twice included.
#define CLIP_EACH_BACKEND_PAIR(from, to)                                                           \
    const auto from##Kind = GENERATE(                                                              \
        Catch::Generators::from_range(::bwc::container::test::backendKinds()));                    \
    const auto to##Kind = GENERATE(                                                                \
        Catch::Generators::from_range(::bwc::container::test::backendKinds()));                    \
    const ::bwc::crypto::Backend &from = ::bwc::container::test::backendFor(from##Kind);           \
    const ::bwc::crypto::Backend &to = ::bwc::container::test::backendFor(to##Kind);               \
    INFO("written with " << ::bwc::container::test::kindName(from##Kind) << ", read with "         \
                         << ::bwc::container::test::kindName(to##Kind))
