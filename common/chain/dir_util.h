#pragma once

// Small directory helpers of the chain library (not part of its interface).

#include <string>
#include <vector>

#include "common/base/error.h"

namespace bwc::chain
{

// Names (not paths) of the regular files in `dir`, sorted.
Expected<std::vector<std::string>> listFiles(const std::string &dir);
// Removes a file; Errc::NotFound when it does not exist.
Expected<void> removeFile(const std::string &path);
// Renames a file within one file system (replacing `to` if it exists).
Expected<void> renameFile(const std::string &from, const std::string &to);
bool endsWith(const std::string &text, const std::string &suffix);

} // namespace bwc::chain
