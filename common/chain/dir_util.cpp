#include "common/chain/dir_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/file.h"

namespace bwc::chain
{

namespace
{

Error fileError(const std::string &what, const std::string &path, int err)
{
    Errc code = err == ENOENT ? Errc::NotFound : err == ENOSPC ? Errc::NoSpace : Errc::Io;
    return Error(code, path + ": " + what + " failed: " + errnoText(err));
}

struct DirCloser {
    void operator()(DIR *d) const { ::closedir(d); }
};

} // namespace

Expected<std::vector<std::string>> listFiles(const std::string &dir)
{
    std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
    if (!d)
        return fileError("list directory", dir, errno);
    std::vector<std::string> names;
    for (;;) {
        errno = 0;
        struct dirent *e = ::readdir(d.get());
        if (!e) {
            if (errno != 0)
                return fileError("list directory", dir, errno);
            break;
        }
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        struct stat st {
        };
        if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; // removed meanwhile
        if (S_ISREG(st.st_mode))
            names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    return names;
}

Expected<void> removeFile(const std::string &path)
{
    if (::unlink(path.c_str()) != 0)
        return fileError("remove", path, errno);
    return {};
}

Expected<void> renameFile(const std::string &from, const std::string &to)
{
    if (::rename(from.c_str(), to.c_str()) != 0)
        return fileError("rename to " + to, from, errno);
    return {};
}

bool endsWith(const std::string &text, const std::string &suffix)
{
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace bwc::chain
