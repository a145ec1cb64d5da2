// SPDX-License-Identifier: MIT
// The DType traits table, and every type's reference math through it: quantize -> dequantize
// round trips on random data, quantized and float dots, degenerate rows, checked entry points.
#include "quant/dtype_traits.h"

#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/quant_test_util.h"

namespace moefit {
namespace {

using test::Distribution;

constexpr int64_t kRowLength = 1024;
constexpr int64_t kRows = 32;

// Set MOEFIT_QUANT_REPORT=1 to print the measured errors (the bounds below were chosen from
// them with margin).
bool Report() { return std::getenv("MOEFIT_QUANT_REPORT") != nullptr; }

struct Expectation {
  DType type;
  double nmse_normal;  // bound on the round-trip normalised MSE, normal data
  double nmse_heavy;   // ... Student-t (3) data
  double dot_error;    // bound on |quantized dot - exact dot| / (|w| |x|), both sides quantized
};

// Every type with a quantizer. Bounds are about 1.4x the values measured on this (seeded) data;
// rerun with MOEFIT_QUANT_REPORT=1 to see them.
constexpr Expectation kExpectations[] = {
    {DType::kF32, 0, 0, 1e-6},
    {DType::kF16, 1e-7, 1e-7, 5e-5},
    {DType::kBF16, 5e-6, 5e-6, 3e-4},
    {DType::kQ8_0, 5e-5, 1.2e-4, 1.2e-3},
    {DType::kQ8_1, 5e-5, 1.2e-4, 0},  // no quantized dot
    {DType::kQ4_0, 1.1e-2, 2.5e-2, 1.5e-2},
    {DType::kQ4_1, 9e-3, 1.5e-2, 1.5e-2},
    {DType::kQ5_0, 2.7e-3, 7e-3, 7e-3},
    {DType::kQ5_1, 2.1e-3, 3.5e-3, 5e-3},
    {DType::kQ2_K, 0.12, 0.17, 7e-2},
    {DType::kQ3_K, 3.2e-2, 5e-2, 2e-2},
    {DType::kQ4_K, 7e-3, 1.2e-2, 1.1e-2},
    {DType::kQ5_K, 1.9e-3, 3.2e-3, 5e-3},
    {DType::kQ6_K, 4.5e-4, 1e-3, 3.5e-3},
    {DType::kQ8_K, 7e-5, 4.5e-4, 2e-3},
    {DType::kIQ4_NL, 8e-3, 1.5e-2, 1e-2},
    {DType::kIQ4_XS, 8e-3, 1.5e-2, 1.1e-2},
    {DType::kMXFP4, 1.8e-2, 2.8e-2, 1.5e-2},
};

void PrintTo(const Expectation& expect, std::ostream* out) { *out << DTypeName(expect.type); }

std::string TypeName(const testing::TestParamInfo<Expectation>& param) {
  return std::string(DTypeName(param.param.type));
}

class PerType : public testing::TestWithParam<Expectation> {};

TEST_P(PerType, RoundTripErrorIsBounded) {
  const Expectation& expect = GetParam();
  for (Distribution distribution : {Distribution::kNormal, Distribution::kHeavyTailed}) {
    const auto values = test::RandomValues(distribution, kRows * kRowLength, 1234);
    const auto bytes = test::Quantize(expect.type, values, kRowLength);
    ASSERT_EQ(bytes.size(), static_cast<size_t>(RowBytes(expect.type, kRows * kRowLength)));
    const auto restored = test::Dequantize(expect.type, bytes, kRows * kRowLength);
    const double nmse = test::NormalisedMse(values, restored);
    const bool normal = distribution == Distribution::kNormal;
    if (Report()) std::printf("%-7s %-6s nmse %.3e\n", DTypeName(expect.type).data(), normal ? "normal" : "heavy", nmse);
    EXPECT_LE(nmse, normal ? expect.nmse_normal : expect.nmse_heavy) << (normal ? "normal" : "heavy-tailed");
  }
}

// Quantized weights . activations quantized to the dot type: (1) the reference dot equals the
// float dot of the two dequantized rows (so it is the same arithmetic, organised in integer
// block sums), and (2) it stays close to the exact float dot.
TEST_P(PerType, DotMatchesDequantizedAndExact) {
  const Expectation& expect = GetParam();
  const DTypeTraits& traits = Traits(expect.type);
  if (traits.dot_row == nullptr) GTEST_SKIP() << DTypeName(expect.type) << " has no quantized dot";
  const DType dot_type = traits.dot_type;
  double worst_consistency = 0, worst_error = 0;
  for (Distribution distribution : {Distribution::kNormal, Distribution::kHeavyTailed}) {
    const auto weights = test::RandomValues(distribution, kRows * kRowLength, 99);
    const auto x = test::RandomValues(Distribution::kNormal, kRowLength, 7);
    const auto weight_bytes = test::Quantize(expect.type, weights, kRowLength);
    const auto x_bytes = test::Quantize(dot_type, x, kRowLength);
    const auto x_restored = test::Dequantize(dot_type, x_bytes, kRowLength);
    const int64_t row_bytes = RowBytes(expect.type, kRowLength);
    for (int64_t r = 0; r < kRows; ++r) {
      const std::vector<float> w(weights.begin() + r * kRowLength, weights.begin() + (r + 1) * kRowLength);
      const uint8_t* w_row = weight_bytes.data() + r * row_bytes;
      const float dot = DotRow(expect.type, w_row, x_bytes.data(), kRowLength);
      std::vector<float> w_restored(kRowLength);
      DequantizeRow(expect.type, w_row, w_restored.data(), kRowLength);
      const double scale = test::Norm(w) * test::Norm(x);
      worst_consistency = std::max(worst_consistency, std::fabs(dot - test::ExactDot(w_restored, x_restored)) / scale);
      worst_error = std::max(worst_error, std::fabs(dot - test::ExactDot(w, x)) / scale);
    }
  }
  if (Report())
    std::printf("%-7s dot vs %-5s: consistency %.3e, error %.3e\n", DTypeName(expect.type).data(),
                DTypeName(dot_type).data(), worst_consistency, worst_error);
  // Q8_1 carries d * sum(q) as F16, which the Q4_1 / Q5_1 dots use for their offset term.
  EXPECT_LE(worst_consistency, dot_type == DType::kQ8_1 ? 1e-4 : 1e-6);
  EXPECT_LE(worst_error, expect.dot_error);
}

// Float activations: the dot equals the dot of the dequantized row (to float rounding).
TEST_P(PerType, FloatDotMatchesDequantized) {
  const Expectation& expect = GetParam();
  const auto weights = test::RandomValues(Distribution::kHeavyTailed, kRows * kRowLength, 5);
  const auto x = test::RandomValues(Distribution::kNormal, kRowLength, 6);
  const auto bytes = test::Quantize(expect.type, weights, kRowLength);
  const int64_t row_bytes = RowBytes(expect.type, kRowLength);
  double worst = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<float> restored(kRowLength);
    DequantizeRow(expect.type, bytes.data() + r * row_bytes, restored.data(), kRowLength);
    const float dot = DotRowFloat(expect.type, bytes.data() + r * row_bytes, x.data(), kRowLength);
    worst = std::max(worst, std::fabs(dot - test::ExactDot(restored, x)) / (test::Norm(restored) * test::Norm(x)));
  }
  EXPECT_LE(worst, 1e-6);
}

// Zero, tiny, huge and constant rows quantize to finite values; zero rows come back as zeros.
TEST_P(PerType, DegenerateRows) {
  const Expectation& expect = GetParam();
  for (float value : {0.0f, 1e-30f, -3e-8f, 1.0f, -250.0f, 3e4f}) {
    std::vector<float> row(512, value);
    row[5] = value * 0.5f;
    const auto bytes = test::Quantize(expect.type, row, static_cast<int64_t>(row.size()));
    const auto restored = test::Dequantize(expect.type, bytes, static_cast<int64_t>(row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      ASSERT_TRUE(std::isfinite(restored[i])) << "input " << value << " element " << i;
      if (value == 0) {
        ASSERT_EQ(restored[i], 0.0f);
      }
    }
    if (std::fabs(value) >= 1e-3f && std::fabs(value) <= 1e4f) {
      EXPECT_LE(test::NormalisedMse(row, restored), 0.02) << "constant row of " << value;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, PerType, testing::ValuesIn(kExpectations), TypeName);

TEST(DTypeTraits, OneRowPerLayoutInIdOrder) {
  const auto traits = AllDTypeTraits();
  ASSERT_EQ(traits.size(), std::size(kDTypeLayouts));
  for (size_t i = 0; i < traits.size(); ++i) {
    EXPECT_EQ(traits[i].type, kDTypeLayouts[i].type);
    EXPECT_EQ(&Traits(kDTypeLayouts[i].type), &traits[i]);
    EXPECT_EQ(traits[i].layout().name, kDTypeLayouts[i].name);
  }
}

TEST(DTypeTraits, CoverageOfTheRequiredTypes) {
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ8_1, DType::kQ4_0, DType::kQ4_1,
                     DType::kQ5_0, DType::kQ5_1, DType::kQ8_K, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,
                     DType::kQ5_K, DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS, DType::kMXFP4}) {
    SCOPED_TRACE(DTypeName(type));
    EXPECT_TRUE(CanDequantize(type));
    EXPECT_TRUE(CanQuantize(type));
    EXPECT_NE(Traits(type).dot_row_float, nullptr);
    bool tested = false;
    for (const Expectation& expect : kExpectations) tested |= expect.type == type;
    EXPECT_TRUE(tested) << "no round-trip expectation";
  }
  EXPECT_FALSE(CanDot(DType::kQ8_1));  // the reference has no Q8_1 weight dot either
  for (DType type : {DType::kIQ2_XXS, DType::kIQ1_M, DType::kTQ2_0, DType::kI8, DType::kF64}) {
    EXPECT_FALSE(CanDequantize(type));
    EXPECT_FALSE(CanQuantize(type));
    EXPECT_FALSE(CanDot(type));
    EXPECT_EQ(Traits(type).dot_row_float, nullptr);
  }
}

TEST(DTypeTraits, ActivationPairings) {
  EXPECT_EQ(Traits(DType::kQ4_0).dot_type, DType::kQ8_0);
  EXPECT_EQ(Traits(DType::kQ4_1).dot_type, DType::kQ8_1);
  EXPECT_EQ(Traits(DType::kQ5_0).dot_type, DType::kQ8_0);
  EXPECT_EQ(Traits(DType::kQ5_1).dot_type, DType::kQ8_1);
  EXPECT_EQ(Traits(DType::kQ8_0).dot_type, DType::kQ8_0);
  EXPECT_EQ(Traits(DType::kIQ4_NL).dot_type, DType::kQ8_0);
  EXPECT_EQ(Traits(DType::kMXFP4).dot_type, DType::kQ8_0);
  for (DType type : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS})
    EXPECT_EQ(Traits(type).dot_type, DType::kQ8_K) << DTypeName(type);
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    EXPECT_EQ(Traits(type).dot_type, DType::kF32);
    EXPECT_TRUE(Traits(type).Has(kDTypeFloat));
  }
  for (DType type : {DType::kF32, DType::kQ8_0, DType::kQ8_1, DType::kQ8_K})
    EXPECT_TRUE(Traits(type).Has(kDTypeActivation)) << DTypeName(type);
  EXPECT_TRUE(Traits(DType::kQ4_K).Has(kDTypeScaleSearch));
  EXPECT_FALSE(Traits(DType::kQ8_K).Has(kDTypeScaleSearch));
}

TEST(DTypeTraits, CheckedEntryPointsThrowNamingTheType) {
  std::vector<uint8_t> bytes(1024);
  std::vector<float> values(256);
  auto message_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_NE(message_of([&] { DequantizeRow(DType::kIQ2_XXS, bytes.data(), values.data(), 256); }).find("IQ2_XXS"),
            std::string::npos);
  EXPECT_NE(message_of([&] { QuantizeRow(DType::kTQ1_0, values.data(), bytes.data(), 256); }).find("TQ1_0"),
            std::string::npos);
  EXPECT_NE(message_of([&] { DotRow(DType::kQ8_1, bytes.data(), bytes.data(), 32); }).find("Q8_1"), std::string::npos);
  EXPECT_NE(message_of([&] { DotRowFloat(DType::kI32, bytes.data(), values.data(), 8); }).find("I32"),
            std::string::npos);
  const std::string partial = message_of([&] { DequantizeRow(DType::kQ4_K, bytes.data(), values.data(), 100); });
  EXPECT_NE(partial.find("Q4_K"), std::string::npos);
  EXPECT_NE(partial.find("256"), std::string::npos);
  EXPECT_THROW(DequantizeRow(DType::kQ8_0, bytes.data(), values.data(), -32), Error);
  EXPECT_THROW(Traits(static_cast<DType>(4)), Error);  // a retired id
  EXPECT_THROW(Traits(static_cast<DType>(1000)), Error);
  EXPECT_FALSE(CanDequantize(static_cast<DType>(1000)));
  EXPECT_NO_THROW(DequantizeRow(DType::kQ8_0, bytes.data(), values.data(), 0));
}

}  // namespace
}  // namespace moefit
