#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/base/unique_fd.h"

namespace bwc {

// An append-only file. Writers of evidence go through this interface so that tests
// can cut the power between any two steps (see tests/unit/common/chain/power_cut.h).
class WritableFile {
public:
    virtual ~WritableFile() = default;
    virtual Expected<void> append(ByteView data) = 0;
    // Hands what append() still holds in memory to the kernel (a direct file's staged
    // bytes; nothing for the others). Call it on the appending thread.
    virtual Expected<void> flush() { return {}; }
    // Makes durable (fdatasync) everything handed to the kernel: all that was appended,
    // for a direct file all up to its last flush() (it waits for the writes in flight).
    // It may run on another thread than append() and flush().
    virtual Expected<void> sync() = 0;
    virtual uint64_t size() const = 0;
    virtual const std::string &path() const = 0;
};

// Creates a new file (fails with Errc::Exists if it exists) and makes its directory
// entry durable.
Expected<std::unique_ptr<WritableFile>> createFile(const std::string &path);
// Opens an existing file for appending at its end.
Expected<std::unique_ptr<WritableFile>> openForAppend(const std::string &path);
// The same for large files written once and seldom read back (received evidence): whole
// 4 KiB blocks are written with O_DIRECT from a staging buffer, past the page cache; the
// unaligned tail goes through the page cache at flush() and is rewritten with its block.
// On a file system without O_DIRECT (tmpfs) they are ordinary buffered files.
Expected<std::unique_ptr<WritableFile>> createDirectFile(const std::string &path);
Expected<std::unique_ptr<WritableFile>> openDirectForAppend(const std::string &path);

Expected<Bytes> readFile(const std::string &path, uint64_t maxBytes = uint64_t(1) << 30);
Expected<std::string> readTextFile(const std::string &path, uint64_t maxBytes = 16u << 20);

// Writes `data` to `path` so that after a crash the path holds either the old or the
// new content, never a mix: write temp, fsync, rename, fsync directory.
Expected<void> atomicReplace(const std::string &path, ByteView data, unsigned mode = 0644);

Expected<void> fsyncDirectory(const std::string &dir);
// Truncates a file to `length` bytes and fsyncs it.
Expected<void> truncateFile(const std::string &path, uint64_t length);
Expected<void> makeDirectories(const std::string &path, unsigned mode = 0755);
bool pathExists(const std::string &path);
Expected<uint64_t> fileSize(const std::string &path);

// Reads up to buf.size() bytes; returns the number read (0 at end of file).
Expected<size_t> readSome(int fd, MutableByteView buf, const std::string &what);
Expected<void> writeAll(int fd, ByteView data, const std::string &what);

std::string parentDirectory(const std::string &path);
std::string baseName(const std::string &path);
// "errno text" for the current errno.
std::string errnoText(int err);

} // namespace bwc
