// SPDX-License-Identifier: MIT
// Byte sizes as people type them ("18G", "512M", "0.8" of a device) and as they read them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moefit {

// Parses "18G", "18GiB", "1.5g", "512M", "64K", "1T", "17179869184". Units are binary
// (K = 1024) and case-insensitive; "B" / "iB" after the unit are optional. Throws moefit::Error
// on anything else (empty, negative, unknown unit, NaN, more than 2^60 bytes).
uint64_t ParseByteSize(std::string_view text);

// A memory budget as given on the command line: absolute bytes, or a fraction of the device's
// total memory. A bare number in [0, 1] is a fraction ("0.8"); "0" means no memory at all.
struct BudgetSpec {
  std::optional<uint64_t> bytes;
  std::optional<double> fraction;  // in [0, 1]

  bool given() const { return bytes.has_value() || fraction.has_value(); }
  // The cap for a device of `device_total` bytes.
  uint64_t Resolve(uint64_t device_total) const;
};
BudgetSpec ParseBudgetSpec(std::string_view text);

// "17.28 GiB", "512.00 MiB", "900 B".
std::string FormatByteSize(uint64_t bytes);
// "1,055,232".
std::string FormatThousands(int64_t number);

}  // namespace moefit
