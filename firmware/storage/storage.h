#pragma once

// The camera's clip storage: free-space accounting over the clip directory's file
// system, the warning and full levels, and admission of a new clip. Clips are never
// overwritten or deleted here: only a verified dock receipt frees them (offload).

#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "firmware/recorder/recorder_logic.h"

namespace bwc::fw {

struct StorageSettings {
    std::string clipDir;
    // Warn at this percentage of the file system used.
    uint32_t warnPercent = 90;
    // Kept free at all times for checkpoints, manifests and sealing.
    uint64_t reserveBytes = 64ull << 20;
};

struct StorageUsage {
    uint64_t totalBytes = 0;
    uint64_t freeBytes = 0; // available to us (f_bavail), reserve not subtracted
    uint64_t clipBytes = 0; // bytes in clip, checkpoint and manifest files (*.bwcclip,
                            // *.ckpt, and every file in manifests/)
    uint32_t clipCount = 0; // sealed or in-progress clip files (*.bwcclip)
    uint32_t usedPercent = 0;
    StorageLevel level = StorageLevel::Ok;
};

// The level for the numbers of a usage: Full when less than the reserve is free, Warning
// when at least warnPercent of the file system is used, else Ok.
StorageLevel storageLevelFor(uint64_t freeBytes, uint32_t usedPercent, uint64_t reserveBytes,
                             uint32_t warnPercent);
// The share of the file system not available to us (f_blocks - f_bavail), rounded up as df
// does; 100 for a file system of size 0.
uint32_t usedPercentFor(uint64_t totalBytes, uint64_t freeBytes);

class Storage
{
public:
    // Creates the clip directory if needed (0700; missing parents 0755); Errc::Config for an
    // empty path or a warnPercent outside 1-100, Errc::Io naming the directory when it
    // cannot be created, is not a directory, or is not writable.
    static Expected<Storage> open(const StorageSettings &settings);

    Expected<StorageUsage> usage() const;
    // Whether a clip of about `bytesPerSecond` can start: it needs at least `minSeconds`
    // of recording plus the reserve. Errc::NoSpace with the free and needed bytes
    // otherwise (the recorder refuses to start with the storage-full signal).
    Expected<void> admitClip(uint64_t bytesPerSecond, uint32_t minSeconds = 10) const;
    // While recording: NoSpace when less than the reserve remains, so the clip is sealed
    // cleanly before the file system fills.
    Expected<void> checkRecording() const;

    const StorageSettings &settings() const { return settings_; }

private:
    explicit Storage(StorageSettings settings) : settings_(std::move(settings)) {}
    StorageSettings settings_;
};

} // namespace bwc::fw
