// Seed clips for the fuzz harness tests/fuzz/fuzz_clip_reader.cpp, sealed to the key that
// harness unlocks with: valid clips and some of the adversarial cases, each under 4 KiB.
//
// The hidden case writes them to $BWC_CLIP_CORPUS_DIR:
//   BWC_CLIP_CORPUS_DIR=tests/fuzz/corpus/fuzz_clip_reader test_container "[corpus]"
// The visible case checks that the seeds are what they claim to be.

#include <cstdlib>
#include <filesystem>

#include "tests/unit/common/container/clip_test_util.h"

using namespace bwc;
using namespace bwc::container;
using namespace bwc::container::test;

namespace {

struct Seed {
    std::string name;
    Bytes data;
    bool valid = false; // verifies with the fuzz key (interruptedCounts from its structure)
};

std::vector<Step> smallSteps(uint32_t seed)
{
    return {appendStep(kMediaStreamId, patternBytes(300, seed)),
            appendStep(kMetadataStreamId, patternBytes(40, seed + 1)),
            flushStep(),
            appendStep(kMediaStreamId, patternBytes(200, seed + 2)),
            flushStep(),
            appendStep(kMediaStreamId, patternBytes(120, seed + 3)),
            appendStep(kMetadataStreamId, patternBytes(30, seed + 4)),
            finishStep()};
}

std::vector<Seed> makeSeeds(const crypto::Backend &backend, const TempDir &dir)
{
    const crypto::P256KeyPair key = fuzzRecipientKey(backend);
    std::vector<Seed> seeds;
    auto write = [&](const std::string &name, const std::vector<Step> &steps) {
        writeClip(backend, dir.file(name), defaultOptions(backend, {key.pub}), steps);
        return readBytes(dir.file(name));
    };

    const Bytes small = write("small", smallSteps(1));
    const ClipLayout layout = layoutOf(small);
    // s0c0 s1c0 s0c1 s0c2(final) s1c1(final)
    REQUIRE(layout.records.size() == 5);
    seeds.push_back({"valid-small", small, true});
    seeds.push_back({"valid-empty", write("empty", {finishStep()}), true});
    {
        std::vector<Step> steps = smallSteps(10);
        steps.pop_back();
        seeds.push_back({"valid-interrupted", write("interrupted", steps), true});
    }
    auto variant = [&](const std::string &name, auto &&mutate, bool valid = false) {
        Bytes data = small;
        mutate(data);
        seeds.push_back({name, std::move(data), valid});
    };
    variant("tag-flip", [&](Bytes &d) {
        const RecordRef &r = layout.records[2];
        d[r.offset + r.size() - 1] ^= 0x01;
    });
    variant("ciphertext-flip", [&](Bytes &d) { d[layout.records[0].offset + 7] ^= 0x20; });
    variant("truncated-body", [&](Bytes &d) { d.resize(layout.records[3].offset + 20); });
    variant("truncated-record-header", [&](Bytes &d) { d.resize(layout.records[3].offset + 2); });
    // Accepted as an INTERRUPTED clip at exactly its chunk counts, refused otherwise.
    variant(
        "truncated-at-boundary", [&](Bytes &d) { d.resize(layout.records[3].offset); }, true);
    variant("bad-version", [&](Bytes &d) { putU16(d.data() + 8, 2); });
    variant("oversized-length",
            [&](Bytes &d) { putU32(d.data() + layout.records[1].offset + 1, kMaxRecordLen + 1); });
    variant("unknown-stream", [&](Bytes &d) { d[layout.records[1].offset] = 9; });
    variant("data-after-final", [&](Bytes &d) {
        const Bytes r = recordBytes(small, layout.records[0]);
        d.insert(d.end(), r.begin(), r.end());
    });
    variant("reordered", [&](Bytes &d) {
        std::vector<Bytes> recs;
        for (const RecordRef &r : layout.records)
            recs.push_back(recordBytes(small, r));
        std::swap(recs[0], recs[2]);
        d = joinRecords(ByteView(small).first(layout.headerEnd), recs);
    });
    variant("header-len-past-eof", [&](Bytes &d) { putU32(d.data() + 12, uint32_t(d.size())); });
    return seeds;
}

// Reads a seed the way the harness does.
bool seedVerifies(const crypto::Backend &backend, const std::string &path)
{
    auto structure = readClip(backend, path, nullptr);
    if (!structure.ok())
        return false;
    std::map<uint8_t, uint64_t> counts;
    for (const auto &[id, t] : structure->result.streams)
        counts[id] = t.chunks;
    const crypto::P256KeyPair key = fuzzRecipientKey(backend);
    return readClip(backend, path, &key, counts).ok();
}

} // namespace

TEST_CASE("fuzz seed clips are small and verify as labelled")
{
    CLIP_EACH_BACKEND(backend);
    TempDir dir;
    for (const Seed &s : makeSeeds(backend, dir)) {
        INFO("seed " << s.name);
        CHECK(s.data.size() < 4096);
        const std::string path = dir.file("seed-" + s.name);
        writeBytes(path, s.data);
        CHECK(seedVerifies(backend, path) == s.valid);
    }
}

TEST_CASE("the committed fuzz seeds open with the harness's key")
{
    CLIP_EACH_BACKEND(backend);
    const std::filesystem::path corpus =
        std::filesystem::path(BWC_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "fuzz_clip_reader";
    REQUIRE(std::filesystem::is_directory(corpus));
    TempDir dir;
    std::map<std::string, bool> expected;
    for (const Seed &s : makeSeeds(backend, dir))
        expected[s.name] = s.valid;
    size_t checked = 0;
    for (const auto &entry : std::filesystem::directory_iterator(corpus)) {
        const std::string name = entry.path().stem().string();
        auto it = expected.find(name);
        if (it == expected.end())
            continue;
        INFO("seed " << entry.path().string());
        CHECK(entry.file_size() < 4096);
        CHECK(seedVerifies(backend, entry.path().string()) == it->second);
        ++checked;
    }
    CHECK(checked == expected.size());
}

TEST_CASE("write the fuzz seed corpus", "[.][corpus]")
{
    const char *out = std::getenv("BWC_CLIP_CORPUS_DIR");
    REQUIRE(out != nullptr);
    std::filesystem::create_directories(out);
    const crypto::Backend &backend = backendFor(backendKinds().front());
    TempDir dir;
    for (const Seed &s : makeSeeds(backend, dir))
        writeBytes(std::string(out) + "/" + s.name + ".bwcclip", s.data);
}
