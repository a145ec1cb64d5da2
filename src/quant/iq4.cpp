// SPDX-License-Identifier: MIT
// Scalar reference for IQ4_NL and IQ4_XS (4-bit indices into a fixed non-linear level table).
#include <cmath>

#include "core/half.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"
#include "quant/legacy.h"
#include "quant/quant_util.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kIQ4_NL, sizeof(BlockIQ4_NL), 32));
static_assert(BlockMatchesLayout(DType::kIQ4_XS, sizeof(BlockIQ4_XS), kQK_K));

namespace {

constexpr float kGroupMaxEpsilon = 1e-15f;

// Scale d for 32 values so that x ~ d * kIQ4Levels[level], minimising sum x^2 (x - d level)^2.
// The table is asymmetric, so both signs of d are tried: the start maps the largest value to
// +127, then 15 trial scales map it near -127. Fills `levels`; returns 0 for a zero group.
float GroupScale(const float* x, uint8_t* levels) {
  float max = 0, amax = 0;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < kGroupMaxEpsilon) {
    for (int j = 0; j < 32; ++j) levels[j] = 0;
    return 0;
  }
  auto fit = [&](float inverse_scale, float& sum_qx, float& sum_q2, uint8_t* out) {
    sum_qx = 0;
    sum_q2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = NearestLevel(kIQ4Levels, inverse_scale * x[j]);
      const float q = kIQ4Levels[l];
      const float w = x[j] * x[j];
      sum_qx += w * q * x[j];
      sum_q2 += w * q * q;
      if (out != nullptr) out[j] = static_cast<uint8_t>(l);
    }
  };
  float sum_qx, sum_q2;
  fit(-kIQ4Levels[0] / max, sum_qx, sum_q2, levels);
  float scale = sum_q2 > 0 ? sum_qx / sum_q2 : max / -kIQ4Levels[0];
  float best = scale * sum_qx;
  for (int step = -7; step <= 7; ++step) {
    const float inverse_scale = (step + kIQ4Levels[0]) / max;
    fit(inverse_scale, sum_qx, sum_q2, nullptr);
    if (sum_q2 > 0 && sum_qx * sum_qx > best * sum_q2) {
      fit(inverse_scale, sum_qx, sum_q2, levels);
      scale = sum_qx / sum_q2;
      best = scale * sum_qx;
    }
  }
  return scale;
}

// Levels of 32 values for a final (rounded) scale.
void LevelsForScale(const float* x, float scale, uint8_t* levels) {
  const float inverse = scale != 0 ? 1 / scale : 0.0f;
  for (int j = 0; j < 32; ++j) levels[j] = static_cast<uint8_t>(NearestLevel(kIQ4Levels, inverse * x[j]));
}

void PackNibbles32(const uint8_t* levels, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(levels[j] | levels[j + 16] << 4);
}

int LevelDot32(const uint8_t* qs, const int8_t* q8) {
  int sum = 0;
  for (int j = 0; j < 16; ++j) sum += kIQ4Levels[qs[j] & 0x0f] * q8[j] + kIQ4Levels[qs[j] >> 4] * q8[j + 16];
  return sum;
}

// Sub-block scale j (0..7) of an IQ4_XS block, 0..63 (the value is scale - 32).
int SubScaleXS(const BlockIQ4_XS& block, int j) {
  return ((block.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f) | ((block.scales_h >> (2 * j)) & 3) << 4;
}

}  // namespace

// ---- IQ4_NL -------------------------------------------------------------------------------

void DequantizeRowIQ4_NL(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / 32; ++b) {
    const auto block = LoadBlock<BlockIQ4_NL>(src, b);
    const float d = Fp16ToFloat(block.d);
    float* y = dst + b * 32;
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kIQ4Levels[block.qs[j] & 0x0f];
      y[j + 16] = d * kIQ4Levels[block.qs[j] >> 4];
    }
  }
}

void QuantizeRowIQ4_NL(const float* src, void* dst, int64_t elements) {
  uint8_t levels[32];
  for (int64_t b = 0; b < elements / 32; ++b) {
    const float* x = src + b * 32;
    BlockIQ4_NL block{};
    block.d = FloatToFp16(GroupScale(x, levels));
    LevelsForScale(x, Fp16ToFloat(block.d), levels);
    PackNibbles32(levels, block.qs);
    StoreBlock(dst, b, block);
  }
}

float DotRowIQ4_NL(const void* weights, const void* activations_q8_0, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / 32; ++b) {
    const auto x = LoadBlock<BlockIQ4_NL>(weights, b);
    const auto y = LoadBlock<BlockQ8_0>(activations_q8_0, b);
    sum += (Fp16ToFloat(x.d) * Fp16ToFloat(y.d)) * LevelDot32(x.qs, y.qs);
  }
  return sum;
}

// ---- IQ4_XS -------------------------------------------------------------------------------

void DequantizeRowIQ4_XS(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockIQ4_XS>(src, b);
    const float d = Fp16ToFloat(block.d);
    for (int sub = 0; sub < 8; ++sub) {
      const float scale = d * (SubScaleXS(block, sub) - 32);
      const uint8_t* qs = block.qs + 16 * sub;
      float* y = dst + b * kQK_K + 32 * sub;
      for (int j = 0; j < 16; ++j) {
        y[j] = scale * kIQ4Levels[qs[j] & 0x0f];
        y[j + 16] = scale * kIQ4Levels[qs[j] >> 4];
      }
    }
  }
}

// Each sub-block gets its best float scale; those are quantized to 6 bits (-32..31) against
// the largest, and the levels redone with the rounded sub-block scales.
void QuantizeRowIQ4_XS(const float* src, void* dst, int64_t elements) {
  uint8_t levels[32];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    float scales[8];
    float max_scale = 0, max_abs = 0;
    for (int sub = 0; sub < 8; ++sub) {
      scales[sub] = GroupScale(x + 32 * sub, levels);
      if (std::fabs(scales[sub]) > max_abs) {
        max_abs = std::fabs(scales[sub]);
        max_scale = scales[sub];
      }
    }
    BlockIQ4_XS block{};
    if (max_abs > 0) {
      block.d = FloatToFp16(-max_scale / 32);
      const float d = Fp16ToFloat(block.d);
      const float inverse = d != 0 ? 1 / d : 0.0f;
      for (int sub = 0; sub < 8; ++sub) {
        const int l = Clamp(NearestInt(inverse * scales[sub]), -32, 31);
        LevelsForScale(x + 32 * sub, d * l, levels);
        PackNibbles32(levels, block.qs + 16 * sub);
        const int biased = l + 32;
        block.scales_l[sub / 2] |= static_cast<uint8_t>((biased & 0x0f) << (4 * (sub % 2)));
        block.scales_h = static_cast<uint16_t>(block.scales_h | (biased >> 4) << (2 * sub));
      }
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowIQ4_XS(const void* weights, const void* activations_q8_k, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockIQ4_XS>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    const float d = Fp16ToFloat(x.d) * y.d;
    for (int sub = 0; sub < 8; ++sub)
      sum += (d * (SubScaleXS(x, sub) - 32)) * LevelDot32(x.qs + 16 * sub, y.qs + 32 * sub);
  }
  return sum;
}

}  // namespace moefit
