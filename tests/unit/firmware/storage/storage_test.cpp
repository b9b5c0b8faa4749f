#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <linux/capability.h>
#include <string>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/base/bytes.h"
#include "common/base/file.h"
#include "firmware/storage/storage.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// A fresh directory under /tmp, removed at the end of the test.
class TempDir
{
public:
    TempDir()
    {
        char tmpl[] = "/tmp/bwc-storage-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path_ = tmpl;
    }
    ~TempDir()
    {
        const std::string command = "rm -rf '" + path_ + "'";
        if (std::system(command.c_str()) != 0)
            WARN("could not remove " << path_);
    }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

void writeFileOfSize(const std::string &path, size_t size)
{
    REQUIRE(atomicReplace(path, Bytes(size, 0x5a)));
}

uint64_t freeBytesNow(const std::string &path)
{
    struct statvfs vfs = {};
    REQUIRE(::statvfs(path.c_str(), &vfs) == 0);
    return uint64_t(vfs.f_bavail) * vfs.f_frsize;
}

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("storage level: full below the reserve, warning at the percentage, else ok")
{
    const uint64_t reserve = 64 * kMiB;
    REQUIRE(storageLevelFor(100 * kMiB, 50, reserve, 90) == StorageLevel::Ok);
    REQUIRE(storageLevelFor(100 * kMiB, 89, reserve, 90) == StorageLevel::Ok);
    REQUIRE(storageLevelFor(100 * kMiB, 90, reserve, 90) == StorageLevel::Warning);
    REQUIRE(storageLevelFor(100 * kMiB, 100, reserve, 90) == StorageLevel::Warning);
    REQUIRE(storageLevelFor(reserve, 95, reserve, 90) == StorageLevel::Warning);
    REQUIRE(storageLevelFor(reserve - 1, 95, reserve, 90) == StorageLevel::Full);
    // Full wins even on a file system that is mostly empty (a tiny card).
    REQUIRE(storageLevelFor(10 * kMiB, 20, reserve, 90) == StorageLevel::Full);
    REQUIRE(storageLevelFor(0, 100, 0, 90) == StorageLevel::Warning);
}

TEST_CASE("used percentage rounds up like df")
{
    REQUIRE(usedPercentFor(1000, 1000) == 0);
    REQUIRE(usedPercentFor(1000, 999) == 1);  // 0.1 % -> 1
    REQUIRE(usedPercentFor(1000, 100) == 90); // exactly 90
    REQUIRE(usedPercentFor(1000, 101) == 90); // 89.9 -> 90
    REQUIRE(usedPercentFor(1000, 0) == 100);
    REQUIRE(usedPercentFor(0, 0) == 100);
    REQUIRE(usedPercentFor(1000, 2000) == 0); // more available than total: treated as empty
    // No overflow on very large file systems.
    REQUIRE(usedPercentFor(UINT64_MAX, UINT64_MAX / 2) == 51);
}

TEST_CASE("open creates the clip directory with mode 0700")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/data/clips/";
    auto storage = Storage::open(settings);
    REQUIRE(storage);
    REQUIRE(storage->settings().clipDir == tmp.path() + "/data/clips");
    struct stat st = {};
    REQUIRE(::stat((tmp.path() + "/data/clips").c_str(), &st) == 0);
    REQUIRE(S_ISDIR(st.st_mode));
    REQUIRE((st.st_mode & 0777) == 0700);
    // Opening an existing directory works too.
    REQUIRE(Storage::open(settings));
}

TEST_CASE("open refuses a missing path, a bad percentage and a file in the way")
{
    TempDir tmp;
    StorageSettings settings;
    auto empty = Storage::open(settings);
    REQUIRE_FALSE(empty);
    REQUIRE(empty.error().code == Errc::Config);
    REQUIRE(contains(empty.error().message, "storage.path"));

    settings.clipDir = tmp.path() + "/clips";
    settings.warnPercent = 101;
    auto percent = Storage::open(settings);
    REQUIRE_FALSE(percent);
    REQUIRE(percent.error().code == Errc::Config);
    REQUIRE(contains(percent.error().message, "storage.warn_percent"));

    settings.warnPercent = 90;
    writeFileOfSize(tmp.path() + "/clips", 10);
    auto notDir = Storage::open(settings);
    REQUIRE_FALSE(notDir);
    REQUIRE(notDir.error().code == Errc::Io);
    REQUIRE(contains(notDir.error().message, tmp.path() + "/clips: exists but is not a directory"));

    settings.clipDir = tmp.path() + "/clips/inner";
    auto under = Storage::open(settings);
    REQUIRE_FALSE(under);
    REQUIRE(under.error().code == Errc::Io);
    REQUIRE(contains(under.error().message, "storage " + tmp.path() + "/clips/inner"));
}

TEST_CASE("open refuses a directory it cannot write")
{
    TempDir tmp;
    const std::string dir = tmp.path() + "/readonly";
    REQUIRE(::mkdir(dir.c_str(), 0500) == 0);
    REQUIRE(::chmod(dir.c_str(), 0500) == 0);
    // Root would write anyway: take CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH out of the
    // effective set for the check (they stay permitted and are put back).
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[2]{};
    REQUIRE(::syscall(SYS_capget, &header, caps) == 0);
    const __user_cap_data_struct saved[2] = {caps[0], caps[1]};
    caps[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    REQUIRE(::syscall(SYS_capset, &header, caps) == 0);

    StorageSettings settings;
    settings.clipDir = dir;
    auto storage = Storage::open(settings);

    __user_cap_data_struct restore[2] = {saved[0], saved[1]};
    REQUIRE(::syscall(SYS_capset, &header, restore) == 0);
    REQUIRE_FALSE(storage);
    REQUIRE(storage.error().code == Errc::Io);
    REQUIRE(
        contains(storage.error().message,
                 "storage " + dir + ": the clip directory is not writable (Permission denied)"));

    REQUIRE(::chmod(dir.c_str(), 0700) == 0);
    REQUIRE(Storage::open(settings));
}

TEST_CASE("usage counts clip, checkpoint and manifest files on a real directory")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/clips";
    settings.reserveBytes = 0;
    auto storage = Storage::open(settings);
    REQUIRE(storage);

    auto empty = storage->usage();
    REQUIRE(empty);
    REQUIRE(empty->clipBytes == 0);
    REQUIRE(empty->clipCount == 0);

    const std::string dir = settings.clipDir;
    writeFileOfSize(dir + "/0a1b.bwcclip", 100'000);
    writeFileOfSize(dir + "/0a1b.ckpt", 2'000);
    writeFileOfSize(dir + "/77ff.bwcclip", 30'000);
    REQUIRE(makeDirectories(dir + "/manifests", 0700));
    writeFileOfSize(dir + "/manifests/000001.manifest", 700);
    writeFileOfSize(dir + "/manifests/head", 50);
    // Not counted: other files, and directories named like clips.
    writeFileOfSize(dir + "/notes.txt", 5'000);
    writeFileOfSize(dir + "/0a1b.bwcclip.tmp", 5'000);
    REQUIRE(makeDirectories(dir + "/odd.bwcclip", 0700));

    auto usage = storage->usage();
    REQUIRE(usage);
    REQUIRE(usage->clipBytes == 100'000 + 2'000 + 30'000 + 700 + 50);
    REQUIRE(usage->clipCount == 2);

    struct statvfs vfs = {};
    REQUIRE(::statvfs(dir.c_str(), &vfs) == 0);
    REQUIRE(usage->totalBytes == uint64_t(vfs.f_blocks) * vfs.f_frsize);
    REQUIRE(usage->freeBytes <= usage->totalBytes);
    // Other programs write to this file system too: the free space moves a little.
    const uint64_t freeNow = uint64_t(vfs.f_bavail) * vfs.f_frsize;
    REQUIRE(usage->freeBytes + kGiB > freeNow);
    REQUIRE(usage->freeBytes < freeNow + kGiB);
    REQUIRE(usage->usedPercent == usedPercentFor(usage->totalBytes, usage->freeBytes));
    REQUIRE(usage->level ==
            storageLevelFor(usage->freeBytes, usage->usedPercent, 0, settings.warnPercent));
}

TEST_CASE("usage reports the full level when the reserve is larger than the free space")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/clips";
    settings.reserveBytes = freeBytesNow(tmp.path()) + kGiB;
    auto storage = Storage::open(settings);
    REQUIRE(storage);
    auto usage = storage->usage();
    REQUIRE(usage);
    REQUIRE(usage->level == StorageLevel::Full);

    // A warning percentage of 1 on a file system with anything on it: warning.
    settings.reserveBytes = 0;
    settings.warnPercent = 1;
    auto warned = Storage::open(settings);
    REQUIRE(warned);
    auto warnedUsage = warned->usage();
    REQUIRE(warnedUsage);
    REQUIRE(warnedUsage->usedPercent >= 1);
    REQUIRE(warnedUsage->level == StorageLevel::Warning);
}

TEST_CASE("admitClip refuses with NoSpace and the numbers in MiB")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/clips";
    settings.reserveBytes = 64 * kMiB;
    {
        auto storage = Storage::open(settings);
        REQUIRE(storage);
        // 10 s at 1 MiB/s plus 64 MiB: this machine has more than that free.
        REQUIRE(freeBytesNow(tmp.path()) > 200 * kMiB);
        REQUIRE(storage->admitClip(kMiB, 10));
        REQUIRE(storage->checkRecording());
    }

    const uint64_t freeBytes = freeBytesNow(tmp.path());
    settings.reserveBytes = freeBytes + kGiB;
    auto storage = Storage::open(settings);
    REQUIRE(storage);
    auto refused = storage->admitClip(kMiB, 10);
    REQUIRE_FALSE(refused);
    REQUIRE(refused.error().code == Errc::NoSpace);
    const std::string &message = refused.error().message;
    INFO(message);
    REQUIRE(message.rfind("storage " + settings.clipDir + ": ", 0) == 0);
    REQUIRE(contains(message, " MiB free, a clip needs at least "));
    REQUIRE(contains(message, "(10 s at 1.0 MiB/s plus the " +
                                  std::to_string((settings.reserveBytes + kMiB - 1) / kMiB) +
                                  " MiB reserve); dock the camera to offload"));
    // The needed amount is the reserve plus 10 MiB, rounded up to whole MiB.
    const uint64_t neededMiB = (settings.reserveBytes + 10 * kMiB + kMiB - 1) / kMiB;
    REQUIRE(contains(message, "needs at least " + std::to_string(neededMiB) + " MiB"));

    auto recording = storage->checkRecording();
    REQUIRE_FALSE(recording);
    REQUIRE(recording.error().code == Errc::NoSpace);
    REQUIRE(contains(recording.error().message, "reserve kept for sealing"));
    REQUIRE(contains(recording.error().message, "dock the camera to offload"));
}

TEST_CASE("admitClip: the message states the rate and the duration asked for")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/clips";
    settings.reserveBytes = freeBytesNow(tmp.path()) + kGiB;
    auto storage = Storage::open(settings);
    REQUIRE(storage);
    auto refused = storage->admitClip(3 * kMiB / 2, 30);
    REQUIRE_FALSE(refused);
    REQUIRE(refused.error().code == Errc::NoSpace);
    REQUIRE(contains(refused.error().message, "(30 s at 1.5 MiB/s plus the "));
}

TEST_CASE("usage fails with Io naming the directory when it has gone")
{
    TempDir tmp;
    StorageSettings settings;
    settings.clipDir = tmp.path() + "/clips";
    auto storage = Storage::open(settings);
    REQUIRE(storage);
    REQUIRE(::rmdir(settings.clipDir.c_str()) == 0);
    auto usage = storage->usage();
    REQUIRE_FALSE(usage);
    REQUIRE(usage.error().code == Errc::Io);
    REQUIRE(contains(usage.error().message, "storage " + settings.clipDir + ": statvfs failed"));
    auto admit = storage->admitClip(kMiB);
    REQUIRE_FALSE(admit);
    REQUIRE(admit.error().code == Errc::Io);
}
