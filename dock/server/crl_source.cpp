#include "dock/server/crl_source.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/base/file.h"
#include "common/base/log.h"
#include "common/crypto/pem.h"

namespace bwc::dock {

CrlSource::CrlSource(std::string path, std::vector<Bytes> initialDer)
    : path_(std::move(path)), der_(std::move(initialDer))
{
    std::lock_guard lock(mutex_);
    refreshLocked();
}

void CrlSource::refreshLocked()
{
    if (path_.empty())
        return;
    struct stat st{};
    if (::stat(path_.c_str(), &st) != 0) {
        if (mtimeNs_ != -2)
            log::warn("CRL " + path_ + ": " + errnoText(errno) +
                      "; keeping the CRL loaded before (write the agency CRL with `bwc pki "
                      "revoke` or `bwc pki crl`)");
        mtimeNs_ = -2;
        return;
    }
    const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime == mtimeNs_ && int64_t(st.st_size) == size_ && uint64_t(st.st_ino) == inode_)
        return;
    mtimeNs_ = mtime;
    size_ = int64_t(st.st_size);
    inode_ = uint64_t(st.st_ino);
    auto blocks = crypto::readPemFile(path_, "X509 CRL");
    if (!blocks) {
        log::warn("CRL " + path_ + ": " + blocks.error().message +
                  "; keeping the CRL loaded before");
        return;
    }
    if (*blocks != der_) {
        der_ = std::move(*blocks);
        ++generation_;
    }
}

std::vector<Bytes> CrlSource::current()
{
    std::lock_guard lock(mutex_);
    refreshLocked();
    return der_;
}

uint64_t CrlSource::generation()
{
    std::lock_guard lock(mutex_);
    refreshLocked();
    return generation_;
}

} // namespace bwc::dock
