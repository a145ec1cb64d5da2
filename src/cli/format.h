// SPDX-License-Identifier: MIT
// Human-readable numbers for the CLI: byte sizes, parameter counts, percentages.
#pragma once

#include <cstdint>
#include <string>

namespace moefit {

std::string FormatBytes(uint64_t bytes);    // "17.28 GiB", "512 B"
std::string FormatCount(int64_t count);     // "30.53 B", "3.35 M", "512"
std::string FormatGrouped(int64_t number);  // "1,055,232"

}  // namespace moefit
