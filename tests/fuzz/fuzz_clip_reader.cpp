// libFuzzer harness of the BWCCLIP v1 reader: open() (fixed header, ClipHeader), read()
// without the key (record structure, file hash), unlock() with a fixed recipient key, and
// read() with decryption, plain and with interruptedCounts at the counts found. The seed
// clips in tests/fuzz/corpus/fuzz_clip_reader/ are sealed to that key, so mutations reach
// the decryption and final-chunk rules.
//
// Any error is a fine outcome; the harness looks for crashes, leaks, undefined behaviour
// and plaintext released from a chunk that did not authenticate.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#include <google/protobuf/stubs/logging.h>

#include "common/base/bytes.h"
#include "common/base/unique_fd.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace {

const bwc::crypto::Backend &backend()
{
    static const std::unique_ptr<bwc::crypto::Backend> b = bwc::crypto::makeOpensslBackend();
    return *b;
}

// The seed corpus's recipient: the same scalar as fuzzRecipientKey() in
// tests/unit/common/container/clip_test_util.cpp, which generates the seeds.
const bwc::crypto::P256KeyPair &recipient()
{
    static const bwc::crypto::P256KeyPair key = [] {
        bwc::crypto::P256KeyPair k;
        auto scalar = bwc::fromHex("6b7e1b3a2f5c4d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5");
        if (!scalar)
            std::abort();
        k.priv = bwc::crypto::P256Scalar(*scalar);
        auto pub = backend().p256PublicFromPrivate(k.priv);
        if (!pub)
            std::abort();
        k.pub = *pub;
        return k;
    }();
    return key;
}

// One sink call: the plaintext must be readable in full (ASan checks the bounds).
bwc::Expected<void> consume(uint8_t, bwc::ByteView plaintext)
{
    volatile uint8_t sum = 0;
    for (uint8_t b : plaintext)
        sum = uint8_t(sum + b);
    (void)sum;
    return {};
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // Mutated headers make protobuf log every invalid UTF-8 string; the reader already
    // turns them into errors, so the log lines are only noise here.
    google::protobuf::SetLogHandler(nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The reader takes a path; an in-memory file keeps the disk out of the loop.
    bwc::UniqueFd fd(::memfd_create("fuzz-clip", MFD_CLOEXEC));
    if (!fd.isValid())
        std::abort();
    size_t written = 0;
    while (written < size) {
        const ssize_t n = ::write(fd.get(), data + written, size - written);
        if (n <= 0)
            std::abort();
        written += size_t(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd.get());

    auto reader = bwc::container::ClipReader::open(backend(), path);
    if (!reader)
        return 0;
    bwc::container::ClipReader &r = **reader;
    (void)bwc::container::uuidToString(r.clipUuid());

    bwc::container::ReadOptions structure;
    auto shape = r.read(structure);

    if (!r.unlock(recipient()))
        return 0;
    bwc::container::ReadOptions full;
    full.decrypt = true;
    full.sink = consume;
    auto plain = r.read(full);
    if (plain && !shape)
        std::abort(); // decryption accepted what the structural pass refused

    if (shape) {
        std::map<uint8_t, uint64_t> counts;
        for (const auto &[id, totals] : shape->streams)
            counts[id] = totals.chunks;
        bwc::container::ReadOptions interrupted = full;
        interrupted.interruptedCounts = counts;
        auto partial = r.read(interrupted);
        if (plain && !partial)
            std::abort(); // a complete clip must also pass at its own exact counts
        if (partial && partial->ciphertextSha256 != shape->ciphertextSha256)
            std::abort();
    }
    return 0;
}
