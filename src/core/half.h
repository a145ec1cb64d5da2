// SPDX-License-Identifier: MIT
// IEEE half (F16) and bfloat16 conversions, bit-exact with the reference tools.
#pragma once

#include <cstdint>
#include <cstring>

namespace moefit {

inline float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline uint32_t FloatToBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Exact: every half is representable as a float.
inline float Fp16ToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {
    if (mantissa == 0) return BitsToFloat(sign);
    // Subnormal half: normalise.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    return BitsToFloat(sign | static_cast<uint32_t>(127 - 15 - shift + 1) << 23 | mantissa << 13);
  }
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000u | mantissa << 13);
  return BitsToFloat(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

// Round to nearest, ties to even; overflow gives infinity; NaN stays NaN.
inline uint16_t FloatToFp16(float value) {
  const uint32_t bits = FloatToBits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs_bits >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs_bits < 0x38800000u) {
    // Result is subnormal (or zero): scale into the subnormal range with float arithmetic,
    // whose own rounding is round-to-nearest-even.
    const float scaled = BitsToFloat(abs_bits) * 16777216.0f;  // 2^24 = 1 / smallest subnormal
    const uint32_t rounded = static_cast<uint32_t>(__builtin_nearbyintf(scaled));
    return static_cast<uint16_t>(sign | rounded);
  }
  const uint32_t mantissa_odd = (abs_bits >> 13) & 1u;
  const uint32_t rounded = abs_bits + 0xfffu + mantissa_odd;
  return static_cast<uint16_t>(sign | (((rounded >> 13) - ((127 - 15) << 10)) & 0x7fffu));
}

inline float Bf16ToFloat(uint16_t bf16) { return BitsToFloat(static_cast<uint32_t>(bf16) << 16); }

// Round to nearest, ties to even; NaN is kept quiet (as the reference tools do).
inline uint16_t FloatToBf16(float value) {
  const uint32_t bits = FloatToBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 64u);
  return static_cast<uint16_t>((bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
}

}  // namespace moefit
