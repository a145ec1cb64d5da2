// SPDX-License-Identifier: MIT
// Scalar reference for MXFP4 (32 E2M1 values with a shared E8M0 exponent).
#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "quant/legacy.h"
#include "quant/mxfp4.h"
#include "quant/quant_util.h"

namespace moefit {

static_assert(BlockMatchesLayout(DType::kMXFP4, sizeof(BlockMXFP4), 32));

void DequantizeRowMXFP4(const void* src, float* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / 32; ++b) {
    const auto block = LoadBlock<BlockMXFP4>(src, b);
    const float d = E8M0Half(block.e);
    float* y = dst + b * 32;
    for (int j = 0; j < 16; ++j) {
      y[j] = kMxfp4Levels[block.qs[j] & 0x0f] * d;
      y[j + 16] = kMxfp4Levels[block.qs[j] >> 4] * d;
    }
  }
}

// The reference picks e = floor(log2(max|x|)) - 2 + 127, which maps the largest value into
// [8, 16) doubled units and clips values above 12 (6.0 in E2M1). Here that exponent and the next
// one up are both tried, and the one with the smaller squared error is kept.
void QuantizeRowMXFP4(const float* src, void* dst, int64_t elements) {
  for (int64_t b = 0; b < elements / 32; ++b) {
    const float* x = src + b * 32;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    BlockMXFP4 block{};
    if (amax > 0) {
      const int first = std::clamp(std::ilogb(amax) - 2 + 127, 0, 253);
      float best_error = INFINITY;
      for (int e = first; e <= first + 1; ++e) {
        const float d = E8M0Half(static_cast<uint8_t>(e));  // a power of two: x / d is exact
        float error = 0;
        for (int j = 0; j < 32; ++j) {
          const float diff = x[j] - kMxfp4Levels[NearestLevel(kMxfp4Levels, x[j] / d)] * d;
          error += diff * diff;
        }
        if (error < best_error) {
          best_error = error;
          block.e = static_cast<uint8_t>(e);
        }
      }
      const float d = E8M0Half(block.e);
      for (int j = 0; j < 16; ++j) {
        const int low = NearestLevel(kMxfp4Levels, x[j] / d);
        const int high = NearestLevel(kMxfp4Levels, x[j + 16] / d);
        block.qs[j] = static_cast<uint8_t>(low | high << 4);
      }
    }
    StoreBlock(dst, b, block);
  }
}

float DotRowMXFP4(const void* weights, const void* activations_q8_0, int64_t elements) {
  float sum = 0;
  for (int64_t b = 0; b < elements / 32; ++b) {
    const auto x = LoadBlock<BlockMXFP4>(weights, b);
    const auto y = LoadBlock<BlockQ8_0>(activations_q8_0, b);
    int sumi = 0;
    for (int j = 0; j < 16; ++j)
      sumi += kMxfp4Levels[x.qs[j] & 0x0f] * y.qs[j] + kMxfp4Levels[x.qs[j] >> 4] * y.qs[j + 16];
    sum += (Fp16ToFloat(y.d) * E8M0Half(x.e)) * sumi;
  }
  return sum;
}

}  // namespace moefit
