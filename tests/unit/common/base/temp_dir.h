#pragma once

// A temporary folder for a test, removed with everything in it when the test is done,
// and files written into it.

#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace bwc::test {

class TempDir
{
public:
    // A new folder "<temp>/<prefix>-XXXXXX"; its path is canonical (no symbolic links),
    // so that it compares equal to paths resolved against it.
    explicit TempDir(std::string_view prefix = "bwc-test")
    {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = std::filesystem::canonical(tmpl).string();
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

    // Writes `text` to `name` (relative to the folder; parent folders are created) and
    // returns the file's path.
    std::string write(const std::string &name, const std::string &text) const
    {
        std::string p = path_ + "/" + name;
        std::filesystem::create_directories(std::filesystem::path(p).parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

private:
    std::string path_;
};

} // namespace bwc::test
