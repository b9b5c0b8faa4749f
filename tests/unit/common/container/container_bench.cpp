// Reader throughput against `openssl dgst -sha256` over the same clip, measured in the
// same run (page cache warm for all three):
//   container_bench [--mib N] [--dir D] [--runs R]
// writes an N MiB clip (default 1024) into D (default $TMPDIR or /tmp), times
// `openssl dgst -sha256`, ClipReader::read without the key (structure + file hash) and
// with the key (decrypt + authenticate + both hashes), prints the ratios, and deletes
// the clip.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "common/base/file.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

using namespace bwc;
using namespace bwc::container;

namespace {

struct Args {
    uint64_t mib = 1024;
    std::string dir;
    int runs = 3;
};

[[noreturn]] void usage(const char *why)
{
    std::fprintf(stderr,
                 "container_bench: %s\nusage: container_bench [--mib N] [--dir D] [--runs R]\n",
                 why);
    std::exit(2);
}

Args parseArgs(int argc, char **argv)
{
    Args a;
    const char *tmp = std::getenv("TMPDIR");
    a.dir = tmp && *tmp ? tmp : "/tmp";
    for (int i = 1; i < argc; ++i) {
        const std::string opt = argv[i];
        if (i + 1 >= argc)
            usage(("option " + opt + " needs a value").c_str());
        const char *value = argv[++i];
        if (opt == "--mib")
            a.mib = std::strtoull(value, nullptr, 10);
        else if (opt == "--dir")
            a.dir = value;
        else if (opt == "--runs")
            a.runs = std::atoi(value);
        else
            usage(("unknown option " + opt).c_str());
    }
    if (a.mib == 0 || a.runs < 1)
        usage("--mib and --runs must be positive");
    return a;
}

double seconds(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

[[noreturn]] void die(const std::string &what, const Error &e)
{
    std::fprintf(stderr, "container_bench: %s: %s\n", what.c_str(), e.message.c_str());
    std::exit(1);
}

// Runs `openssl dgst -sha256 path`; returns the hex digest it printed.
std::string opensslDigest(const std::string &path)
{
    const std::string cmd = "openssl dgst -sha256 -r '" + path + "'";
    FILE *p = ::popen(cmd.c_str(), "r");
    if (!p) {
        std::perror("container_bench: popen");
        std::exit(1);
    }
    char line[256] = {};
    const bool got = std::fgets(line, sizeof(line), p) != nullptr;
    if (::pclose(p) != 0 || !got) {
        std::fprintf(stderr, "container_bench: '%s' failed\n", cmd.c_str());
        std::exit(1);
    }
    return std::string(line, strcspn(line, " \n"));
}

// Removes the clip on every way out of main().
struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() { ::unlink(path.c_str()); }
};

} // namespace

int main(int argc, char **argv)
{
    const Args args = parseArgs(argc, argv);
    const auto backend = crypto::makeOpensslBackend();
    auto key = backend->p256Generate();
    if (!key)
        die("key", key.error());
    auto uuid = newClipUuid(*backend);
    if (!uuid)
        die("uuid", uuid.error());

    const std::string path = args.dir + "/bench-" + uuidToString(*uuid) + ".bwcclip";
    RemoveOnExit cleanup{path};

    // Write: 1 MiB media appends with a metadata record each, a flush every 4 MiB.
    WriterState written;
    {
        auto file = createFile(path);
        if (!file)
            die("create", file.error());
        WriterOptions o;
        o.clipUuid = *uuid;
        o.deviceId = "bench";
        o.streams = {StreamSpec{kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
                     StreamSpec{kMetadataStreamId, v1::STREAM_TYPE_METADATA, "metadata"}};
        o.recipients = {key->pub};
        auto writer = ClipWriter::create(*backend, std::move(*file), o);
        if (!writer)
            die("writer", writer.error());
        Bytes media(1u << 20);
        if (auto r = backend->randomBytes(media); !r)
            die("random", r.error());
        const Bytes meta(100, 0x5a);
        const auto start = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < args.mib; ++i) {
            media[0] = uint8_t(i);
            if (auto r = (*writer)->append(kMediaStreamId, media); !r)
                die("append", r.error());
            if (auto r = (*writer)->append(kMetadataStreamId, meta); !r)
                die("append", r.error());
            if (i % 4 == 3) {
                if (auto r = (*writer)->flush(); !r)
                    die("flush", r.error());
            }
        }
        auto done = (*writer)->finish();
        if (!done)
            die("finish", done.error());
        written = *done;
        std::printf("wrote %s: %llu bytes in %.2f s\n", path.c_str(),
                    (unsigned long long)written.ciphertextBytes, seconds(start));
    }
    const std::string expected = toHex(written.ciphertextSha256);

    // Warm the page cache so that every measurement below reads from memory.
    opensslDigest(path);

    double best[3] = {1e9, 1e9, 1e9};
    for (int run = 0; run < args.runs; ++run) {
        auto t = std::chrono::steady_clock::now();
        const std::string digest = opensslDigest(path);
        best[0] = std::min(best[0], seconds(t));
        if (digest != expected) {
            std::fprintf(stderr, "container_bench: openssl says %s, the writer %s\n",
                         digest.c_str(), expected.c_str());
            return 1;
        }

        for (int decrypt = 0; decrypt < 2; ++decrypt) {
            t = std::chrono::steady_clock::now();
            auto reader = ClipReader::open(*backend, path);
            if (!reader)
                die("open", reader.error());
            if (decrypt) {
                if (auto r = (*reader)->unlock(*key); !r)
                    die("unlock", r.error());
            }
            ReadOptions o;
            o.decrypt = decrypt != 0;
            auto result = (*reader)->read(o);
            if (!result)
                die("read", result.error());
            best[1 + decrypt] = std::min(best[1 + decrypt], seconds(t));
            if (result->ciphertextSha256 != written.ciphertextSha256 ||
                (decrypt && result->mediaPlaintextSha256 != written.mediaPlaintextSha256)) {
                std::fprintf(stderr, "container_bench: reader hashes differ from the writer's\n");
                return 1;
            }
        }
    }

    const double mib = double(written.ciphertextBytes) / (1u << 20);
    std::printf("openssl dgst -sha256   %7.3f s  %7.0f MiB/s  1.00x\n", best[0], mib / best[0]);
    std::printf("read without the key   %7.3f s  %7.0f MiB/s  %.2fx\n", best[1], mib / best[1],
                best[1] / best[0]);
    std::printf("read with the key      %7.3f s  %7.0f MiB/s  %.2fx\n", best[2], mib / best[2],
                best[2] / best[0]);
    std::printf("(best of %d runs; targets: without the key <= 1.3x, with the key <= 2.5x)\n",
                args.runs);
    return 0;
}
