// SPDX-License-Identifier: MIT
// Hand-built Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1 blocks pin the layouts and bit orders.
#include "quant/legacy.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

template <typename Block>
std::vector<float> DequantizeBlock(DType type, const Block& block) {
  std::vector<float> values(kQK32);
  DequantizeRow(type, &block, values.data(), kQK32);
  return values;
}

// The nibble of element e in a 16-byte qs array: low nibble of qs[e] for e < 16, else the high
// nibble of qs[e - 16].
int Nibble(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 0x0f : qs[e - 16] >> 4; }

TEST(Q4_0, HandBuiltBlock) {
  BlockQ4_0 block{};
  block.d = FloatToFp16(0.5f);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const auto values = DequantizeBlock(DType::kQ4_0, block);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(values[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(values[j + 16], (7 - j) * 0.5f) << j + 16;
  }
}

TEST(Q4_0, RepresentableValuesSurviveARoundTrip) {
  // The largest magnitude is negative, so d = -4 / -8 = 0.5 and every (q - 8) * 0.5 is exact.
  std::vector<float> values(kQK32);
  for (int j = 0; j < kQK32; ++j) values[j] = ((j * 7) % 16 - 8) * 0.5f;
  BlockQ4_0 block;
  QuantizeRow(DType::kQ4_0, values.data(), &block, kQK32);
  EXPECT_EQ(Fp16ToFloat(block.d), 0.5f);  // max / -8 with max = -4
  EXPECT_EQ(DequantizeBlock(DType::kQ4_0, block), values);
}

TEST(Q4_1, HandBuiltBlock) {
  BlockQ4_1 block{};
  block.d = FloatToFp16(0.25f);
  block.m = FloatToFp16(-1.5f);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const auto values = DequantizeBlock(DType::kQ4_1, block);
  for (int e = 0; e < kQK32; ++e) EXPECT_EQ(values[e], Nibble(block.qs, e) * 0.25f - 1.5f) << e;
  EXPECT_EQ(values[0], -1.5f);
  EXPECT_EQ(values[16], 15 * 0.25f - 1.5f);
}

TEST(Q5_0, HandBuiltBlock) {
  BlockQ5_0 block{};
  block.d = FloatToFp16(0.5f);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const uint32_t qh = 0xAAAA5555u;  // element e's fifth bit is bit e (little-endian)
  block.qh[0] = 0x55;
  block.qh[1] = 0x55;
  block.qh[2] = 0xAA;
  block.qh[3] = 0xAA;
  const auto values = DequantizeBlock(DType::kQ5_0, block);
  for (int e = 0; e < kQK32; ++e)
    EXPECT_EQ(values[e], (Nibble(block.qs, e) + 16 * static_cast<int>((qh >> e) & 1) - 16) * 0.5f) << e;
  EXPECT_EQ(values[0], 0.0f);    // 0 + 16 - 16
  EXPECT_EQ(values[1], -7.5f);   // 1 - 16
  EXPECT_EQ(values[16], -0.5f);  // 15 - 16
  EXPECT_EQ(values[17], 7.0f);   // 14 + 16 - 16
}

TEST(Q5_1, HandBuiltBlock) {
  BlockQ5_1 block{};
  block.d = FloatToFp16(2.0f);
  block.m = FloatToFp16(-30.0f);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>((3 * j) % 16 | ((5 * j) % 16) << 4);
  const uint32_t qh = 0x0F0F00FFu;
  for (int i = 0; i < 4; ++i) block.qh[i] = static_cast<uint8_t>(qh >> (8 * i));
  const auto values = DequantizeBlock(DType::kQ5_1, block);
  for (int e = 0; e < kQK32; ++e)
    EXPECT_EQ(values[e], (Nibble(block.qs, e) + 16 * static_cast<int>((qh >> e) & 1)) * 2.0f - 30.0f) << e;
}

TEST(Q5_0, QuantizeSetsTheFifthBits) {
  std::vector<float> values(kQK32);
  for (int j = 0; j < kQK32; ++j) values[j] = (j % 2 == 0 ? 1.0f : -1.0f) * static_cast<float>(j);  // max |x| = 31
  BlockQ5_0 block;
  QuantizeRow(DType::kQ5_0, values.data(), &block, kQK32);
  EXPECT_EQ(Fp16ToFloat(block.d), 31.0f / 16);  // max / -16 with max = -31
  const auto restored = DequantizeBlock(DType::kQ5_0, block);
  for (int j = 0; j < kQK32; ++j) EXPECT_NEAR(restored[j], values[j], 31.0f / 32 + 1e-3f) << j;
}

TEST(Q8_0, HandBuiltBlock) {
  BlockQ8_0 block{};
  block.d = FloatToFp16(2.0f);
  for (int j = 0; j < kQK32; ++j) block.qs[j] = static_cast<int8_t>(j - 16);
  const auto values = DequantizeBlock(DType::kQ8_0, block);
  for (int j = 0; j < kQK32; ++j) EXPECT_EQ(values[j], 2.0f * (j - 16)) << j;
}

TEST(Q8_1, QuantizeStoresScaleTimesLevelSum) {
  std::vector<float> values(kQK32);
  for (int j = 0; j < kQK32; ++j) values[j] = 0.1f * j - 1.0f;
  BlockQ8_1 block;
  QuantizeRow(DType::kQ8_1, values.data(), &block, kQK32);
  int sum = 0;
  for (int8_t q : block.qs) sum += q;
  EXPECT_EQ(block.qs[kQK32 - 1], 127);  // max |x| = 2.1 maps to 127
  EXPECT_NEAR(Fp16ToFloat(block.s), Fp16ToFloat(block.d) * sum, 1e-3 * std::fabs(Fp16ToFloat(block.d) * sum));
  const auto restored = DequantizeBlock(DType::kQ8_1, block);
  for (int j = 0; j < kQK32; ++j) EXPECT_NEAR(restored[j], values[j], 2.1f / 127);
}

TEST(LegacyDots, HandBuiltBlocks) {
  // Q4_0 levels 9 (value +d) against Q8_0 activations of 1 * d_y: 32 * d * d_y.
  BlockQ4_0 weights{};
  weights.d = FloatToFp16(0.5f);
  for (uint8_t& q : weights.qs) q = 0x99;
  BlockQ8_0 activations{};
  activations.d = FloatToFp16(0.25f);
  for (int8_t& q : activations.qs) q = 1;
  EXPECT_EQ(DotRow(DType::kQ4_0, &weights, &activations, kQK32), 32 * 0.5f * 0.25f);

  // Q4_1: value = q d + m with q = 2, d = 1, m = -3 (value -1) against 2 * 0.5 (value 1): -32.
  BlockQ4_1 offset_weights{};
  offset_weights.d = FloatToFp16(1.0f);
  offset_weights.m = FloatToFp16(-3.0f);
  for (uint8_t& q : offset_weights.qs) q = 0x22;
  std::vector<float> ones(kQK32, 1.0f);
  BlockQ8_1 offset_activations;
  QuantizeRow(DType::kQ8_1, ones.data(), &offset_activations, kQK32);
  EXPECT_NEAR(DotRow(DType::kQ4_1, &offset_weights, &offset_activations, kQK32), -32.0f, 1e-2f);
}

}  // namespace
}  // namespace moefit
