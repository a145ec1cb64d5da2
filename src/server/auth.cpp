// SPDX-License-Identifier: MIT
// Bearer-token parsing and the constant-time comparison.
#include "server/auth.h"

#include <cctype>
#include <cstdint>

namespace moefit {

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is compared, against `given` or against itself when `given` is
  // shorter; a length mismatch alone already fails.
  volatile uint8_t difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const uint8_t a = i < given.size() ? static_cast<uint8_t>(given[i]) : static_cast<uint8_t>(~expected[i]);
    difference = static_cast<uint8_t>(difference | (a ^ static_cast<uint8_t>(expected[i])));
  }
  return difference == 0 && !expected.empty();
}

}  // namespace moefit
