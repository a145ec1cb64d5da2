// SPDX-License-Identifier: MIT
// Scalar reference for Q2_K and Q3_K (2- and 3-bit levels, sixteen sub-blocks of 16).
#include <cmath>

#include "core/half.h"
#include "quant/k_quants.h"
#include "quant/quant_util.h"
#include "quant/scale_search.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kQ2_K, sizeof(BlockQ2_K), kQK_K));
static_assert(BlockMatchesLayout(DType::kQ3_K, sizeof(BlockQ3_K), kQK_K));

namespace {

// Position of element e's two low bits (shared by Q2_K and Q3_K): byte and shift in qs.
inline int LowBitsByte(int e) { return 32 * (e / 128) + e % 32; }
inline int LowBitsShift(int e) { return 2 * (e % 128 / 32); }

void PackLowBits(const uint8_t* levels, uint8_t* qs) {
  for (int i = 0; i < 64; ++i) qs[i] = 0;
  for (int e = 0; e < kQK_K; ++e) qs[LowBitsByte(e)] |= static_cast<uint8_t>((levels[e] & 3) << LowBitsShift(e));
}

// Q2_K levels 0..3 of a block.
void LevelsQ2_K(const BlockQ2_K& block, int* levels) {
  for (int e = 0; e < kQK_K; ++e) levels[e] = (block.qs[LowBitsByte(e)] >> LowBitsShift(e)) & 3;
}

// Q3_K levels -4..3 of a block: the missing high bit subtracts 4.
void LevelsQ3_K(const BlockQ3_K& block, int* levels) {
  for (int e = 0; e < kQK_K; ++e) {
    const int low = (block.qs[LowBitsByte(e)] >> LowBitsShift(e)) & 3;
    const bool high = (block.hmask[e % 32] >> (e / 32)) & 1;
    levels[e] = low - (high ? 0 : 4);
  }
}

}  // namespace

// ---- Q2_K ---------------------------------------------------------------------------------

void DequantizeRowQ2_K(const void* src, float* dst, int64_t elements) {
  int levels[kQK_K];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ2_K>(src, b);
    const float d = Fp16ToFloat(block.d);
    const float dmin = Fp16ToFloat(block.dmin);
    LevelsQ2_K(block, levels);
    float* y = dst + b * kQK_K;
    for (int sub = 0; sub < 16; ++sub) {
      const float scale = d * (block.scales[sub] & 0x0f);
      const float min = dmin * (block.scales[sub] >> 4);
      for (int l = 0; l < 16; ++l) y[16 * sub + l] = scale * levels[16 * sub + l] - min;
    }
  }
}

// Per sub-block: affine fit (scale, min) weighted by |x| minimising absolute error; then the
// sixteen scales and mins are quantized to 4 bits against their maxima and the levels redone
// with the rounded scales.
void QuantizeRowQ2_K(const float* src, void* dst, int64_t elements) {
  constexpr AffineSearch kSearch{.nmax = 3, .rmin = -0.5f, .rdelta = 0.1f, .steps = 15, .use_abs = true};
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    uint8_t levels[kQK_K];
    float scales[16], mins[16], weights[16];
    float max_scale = 0, max_min = 0;
    for (int sub = 0; sub < 16; ++sub) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * sub + l]);
      scales[sub] = AffineScaleSearch(16, x + 16 * sub, weights, levels + 16 * sub, &mins[sub], kSearch);
      max_scale = std::fmax(max_scale, scales[sub]);
      max_min = std::fmax(max_min, mins[sub]);
    }
    BlockQ2_K block{};
    if (max_scale > 0) {
      const float inverse = 15 / max_scale;
      for (int sub = 0; sub < 16; ++sub)
        block.scales[sub] = static_cast<uint8_t>(Clamp(NearestInt(inverse * scales[sub]), 0, 15));
      block.d = FloatToFp16(max_scale / 15);
    }
    if (max_min > 0) {
      const float inverse = 15 / max_min;
      for (int sub = 0; sub < 16; ++sub)
        block.scales[sub] |= static_cast<uint8_t>(Clamp(NearestInt(inverse * mins[sub]), 0, 15) << 4);
      block.dmin = FloatToFp16(max_min / 15);
    }
    for (int sub = 0; sub < 16; ++sub) {
      const float scale = Fp16ToFloat(block.d) * (block.scales[sub] & 0x0f);
      if (scale == 0) continue;
      const float min = Fp16ToFloat(block.dmin) * (block.scales[sub] >> 4);
      for (int l = 0; l < 16; ++l)
        levels[16 * sub + l] = static_cast<uint8_t>(Clamp(NearestInt((x[16 * sub + l] + min) / scale), 0, 3));
    }
    PackLowBits(levels, block.qs);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ2_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  int levels[kQK_K];
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ2_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    LevelsQ2_K(x, levels);
    int scaled_sum = 0, min_sum = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int sub_sum = 0;
      for (int l = 0; l < 16; ++l) sub_sum += levels[16 * sub + l] * y.qs[16 * sub + l];
      scaled_sum += (x.scales[sub] & 0x0f) * sub_sum;
      min_sum += (x.scales[sub] >> 4) * y.bsums[sub];
    }
    const float d = y.d * Fp16ToFloat(x.d);
    const float dmin = y.d * Fp16ToFloat(x.dmin);
    sum += d * scaled_sum - dmin * min_sum;
  }
  return sum;
}

// ---- Q3_K ---------------------------------------------------------------------------------

void DequantizeRowQ3_K(const void* src, float* dst, int64_t elements) {
  int levels[kQK_K], scales[16];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ3_K>(src, b);
    const float d = Fp16ToFloat(block.d);
    LevelsQ3_K(block, levels);
    UnpackScalesQ3_K(block.scales, scales);
    float* y = dst + b * kQK_K;
    for (int sub = 0; sub < 16; ++sub) {
      const float scale = d * scales[sub];
      for (int l = 0; l < 16; ++l) y[16 * sub + l] = scale * levels[16 * sub + l];
    }
  }
}

// Per sub-block: symmetric 3-bit fit refined level by level; the sixteen scales are quantized to
// 6 bits against the largest, then the levels are redone with the rounded scales.
void QuantizeRowQ3_K(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    uint8_t levels[kQK_K];
    float scales[16];
    float max_scale = 0, max_abs = 0;
    for (int sub = 0; sub < 16; ++sub) {
      scales[sub] = SymmetricScaleRefine(16, 4, x + 16 * sub, levels + 16 * sub);
      if (std::fabs(scales[sub]) > max_abs) {
        max_abs = std::fabs(scales[sub]);
        max_scale = scales[sub];
      }
    }
    BlockQ3_K block{};
    if (max_scale != 0) {
      const float inverse = -32 / max_scale;
      for (int sub = 0; sub < 16; ++sub) {
        const int l = Clamp(NearestInt(inverse * scales[sub]), -32, 31) + 32;
        block.scales[sub % 8] |= static_cast<uint8_t>((l & 0x0f) << (4 * (sub / 8)));
        block.scales[8 + sub % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (sub / 4)));
      }
      block.d = FloatToFp16(1 / inverse);
    }
    int packed_scales[16];
    UnpackScalesQ3_K(block.scales, packed_scales);
    for (int sub = 0; sub < 16; ++sub) {
      const float scale = Fp16ToFloat(block.d) * packed_scales[sub];
      if (scale == 0) continue;
      for (int l = 0; l < 16; ++l)
        levels[16 * sub + l] = static_cast<uint8_t>(Clamp(NearestInt(x[16 * sub + l] / scale), -4, 3) + 4);
    }
    for (int e = 0; e < kQK_K; ++e) {
      if (levels[e] > 3) {
        block.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
        levels[e] -= 4;
      }
    }
    PackLowBits(levels, block.qs);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ3_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  int levels[kQK_K], scales[16];
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ3_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    LevelsQ3_K(x, levels);
    UnpackScalesQ3_K(x.scales, scales);
    int scaled_sum = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int sub_sum = 0;
      for (int l = 0; l < 16; ++l) sub_sum += levels[16 * sub + l] * y.qs[16 * sub + l];
      scaled_sum += scales[sub] * sub_sum;
    }
    sum += (Fp16ToFloat(x.d) * y.d) * scaled_sum;
  }
  return sum;
}

}  // namespace moefit
