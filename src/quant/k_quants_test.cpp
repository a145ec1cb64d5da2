// SPDX-License-Identifier: MIT
// Hand-built K-quant blocks pin the scale packing and the element order of every format; Q8_K
// quantization fills its block sums.
#include "quant/k_quants.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

template <typename Block>
std::vector<float> DequantizeBlock(DType type, const Block& block) {
  std::vector<float> values(kQK_K);
  DequantizeRow(type, &block, values.data(), kQK_K);
  return values;
}

void FillRandom(uint8_t* bytes, size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  for (size_t i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>(generator());
}

// Eight 6-bit scales and mins packed by hand as the format describes.
constexpr int kScales[8] = {1, 2, 3, 4, 37, 50, 63, 20};
constexpr int kMins[8] = {5, 6, 7, 8, 40, 33, 17, 63};
void PackScalesByHand(uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(kScales[j] | (kScales[j + 4] >> 4) << 6);
    packed[j + 4] = static_cast<uint8_t>(kMins[j] | (kMins[j + 4] >> 4) << 6);
    packed[j + 8] = static_cast<uint8_t>((kScales[j + 4] & 15) | (kMins[j + 4] & 15) << 4);
  }
}

TEST(KQuants, ScaleMinK4Unpacking) {
  uint8_t packed[12];
  PackScalesByHand(packed);
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    ScaleMinK4(j, packed, scale, min);
    EXPECT_EQ(scale, kScales[j]) << j;
    EXPECT_EQ(min, kMins[j]) << j;
  }
}

TEST(Q4_K, HandBuiltBlock) {
  BlockQ4_K block{};
  block.d = FloatToFp16(1.0f);
  block.dmin = FloatToFp16(0.5f);
  PackScalesByHand(block.scales);
  FillRandom(block.qs, sizeof block.qs, 1);
  const auto values = DequantizeBlock(DType::kQ4_K, block);
  for (int e = 0; e < kQK_K; ++e) {
    // Each 64 elements use 32 bytes: first the low nibbles, then the high nibbles.
    const uint8_t byte = block.qs[32 * (e / 64) + e % 32];
    const int q = (e % 64 < 32) ? (byte & 15) : (byte >> 4);
    ASSERT_EQ(values[e], 1.0f * kScales[e / 32] * q - 0.5f * kMins[e / 32]) << e;
  }
  block.qs[0] = 0xA3;
  block.qs[32] = 0x05;
  const auto spot = DequantizeBlock(DType::kQ4_K, block);
  EXPECT_EQ(spot[0], 1 * 3 - 2.5f);    // sub-block 0: scale 1, min 5
  EXPECT_EQ(spot[32], 2 * 10 - 3.0f);  // sub-block 1: scale 2, min 6
  EXPECT_EQ(spot[64], 3 * 5 - 3.5f);   // sub-block 2: scale 3, min 7
}

TEST(Q5_K, HandBuiltBlock) {
  BlockQ5_K block{};
  block.d = FloatToFp16(0.25f);
  block.dmin = FloatToFp16(2.0f);
  PackScalesByHand(block.scales);
  FillRandom(block.qs, sizeof block.qs, 2);
  FillRandom(block.qh, sizeof block.qh, 3);
  const auto values = DequantizeBlock(DType::kQ5_K, block);
  for (int e = 0; e < kQK_K; ++e) {
    const uint8_t byte = block.qs[32 * (e / 64) + e % 32];
    const int low = (e % 64 < 32) ? (byte & 15) : (byte >> 4);
    const int high = (block.qh[e % 32] >> (e / 32)) & 1;  // bit b of qh[l] serves elements 32b + l
    ASSERT_EQ(values[e], 0.25f * kScales[e / 32] * (low + 16 * high) - 2.0f * kMins[e / 32]) << e;
  }
}

TEST(Q6_K, HandBuiltBlock) {
  BlockQ6_K block{};
  block.d = FloatToFp16(0.125f);
  for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<int8_t>(9 * j - 70);
  FillRandom(block.ql, sizeof block.ql, 4);
  FillRandom(block.qh, sizeof block.qh, 5);
  const auto values = DequantizeBlock(DType::kQ6_K, block);
  for (int e = 0; e < kQK_K; ++e) {
    // Each 128 elements: 64 ql bytes (elements 0-31 and 64-95 from ql[0..31], low then high
    // nibble; 32-63 and 96-127 from ql[32..63]) and 32 qh bytes (2 bits per 32-element quarter).
    const int half = e / 128, i = e % 128, quarter = i / 32, l = i % 32;
    const uint8_t low_byte = block.ql[64 * half + l + (quarter % 2 == 1 ? 32 : 0)];
    const int low = quarter < 2 ? (low_byte & 15) : (low_byte >> 4);
    const int high = (block.qh[32 * half + l] >> (2 * quarter)) & 3;
    ASSERT_EQ(values[e], 0.125f * block.scales[e / 16] * ((low | high << 4) - 32)) << e;
  }
}

TEST(Q2_K, HandBuiltBlock) {
  BlockQ2_K block{};
  block.d = FloatToFp16(0.5f);
  block.dmin = FloatToFp16(0.25f);
  for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  FillRandom(block.qs, sizeof block.qs, 6);
  const auto values = DequantizeBlock(DType::kQ2_K, block);
  for (int e = 0; e < kQK_K; ++e) {
    // Each 128 elements share 32 bytes; quarter k of them is bits 2k..2k+1.
    const int q = (block.qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
    const int sub = e / 16;
    ASSERT_EQ(values[e], 0.5f * sub * q - 0.25f * (15 - sub)) << e;
  }
}

TEST(Q3_K, HandBuiltBlock) {
  BlockQ3_K block{};
  block.d = FloatToFp16(0.5f);
  int scales[16];
  for (int j = 0; j < 16; ++j) {
    scales[j] = (j * 37) % 64;  // 6-bit, biased by 32
    block.scales[j % 8] |= static_cast<uint8_t>((scales[j] & 15) << (j < 8 ? 0 : 4));
    block.scales[8 + j % 4] |= static_cast<uint8_t>((scales[j] >> 4) << (2 * (j / 4)));
  }
  FillRandom(block.qs, sizeof block.qs, 7);
  FillRandom(block.hmask, sizeof block.hmask, 8);
  const auto values = DequantizeBlock(DType::kQ3_K, block);
  for (int e = 0; e < kQK_K; ++e) {
    const int low = (block.qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
    const bool high = (block.hmask[e % 32] >> (e / 32)) & 1;
    ASSERT_EQ(values[e], 0.5f * (scales[e / 16] - 32) * (low - (high ? 0 : 4))) << e;
  }
}

TEST(Q8_K, QuantizeFillsBlockSums) {
  std::vector<float> values(2 * kQK_K);
  std::mt19937 generator(9);
  std::normal_distribution<float> normal;
  for (float& v : values) v = normal(generator);
  values[300] = -9.0f;  // the largest magnitude of the second block
  std::vector<BlockQ8_K> blocks(2);
  QuantizeRow(DType::kQ8_K, values.data(), blocks.data(), 2 * kQK_K);
  EXPECT_EQ(blocks[1].qs[300 - kQK_K], -127);
  EXPECT_FLOAT_EQ(blocks[1].d, 9.0f / 127);
  for (const BlockQ8_K& block : blocks) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += block.qs[16 * j + l];
      EXPECT_EQ(block.bsums[j], sum) << j;
    }
  }
  std::vector<float> restored(2 * kQK_K);
  DequantizeRow(DType::kQ8_K, blocks.data(), restored.data(), 2 * kQK_K);
  for (int e = 0; e < kQK_K; ++e) EXPECT_NEAR(restored[e], values[e], 0.5f * std::fabs(blocks[0].d) + 1e-6f);
}

TEST(KQuantDots, MinsUseTheActivationBlockSums) {
  // Q4_K with every level 0: the dot is -dmin * sum_sub min * sum(x of the sub-block).
  BlockQ4_K weights{};
  weights.d = FloatToFp16(1.0f);
  weights.dmin = FloatToFp16(0.5f);
  PackScalesByHand(weights.scales);
  std::vector<float> x(kQK_K);
  for (int e = 0; e < kQK_K; ++e) x[e] = static_cast<float>(e % 7) - 3;
  BlockQ8_K activations;
  QuantizeRow(DType::kQ8_K, x.data(), &activations, kQK_K);
  double expected = 0;
  for (int e = 0; e < kQK_K; ++e) expected += -0.5 * kMins[e / 32] * activations.qs[e] * activations.d;
  EXPECT_NEAR(DotRow(DType::kQ4_K, &weights, &activations, kQK_K), expected, 1e-4 * std::fabs(expected));
}

}  // namespace
}  // namespace moefit
