// SPDX-License-Identifier: MIT
// Minimal leveled logging to stderr; the level comes from MOEFIT_LOG (error|warn|info|debug).
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace moefit {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

LogLevel CurrentLogLevel();
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, std::string_view text);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level <= CurrentLogLevel()) LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace moefit
