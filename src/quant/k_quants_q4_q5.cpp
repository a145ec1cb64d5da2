// SPDX-License-Identifier: MIT
// Scalar reference for Q4_K and Q5_K (4- and 5-bit levels, eight sub-blocks of 32 with a 6-bit
// scale and min each).
#include <cmath>

#include "core/half.h"
#include "quant/k_quants.h"
#include "quant/quant_util.h"
#include "quant/scale_search.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kQ4_K, sizeof(BlockQ4_K), kQK_K));
static_assert(BlockMatchesLayout(DType::kQ5_K, sizeof(BlockQ5_K), kQK_K));

namespace {

// Element e's nibble: byte 32 * (e / 64) + e % 32 of qs, high nibble for the second 32 of each 64.
inline int NibbleByte(int e) { return 32 * (e / 64) + e % 32; }
inline int NibbleShift(int e) { return 4 * (e % 64 / 32); }

// Levels 0..15 (Q4_K) or 0..31 (Q5_K, when qh is given) of a block.
void LevelsK4(const uint8_t* qs, const uint8_t* qh, int* levels) {
  for (int e = 0; e < kQK_K; ++e) {
    levels[e] = (qs[NibbleByte(e)] >> NibbleShift(e)) & 0x0f;
    if (qh != nullptr) levels[e] |= ((qh[e % 32] >> (e / 32)) & 1) << 4;
  }
}

void DequantizeK4(const uint8_t* scales, float d, float dmin, const int* levels, float* y) {
  for (int sub = 0; sub < 8; ++sub) {
    int scale_bits, min_bits;
    ScaleMinK4(sub, scales, scale_bits, min_bits);
    const float scale = d * scale_bits;
    const float min = dmin * min_bits;
    for (int l = 0; l < 32; ++l) y[32 * sub + l] = scale * levels[32 * sub + l] - min;
  }
}

// Integer parts of the dot with Q8_K activations: sum_sub scale * sum(q * q8), and
// sum_sub min * sum(q8) from the activation block sums.
void DotK4(const uint8_t* scales, const int* levels, const BlockQ8_K& y, int& scaled_sum, int& min_sum) {
  scaled_sum = 0;
  min_sum = 0;
  for (int sub = 0; sub < 8; ++sub) {
    int scale_bits, min_bits;
    ScaleMinK4(sub, scales, scale_bits, min_bits);
    int sub_sum = 0;
    for (int l = 0; l < 32; ++l) sub_sum += levels[32 * sub + l] * y.qs[32 * sub + l];
    scaled_sum += scale_bits * sub_sum;
    min_sum += min_bits * (y.bsums[2 * sub] + y.bsums[2 * sub + 1]);
  }
}

// Quantizes a super-block to levels 0..nmax with 6-bit sub-block scales and mins.
// Per sub-block: affine fit weighted by (rms + |x|); scales and mins are quantized to 6 bits
// against their maxima, then the levels are redone with the rounded values.
struct K4Result {
  uint16_t d = 0, dmin = 0;
  uint8_t scales[12] = {};
  uint8_t levels[kQK_K];
};

void QuantizeK4(const float* x, const AffineSearch& search, K4Result& out) {
  float scales[8], mins[8], weights[32];
  float max_scale = 0, max_min = 0;
  for (int sub = 0; sub < 8; ++sub) {
    const float* xs = x + 32 * sub;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float rms = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = rms + std::fabs(xs[l]);
    scales[sub] = AffineScaleSearch(32, xs, weights, out.levels + 32 * sub, &mins[sub], search);
    max_scale = std::fmax(max_scale, scales[sub]);
    max_min = std::fmax(max_min, mins[sub]);
  }
  const float inverse_scale = max_scale > 0 ? 63 / max_scale : 0.0f;
  const float inverse_min = max_min > 0 ? 63 / max_min : 0.0f;
  for (int sub = 0; sub < 8; ++sub) {
    const int ls = Clamp(NearestInt(inverse_scale * scales[sub]), 0, 63);
    const int lm = Clamp(NearestInt(inverse_min * mins[sub]), 0, 63);
    if (sub < 4) {
      out.scales[sub] = static_cast<uint8_t>(ls);
      out.scales[sub + 4] = static_cast<uint8_t>(lm);
    } else {
      out.scales[sub + 4] = static_cast<uint8_t>((ls & 0x0f) | (lm & 0x0f) << 4);
      out.scales[sub - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      out.scales[sub] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  out.d = FloatToFp16(max_scale / 63);
  out.dmin = FloatToFp16(max_min / 63);
  for (int sub = 0; sub < 8; ++sub) {
    int scale_bits, min_bits;
    ScaleMinK4(sub, out.scales, scale_bits, min_bits);
    const float scale = Fp16ToFloat(out.d) * scale_bits;
    if (scale == 0) continue;
    const float min = Fp16ToFloat(out.dmin) * min_bits;
    for (int l = 0; l < 32; ++l)
      out.levels[32 * sub + l] =
          static_cast<uint8_t>(Clamp(NearestInt((x[32 * sub + l] + min) / scale), 0, search.nmax));
  }
}

void PackNibbles(const uint8_t* levels, uint8_t* qs) {
  for (int i = 0; i < 128; ++i) qs[i] = 0;
  for (int e = 0; e < kQK_K; ++e) qs[NibbleByte(e)] |= static_cast<uint8_t>((levels[e] & 0x0f) << NibbleShift(e));
}

}  // namespace

// ---- Q4_K ---------------------------------------------------------------------------------

void DequantizeRowQ4_K(const void* src, float* dst, int64_t elements) {
  int levels[kQK_K];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ4_K>(src, b);
    LevelsK4(block.qs, nullptr, levels);
    DequantizeK4(block.scales, Fp16ToFloat(block.d), Fp16ToFloat(block.dmin), levels, dst + b * kQK_K);
  }
}

void QuantizeRowQ4_K(const float* src, void* dst, int64_t elements) {
  constexpr AffineSearch kSearch{.nmax = 15, .rmin = -1.0f, .rdelta = 0.1f, .steps = 20, .use_abs = false};
  K4Result result;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    result = K4Result{};
    QuantizeK4(src + b * kQK_K, kSearch, result);
    BlockQ4_K block{};
    block.d = result.d;
    block.dmin = result.dmin;
    std::memcpy(block.scales, result.scales, sizeof block.scales);
    PackNibbles(result.levels, block.qs);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ4_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  int levels[kQK_K];
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ4_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    LevelsK4(x.qs, nullptr, levels);
    int scaled_sum, min_sum;
    DotK4(x.scales, levels, y, scaled_sum, min_sum);
    sum += (Fp16ToFloat(x.d) * y.d) * scaled_sum - (Fp16ToFloat(x.dmin) * y.d) * min_sum;
  }
  return sum;
}

// ---- Q5_K ---------------------------------------------------------------------------------

void DequantizeRowQ5_K(const void* src, float* dst, int64_t elements) {
  int levels[kQK_K];
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto block = LoadBlock<BlockQ5_K>(src, b);
    LevelsK4(block.qs, block.qh, levels);
    DequantizeK4(block.scales, Fp16ToFloat(block.d), Fp16ToFloat(block.dmin), levels, dst + b * kQK_K);
  }
}

void QuantizeRowQ5_K(const float* src, void* dst, int64_t elements) {
  constexpr AffineSearch kSearch{.nmax = 31, .rmin = -0.5f, .rdelta = 0.1f, .steps = 15, .use_abs = false};
  K4Result result;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    result = K4Result{};
    QuantizeK4(src + b * kQK_K, kSearch, result);
    BlockQ5_K block{};
    block.d = result.d;
    block.dmin = result.dmin;
    std::memcpy(block.scales, result.scales, sizeof block.scales);
    for (int e = 0; e < kQK_K; ++e)
      block.qh[e % 32] |= static_cast<uint8_t>((result.levels[e] >> 4) << (e / 32));
    PackNibbles(result.levels, block.qs);
    StoreBlock(dst, b, block);
  }
}

float DotRowQ5_K(const void* weights, const void* activations_q8_k, int64_t elements) {
  int levels[kQK_K];
  float sum = 0;
  for (int64_t b = 0; b < elements / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ5_K>(weights, b);
    const auto y = LoadBlock<BlockQ8_K>(activations_q8_k, b);
    LevelsK4(x.qs, x.qh, levels);
    int scaled_sum, min_sum;
    DotK4(x.scales, levels, y, scaled_sum, min_sum);
    sum += (Fp16ToFloat(x.d) * y.d) * scaled_sum - (Fp16ToFloat(x.dmin) * y.d) * min_sum;
  }
  return sum;
}

}  // namespace moefit
