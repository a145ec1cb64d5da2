// SPDX-License-Identifier: MIT
// Test helpers for the quant layer: random rows, error measures, quantize/dequantize wrappers.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "quant/dtype_traits.h"

namespace moefit::test {

enum class Distribution { kNormal, kHeavyTailed };

// `count` values: standard normal, or Student-t with 3 degrees of freedom (heavy tails, as
// real weight matrices have a few large outliers).
inline std::vector<float> RandomValues(Distribution distribution, int64_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> student(3.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& value : values) value = distribution == Distribution::kNormal ? normal(generator) : student(generator);
  return values;
}

// sum (a - b)^2 / sum a^2
inline double NormalisedMse(const std::vector<float>& reference, const std::vector<float>& values) {
  double error = 0, energy = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double diff = static_cast<double>(reference[i]) - values[i];
    error += diff * diff;
    energy += static_cast<double>(reference[i]) * reference[i];
  }
  return energy > 0 ? error / energy : error;
}

inline double Norm(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

inline double ExactDot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

// Rows of `row_length` quantized one at a time (as files are written).
inline std::vector<uint8_t> Quantize(DType type, const std::vector<float>& values, int64_t row_length) {
  const int64_t rows = static_cast<int64_t>(values.size()) / row_length;
  const int64_t row_bytes = RowBytes(type, row_length);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) QuantizeRow(type, values.data() + r * row_length, bytes.data() + r * row_bytes, row_length);
  return bytes;
}

inline std::vector<float> Dequantize(DType type, const std::vector<uint8_t>& bytes, int64_t elements) {
  std::vector<float> values(static_cast<size_t>(elements));
  DequantizeRow(type, bytes.data(), values.data(), elements);
  return values;
}

}  // namespace moefit::test
