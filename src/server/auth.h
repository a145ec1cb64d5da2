// SPDX-License-Identifier: MIT
// API-key checks: the bearer token of an Authorization header, compared in constant time.
#pragma once

#include <string_view>

namespace moefit {

// The token of "Bearer <token>" (scheme case-insensitive), or empty.
std::string_view BearerToken(std::string_view authorization);

// Compares without an early exit: the time depends on the length of `expected` only, so a
// client cannot find the key byte by byte from response times.
bool ConstantTimeEquals(std::string_view given, std::string_view expected);

}  // namespace moefit
