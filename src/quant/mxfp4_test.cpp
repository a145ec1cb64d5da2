// SPDX-License-Identifier: MIT
// MXFP4: the E8M0 scale, the E2M1 value table and nibble order, and the exponent choice.
#include "quant/mxfp4.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "quant/dtype_traits.h"

namespace moefit {
namespace {

TEST(MXFP4, E8M0HalfIsTwoToTheExponentMinus128) {
  EXPECT_EQ(E8M0Half(128), 1.0f);
  EXPECT_EQ(E8M0Half(127), 0.5f);
  EXPECT_EQ(E8M0Half(130), 4.0f);
  EXPECT_EQ(E8M0Half(254), std::ldexp(1.0f, 126));
  EXPECT_EQ(E8M0Half(2), std::ldexp(1.0f, -126));
  EXPECT_EQ(E8M0Half(1), std::ldexp(1.0f, -127));  // subnormal
  EXPECT_EQ(E8M0Half(0), std::ldexp(1.0f, -128));  // subnormal
}

TEST(MXFP4, HandBuiltBlock) {
  BlockMXFP4 block{};
  block.e = 127;  // values are half the doubled levels: the E2M1 values themselves
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  std::vector<float> values(32);
  DequantizeRow(DType::kMXFP4, &block, values.data(), 32);
  constexpr float kE2M1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(values[j], kE2M1[j]) << j;
    EXPECT_EQ(values[j + 16], kE2M1[15 - j]) << j + 16;
  }
}

TEST(MXFP4, RepresentableValuesSurviveARoundTrip) {
  constexpr float kE2M1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  std::vector<float> values(64);
  for (int j = 0; j < 64; ++j) values[j] = (j % 3 == 0 ? -1.0f : 1.0f) * kE2M1[j % 8] * (j < 32 ? 1.0f : 1.0f / 64);
  std::vector<BlockMXFP4> blocks(2);
  QuantizeRow(DType::kMXFP4, values.data(), blocks.data(), 64);
  EXPECT_EQ(blocks[0].e, 127);
  EXPECT_EQ(blocks[1].e, 121);
  std::vector<float> restored(64);
  DequantizeRow(DType::kMXFP4, blocks.data(), restored.data(), 64);
  for (int j = 0; j < 64; ++j) EXPECT_EQ(std::fabs(restored[j]), std::fabs(values[j])) << j;
}

TEST(MXFP4, LargestValueIsNotClipped) {
  // max 7.9: the reference exponent (scale 0.5, largest value 6) would clip it to 6; the next
  // exponent (scale 1, values up to 12) represents it as 8 and wins on squared error.
  std::vector<float> values(32, 1.0f);
  values[3] = 7.9f;
  BlockMXFP4 block;
  QuantizeRow(DType::kMXFP4, values.data(), &block, 32);
  EXPECT_EQ(block.e, 128);
  std::vector<float> restored(32);
  DequantizeRow(DType::kMXFP4, &block, restored.data(), 32);
  EXPECT_EQ(restored[3], 8.0f);
  EXPECT_EQ(restored[0], 1.0f);
}

}  // namespace
}  // namespace moefit
