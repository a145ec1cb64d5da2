// SPDX-License-Identifier: MIT
// F16 / BF16 conversions: exact round trips and round-to-nearest-even.
#include "core/half.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace moefit {
namespace {

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t half = static_cast<uint16_t>(bits);
    const float value = Fp16ToFloat(half);
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(Fp16ToFloat(FloatToFp16(value))));
      continue;
    }
    EXPECT_EQ(FloatToFp16(value), half) << "bits " << bits;
  }
}

TEST(Half, KnownValues) {
  EXPECT_EQ(Fp16ToFloat(0x3c00), 1.0f);
  EXPECT_EQ(Fp16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(Fp16ToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(Fp16ToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(FloatToFp16(65520.0f), 0x7c00);  // ties to even rounds up to infinity
  EXPECT_EQ(FloatToFp16(1e9f), 0x7c00);
  EXPECT_EQ(FloatToFp16(std::ldexp(1.0f, -26)), 0x0000);  // below half the smallest subnormal
}

// Nearest half by brute force over the two neighbours, ties to even.
TEST(Half, RoundsToNearestEven) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.0f);
  for (int i = 0; i < 200000; ++i) {
    const float value = std::exp2(exponent(rng)) * (rng() & 1 ? 1.0f : -1.0f);
    const uint16_t got = FloatToFp16(value);
    const float got_value = Fp16ToFloat(got);
    if (std::isinf(got_value)) {
      EXPECT_GE(std::fabs(value), 65520.0f);
      continue;
    }
    // Neighbouring halves in the direction of value.
    const uint16_t other = static_cast<uint16_t>(std::fabs(got_value) < std::fabs(value) ? got + 1 : got - 1);
    if ((got & 0x7fff) == 0 && std::fabs(got_value) >= std::fabs(value)) continue;
    const double error = std::fabs(static_cast<double>(value) - got_value);
    const double other_error = std::fabs(static_cast<double>(value) - Fp16ToFloat(other));
    ASSERT_LE(error, other_error) << value;
    if (error == other_error) {
      EXPECT_EQ(got & 1, 0) << value;
    }
  }
}

TEST(Bf16, RoundTripAndRounding) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float value = Bf16ToFloat(static_cast<uint16_t>(bits));
    if (!std::isnan(value)) {
      EXPECT_EQ(FloatToBf16(value), bits);
    }
  }
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f808001u)), 0x3f81);
}

}  // namespace
}  // namespace moefit
