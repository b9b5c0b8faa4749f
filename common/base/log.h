#pragma once

#include <string_view>

namespace bwc::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// The threshold is read once from BWC_LOG (debug, info, warn, error); default info.
Level threshold();
void setThreshold(Level level);
// Prefix every line with this program name ("bwc-camd").
void setProgram(std::string_view name);

void write(Level level, std::string_view message);
inline void debug(std::string_view m) { write(Level::Debug, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void error(std::string_view m) { write(Level::Error, m); }

} // namespace bwc::log
