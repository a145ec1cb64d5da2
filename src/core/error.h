// SPDX-License-Identifier: MIT
// moefit::Error (bad input, refused plans, broken invariants) and the CHECK macros.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace moefit {

// Thrown for anything a user must hear about: a corrupt file, an unknown architecture, a plan
// over budget, a malformed request. The message carries the context needed to act on it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Formats and throws moefit::Error.
template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void FailCheck(const char* condition, const char* file, int line);

}  // namespace moefit

// Invariant that must hold whatever the input: a failure is a bug in moefit, reported as an
// Error (the library never exits).
#define MOEFIT_CHECK(condition)                                          \
  do {                                                                   \
    if (!(condition)) ::moefit::FailCheck(#condition, __FILE__, __LINE__); \
  } while (0)

// The same, for hot loops: compiled out of release builds.
#ifdef NDEBUG
#define MOEFIT_DCHECK(condition) \
  do {                           \
  } while (0)
#else
#define MOEFIT_DCHECK(condition) MOEFIT_CHECK(condition)
#endif
