// SPDX-License-Identifier: MIT
// Scalar reference for Q4_0, Q4_1, Q5_0 and Q5_1 (32-element blocks, round-to-nearest quantizers).
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/half.h"
#include "quant/legacy.h"
#include "quant/quant_util.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kQ4_0, sizeof(BlockQ4_0), kQK32));
static_assert(BlockMatchesLayout(DType::kQ4_1, sizeof(BlockQ4_1), kQK32));
static_assert(BlockMatchesLayout(DType::kQ5_0, sizeof(BlockQ5_0), kQK32));
static_assert(BlockMatchesLayout(DType::kQ5_1, sizeof(BlockQ5_1), kQK32));

namespace {

// The value of largest magnitude in a block, with its sign.
float SignedAbsMax(const float* x) {
  float max = 0, amax = 0;
  for (int j = 0; j < kQK32; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void MinMax(const float* x, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < kQK32; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
}

// Fifth bits of a Q5 block, for elements j (bit 4 of the first) and j + 16 (bit 4 of the second).
inline int HighBitLow(uint32_t qh, int j) { return static_cast<int>((qh >> j) << 4 & 0x10); }
inline int HighBitHigh(uint32_t qh, int j) { return static_cast<int>((qh >> (j + 12)) & 0x10); }

// Integer dot of a block's levels with 32 int8 activations. Level j is its nibble plus the fifth
// bit from qh (pass 0 for the 4-bit formats), minus `offset`.
int LevelDot(const uint8_t* qs, uint32_t qh, int offset, const int8_t* q8) {
  int sum = 0;
  for (int j = 0; j < 16; ++j) {
    const int low = ((qs[j] & 0x0f) | HighBitLow(qh, j)) - offset;
    const int high = ((qs[j] >> 4) | HighBitHigh(qh, j)) - offset;
    sum += low * q8[j] + high * q8[j + 16];
  }
  return sum;
}

}  // namespace

// ---- Q4_0: value = (q - 8) * d -----------------------------------------------------------

void DequantizeRowQ4_0(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ4_0>(src, b);
    const float d = Fp16ToFloat(block.d);
    float* y = dst + b * kQK32;
    for (int j = 0; j < 16; ++j) {
      y[j] = ((block.qs[j] & 0x0f) - 8) * d;
      y[j + 16] = ((block.qs[j] >> 4) - 8) * d;
    }
  }
}

// The largest-magnitude value maps to level 0 (-8 * d), so the scale's sign follows it.
void QuantizeRowQ4_0(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const float* x = src + b * kQK32;
    const float d = SignedAbsMax(x) / -8;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    BlockQ4_0 block{};
    block.d = FloatToFp16(d);
    for (int j = 0; j < 16; ++j) {
      const int low = std::min(15, static_cast<int>(x[j] * inverse + 8.5f));
      const int high = std::min(15, static_cast<int>(x[j + 16] * inverse + 8.5f));
      block.qs[j] = static_cast<uint8_t>(low | high << 4);
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowQ4_0(const void* weights, const void* activations_q8_0, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto x = LoadBlock<BlockQ4_0>(weights, b);
    const auto y = LoadBlock<BlockQ8_0>(activations_q8_0, b);
    const int sumi = LevelDot(x.qs, 0, 8, y.qs);
    sum += sumi * Fp16ToFloat(x.d) * Fp16ToFloat(y.d);
  }
  return sum;
}

// ---- Q4_1: value = q * d + m -------------------------------------------------------------

void DequantizeRowQ4_1(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ4_1>(src, b);
    const float d = Fp16ToFloat(block.d);
    const float m = Fp16ToFloat(block.m);
    float* y = dst + b * kQK32;
    for (int j = 0; j < 16; ++j) {
      y[j] = (block.qs[j] & 0x0f) * d + m;
      y[j + 16] = (block.qs[j] >> 4) * d + m;
    }
  }
}

void QuantizeRowQ4_1(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const float* x = src + b * kQK32;
    float min, max;
    MinMax(x, min, max);
    const float d = (max - min) / 15;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    BlockQ4_1 block{};
    block.d = FloatToFp16(d);
    block.m = FloatToFp16(min);
    for (int j = 0; j < 16; ++j) {
      const int low = std::min(15, static_cast<int>((x[j] - min) * inverse + 0.5f));
      const int high = std::min(15, static_cast<int>((x[j + 16] - min) * inverse + 0.5f));
      block.qs[j] = static_cast<uint8_t>(low | high << 4);
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowQ4_1(const void* weights, const void* activations_q8_1, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto x = LoadBlock<BlockQ4_1>(weights, b);
    const auto y = LoadBlock<BlockQ8_1>(activations_q8_1, b);
    const int sumi = LevelDot(x.qs, 0, 0, y.qs);
    sum += (Fp16ToFloat(x.d) * Fp16ToFloat(y.d)) * sumi + Fp16ToFloat(x.m) * Fp16ToFloat(y.s);
  }
  return sum;
}

// ---- Q5_0: value = (q - 16) * d ------------------------------------------------------------

void DequantizeRowQ5_0(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ5_0>(src, b);
    const float d = Fp16ToFloat(block.d);
    const uint32_t qh = LoadU32LE(block.qh);
    float* y = dst + b * kQK32;
    for (int j = 0; j < 16; ++j) {
      y[j] = (((block.qs[j] & 0x0f) | HighBitLow(qh, j)) - 16) * d;
      y[j + 16] = (((block.qs[j] >> 4) | HighBitHigh(qh, j)) - 16) * d;
    }
  }
}

void QuantizeRowQ5_0(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const float* x = src + b * kQK32;
    const float d = SignedAbsMax(x) / -16;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    BlockQ5_0 block{};
    block.d = FloatToFp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int low = std::min(31, static_cast<int>(x[j] * inverse + 16.5f));
      const int high = std::min(31, static_cast<int>(x[j + 16] * inverse + 16.5f));
      block.qs[j] = static_cast<uint8_t>((low & 0x0f) | (high & 0x0f) << 4);
      qh |= static_cast<uint32_t>(low >> 4) << j | static_cast<uint32_t>(high >> 4) << (j + 16);
    }
    StoreU32LE(block.qh, qh);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ5_0(const void* weights, const void* activations_q8_0, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto x = LoadBlock<BlockQ5_0>(weights, b);
    const auto y = LoadBlock<BlockQ8_0>(activations_q8_0, b);
    const int sumi = LevelDot(x.qs, LoadU32LE(x.qh), 16, y.qs);
    sum += (Fp16ToFloat(x.d) * Fp16ToFloat(y.d)) * sumi;
  }
  return sum;
}

// ---- Q5_1: value = q * d + m ---------------------------------------------------------------

void DequantizeRowQ5_1(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto block = LoadBlock<BlockQ5_1>(src, b);
    const float d = Fp16ToFloat(block.d);
    const float m = Fp16ToFloat(block.m);
    const uint32_t qh = LoadU32LE(block.qh);
    float* y = dst + b * kQK32;
    for (int j = 0; j < 16; ++j) {
      y[j] = ((block.qs[j] & 0x0f) | HighBitLow(qh, j)) * d + m;
      y[j + 16] = ((block.qs[j] >> 4) | HighBitHigh(qh, j)) * d + m;
    }
  }
}

void QuantizeRowQ5_1(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const float* x = src + b * kQK32;
    float min, max;
    MinMax(x, min, max);
    const float d = (max - min) / 31;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    BlockQ5_1 block{};
    block.d = FloatToFp16(d);
    block.m = FloatToFp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int low = std::min(31, static_cast<int>((x[j] - min) * inverse + 0.5f));
      const int high = std::min(31, static_cast<int>((x[j + 16] - min) * inverse + 0.5f));
      block.qs[j] = static_cast<uint8_t>((low & 0x0f) | (high & 0x0f) << 4);
      qh |= static_cast<uint32_t>(low >> 4) << j | static_cast<uint32_t>(high >> 4) << (j + 16);
    }
    StoreU32LE(block.qh, qh);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ5_1(const void* weights, const void* activations_q8_1, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK32; ++b) {
    const auto x = LoadBlock<BlockQ5_1>(weights, b);
    const auto y = LoadBlock<BlockQ8_1>(activations_q8_1, b);
    const int sumi = LevelDot(x.qs, LoadU32LE(x.qh), 0, y.qs);
    sum += (Fp16ToFloat(x.d) * Fp16ToFloat(y.d)) * sumi + Fp16ToFloat(x.m) * Fp16ToFloat(y.s);
  }
  return sum;
}

}  // namespace moefit
