#include "common/base/file.h"

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

namespace bwc {

std::string errnoText(int err)
{
    return std::strerror(err);
}

std::string parentDirectory(const std::string &path)
{
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

std::string baseName(const std::string &path)
{
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

static Error ioError(const std::string &what, const std::string &path, int err)
{
    Errc code = Errc::Io;
    if (err == ENOENT)
        code = Errc::NotFound;
    else if (err == EEXIST)
        code = Errc::Exists;
    else if (err == ENOSPC || err == EDQUOT)
        code = Errc::NoSpace;
    return Error(code, path + ": " + what + " failed: " + errnoText(err));
}

Expected<size_t> readSome(int fd, MutableByteView buf, const std::string &what)
{
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n >= 0)
            return size_t(n);
        if (errno != EINTR)
            return ioError("read", what, errno);
    }
}

Expected<void> writeAll(int fd, ByteView data, const std::string &what)
{
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ioError("write", what, errno);
        }
        off += size_t(n);
    }
    return {};
}

Expected<void> fsyncDirectory(const std::string &dir)
{
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.isValid())
        return ioError("open directory", dir, errno);
    if (::fsync(fd.get()) != 0)
        return ioError("fsync directory", dir, errno);
    return {};
}

namespace {

class PosixWritableFile final : public WritableFile {
public:
    PosixWritableFile(UniqueFd fd, std::string path, uint64_t size)
        : fd_(std::move(fd)), path_(std::move(path)), size_(size)
    {
    }

    Expected<void> append(ByteView data) override
    {
        auto r = writeAll(fd_.get(), data, path_);
        if (!r)
            return r;
        size_ += data.size();
        return {};
    }

    Expected<void> sync() override
    {
        if (::fdatasync(fd_.get()) != 0)
            return ioError("fdatasync", path_, errno);
        return {};
    }

    uint64_t size() const override { return size_; }
    const std::string &path() const override { return path_; }

private:
    UniqueFd fd_;
    std::string path_;
    uint64_t size_;
};

// 0, or the errno of the failed pwrite.
int pwriteAll(int fd, const uint8_t *data, size_t len, uint64_t offset)
{
    while (len > 0) {
        const ssize_t n = ::pwrite(fd, data, len, off_t(offset));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        data += n;
        len -= size_t(n);
        offset += uint64_t(n);
    }
    return 0;
}

// See createDirectFile. The file is [0, base_) on the device (or the page cache, or being
// written by the writer thread) and [base_, base_ + fill_) in the current staging
// buffer; base_ is a multiple of kBlock. A full buffer goes to the writer thread while the
// other one fills, so that appending never waits for the device unless it is behind.
class DirectWritableFile final : public WritableFile {
public:
    static constexpr size_t kBlock = 4096;
    static constexpr size_t kStage = 4u << 20;

    static Expected<std::unique_ptr<WritableFile>> open(UniqueFd direct, UniqueFd buffered,
                                                        std::string path, uint64_t size)
    {
        std::unique_ptr<DirectWritableFile> f(
            new DirectWritableFile(std::move(direct), std::move(buffered), std::move(path)));
        if (!f->stage_[0] || !f->stage_[1])
            return Error(Errc::Io, f->path_ + ": no memory for two " + std::to_string(kStage) +
                                       "-byte write buffers");
        // Resuming: the partial last block is staged again, to be rewritten whole.
        f->base_ = size / kBlock * kBlock;
        f->fill_ = size_t(size - f->base_);
        size_t got = 0;
        while (got < f->fill_) {
            const ssize_t n = ::pread(f->buffered_.get(), f->stage() + got, f->fill_ - got,
                                      off_t(f->base_ + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n < 0 ? ioError("read", f->path_, errno)
                             : Error(Errc::Io, f->path_ + ": shrank while it was opened");
            got += size_t(n);
        }
        f->writer_ = std::thread([raw = f.get()] { raw->run(); });
        return std::unique_ptr<WritableFile>(std::move(f));
    }

    ~DirectWritableFile() override
    {
        {
            std::unique_lock lock(mutex_);
            // A buffer handed over is written before the file closes.
            cv_.wait(lock, [&] { return !pending_; });
            stop_ = true;
        }
        cv_.notify_all();
        if (writer_.joinable())
            writer_.join();
    }

    Expected<void> append(ByteView data) override
    {
        while (!data.empty()) {
            const size_t n = std::min(data.size(), kStage - fill_);
            std::memcpy(stage() + fill_, data.data(), n);
            fill_ += n;
            data = data.subspan(n);
            if (fill_ == kStage)
                BWC_TRY(handOver());
        }
        return {};
    }

    Expected<void> flush() override
    {
        BWC_TRY(waitForWriter());
        return writeStaged();
    }

    Expected<void> sync() override
    {
        BWC_TRY(waitForWriter());
        if (::fdatasync(direct_.get()) != 0)
            return ioError("fdatasync", path_, errno);
        return {};
    }

    uint64_t size() const override { return base_ + fill_; }
    const std::string &path() const override { return path_; }

private:
    struct Free {
        void operator()(uint8_t *p) const { std::free(p); }
    };
    using Buffer = std::unique_ptr<uint8_t, Free>;

    DirectWritableFile(UniqueFd direct, UniqueFd buffered, std::string path)
        : direct_(std::move(direct)), buffered_(std::move(buffered)), path_(std::move(path)),
          stage_{Buffer(static_cast<uint8_t *>(std::aligned_alloc(kBlock, kStage))),
                 Buffer(static_cast<uint8_t *>(std::aligned_alloc(kBlock, kStage)))}
    {
    }

    uint8_t *stage() { return stage_[current_].get(); }

    // Whole blocks, past the page cache while the file system allows it; 0 or an errno.
    int writeBlocks(const uint8_t *data, size_t len, uint64_t offset)
    {
        int err = pwriteAll(directOk_ ? direct_.get() : buffered_.get(), data, len, offset);
        if (err == EINVAL && directOk_) {
            // The file system took O_DIRECT at open but not for this write: buffered.
            directOk_ = false;
            err = pwriteAll(buffered_.get(), data, len, offset);
        }
        return err;
    }

    void run()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || pending_; });
            if (stop_)
                return;
            const uint8_t *data = stage_[jobBuffer_].get();
            const uint64_t offset = jobOffset_;
            lock.unlock();
            const int err = writeBlocks(data, kStage, offset);
            lock.lock();
            if (err != 0 && error_ == 0)
                error_ = err;
            pending_ = false;
            cv_.notify_all();
        }
    }

    Expected<void> waitForWriter()
    {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !pending_; });
        if (error_ != 0)
            return ioError("write", path_, error_);
        return {};
    }

    // The full current buffer to the writer thread; appending goes on in the other one.
    Expected<void> handOver()
    {
        BWC_TRY(waitForWriter());
        {
            std::lock_guard lock(mutex_);
            jobBuffer_ = current_;
            jobOffset_ = base_;
            pending_ = true;
        }
        cv_.notify_all();
        current_ ^= 1;
        base_ += kStage;
        fill_ = 0;
        return {};
    }

    // On the appending thread, the writer idle: whole blocks straight to the device, the
    // rest through the page cache; the partial block stays staged.
    Expected<void> writeStaged()
    {
        const size_t whole = fill_ / kBlock * kBlock;
        if (whole > 0) {
            if (const int err = writeBlocks(stage(), whole, base_); err != 0)
                return ioError("write", path_, err);
        }
        const size_t tail = fill_ - whole;
        if (tail > 0) {
            const int err = pwriteAll(buffered_.get(), stage() + whole, tail, base_ + whole);
            if (err != 0)
                return ioError("write", path_, err);
        }
        if (whole > 0) {
            std::memmove(stage(), stage() + whole, tail);
            base_ += whole;
            fill_ = tail;
        }
        return {};
    }

    UniqueFd direct_, buffered_;
    std::string path_;
    Buffer stage_[2];
    size_t current_ = 0;
    uint64_t base_ = 0;
    size_t fill_ = 0;
    bool directOk_ = true; // the writer's while pending_, the appending thread's otherwise

    std::mutex mutex_;
    std::condition_variable cv_;
    bool pending_ = false, stop_ = false;
    size_t jobBuffer_ = 0;
    uint64_t jobOffset_ = 0;
    int error_ = 0; // the first failed write's errno; the file is unusable after it
    std::thread writer_; // last: joined before the rest goes
};

// Opens `path` twice, with and without O_DIRECT; a file system that refuses O_DIRECT
// gets a buffered file.
Expected<std::unique_ptr<WritableFile>> openDirect(const std::string &path, bool create)
{
    const int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    UniqueFd buffered(::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0),
                             0640));
    if (!buffered.isValid())
        return ioError(create ? "create" : "open for append", path, errno);
    if (create)
        BWC_TRY(fsyncDirectory(parentDirectory(path)));
    struct stat st {};
    if (::fstat(buffered.get(), &st) != 0)
        return ioError("stat", path, errno);
    UniqueFd direct(::open(path.c_str(), (flags & ~(O_CREAT | O_EXCL)) | O_DIRECT));
    if (!direct.isValid()) {
        if (errno != EINVAL)
            return ioError("open for direct writing", path, errno);
        if (::lseek(buffered.get(), 0, SEEK_END) < 0)
            return ioError("seek", path, errno);
        return std::unique_ptr<WritableFile>(
            new PosixWritableFile(std::move(buffered), path, uint64_t(st.st_size)));
    }
    return DirectWritableFile::open(std::move(direct), std::move(buffered), path,
                                    uint64_t(st.st_size));
}

} // namespace

Expected<std::unique_ptr<WritableFile>> createFile(const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (!fd.isValid())
        return ioError("create", path, errno);
    auto r = fsyncDirectory(parentDirectory(path));
    if (!r)
        return std::move(r).error();
    return std::unique_ptr<WritableFile>(new PosixWritableFile(std::move(fd), path, 0));
}

Expected<std::unique_ptr<WritableFile>> openForAppend(const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd.isValid())
        return ioError("open for append", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return ioError("stat", path, errno);
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(std::move(fd), path, uint64_t(st.st_size)));
}

Expected<std::unique_ptr<WritableFile>> createDirectFile(const std::string &path)
{
    return openDirect(path, true);
}

Expected<std::unique_ptr<WritableFile>> openDirectForAppend(const std::string &path)
{
    return openDirect(path, false);
}

Expected<Bytes> readFile(const std::string &path, uint64_t maxBytes)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return ioError("open", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return ioError("stat", path, errno);
    if (uint64_t(st.st_size) > maxBytes)
        return Error(Errc::Format, path + ": file is " + std::to_string(st.st_size) +
                                       " bytes, more than the " + std::to_string(maxBytes) +
                                       " expected here; is it the right file?");
    Bytes out(size_t(st.st_size));
    size_t off = 0;
    while (off < out.size()) {
        auto n = readSome(fd.get(), MutableByteView(out).subspan(off), path);
        if (!n)
            return std::move(n).error();
        if (*n == 0)
            break;
        off += *n;
    }
    out.resize(off);
    return out;
}

Expected<std::string> readTextFile(const std::string &path, uint64_t maxBytes)
{
    auto b = readFile(path, maxBytes);
    if (!b)
        return std::move(b).error();
    return std::string(b->begin(), b->end());
}

Expected<void> atomicReplace(const std::string &path, ByteView data, unsigned mode)
{
    std::string tmp = path + ".tmp";
    // A stale temp file from a crash may have a looser mode than `mode`: start afresh.
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
        return ioError("remove stale", tmp, errno);
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
        if (!fd.isValid())
            return ioError("create", tmp, errno);
        auto r = writeAll(fd.get(), data, tmp);
        if (!r) {
            ::unlink(tmp.c_str());
            return r;
        }
        if (::fsync(fd.get()) != 0) {
            int err = errno;
            ::unlink(tmp.c_str());
            return ioError("fsync", tmp, err);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return ioError("rename to " + path, tmp, err);
    }
    return fsyncDirectory(parentDirectory(path));
}

Expected<void> truncateFile(const std::string &path, uint64_t length)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.isValid())
        return ioError("open", path, errno);
    if (::ftruncate(fd.get(), off_t(length)) != 0)
        return ioError("truncate", path, errno);
    if (::fsync(fd.get()) != 0)
        return ioError("fsync", path, errno);
    return {};
}

Expected<void> makeDirectories(const std::string &path, unsigned mode)
{
    if (path.empty())
        return {};
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        partial = path.substr(0, pos);
        if (partial.empty())
            continue;
        if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
            return ioError("mkdir", partial, errno);
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Error(Errc::Io, path + ": exists but is not a directory");
    return {};
}

bool pathExists(const std::string &path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

Expected<uint64_t> fileSize(const std::string &path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return ioError("stat", path, errno);
    return uint64_t(st.st_size);
}

} // namespace bwc
