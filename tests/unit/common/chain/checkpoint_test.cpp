#include "common/chain/checkpoint.h"

#include <catch2/catch_test_macros.hpp>

#include "common/base/file.h"
#include "tests/unit/common/chain/chain_test_util.h"

using namespace bwc;
using namespace bwc::chain;
using namespace bwc::chain::test;

namespace
{

v1::Checkpoint sampleCheckpoint(uint64_t index)
{
    v1::Checkpoint c;
    c.set_clip_uuid(std::string(16, '\x5a'));
    c.set_device_id("cam-0001");
    c.set_index(index);
    auto *s = c.add_streams();
    s->set_stream_id(0);
    s->set_chunks(index * 2);
    s->set_plaintext_bytes(index * 100000);
    c.set_ciphertext_bytes(200 + index * 100000);
    c.set_ciphertext_sha256(std::string(32, char('a' + index)));
    c.set_header_sha256(std::string(32, '\x01'));
    c.set_plaintext_sha256(std::string(32, '\x02'));
    c.set_utc_ms(1'760'000'000'000 + int64_t(index) * 1000);
    c.set_officer_id("officer-17");
    return c;
}

} // namespace

TEST_CASE("checkpoint: sign and verify across backends; tampering is refused", "[checkpoint]")
{
    BWC_CHAIN_EACH_BACKEND(signer);
    BWC_CHAIN_EACH_BACKEND(verifier);
    TempDir dir;
    auto key = generateKey(signer);
    auto id = makeIdentity(signer, "cam-0001", key, dir.file("counter"));

    v1::SignedCheckpoint sc = must(signCheckpoint(signer, *id, sampleCheckpoint(4)));
    v1::Checkpoint back = must(verifyCheckpoint(verifier, key.pub, sc));
    CHECK(back.index() == 4);
    CHECK(back.ciphertext_bytes() == 400200);

    v1::SignedCheckpoint flipped = sc;
    std::string bytes = flipped.checkpoint();
    auto pos = bytes.find("officer-17");
    REQUIRE(pos != std::string::npos);
    bytes[pos] = 'O';
    flipped.set_checkpoint(bytes);
    auto r = verifyCheckpoint(verifier, key.pub, flipped);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Auth);
    CHECK(r.error().message.find("checkpoint 4 of clip 5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a") !=
          std::string::npos);

    v1::Checkpoint noStreams = sampleCheckpoint(1);
    noStreams.clear_streams();
    auto bad = signCheckpoint(signer, *id, noStreams);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::Format);
    CHECK(bad.error().message.find("streams") != std::string::npos);
}

TEST_CASE("checkpoint log: complete records, torn tail, corrupt middle", "[checkpoint]")
{
    const crypto::Backend &backend = deviceBackend();
    TempDir dir;
    auto key = generateKey(backend);
    auto id = makeIdentity(backend, "cam-0001", key, dir.file("counter"));
    const std::string path = dir.file("clip.ckpt");

    std::vector<uint64_t> ends;
    {
        auto file = must(createFile(path));
        for (uint64_t i = 0; i < 3; ++i) {
            must(appendCheckpoint(*file, must(signCheckpoint(backend, *id, sampleCheckpoint(i)))));
            ends.push_back(file->size());
        }
    }
    CheckpointLog log = must(readCheckpointLog(path));
    REQUIRE(log.records.size() == 3);
    CHECK(log.validBytes == ends.back());
    CHECK(log.tornBytes == 0);
    for (uint64_t i = 0; i < 3; ++i)
        CHECK(must(verifyCheckpoint(backend, key.pub, log.records[i])).index() == i);

    const Bytes full = readAll(path);

    SECTION("a cut anywhere leaves the complete records before it")
    {
        for (size_t len = 0; len <= full.size(); ++len) {
            CheckpointLog cut = must(parseCheckpointLog(ByteView(full.data(), len), "log"));
            size_t complete = 0;
            while (complete < ends.size() && ends[complete] <= len)
                ++complete;
            INFO("length " << len);
            REQUIRE(cut.records.size() == complete);
            CHECK(cut.validBytes == (complete ? ends[complete - 1] : 0));
            CHECK(cut.validBytes + cut.tornBytes == len);
        }
    }

    SECTION("a zero-filled tail is a torn tail")
    {
        Bytes zeros = full;
        zeros.resize(full.size() + 4096, 0);
        CheckpointLog z = must(parseCheckpointLog(zeros, "log"));
        CHECK(z.records.size() == 3);
        CHECK(z.tornBytes == 4096);
    }

    SECTION("a damaged record before the end is a format error")
    {
        Bytes damaged = full;
        // The length of record 1 (at the end of record 0) becomes 0.
        damaged[ends[0]] = damaged[ends[0] + 1] = damaged[ends[0] + 2] = damaged[ends[0] + 3] = 0;
        auto r = parseCheckpointLog(damaged, path);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
        CHECK(r.error().message.find(path + ": checkpoint record 1 at offset " +
                                     std::to_string(ends[0])) != std::string::npos);
        CheckpointLogScan scan = scanCheckpointLog(damaged, path);
        CHECK(scan.log.records.size() == 1);
        CHECK(scan.corruption.has_value());

        Bytes garbage = full;
        // Record 1's first bytes are no longer a protobuf.
        for (size_t i = ends[0] + 4; i < ends[0] + 12; ++i)
            garbage[i] = 0xff;
        auto g = parseCheckpointLog(garbage, path);
        REQUIRE_FALSE(g.ok());
        CHECK(g.error().code == Errc::Format);
    }

    SECTION("a record declaring more than the limit, followed by data, is a format error")
    {
        Bytes big = full;
        big[ends[1]] = 0x7f;
        auto r = parseCheckpointLog(big, path);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Format);
    }
}
