// SPDX-License-Identifier: MIT
// Hand-built IQ4_NL and IQ4_XS blocks pin the level table, nibble order and scale packing.
#include "quant/iq4.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "quant/dtype_traits.h"
#include "quant/k_quants.h"

namespace moefit {
namespace {

TEST(IQ4_NL, HandBuiltBlock) {
  BlockIQ4_NL block{};
  block.d = FloatToFp16(0.5f);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  std::vector<float> values(32);
  DequantizeRow(DType::kIQ4_NL, &block, values.data(), 32);
  constexpr int kTable[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(values[j], 0.5f * kTable[j]) << j;
    EXPECT_EQ(values[j + 16], 0.5f * kTable[15 - j]) << j + 16;
  }
}

TEST(IQ4_XS, HandBuiltBlock) {
  BlockIQ4_XS block{};
  block.d = FloatToFp16(0.25f);
  int scales[8];
  for (int j = 0; j < 8; ++j) {
    scales[j] = 32 + 5 * j - 20;  // -20 .. 15 after the bias
    block.scales_l[j / 2] |= static_cast<uint8_t>((scales[j] & 15) << (4 * (j % 2)));
    block.scales_h = static_cast<uint16_t>(block.scales_h | (scales[j] >> 4) << (2 * j));
  }
  for (int i = 0; i < 128; ++i) block.qs[i] = static_cast<uint8_t>((i * 11) % 256);
  std::vector<float> values(256);
  DequantizeRow(DType::kIQ4_XS, &block, values.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, j = e % 32;
    const uint8_t byte = block.qs[16 * sub + j % 16];
    const int q = j < 16 ? byte & 15 : byte >> 4;
    ASSERT_EQ(values[e], 0.25f * (scales[sub] - 32) * kIQ4Levels[q]) << e;
  }
}

TEST(IQ4_NL, ExactForValuesOnTheGrid) {
  std::vector<float> values(32);
  for (int j = 0; j < 32; ++j) values[j] = 0.125f * kIQ4Levels[(j * 5) % 16];
  BlockIQ4_NL block;
  QuantizeRow(DType::kIQ4_NL, values.data(), &block, 32);
  std::vector<float> restored(32);
  DequantizeRow(DType::kIQ4_NL, &block, restored.data(), 32);
  EXPECT_EQ(restored, values);
}

TEST(IQ4_XS, DotWithQ8_K) {
  // All levels index 8 (value 1): the dot is d * sum_sub (scale_sub - 32) * sum(q8 of sub).
  BlockIQ4_XS block{};
  block.d = FloatToFp16(1.0f);
  for (int j = 0; j < 8; ++j) {
    const int scale = 33 + j;
    block.scales_l[j / 2] |= static_cast<uint8_t>((scale & 15) << (4 * (j % 2)));
    block.scales_h = static_cast<uint16_t>(block.scales_h | (scale >> 4) << (2 * j));
  }
  for (uint8_t& q : block.qs) q = 0x88;
  std::vector<float> x(256, 1.0f);
  BlockQ8_K activations;
  QuantizeRow(DType::kQ8_K, x.data(), &activations, 256);
  float expected = 0;
  for (int j = 0; j < 8; ++j) expected += (1 + j) * 32 * activations.qs[0] * activations.d;
  EXPECT_FLOAT_EQ(DotRow(DType::kIQ4_XS, &block, &activations, 256), expected);
}

}  // namespace
}  // namespace moefit
