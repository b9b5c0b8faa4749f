// Seal and open throughput of the BWCCLIP container, per crypto backend, against
// `openssl speed -evp aes-256-gcm` (64 KiB blocks) measured in the same run.
//   bench_seal_open [--mib N] [--dir D]
// Seal: ClipWriter::append + finish of N MiB of media (AES-256-GCM per 64 KiB chunk,
// SHA-256 of the ciphertext and of the plaintext, fdatasync at the end). Open:
// ClipReader::unlock + read with decryption (authenticate every chunk, both hashes).
// The clip lives in D (default /dev/shm, so the disk is not what is measured). Times are
// CPU seconds of the process, like `openssl speed`'s.

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

#include "common/base/file.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

using namespace bwc;

namespace {

// CPU seconds of the whole process (every thread): `openssl speed` also counts CPU time,
// so the ratio does not depend on what else the machine is doing.
double cpuNow()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

[[noreturn]] void die(const std::string &what, const Error &e)
{
    std::fprintf(stderr, "bench_seal_open: %s: %s\n", what.c_str(), e.message.c_str());
    std::exit(1);
}

// Bytes per second of `openssl speed -evp aes-256-gcm` for 16384-byte blocks (the
// largest block size it reports in every 3.x release).
double opensslSpeed()
{
    FILE *p = ::popen("openssl speed -evp aes-256-gcm -seconds 2 -bytes 65536 2>/dev/null", "r");
    if (!p)
        return 0;
    char line[512];
    double best = 0;
    while (std::fgets(line, sizeof line, p)) {
        // "AES-256-GCM   123456.78k" : the last column is in 1000s of bytes per second.
        std::string s(line);
        if (s.rfind("AES-256-GCM", 0) != 0 && s.rfind("aes-256-gcm", 0) != 0)
            continue;
        auto k = s.rfind('k');
        auto sp = s.rfind(' ', k);
        if (k == std::string::npos || sp == std::string::npos)
            continue;
        best = std::atof(s.substr(sp + 1, k - sp - 1).c_str()) * 1000.0;
    }
    ::pclose(p);
    return best;
}

struct Result {
    double sealBps = 0;
    double openBps = 0;
};

Result measure(const crypto::Backend &backend, uint64_t bytes, const std::string &dir)
{
    auto recipient = backend.p256Generate();
    if (!recipient)
        die("key", recipient.error());
    auto uuid = container::newClipUuid(backend);
    if (!uuid)
        die("uuid", uuid.error());
    std::string path = dir + "/bench-" + container::uuidToString(*uuid) + ".bwcclip";

    container::WriterOptions opts;
    opts.clipUuid = *uuid;
    opts.deviceId = "bench-0001";
    opts.createdUtcMs = 1'760'000'000'000;
    opts.streams = {{container::kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"}};
    opts.recipients = {recipient->pub};

    Bytes block(1 << 20);
    if (auto r = backend.randomBytes(block); !r)
        die("random", r.error());

    Result res;
    {
        auto file = createFile(path);
        if (!file)
            die(path, file.error());
        double start = cpuNow();
        auto writer = container::ClipWriter::create(backend, std::move(*file), opts);
        if (!writer)
            die("writer", writer.error());
        for (uint64_t done = 0; done < bytes; done += block.size())
            if (auto r = (*writer)->append(container::kMediaStreamId, block); !r)
                die("append", r.error());
        if (auto r = (*writer)->finish(); !r)
            die("finish", r.error());
        res.sealBps = double(bytes) / (cpuNow() - start);
    }
    {
        double start = cpuNow();
        auto reader = container::ClipReader::open(backend, path);
        if (!reader)
            die(path, reader.error());
        if (auto r = (*reader)->unlock(*recipient); !r)
            die("unlock", r.error());
        container::ReadOptions ro;
        ro.decrypt = true;
        auto r = (*reader)->read(ro);
        if (!r)
            die("read", r.error());
        res.openBps = double(bytes) / (cpuNow() - start);
    }
    ::unlink(path.c_str());
    return res;
}

} // namespace

int main(int argc, char **argv)
{
    uint64_t mib = 256;
    std::string dir = "/dev/shm";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string opt = argv[i];
        if (opt == "--mib")
            mib = std::strtoull(argv[i + 1], nullptr, 10);
        else if (opt == "--dir")
            dir = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: bench_seal_open [--mib N] [--dir D]\n");
            return 2;
        }
    }
    if (mib == 0 || !pathExists(dir)) {
        std::fprintf(stderr, "bench_seal_open: --mib must be positive and --dir must exist\n");
        return 2;
    }
    const uint64_t bytes = mib << 20;

    double reference = opensslSpeed();
    if (reference <= 0) {
        std::fprintf(stderr, "bench_seal_open: could not run `openssl speed`\n");
        return 1;
    }
    std::printf("reference: openssl speed -evp aes-256-gcm (64 KiB blocks): %.0f MiB/s\n",
                reference / 1048576.0);
    std::printf("%-22s %10s %8s %10s %8s\n", "backend", "seal", "ratio", "open", "ratio");

    std::unique_ptr<crypto::Backend> backends[] = {crypto::makeOpensslBackend(),
                                                   crypto::makeMbedtlsBackend()};
    for (auto &b : backends) {
        // One warm-up pass, then the measured one.
        measure(*b, std::min<uint64_t>(bytes, 32u << 20), dir);
        Result r = measure(*b, bytes, dir);
        std::printf("%-22s %6.0f MiB/s %7.2fx %6.0f MiB/s %7.2fx\n", b->name().c_str(),
                    r.sealBps / 1048576.0, r.sealBps / reference, r.openBps / 1048576.0,
                    r.openBps / reference);
    }
    std::printf("(MiB per CPU second; ratio = ours / openssl's raw AES-256-GCM. Seal and open "
                "also hash the ciphertext and the plaintext with SHA-256, each about twice the "
                "cost of AES-GCM with SHA-NI, so about 0.2x is the ceiling)\n");
    return 0;
}
