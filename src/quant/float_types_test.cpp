// SPDX-License-Identifier: MIT
// F32, F16 and BF16 rows: conversions and dots against F32 activations.
#include "quant/float_types.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

TEST(FloatTypes, ConversionsUseTheCoreRounding) {
  const std::vector<float> values = {1.0f, -2.5f, 65504.0f, 1e-8f, 3.14159265f, -0.0f, 1.0f / 3};
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<uint16_t> halves(values.size()), bf16s(values.size());
  QuantizeRow(DType::kF16, values.data(), halves.data(), n);
  QuantizeRow(DType::kBF16, values.data(), bf16s.data(), n);
  std::vector<float> from_half(values.size()), from_bf16(values.size()), from_f32(values.size());
  DequantizeRow(DType::kF16, halves.data(), from_half.data(), n);
  DequantizeRow(DType::kBF16, bf16s.data(), from_bf16.data(), n);
  DequantizeRow(DType::kF32, values.data(), from_f32.data(), n);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(halves[i], FloatToFp16(values[i])) << i;
    EXPECT_EQ(bf16s[i], FloatToBf16(values[i])) << i;
    EXPECT_EQ(from_half[i], Fp16ToFloat(halves[i])) << i;
    EXPECT_EQ(from_bf16[i], Bf16ToFloat(bf16s[i])) << i;
    EXPECT_EQ(std::memcmp(&from_f32[i], &values[i], sizeof(float)), 0) << i;
  }
}

TEST(FloatTypes, DotsTakeF32Activations) {
  const std::vector<float> w = {1.0f, 2.0f, -3.0f, 0.5f};
  const std::vector<float> x = {4.0f, -1.0f, 2.0f, 8.0f};  // dot: 4 - 2 - 6 + 4 = 0
  std::vector<uint16_t> halves(4), bf16s(4);
  QuantizeRow(DType::kF16, w.data(), halves.data(), 4);
  QuantizeRow(DType::kBF16, w.data(), bf16s.data(), 4);
  EXPECT_EQ(DotRow(DType::kF32, w.data(), x.data(), 4), 0.0f);
  EXPECT_EQ(DotRow(DType::kF16, halves.data(), x.data(), 4), 0.0f);
  EXPECT_EQ(DotRow(DType::kBF16, bf16s.data(), x.data(), 4), 0.0f);
  const std::vector<float> y = {1.0f, 1.0f, 1.0f, 1.0f};
  EXPECT_EQ(DotRowFloat(DType::kF16, halves.data(), y.data(), 4), 0.5f);
  EXPECT_EQ(DotRowFloat(DType::kF32, w.data(), y.data(), 4), 0.5f);
}

TEST(FloatTypes, UnalignedRows) {
  std::vector<uint8_t> bytes(1 + 8 * sizeof(float));
  std::vector<float> values(8), restored(8);
  for (int i = 0; i < 8; ++i) values[i] = 0.25f * i;
  QuantizeRow(DType::kF32, values.data(), bytes.data() + 1, 8);
  DequantizeRow(DType::kF32, bytes.data() + 1, restored.data(), 8);
  EXPECT_EQ(restored, values);
  QuantizeRow(DType::kF16, values.data(), bytes.data() + 1, 8);
  DequantizeRow(DType::kF16, bytes.data() + 1, restored.data(), 8);
  EXPECT_EQ(restored, values);
}

}  // namespace
}  // namespace moefit
