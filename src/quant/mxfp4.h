// SPDX-License-Identifier: MIT
// MXFP4 (OCP microscaling FP4): 32 E2M1 values sharing one E8M0 power-of-two scale.
#pragma once

#include <cstdint>
#include <cstring>

namespace moefit {

// E2M1 values doubled so they are integers (sign in bit 3): the scale is halved to match.
inline constexpr int8_t kMxfp4Levels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

struct BlockMXFP4 {
  uint8_t e;       // E8M0 exponent: scale 2^(e - 127), applied as half of it to the doubled levels
  uint8_t qs[16];  // element j low nibble of qs[j], element j + 16 high nibble
};                 // value = kMxfp4Levels[q] * E8M0Half(e)
static_assert(sizeof(BlockMXFP4) == 17);

// 2^(e - 128), exact for every e (e = 0 and 1 give float subnormals).
inline float E8M0Half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Row functions: `elements` a multiple of 32; never throw. Dots take Q8_0 activations.
void DequantizeRowMXFP4(const void* src, float* dst, int64_t elements);
void QuantizeRowMXFP4(const float* src, void* dst, int64_t elements);
float DotRowMXFP4(const void* weights, const void* activations_q8_0, int64_t elements);

}  // namespace moefit
