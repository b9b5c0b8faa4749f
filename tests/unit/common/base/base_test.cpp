#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/base/file.h"

using namespace bwc;

namespace {

std::string makeTempDir()
{
    char tmpl[] = "/tmp/bwc-base-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    return tmpl;
}

Expected<int> half(int v)
{
    if (v % 2)
        return Error(Errc::Usage, std::to_string(v) + " is odd");
    return v / 2;
}

Expected<int> quarter(int v)
{
    BWC_ASSIGN(h, half(v));
    return half(h);
}

} // namespace

TEST_CASE("Expected carries a value or an error with context")
{
    REQUIRE(quarter(8).value() == 2);
    auto bad = quarter(6);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.error().code == Errc::Usage);
    REQUIRE(bad.error().message == "3 is odd");
    REQUIRE(bad.error().context("clip 1").message == "clip 1: 3 is odd");
}

TEST_CASE("hex round trip and rejection of malformed hex")
{
    Bytes b = {0x00, 0xab, 0xff, 0x10};
    REQUIRE(toHex(b) == "00abff10");
    REQUIRE(fromHex("00ABff10").value() == b);
    REQUIRE_FALSE(fromHex("abc"));
    REQUIRE_FALSE(fromHex("zz"));
}

TEST_CASE("hexDigitValue accepts 0-9, a-f and A-F only")
{
    CHECK(hexDigitValue('0') == 0);
    CHECK(hexDigitValue('9') == 9);
    CHECK(hexDigitValue('a') == 10);
    CHECK(hexDigitValue('F') == 15);
    for (char c : {'g', 'G', '/', ':', '@', '`', ' ', '\0', '\xff'})
        CHECK(hexDigitValue(c) == -1);
}

TEST_CASE("constant-time compare")
{
    Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
    REQUIRE(constantTimeEqual(a, b));
    REQUIRE_FALSE(constantTimeEqual(a, c));
    REQUIRE_FALSE(constantTimeEqual(a, Bytes{1, 2}));
}

TEST_CASE("UTC formatting and parsing round trip")
{
    int64_t t = 1'763'890'491'123;
    std::string s = formatUtcMs(t);
    REQUIRE(s == "2025-11-23T09:34:51.123Z");
    REQUIRE(parseUtcMs(s).value() == t);
    REQUIRE(parseUtcMs("2025-11-23T09:34:51Z").value() == t - 123);
    REQUIRE_FALSE(parseUtcMs("2025-13-23T09:34:51Z"));
    REQUIRE_FALSE(parseUtcMs("yesterday"));
}

TEST_CASE("atomic replace leaves either the old or the new content")
{
    std::string dir = makeTempDir();
    std::string path = dir + "/head";
    REQUIRE(atomicReplace(path, asBytes("one")));
    REQUIRE(readTextFile(path).value() == "one");
    REQUIRE(atomicReplace(path, asBytes("two")));
    REQUIRE(readTextFile(path).value() == "two");
    REQUIRE_FALSE(pathExists(path + ".tmp"));
    auto missing = atomicReplace(dir + "/no/such/dir/file", asBytes("x"));
    REQUIRE_FALSE(missing);
    REQUIRE(missing.error().code == Errc::NotFound);
    REQUIRE(std::system(("rm -rf " + dir).c_str()) == 0);
}

TEST_CASE("createFile refuses to overwrite; append and size")
{
    std::string dir = makeTempDir();
    std::string path = dir + "/clip";
    auto f = createFile(path);
    REQUIRE(f);
    REQUIRE((*f)->append(asBytes("abc")));
    REQUIRE((*f)->sync());
    REQUIRE((*f)->size() == 3);
    auto again = createFile(path);
    REQUIRE_FALSE(again);
    REQUIRE(again.error().code == Errc::Exists);
    auto g = openForAppend(path);
    REQUIRE(g);
    REQUIRE((*g)->size() == 3);
    REQUIRE((*g)->append(asBytes("de")));
    REQUIRE(readTextFile(path).value() == "abcde");
    REQUIRE(truncateFile(path, 2));
    REQUIRE(readTextFile(path).value() == "ab");
    REQUIRE(std::system(("rm -rf " + dir).c_str()) == 0);
}

TEST_CASE("direct files: staged blocks, a flushed tail, resuming at an unaligned size")
{
    std::string dir = makeTempDir();
    std::string path = dir + "/incoming";
    // Bytes that differ at every offset, so that a block written at the wrong place shows.
    Bytes data(9u << 20);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = uint8_t(i * 2654435761u >> 13);
    auto f = createDirectFile(path);
    REQUIRE(f);
    REQUIRE_FALSE(createDirectFile(path));
    // Pieces of odd sizes across the 4 MiB staging buffer and its 4 KiB blocks.
    size_t at = 0, step = 1;
    const size_t firstPart = (5u << 20) + 12345;
    while (at < firstPart) {
        const size_t n = std::min(step, firstPart - at);
        REQUIRE((*f)->append(ByteView(data.data() + at, n)));
        at += n;
        step = step * 3 % 1000003 + 1;
    }
    CHECK((*f)->size() == firstPart);
    // flush + sync make all of it readable and durable, the unaligned tail included.
    REQUIRE((*f)->flush());
    REQUIRE((*f)->sync());
    auto held = readFile(path);
    REQUIRE(held);
    REQUIRE(held->size() == firstPart);
    CHECK(std::equal(held->begin(), held->end(), data.begin()));
    // More after a flush: the tail's block is written again, whole.
    REQUIRE((*f)->append(ByteView(data.data() + at, 100000)));
    at += 100000;
    REQUIRE((*f)->flush());
    f->reset();

    // Resuming reopens at the unaligned end and goes on.
    auto g = openDirectForAppend(path);
    REQUIRE(g);
    CHECK((*g)->size() == at);
    REQUIRE((*g)->append(ByteView(data.data() + at, data.size() - at)));
    REQUIRE((*g)->flush());
    REQUIRE((*g)->sync());
    auto all = readFile(path);
    REQUIRE(all);
    REQUIRE(all->size() == data.size());
    CHECK(*all == data);
    CHECK(openDirectForAppend(dir + "/missing").error().code == Errc::NotFound);
    REQUIRE(std::system(("rm -rf " + dir).c_str()) == 0);

    // tmpfs refuses O_DIRECT: the same calls give an ordinary file there.
    char shm[] = "/dev/shm/bwc-direct-XXXXXX";
    if (::access("/dev/shm", W_OK) == 0 && ::mkdtemp(shm) != nullptr) {
        const std::string p = std::string(shm) + "/f";
        auto h = createDirectFile(p);
        REQUIRE(h);
        REQUIRE((*h)->append(ByteView(data.data(), 5000)));
        REQUIRE((*h)->flush());
        REQUIRE((*h)->sync());
        h->reset();
        auto k = openDirectForAppend(p);
        REQUIRE(k);
        REQUIRE((*k)->size() == 5000);
        REQUIRE((*k)->append(ByteView(data.data() + 5000, 3000)));
        REQUIRE((*k)->flush());
        auto back = readFile(p);
        REQUIRE(back);
        CHECK(*back == Bytes(data.begin(), data.begin() + 8000));
        REQUIRE(std::system(("rm -rf " + std::string(shm)).c_str()) == 0);
    }
}

TEST_CASE("SecretBytes zeroises on shrink")
{
    SecretBytes s(ByteView(Bytes{1, 2, 3, 4}));
    const uint8_t *p = s.data();
    s.resize(2);
    REQUIRE(s.size() == 2);
    // The vector keeps its storage when shrinking; the dropped tail must be zero.
    REQUIRE(p[2] == 0);
    REQUIRE(p[3] == 0);
}
