// SPDX-License-Identifier: MIT
// Scalar reference for F32, F16 and BF16 rows.
#include "quant/float_types.h"

#include <cstring>

#include "core/half.h"
#include "quant/quant_util.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kF32, sizeof(float), 1));
static_assert(BlockMatchesLayout(DType::kF16, sizeof(uint16_t), 1));
static_assert(BlockMatchesLayout(DType::kBF16, sizeof(uint16_t), 1));

namespace {

// Element i of an unaligned row of 16-bit values.
inline uint16_t Load16(const void* row, int64_t i) {
  uint16_t bits;
  std::memcpy(&bits, static_cast<const uint8_t*>(row) + 2 * i, sizeof bits);
  return bits;
}

inline void Store16(void* row, int64_t i, uint16_t bits) {
  std::memcpy(static_cast<uint8_t*>(row) + 2 * i, &bits, sizeof bits);
}

inline float LoadF32(const void* row, int64_t i) {
  float value;
  std::memcpy(&value, static_cast<const uint8_t*>(row) + 4 * i, sizeof value);
  return value;
}

template <float (*kToFloat)(uint16_t)>
float Dot16(const void* weights, const void* activations_f32, int64_t elements) {
  double sum = 0;
  for (int64_t i = 0; i < elements; ++i) sum += kToFloat(Load16(weights, i)) * LoadF32(activations_f32, i);
  return static_cast<float>(sum);
}

}  // namespace

void DequantizeRowF32(const void* src, float* dst, int64_t elements) {
  std::memcpy(dst, src, static_cast<size_t>(elements) * sizeof(float));
}

void QuantizeRowF32(const float* src, void* dst, int64_t elements) {
  std::memcpy(dst, src, static_cast<size_t>(elements) * sizeof(float));
}

float DotRowF32(const void* weights, const void* activations_f32, int64_t elements) {
  double sum = 0;
  for (int64_t i = 0; i < elements; ++i) sum += LoadF32(weights, i) * LoadF32(activations_f32, i);
  return static_cast<float>(sum);
}

void DequantizeRowF16(const void* src, float* dst, int64_t elements) {
  for (int64_t i = 0; i < elements; ++i) dst[i] = Fp16ToFloat(Load16(src, i));
}

void QuantizeRowF16(const float* src, void* dst, int64_t elements) {
  for (int64_t i = 0; i < elements; ++i) Store16(dst, i, FloatToFp16(src[i]));
}

float DotRowF16(const void* weights, const void* activations_f32, int64_t elements) {
  return Dot16<Fp16ToFloat>(weights, activations_f32, elements);
}

void DequantizeRowBF16(const void* src, float* dst, int64_t elements) {
  for (int64_t i = 0; i < elements; ++i) dst[i] = Bf16ToFloat(Load16(src, i));
}

void QuantizeRowBF16(const float* src, void* dst, int64_t elements) {
  for (int64_t i = 0; i < elements; ++i) Store16(dst, i, FloatToBf16(src[i]));
}

float DotRowBF16(const void* weights, const void* activations_f32, int64_t elements) {
  return Dot16<Bf16ToFloat>(weights, activations_f32, elements);
}

}  // namespace moefit
