// SPDX-License-Identifier: MIT
// Logging sink: one line at a time to stderr, serialised between threads.
#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace moefit {
namespace {

LogLevel LevelFromEnvironment() {
  const char* value = std::getenv("MOEFIT_LOG");
  if (value == nullptr) return LogLevel::kWarn;
  if (std::strcmp(value, "error") == 0) return LogLevel::kError;
  if (std::strcmp(value, "info") == 0) return LogLevel::kInfo;
  if (std::strcmp(value, "debug") == 0) return LogLevel::kDebug;
  return LogLevel::kWarn;
}

std::atomic<int>& LevelStorage() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnvironment())};
  return level;
}

}  // namespace

LogLevel CurrentLogLevel() { return static_cast<LogLevel>(LevelStorage().load(std::memory_order_relaxed)); }

void SetLogLevel(LogLevel level) { LevelStorage().store(static_cast<int>(level)); }

void LogLine(LogLevel level, std::string_view text) {
  static std::mutex mutex;
  static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "moefit %s: %.*s\n", kNames[static_cast<int>(level)], static_cast<int>(text.size()),
               text.data());
}

}  // namespace moefit
