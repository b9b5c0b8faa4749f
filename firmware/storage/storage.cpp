#include "firmware/storage/storage.h"

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <string_view>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/base/file.h"

namespace bwc::fw {

namespace {

constexpr uint64_t kMiB = 1ull << 20;

struct DirCloser {
    void operator()(DIR *dir) const { ::closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

bool endsWith(std::string_view text, std::string_view suffix)
{
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string mibFloor(uint64_t bytes)
{
    return std::to_string(bytes / kMiB) + " MiB";
}

std::string mibCeil(uint64_t bytes)
{
    return std::to_string((bytes + kMiB - 1) / kMiB) + " MiB";
}

std::string mibPerSecond(uint64_t bytesPerSecond)
{
    char text[48];
    std::snprintf(text, sizeof text, "%.1f MiB/s", double(bytesPerSecond) / double(kMiB));
    return text;
}

std::string trimTrailingSlashes(std::string path)
{
    while (path.size() > 1 && path.back() == '/')
        path.pop_back();
    return path;
}

struct DirTotals {
    uint64_t bytes = 0;
    uint32_t clips = 0;
};

// Sums the regular files of `dir` that `select` accepts; a missing directory is empty.
template <typename Select> Expected<DirTotals> sumFiles(const std::string &dir, Select select)
{
    DirTotals totals;
    UniqueDir handle(::opendir(dir.c_str()));
    if (!handle) {
        if (errno == ENOENT)
            return totals;
        return Error(Errc::Io, "storage " + dir + ": cannot list the directory: " +
                                   errnoText(errno) + "; check its permissions");
    }
    const int dirFd = ::dirfd(handle.get());
    while (true) {
        errno = 0;
        const dirent *entry = ::readdir(handle.get());
        if (entry == nullptr) {
            if (errno != 0)
                return Error(Errc::Io, "storage " + dir +
                                           ": reading the directory failed: " + errnoText(errno));
            break;
        }
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..")
            continue;
        struct stat st = {};
        if (::fstatat(dirFd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; // removed since it was listed (offload wiping it)
            return Error(Errc::Io, "storage " + dir + "/" + std::string(name) +
                                       ": stat failed: " + errnoText(errno));
        }
        if (!S_ISREG(st.st_mode) || !select(name, totals))
            continue;
        totals.bytes += uint64_t(st.st_size);
    }
    return totals;
}

struct Space {
    uint64_t totalBytes = 0;
    uint64_t freeBytes = 0;
};

Expected<Space> fileSystemSpace(const std::string &dir)
{
    struct statvfs vfs = {};
    if (::statvfs(dir.c_str(), &vfs) != 0)
        return Error(Errc::Io, "storage " + dir + ": statvfs failed: " + errnoText(errno) +
                                   "; check that the clip file system is mounted");
    return Space{uint64_t(vfs.f_blocks) * vfs.f_frsize, uint64_t(vfs.f_bavail) * vfs.f_frsize};
}

} // namespace

StorageLevel storageLevelFor(uint64_t freeBytes, uint32_t usedPercent, uint64_t reserveBytes,
                             uint32_t warnPercent)
{
    if (freeBytes < reserveBytes)
        return StorageLevel::Full;
    if (usedPercent >= warnPercent)
        return StorageLevel::Warning;
    return StorageLevel::Ok;
}

uint32_t usedPercentFor(uint64_t totalBytes, uint64_t freeBytes)
{
    if (totalBytes == 0)
        return 100;
    if (freeBytes >= totalBytes)
        return 0;
    // ceil(used * 100 / total) without a 128-bit product (32-bit Arm has no __int128):
    // 100 steps of long division, every intermediate below totalBytes.
    const uint64_t used = totalBytes - freeBytes;
    uint32_t percent = 0;
    uint64_t remainder = 0;
    for (int i = 0; i < 100; ++i) {
        if (remainder >= totalBytes - used) {
            remainder -= totalBytes - used;
            ++percent;
        } else {
            remainder += used;
        }
    }
    return percent + (remainder != 0 ? 1 : 0);
}

Expected<Storage> Storage::open(const StorageSettings &settings)
{
    StorageSettings s = settings;
    s.clipDir = trimTrailingSlashes(s.clipDir);
    if (s.clipDir.empty())
        return Error(Errc::Config,
                     "storage: no clip directory configured; set storage.path in the config");
    if (s.warnPercent == 0 || s.warnPercent > 100)
        return Error(Errc::Config, "storage " + s.clipDir + ": warn percentage " +
                                       std::to_string(s.warnPercent) +
                                       " is outside 1-100; fix storage.warn_percent");

    const std::string parent = parentDirectory(s.clipDir);
    if (auto made = makeDirectories(parent, 0755); !made)
        return Error(Errc::Io, "storage " + s.clipDir + ": cannot create the parent directory (" +
                                   made.error().message + "); check storage.path");
    if (::mkdir(s.clipDir.c_str(), 0700) != 0 && errno != EEXIST)
        return Error(Errc::Io, "storage " + s.clipDir + ": cannot create the clip directory: " +
                                   errnoText(errno) + "; check storage.path and its parent");
    struct stat st = {};
    if (::stat(s.clipDir.c_str(), &st) != 0)
        return Error(Errc::Io, "storage " + s.clipDir + ": stat failed: " + errnoText(errno));
    if (!S_ISDIR(st.st_mode))
        return Error(Errc::Io,
                     "storage " + s.clipDir + ": exists but is not a directory; fix storage.path");
    // With the effective ids and capabilities: what the daemon itself may do.
    if (::faccessat(AT_FDCWD, s.clipDir.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
        return Error(Errc::Io, "storage " + s.clipDir + ": the clip directory is not writable (" +
                                   errnoText(errno) +
                                   "); fix its owner and mode or choose another storage.path");
    return Storage(std::move(s));
}

Expected<StorageUsage> Storage::usage() const
{
    const std::string &dir = settings_.clipDir;
    BWC_ASSIGN(space, fileSystemSpace(dir));
    StorageUsage usage;
    usage.totalBytes = space.totalBytes;
    usage.freeBytes = space.freeBytes;

    BWC_ASSIGN(clips, sumFiles(dir, [](std::string_view name, DirTotals &totals) {
                   if (endsWith(name, ".bwcclip")) {
                       ++totals.clips;
                       return true;
                   }
                   return endsWith(name, ".ckpt");
               }));
    BWC_ASSIGN(manifests,
               sumFiles(dir + "/manifests", [](std::string_view, DirTotals &) { return true; }));
    usage.clipBytes = clips.bytes + manifests.bytes;
    usage.clipCount = clips.clips;
    usage.usedPercent = usedPercentFor(usage.totalBytes, usage.freeBytes);
    usage.level = storageLevelFor(usage.freeBytes, usage.usedPercent, settings_.reserveBytes,
                                  settings_.warnPercent);
    return usage;
}

Expected<void> Storage::admitClip(uint64_t bytesPerSecond, uint32_t minSeconds) const
{
    BWC_ASSIGN(now, fileSystemSpace(settings_.clipDir));
    const uint64_t needed = bytesPerSecond * minSeconds + settings_.reserveBytes;
    if (now.freeBytes >= needed)
        return {};
    return Error(Errc::NoSpace, "storage " + settings_.clipDir + ": " + mibFloor(now.freeBytes) +
                                    " free, a clip needs at least " + mibCeil(needed) + " (" +
                                    std::to_string(minSeconds) + " s at " +
                                    mibPerSecond(bytesPerSecond) + " plus the " +
                                    mibCeil(settings_.reserveBytes) +
                                    " reserve); dock the camera to offload");
}

Expected<void> Storage::checkRecording() const
{
    BWC_ASSIGN(now, fileSystemSpace(settings_.clipDir));
    if (now.freeBytes >= settings_.reserveBytes)
        return {};
    return Error(Errc::NoSpace, "storage " + settings_.clipDir + ": " + mibFloor(now.freeBytes) +
                                    " free, below the " + mibCeil(settings_.reserveBytes) +
                                    " reserve kept for sealing; the clip is sealed now; dock "
                                    "the camera to offload");
}

} // namespace bwc::fw
