// SPDX-License-Identifier: MIT
// DType layout table look-ups.
#include "core/dtype.h"

#include <gtest/gtest.h>

namespace moefit {
namespace {

TEST(DType, LayoutsByIdAndName) {
  EXPECT_EQ(FindDTypeLayout(12)->name, "Q4_K");
  EXPECT_EQ(FindDTypeLayout(12)->block_bytes, 144);
  EXPECT_FALSE(FindDTypeLayout(4).has_value());   // retired Q4_2
  EXPECT_FALSE(FindDTypeLayout(31).has_value());  // retired Q4_0_4_4
  EXPECT_FALSE(FindDTypeLayout(40).has_value());
  EXPECT_FALSE(FindDTypeLayout(0xffffffffu).has_value());
  EXPECT_EQ(ParseDType("q6_k"), DType::kQ6_K);
  EXPECT_EQ(ParseDType("MXFP4"), DType::kMXFP4);
  EXPECT_FALSE(ParseDType("Q4_K_M").has_value());
  EXPECT_EQ(RowBytes(DType::kQ8_0, 64), 68);
  EXPECT_EQ(RowBytes(DType::kF32, 3), 12);
}

TEST(DType, BlockBytesMatchTheSpecification) {
  // Bits per weight as published for each block type.
  EXPECT_DOUBLE_EQ(Layout(DType::kQ4_K).block_bytes * 8.0 / Layout(DType::kQ4_K).block_elements, 4.5);
  EXPECT_DOUBLE_EQ(Layout(DType::kQ6_K).block_bytes * 8.0 / Layout(DType::kQ6_K).block_elements, 6.5625);
  EXPECT_DOUBLE_EQ(Layout(DType::kIQ4_XS).block_bytes * 8.0 / Layout(DType::kIQ4_XS).block_elements, 4.25);
  EXPECT_DOUBLE_EQ(Layout(DType::kQ2_K).block_bytes * 8.0 / Layout(DType::kQ2_K).block_elements, 2.625);
  EXPECT_DOUBLE_EQ(Layout(DType::kMXFP4).block_bytes * 8.0 / Layout(DType::kMXFP4).block_elements, 4.25);
}

}  // namespace
}  // namespace moefit
