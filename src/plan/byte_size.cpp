// SPDX-License-Identifier: MIT
// Parsing and printing byte sizes; strict, so a typo never becomes a silently wrong cap.
#include "plan/byte_size.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace moefit {
namespace {

constexpr double kMaxBytes = 1152921504606846976.0;  // 2^60: far beyond any machine

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// Splits "1.5GiB" into the number 1.5 and the unit "gib"; throws when the number is malformed.
std::pair<double, std::string> SplitNumber(std::string_view original) {
  const std::string_view text = Trim(original);
  size_t end = 0;
  bool digits = false, dot = false;
  while (end < text.size()) {
    const char c = text[end];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++end;
  }
  if (!digits) Fail("'{}' is not a size: expected a number such as 18G, 512M or 0.8", original);
  double value = 0;
  const auto [ptr, error] = std::from_chars(text.data(), text.data() + end, value);
  if (error != std::errc() || ptr != text.data() + end || !std::isfinite(value))
    Fail("'{}' is not a size: bad number", original);
  return {value, Lower(Trim(text.substr(end)))};
}

uint64_t UnitMultiplier(std::string_view unit, std::string_view original) {
  if (unit.empty() || unit == "b") return 1;
  static constexpr std::pair<char, uint64_t> kUnits[] = {
      {'k', 1ull << 10}, {'m', 1ull << 20}, {'g', 1ull << 30}, {'t', 1ull << 40}};
  for (const auto& [letter, multiplier] : kUnits) {
    if (unit.front() != letter) continue;
    const std::string_view rest = unit.substr(1);
    if (rest.empty() || rest == "b" || rest == "ib") return multiplier;
  }
  Fail("'{}' is not a size: unknown unit '{}' (use K, M, G or T, binary: 1G = 1024 MiB)", original, unit);
}

}  // namespace

uint64_t ParseByteSize(std::string_view text) {
  const auto [value, unit] = SplitNumber(text);
  const double bytes = std::floor(value * static_cast<double>(UnitMultiplier(unit, text)));
  if (bytes > kMaxBytes) Fail("'{}' is too large for a memory size", text);
  return static_cast<uint64_t>(bytes);
}

BudgetSpec ParseBudgetSpec(std::string_view text) {
  const auto [value, unit] = SplitNumber(text);
  BudgetSpec spec;
  if (unit.empty() && value <= 1.0) {
    spec.fraction = value;  // "0.8" of the device; "0" and "1" are fractions too
  } else if (unit.empty() && std::floor(value) != value) {
    Fail("'{}' is ambiguous: give a fraction in [0, 1] (0.8) or a size with a unit (1.5G)", text);
  } else {
    spec.bytes = ParseByteSize(text);
  }
  return spec;
}

uint64_t BudgetSpec::Resolve(uint64_t device_total) const {
  if (bytes) return *bytes;
  if (fraction) return static_cast<uint64_t>(std::floor(*fraction * static_cast<double>(device_total)));
  return device_total;
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::string FormatThousands(int64_t number) {
  const std::string digits = fmt::format("{}", number < 0 ? -number : number);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return number < 0 ? "-" + out : out;
}

}  // namespace moefit
