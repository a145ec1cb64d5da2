// SPDX-License-Identifier: MIT
// Scalar reference for Q6_K (6-bit levels, sixteen int8-scaled sub-blocks of 16) and Q8_K
// (the K-quants' activation format: float scale, int8 levels, sums of each 16).
#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "quant/k_quants.h"
#include "quant/quant_util.h"
#include "quant/scale_search.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kQ6_K, sizeof(BlockQ6_K), kQK_K));
static_assert(BlockMatchesLayout(DType::kQ8_K, sizeof(BlockQ8_K), kQK_K));

namespace {

// Where element e's bits live (see BlockQ6_K): e = 128h + 32k + l.
inline int LowByte(int e) { return 64 * (e / 128) + e % 32 + 32 * ((e % 128 / 32) & 1); }
inline int LowShift(int e) { return 4 * (e % 128 / 64); }
inline int HighByte(int e) { return 32 * (e / 128) + e % 32; }
inline int HighShift(int e) { return 2 * (e % 128 / 32); }

// Q6_K levels -32..31 of a block.
void LevelsQ6_K(const BlockQ6_K& block, int* levels) {
  for (int e = 0; e < kQK_K; ++e) {
    const int low = (block.ql[LowByte(e)] >> LowShift(e)) & 0x0f;
    const int high = (block.qh[HighByte(e)] >> HighShift(e)) & 3;
    levels[e] = (low | high << 4) - 32;
  }
}

}  // namespace

// ---- Q6_K ---------------------------------------------------------------------------------

void DequantizeRowQ6_K(const void* src, float* dst, int64_t elements) {
  int levels[kQK_K];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ6_K>(src, b);
    const float d = Fp16ToFloat(block.d);
    LevelsQ6_K(block, levels);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) y[e] = d * block.scales[e / 16] * levels[e];
  }
}

// Per sub-block: symmetric 6-bit fit with a sweep of trial scales; the sixteen scales are
// quantized to int8 against the largest, then the levels are redone with the rounded scales.
void QuantizeRowQ6_K(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    uint8_t levels[kQK_K];
    float scales[16];
    float max_scale = 0, max_abs = 0;
    for (int sub = 0; sub < 16; ++sub) {
      scales[sub] = SymmetricScaleSearch(16, 32, x + 16 * sub, levels + 16 * sub);
      if (std::fabs(scales[sub]) > max_abs) {
        max_abs = std::fabs(scales[sub]);
        max_scale = scales[sub];
      }
    }
    BlockQ6_K block{};
    if (max_abs > 0) {
      const float inverse = -128 / max_scale;
      block.d = FloatToFp16(1 / inverse);
      for (int sub = 0; sub < 16; ++sub)
        block.scales[sub] = static_cast<int8_t>(Clamp(NearestInt(inverse * scales[sub]), -128, 127));
      for (int sub = 0; sub < 16; ++sub) {
        const float scale = Fp16ToFloat(block.d) * block.scales[sub];
        if (scale == 0) continue;
        for (int l = 0; l < 16; ++l)
          levels[16 * sub + l] = static_cast<uint8_t>(Clamp(NearestInt(x[16 * sub + l] / scale), -32, 31) + 32);
      }
      for (int e = 0; e < kQK_K; ++e) {
        block.ql[LowByte(e)] |= static_cast<uint8_t>((levels[e] & 0x0f) << LowShift(e));
        block.qh[HighByte(e)] |= static_cast<uint8_t>((levels[e] >> 4) << HighShift(e));
      }
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowQ6_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  int levels[kQK_K];
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ6_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    LevelsQ6_K(x, levels);
    int scaled_sum = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int sub_sum = 0;
      for (int l = 0; l < 16; ++l) sub_sum += levels[16 * sub + l] * y.qs[16 * sub + l];
      scaled_sum += x.scales[sub] * sub_sum;
    }
    sum += (Fp16ToFloat(x.d) * y.d) * scaled_sum;
  }
  return sum;
}

// ---- Q8_K ---------------------------------------------------------------------------------

void DequantizeRowQ8_K(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ8_K>(src, b);
    for (int e = 0; e < kQK_K; ++e) dst[b * kQK_K + e] = block.d * block.qs[e];
  }
}

// The largest-magnitude value maps to -127 (the scale takes its sign); levels are clamped to
// 127. bsums[j] is the sum of levels 16j .. 16j + 15.
void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    float max = 0, amax = 0;
    for (int e = 0; e < kQK_K; ++e) {
      if (std::fabs(x[e]) > amax) {
        amax = std::fabs(x[e]);
        max = x[e];
      }
    }
    BlockQ8_K block{};
    if (amax != 0) {
      const float inverse = -127 / max;
      for (int e = 0; e < kQK_K; ++e) block.qs[e] = static_cast<int8_t>(std::min(127, NearestInt(inverse * x[e])));
      for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += block.qs[16 * j + l];
        block.bsums[j] = static_cast<int16_t>(sum);
      }
      block.d = 1 / inverse;
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowQ8_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ8_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    int sumi = 0;
    for (int e = 0; e < kQK_K; ++e) sumi += x.qs[e] * y.qs[e];
    sum += (x.d * y.d) * sumi;
  }
  return sum;
}

}  // namespace moefit
