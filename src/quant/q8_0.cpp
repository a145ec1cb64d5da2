// SPDX-License-Identifier: MIT
// Scalar reference for Q8_0 and Q8_1: 32 int8 levels and an F16 scale (Q8_1 adds d * sum).
// Both double as the quantized activations of the 32-element weight formats.
#include <cmath>

#include "core/half.h"
#include "quant/legacy.h"
#include "quant/quant_util.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kQ8_0, sizeof(BlockQ8_0), kQK32));
static_assert(BlockMatchesLayout(DType::kQ8_1, sizeof(BlockQ8_1), kQK32));

namespace {

// Symmetric round to nearest: d = max|x| / 127, q = round(x / d). Returns the unrounded d and
// the sum of the levels.
float QuantizeLevels(const float* x, int8_t* qs, int& level_sum) {
  float amax = 0;
  for (int j = 0; j < kQK32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float inverse = d != 0 ? 1.0f / d : 0.0f;
  level_sum = 0;
  for (int j = 0; j < kQK32; ++j) {
    qs[j] = static_cast<int8_t>(std::round(x[j] * inverse));
    level_sum += qs[j];
  }
  return d;
}

}  // namespace

void DequantizeRowQ8_0(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ8_0>(src, b);
    const float d = Fp16ToFloat(block.d);
    for (int j = 0; j < kQK32; ++j) dst[b * kQK32 + j] = block.qs[j] * d;
  }
}

void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    BlockQ8_0 block{};
    int level_sum;
    block.d = FloatToFp16(QuantizeLevels(src + b * kQK32, block.qs, level_sum));
    StoreBlock(dst, b, block);
  }
}

float DotRowQ8_0(const void* weights, const void* activations_q8_0, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto x = LoadBlock<BlockQ8_0>(weights, b);
    const auto y = LoadBlock<BlockQ8_0>(activations_q8_0, b);
    int sumi = 0;
    for (int j = 0; j < kQK32; ++j) sumi += x.qs[j] * y.qs[j];
    sum += sumi * (Fp16ToFloat(x.d) * Fp16ToFloat(y.d));
  }
  return sum;
}

void DequantizeRowQ8_1(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ8_1>(src, b);
    const float d = Fp16ToFloat(block.d);
    for (int j = 0; j < kQK32; ++j) dst[b * kQK32 + j] = block.qs[j] * d;
  }
}

void QuantizeRowQ8_1(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    BlockQ8_1 block{};
    int level_sum;
    const float d = QuantizeLevels(src + b * kQK32, block.qs, level_sum);
    block.d = FloatToFp16(d);
    block.s = FloatToFp16(level_sum * d);
    StoreBlock(dst, b, block);
  }
}

}  // namespace moefit
