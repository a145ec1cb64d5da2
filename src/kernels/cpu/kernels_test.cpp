// SPDX-License-Identifier: MIT
// Every dispatched CPU kernel against its scalar reference, on every ISA level this machine has:
// dots (row and rows x tokens tile) per weight type, activation quantizers byte for byte, and
// the MatMul fast path against the reference path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/test_isas.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"
#include "quant/repack.h"

namespace moefit {
namespace {

constexpr DType kDotTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ8_0,
                               DType::kIQ4_NL, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS};
constexpr DType kActivationTypes[] = {DType::kQ8_0, DType::kQ8_K};

// Byte offsets of the F16 scale fields of one block, for the types whose random bytes need sane
// scales (random F16 bits would be NaN / inf now and then).
std::vector<int> ScaleOffsets(DType type) {
  switch (type) {
    case DType::kQ4_0: case DType::kQ8_0: case DType::kIQ4_NL: case DType::kIQ4_XS: return {0};
    case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

enum class Scales { kRandom, kExtreme, kUnit };

uint16_t PickScale(Scales scales, std::mt19937& rng) {
  if (scales == Scales::kUnit) return FloatToFp16(1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  if (scales == Scales::kRandom) return FloatToFp16(uniform(rng) * 0.05f);
  // Largest and smallest F16 magnitudes, subnormals, zero, both signs.
  constexpr uint16_t kExtremes[] = {0x7bff, 0xfbff, 0x0001, 0x8001, 0x03ff, 0x0400, 0x0000, 0x8000, 0x3c00, 0x5bff};
  return kExtremes[std::uniform_int_distribution<int>(0, std::size(kExtremes) - 1)(rng)];
}

// A weight row of `elements`: random bytes for block types (every level and sub-block scale
// pattern occurs) with F16 scales from `scales`; random floats for plain types.
std::vector<uint8_t> RandomWeights(DType type, int64_t elements, Scales scales, std::mt19937& rng) {
  const DTypeLayout& layout = Layout(type);
  std::vector<uint8_t> bytes(static_cast<size_t>(RowBytes(type, elements)));
  if (!layout.quantized) {
    std::vector<float> values(static_cast<size_t>(elements));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::uniform_int_distribution<int> small_int(-8, 8);
    for (float& v : values) v = scales == Scales::kUnit ? static_cast<float>(small_int(rng)) : uniform(rng);
    if (scales == Scales::kExtreme)
      for (size_t i = 0; i < values.size(); ++i) values[i] *= (i % 3 == 0) ? 1e4f : 1e-4f;
    QuantizeRow(type, values.data(), bytes.data(), elements);
    return bytes;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(rng));
  for (int64_t block = 0; block < elements / layout.block_elements; ++block)
    for (int offset : ScaleOffsets(type)) {
      const uint16_t bits = PickScale(scales, rng);
      std::memcpy(bytes.data() + block * layout.block_bytes + offset, &bits, sizeof bits);
    }
  return bytes;
}

// Activations of one token: floats (F32 dots) or their quantization with the reference quantizer.
std::vector<uint8_t> RandomActivations(DType activation_type, int64_t elements, Scales scales, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(elements));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small_int(-8, 8);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = scales == Scales::kUnit && activation_type == DType::kF32 ? static_cast<float>(small_int(rng)) : normal(rng);
    if (scales == Scales::kExtreme) x[i] *= (i / 32 % 2 == 0) ? 1e3f : 1e-3f;
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(RowBytes(activation_type, elements)));
  QuantizeRow(activation_type, x.data(), bytes.data(), elements);
  if (scales == Scales::kUnit && activation_type != DType::kF32) {
    // Unit scales make every dot an exact integer (in range): fast and reference must agree bit
    // for bit.
    const DTypeLayout& layout = Layout(activation_type);
    for (int64_t block = 0; block < elements / layout.block_elements; ++block) {
      uint8_t* p = bytes.data() + block * layout.block_bytes;
      if (activation_type == DType::kQ8_K) {
        const float one = 1.0f;
        std::memcpy(p, &one, sizeof one);
      } else {
        const uint16_t one = FloatToFp16(1.0f);
        std::memcpy(p, &one, sizeof one);
      }
    }
  }
  return bytes;
}

// sum |w_i * x_i| over the dequantized rows: the scale of the rounding error of any order of
// summation.
double Magnitude(DType type, const uint8_t* weights, DType activation_type, const uint8_t* activations,
                 int64_t elements) {
  std::vector<float> w(static_cast<size_t>(elements)), x(static_cast<size_t>(elements));
  DequantizeRow(type, weights, w.data(), elements);
  DequantizeRow(activation_type, activations, x.data(), elements);
  double sum = 0;
  for (int64_t i = 0; i < elements; ++i) sum += std::fabs(static_cast<double>(w[i]) * x[i]);
  return sum;
}

constexpr double kRelativeTolerance = 1e-5;

std::string Label(CpuIsa isa, DType type) { return std::string(IsaName(isa)) + "_" + std::string(DTypeName(type)); }

class DotKernelTest : public testing::TestWithParam<std::tuple<CpuIsa, DType>> {
 protected:
  CpuIsa isa() const { return std::get<0>(GetParam()); }
  DType type() const { return std::get<1>(GetParam()); }
  const DotKernel& kernel() {
    if (!table_) table_ = BuildKernelTable(isa());
    return table_->Dot(type());
  }
  DType activation_type() const { return Traits(type()).dot_type; }
  // Row lengths to try: 1..16 blocks (odd counts, not multiples of any unroll) and, for plain
  // types, lengths that are not multiples of 8 or 16.
  std::vector<int64_t> Lengths() const {
    const int64_t block = Layout(type()).block_elements;
    std::vector<int64_t> lengths;
    for (int64_t blocks : {1, 2, 3, 5, 7, 8, 16}) lengths.push_back(blocks * (block == 1 ? 32 : block));
    if (block == 1)
      for (int64_t n : {1, 7, 9, 15, 17, 31, 33, 100, 2049}) lengths.push_back(n);
    if (block == 32) lengths.push_back(2048 + 32);
    if (block == 256) lengths.push_back(2048 + 256);
    return lengths;
  }

  std::optional<KernelTable> table_;
};

TEST_P(DotKernelTest, RegisteredAtThisLevel) {
  ASSERT_NE(kernel().row, nullptr);
  EXPECT_EQ(kernel().activation_type, activation_type());
  if (isa() != CpuIsa::kScalar) {
    EXPECT_EQ(kernel().isa, isa()) << "no " << IsaName(isa()) << " kernel registered for " << DTypeName(type());
    EXPECT_NE(kernel().tile, nullptr);
  }
}

TEST_P(DotKernelTest, RowMatchesReference) {
  std::mt19937 rng(1234 + static_cast<int>(type()));
  const DotRowFn reference = Traits(type()).dot_row;
  for (Scales scales : {Scales::kRandom, Scales::kExtreme}) {
    for (int64_t elements : Lengths()) {
      for (int trial = 0; trial < 4; ++trial) {
        const auto w = RandomWeights(type(), elements, scales, rng);
        const auto x = RandomActivations(activation_type(), elements, scales, rng);
        const float expected = reference(w.data(), x.data(), elements);
        const float actual = kernel().row(w.data(), x.data(), elements);
        const double magnitude = Magnitude(type(), w.data(), activation_type(), x.data(), elements);
        ASSERT_TRUE(std::isfinite(expected));
        EXPECT_LE(std::fabs(static_cast<double>(actual) - expected), kRelativeTolerance * magnitude + 1e-30)
            << "elements " << elements << " trial " << trial << " scales " << static_cast<int>(scales)
            << ": expected " << expected << " got " << actual << " (sum |w x| " << magnitude << ")";
      }
    }
  }
}

TEST_P(DotKernelTest, IntegerSumsAreExact) {
  // Unit scales: every product and partial sum is an integer below 2^24, so any order of
  // summation gives the same float.
  std::mt19937 rng(99 + static_cast<int>(type()));
  const DotRowFn reference = Traits(type()).dot_row;
  const int64_t block = Layout(type()).block_elements;
  for (int64_t blocks : {1, 2, 3, 4}) {
    const int64_t elements = blocks * (block == 1 ? 40 : block);
    for (int trial = 0; trial < 8; ++trial) {
      const auto w = RandomWeights(type(), elements, Scales::kUnit, rng);
      const auto x = RandomActivations(activation_type(), elements, Scales::kUnit, rng);
      EXPECT_EQ(kernel().row(w.data(), x.data(), elements), reference(w.data(), x.data(), elements))
          << "elements " << elements << " trial " << trial;
    }
  }
}

TEST_P(DotKernelTest, TileMatchesReferenceForEveryRowAndToken) {
  std::mt19937 rng(777 + static_cast<int>(type()));
  const DotRowFn reference = Traits(type()).dot_row;
  // Float rows also long enough for the AVX-512 tiles' slices (1100: two slices of 512 and a
  // tail of 76), with more tokens than one run of them takes (32).
  const bool plain = Layout(type()).block_elements == 1;
  const std::vector<int64_t> lengths = plain ? std::vector<int64_t>{300, 1100} : std::vector<int64_t>{512};
  const std::vector<int64_t> token_counts = plain ? std::vector<int64_t>{1, 2, 3, 5, 35} : std::vector<int64_t>{1, 2, 3, 5};
  for (const int64_t elements : lengths)
  for (int64_t rows : {1, 2, 3, 4, 5, 7, 13}) {
    const int64_t row_bytes = RowBytes(type(), elements), act_bytes = RowBytes(activation_type(), elements);
    for (int64_t tokens : token_counts) {
      std::vector<uint8_t> w, x;
      for (int64_t r = 0; r < rows; ++r) {
        const auto row = RandomWeights(type(), elements, Scales::kRandom, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      for (int64_t t = 0; t < tokens; ++t) {
        const auto row = RandomActivations(activation_type(), elements, Scales::kRandom, rng);
        x.insert(x.end(), row.begin(), row.end());
      }
      const int64_t stride = rows + 3;  // untouched gaps between tokens must stay untouched
      std::vector<float> out(static_cast<size_t>(tokens * stride), -12345.0f);
      const DotTileFn tile = kernel().tile;
      if (tile == nullptr) return;  // scalar level: MatMul loops `row` (tested above)
      tile({.weights = w.data(), .weight_row_bytes = row_bytes, .rows = rows, .activations = x.data(),
            .activation_row_bytes = act_bytes, .tokens = tokens, .elements = elements, .out = out.data(),
            .out_token_stride = stride});
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          const uint8_t* wr = w.data() + r * row_bytes;
          const uint8_t* xt = x.data() + t * act_bytes;
          const double magnitude = Magnitude(type(), wr, activation_type(), xt, elements);
          EXPECT_LE(std::fabs(static_cast<double>(out[t * stride + r]) - reference(wr, xt, elements)),
                    kRelativeTolerance * magnitude + 1e-30)
              << "elements " << elements << " rows " << rows << " tokens " << tokens << " at row " << r << " token " << t;
        }
        for (int64_t r = rows; r < stride; ++r) {
          EXPECT_EQ(out[t * stride + r], -12345.0f) << "wrote past the tile";
        }
        // A token alone gives the bits it gets among others (kernels that take tokens in blocks
        // keep each token's chain).
        std::vector<float> alone(static_cast<size_t>(rows), -1.0f);
        tile({.weights = w.data(), .weight_row_bytes = row_bytes, .rows = rows, .activations = x.data() + t * act_bytes,
              .activation_row_bytes = act_bytes, .tokens = 1, .elements = elements, .out = alone.data(),
              .out_token_stride = rows});
        EXPECT_EQ(std::memcmp(alone.data(), out.data() + t * stride, static_cast<size_t>(rows) * sizeof(float)), 0)
            << "token " << t << " of " << tokens << ", rows " << rows;
      }
    }
  }
}

// The same tile on rows interleaved by block in groups of 4 (the layout weights are loaded
// into): every row's result is bit-for-bit the plain-row result, short last groups included.
TEST_P(DotKernelTest, TileOnInterleavedRowsMatchesPlainRows) {
  if (!CanInterleave(type())) GTEST_SKIP() << "plain number type: never interleaved";
  const DotTileFn tile = kernel().tile;
  if (tile == nullptr) GTEST_SKIP() << "scalar level: MatMul copies interleaved rows out (tested in matmul tests)";
  std::mt19937 rng(4242 + static_cast<int>(type()));
  const int64_t elements = 768;
  const int64_t row_bytes = RowBytes(type(), elements), act_bytes = RowBytes(activation_type(), elements);
  for (int64_t rows : {1, 3, 4, 6, 8, 13}) {
    std::vector<uint8_t> w, x;
    for (int64_t r = 0; r < rows; ++r) {
      const auto row = RandomWeights(type(), elements, Scales::kRandom, rng);
      w.insert(w.end(), row.begin(), row.end());
    }
    const int64_t tokens = 3;
    for (int64_t t = 0; t < tokens; ++t) {
      const auto row = RandomActivations(activation_type(), elements, Scales::kRandom, rng);
      x.insert(x.end(), row.begin(), row.end());
    }
    std::vector<float> plain_out(static_cast<size_t>(tokens * rows)), interleaved_out(plain_out.size(), -1.0f);
    tile({.weights = w.data(), .weight_row_bytes = row_bytes, .rows = rows, .activations = x.data(),
          .activation_row_bytes = act_bytes, .tokens = tokens, .elements = elements, .out = plain_out.data(),
          .out_token_stride = rows});
    std::vector<uint8_t> interleaved = w;
    InterleaveRows(interleaved.data(), type(), elements, rows, 1);
    if (rows > 1 && Layout(type()).block_elements < elements) {
      EXPECT_NE(interleaved, w) << "rows " << rows;
    }
    tile({.weights = interleaved.data(), .weight_row_bytes = row_bytes, .rows = rows,
          .row_group = kInterleavedRowGroup, .activations = x.data(), .activation_row_bytes = act_bytes,
          .tokens = tokens, .elements = elements, .out = interleaved_out.data(), .out_token_stride = rows});
    EXPECT_EQ(interleaved_out, plain_out) << "rows " << rows;
  }
}

// Repacked row groups (quant/repack.h, the layout Q4_K weights are loaded into where a level
// has a kernel for them): every row and token against the reference on the file's rows, with
// tokens picked by index and the gaps between output rows left alone.
class RepackedDotTest : public DotKernelTest {};
constexpr DType kRepackedTypes[] = {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS};

TEST(RepackedDotTypes, AreTheRepackableOnes) {
  for (const DTypeTraits& traits : AllDTypeTraits()) {
    const bool listed = std::find(std::begin(kRepackedTypes), std::end(kRepackedTypes), traits.type) != std::end(kRepackedTypes);
    EXPECT_EQ(listed, CanRepack(traits.type)) << DTypeName(traits.type);
  }
}

TEST_P(RepackedDotTest, TileMatchesReference) {
  const DotTileFn tile = kernel().repacked_tile;
  if (isa() != CpuIsa::kScalar) {
    ASSERT_NE(tile, nullptr) << "no repacked kernel at " << IsaName(isa());
  }
  if (tile == nullptr) GTEST_SKIP() << "scalar level: weights are not repacked for it";
  std::mt19937 rng(31337 + static_cast<int>(type()));
  const DotRowFn reference = Traits(type()).dot_row;
  for (Scales scales : {Scales::kRandom, Scales::kExtreme, Scales::kUnit}) {
    for (int64_t blocks : {1, 2, 3, 8}) {
      const int64_t elements = blocks * Layout(type()).block_elements;
      const int64_t row_bytes = RowBytes(type(), elements), act_bytes = RowBytes(activation_type(), elements);
      // 136 and 264 rows: more row groups than one pass of the multi-token kernels takes (16, 32
      // or 64); 16 and 21 tokens: a full pass of the 16-token kernels and one more (as 16 + 5, or
      // 11 + 10 where the passes are even); 37: three passes (16 + 16 + 5, or 13 + 12 + 12).
      for (int64_t rows : {4, 8, 12, 136, 264}) {
        for (int64_t tokens : {1, 2, 3, 5, 8, 11, 16, 21, 37}) {
          std::vector<uint8_t> w, x;
          for (int64_t r = 0; r < rows; ++r) {
            const auto row = RandomWeights(type(), elements, scales, rng);
            w.insert(w.end(), row.begin(), row.end());
          }
          const int64_t x_rows = tokens + 2;
          for (int64_t t = 0; t < x_rows; ++t) {
            const auto row = RandomActivations(activation_type(), elements, scales, rng);
            x.insert(x.end(), row.begin(), row.end());
          }
          std::vector<int32_t> picked(static_cast<size_t>(tokens));
          for (int64_t t = 0; t < tokens; ++t) picked[t] = static_cast<int32_t>((3 * t + 1) % x_rows);
          std::vector<uint8_t> packed = w;
          InterleaveRows(packed.data(), type(), elements, rows, 1);
          RepackRows(packed.data(), type(), elements, rows, 1);
          const int64_t stride = rows + 3;
          std::vector<float> out(static_cast<size_t>(tokens * stride), -12345.0f);
          tile({.weights = packed.data(), .weight_row_bytes = row_bytes, .rows = rows,
                .row_group = kInterleavedRowGroup, .activations = x.data(), .activation_row_bytes = act_bytes,
                .tokens = tokens, .activation_rows = picked.data(), .elements = elements, .out = out.data(),
                .out_token_stride = stride});
          for (int64_t t = 0; t < tokens; ++t) {
            const uint8_t* xt = x.data() + picked[t] * act_bytes;
            for (int64_t r = 0; r < rows; ++r) {
              const uint8_t* wr = w.data() + r * row_bytes;
              const float expected = reference(wr, xt, elements), actual = out[t * stride + r];
              if (scales == Scales::kUnit) {  // exact integers: any order of summation agrees
                EXPECT_EQ(actual, expected) << "rows " << rows << " tokens " << tokens << " row " << r << " token " << t;
                continue;
              }
              const double magnitude = Magnitude(type(), wr, activation_type(), xt, elements);
              EXPECT_LE(std::fabs(static_cast<double>(actual) - expected), kRelativeTolerance * magnitude + 1e-30)
                  << "blocks " << blocks << " rows " << rows << " tokens " << tokens << " row " << r << " token " << t
                  << " scales " << static_cast<int>(scales);
            }
            for (int64_t r = rows; r < stride; ++r) EXPECT_EQ(out[t * stride + r], -12345.0f) << "wrote past the tile";
            // A token alone (decode takes the single-token kernels) gives the bits it gets among others.
            std::vector<float> alone(static_cast<size_t>(rows), -1.0f);
            tile({.weights = packed.data(), .weight_row_bytes = row_bytes, .rows = rows,
                  .row_group = kInterleavedRowGroup, .activations = x.data(), .activation_row_bytes = act_bytes,
                  .tokens = 1, .activation_rows = picked.data() + t, .elements = elements, .out = alone.data(),
                  .out_token_stride = rows});
            EXPECT_EQ(std::memcmp(alone.data(), out.data() + t * stride, static_cast<size_t>(rows) * sizeof(float)), 0)
                << "token " << t << " of " << tokens << ", rows " << rows << ", blocks " << blocks;
          }
        }
      }
    }
  }
}

// One block of a row whose levels are all the type's lowest (`low`) or highest, with unit scales
// (d = 1, dmin = 0, sub-block scales 1): the integer extremes the repacked kernels' int16 and
// int32 lanes are sized for (Q4_K 16 x 15 x 127, Q5_K 16 x 16 x 127 after its offset, Q6_K 8 x
// 32 x 127, IQ4_XS 16 x 127 x 127), small enough that every dot is an exact float.
std::vector<uint8_t> ExtremeLevelsBlock(DType type, bool low) {
  const uint8_t levels = low ? 0x00 : 0xff;
  const uint16_t one = FloatToFp16(1.0f);
  std::vector<uint8_t> bytes(static_cast<size_t>(Layout(type).block_bytes));
  auto fill_k_scales = [](uint8_t* scales) {  // 6-bit scales 1, mins 0 (Q4_K / Q5_K packing)
    for (int j = 0; j < 4; ++j) scales[j] = 1, scales[j + 4] = 0, scales[j + 8] = 1;
  };
  switch (type) {
    case DType::kQ4_K: {
      BlockQ4_K block{.d = one, .dmin = 0, .scales = {}, .qs = {}};
      fill_k_scales(block.scales);
      std::memset(block.qs, levels, sizeof block.qs);
      std::memcpy(bytes.data(), &block, sizeof block);
      break;
    }
    case DType::kQ5_K: {
      BlockQ5_K block{.d = one, .dmin = 0, .scales = {}, .qh = {}, .qs = {}};
      fill_k_scales(block.scales);
      std::memset(block.qh, levels, sizeof block.qh);
      std::memset(block.qs, levels, sizeof block.qs);
      std::memcpy(bytes.data(), &block, sizeof block);
      break;
    }
    case DType::kQ6_K: {
      BlockQ6_K block{.ql = {}, .qh = {}, .scales = {}, .d = one};
      std::memset(block.ql, levels, sizeof block.ql);
      std::memset(block.qh, levels, sizeof block.qh);
      for (int8_t& scale : block.scales) scale = 1;
      std::memcpy(bytes.data(), &block, sizeof block);
      break;
    }
    case DType::kIQ4_XS: {  // scale6 = 33 (scale - 32 = 1): low nibbles 1, high bits 0b10
      BlockIQ4_XS block{.d = one, .scales_h = 0xaaaa, .scales_l = {0x11, 0x11, 0x11, 0x11}, .qs = {}};
      std::memset(block.qs, levels, sizeof block.qs);
      std::memcpy(bytes.data(), &block, sizeof block);
      break;
    }
    default: ADD_FAILURE() << "no extreme block for " << DTypeName(type);
  }
  return bytes;
}

// Every level at its lowest or highest against activations all +127 or all -127 (Q8_K, d = 1):
// the fullest int16 / int32 lanes of the repacked kernels, in decode streams and prefill passes;
// a lane that saturated would be off by at least 1, so fast and reference must agree exactly.
TEST_P(RepackedDotTest, ExtremeLevelsAndActivationsGiveTheReferenceExactly) {
  const DotTileFn tile = kernel().repacked_tile;
  if (tile == nullptr) GTEST_SKIP() << "scalar level: weights are not repacked for it";
  const DotRowFn reference = Traits(type()).dot_row;
  constexpr int64_t kRows = 12, kElements = 256;
  for (bool low : {true, false}) {
    const std::vector<uint8_t> block = ExtremeLevelsBlock(type(), low);
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < kRows; ++r) w.insert(w.end(), block.begin(), block.end());
    std::vector<uint8_t> packed = w;
    InterleaveRows(packed.data(), type(), kElements, kRows, 1);
    RepackRows(packed.data(), type(), kElements, kRows, 1);
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> x(kElements, sign);
      std::vector<uint8_t> activation(static_cast<size_t>(RowBytes(DType::kQ8_K, kElements)));
      QuantizeRow(DType::kQ8_K, x.data(), activation.data(), kElements);
      const float unit = 1.0f;
      std::memcpy(activation.data(), &unit, sizeof unit);  // levels -127 x sign, d 1
      const float expected = reference(w.data(), activation.data(), kElements);
      if (!low) {  // (Q4_K's and Q5_K's lowest level is 0; Q5_K's lanes still hold -16 x y there)
        ASSERT_NE(expected, 0.0f);
      }
      for (int64_t tokens : {1, 3, 16, 17}) {
        std::vector<uint8_t> x_rows;
        for (int64_t t = 0; t < tokens; ++t) x_rows.insert(x_rows.end(), activation.begin(), activation.end());
        std::vector<float> out(static_cast<size_t>(tokens * kRows), -1.0f);
        tile({.weights = packed.data(), .weight_row_bytes = RowBytes(type(), kElements), .rows = kRows,
              .row_group = kInterleavedRowGroup, .activations = x_rows.data(),
              .activation_row_bytes = RowBytes(DType::kQ8_K, kElements), .tokens = tokens, .activation_rows = nullptr,
              .elements = kElements, .out = out.data(), .out_token_stride = kRows});
        for (int64_t i = 0; i < tokens * kRows; ++i)
          ASSERT_EQ(out[i], expected) << (low ? "lowest" : "highest") << " levels, activations " << sign * -127 << ", tokens "
                                      << tokens << ", output " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, DotKernelTest, testing::Combine(testing::ValuesIn(AvailableIsas()), testing::ValuesIn(kDotTypes)),
                         [](const auto& test) { return Label(std::get<0>(test.param), std::get<1>(test.param)); });
INSTANTIATE_TEST_SUITE_P(AllIsas, RepackedDotTest,
                         testing::Combine(testing::ValuesIn(AvailableIsas()), testing::ValuesIn(kRepackedTypes)),
                         [](const auto& test) { return Label(std::get<0>(test.param), std::get<1>(test.param)); });

// ---- Activation quantizers: bit-exact ---------------------------------------------------------

class QuantizeKernelTest : public testing::TestWithParam<std::tuple<CpuIsa, DType>> {};

// Blocks with ties (x.5 after scaling), equal-magnitude maxima of both signs, zeros, denormals.
std::vector<float> CraftedActivations(int64_t elements, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(elements));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < elements; ++i) {
    const int64_t block = i / 256, j = i % 256;
    switch (block % 6) {
      case 0: x[i] = normal(rng); break;
      case 1: x[i] = (j == 0) ? 127.0f : static_cast<float>(static_cast<int>(j % 61) - 30) + 0.5f; break;  // ties
      case 2: x[i] = (j == 3) ? -5.0f : (j == 40 ? 5.0f : normal(rng)); break;  // -max first
      case 3: x[i] = 0.0f; break;
      case 4: x[i] = normal(rng) * 1e-40f; break;  // float denormals
      default: x[i] = normal(rng) * ((j % 32 < 16) ? 3e4f : 1e-6f); break;
    }
  }
  // Q8_0 ties: blocks of 32 whose max is 127 (d = 1) with halves elsewhere.
  for (int64_t i = 0; i + 32 <= elements && i < 64; ++i) x[i] = (i % 32 == 0) ? 127.0f : (i % 7) - 3.5f;
  return x;
}

TEST_P(QuantizeKernelTest, BitExactWithReference) {
  const auto [isa, type] = GetParam();
  const KernelTable table = BuildKernelTable(isa);
  const QuantizeKernel& kernel = table.Quantize(type);
  ASSERT_NE(kernel.row, nullptr);
  if (isa != CpuIsa::kScalar) {
    EXPECT_EQ(kernel.isa, isa);
  }
  std::mt19937 rng(42);
  for (int64_t elements : {256, 512, 1536, 2048, 6144}) {
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<float> x = trial == 0 ? CraftedActivations(elements, rng) : std::vector<float>(elements);
      if (trial > 0) {
        std::normal_distribution<float> normal(0.0f, trial == 1 ? 1.0f : 1e4f);
        for (float& v : x) v = normal(rng);
      }
      const int64_t bytes = RowBytes(type, elements);
      std::vector<uint8_t> expected(static_cast<size_t>(bytes), 0xaa), actual(static_cast<size_t>(bytes), 0x55);
      Traits(type).quantize_row(x.data(), expected.data(), elements);
      kernel.row(x.data(), actual.data(), elements);
      size_t first = 0;
      while (first < expected.size() && expected[first] == actual[first]) ++first;
      ASSERT_EQ(first, expected.size()) << DTypeName(type) << " elements " << elements << " trial " << trial
                                        << ": first difference at byte " << first << " (block "
                                        << first / static_cast<size_t>(Layout(type).block_bytes) << "): expected "
                                        << int{expected[first]} << " got " << int{actual[first]};
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, QuantizeKernelTest,
                         testing::Combine(testing::ValuesIn(AvailableIsas()), testing::ValuesIn(kActivationTypes)),
                         [](const auto& test) { return Label(std::get<0>(test.param), std::get<1>(test.param)); });

TEST(KernelLevels, ReportsLevelsThisCpuCannotTest) {
  std::string missing;
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (!IsaSupported(isa, DetectCpuFeatures())) missing += std::string(missing.empty() ? "" : ", ") + std::string(IsaName(isa));
  if (!missing.empty())
    GTEST_SKIP() << "kernels of " << missing << " not tested: this CPU lacks them (" << DescribeCpuFeatures(DetectCpuFeatures())
                 << ")";
}

// ---- MatMul: fast path (process table) against the reference path ----------------------------

std::vector<uint8_t> RandomMatrix(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::vector<uint8_t> w;
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = RandomWeights(type, cols, Scales::kRandom, rng);
    w.insert(w.end(), row.begin(), row.end());
  }
  return w;
}

std::vector<float> RandomFloats(int64_t n, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(n));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  return x;
}

TEST(MatMulFast, MatchesReferencePath) {
  std::mt19937 rng(5);
  for (DType type : {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kF16}) {
    for (int64_t rows : {1, 6, 67, 300}) {
      for (int64_t tokens : {1, 3, 40}) {
        const int64_t cols = 512;
        const std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
        const std::vector<float> x = RandomFloats(tokens * cols, rng);
        TensorView view{.data = w.data(), .type = type, .dims = {cols, rows, 1, 1}, .n_dims = 2};
        std::vector<float> fast(static_cast<size_t>(tokens * rows)), reference(fast.size());
        MatMul(view, x.data(), tokens, fast.data(), MatMulPath::kFast);
        MatMul(view, x.data(), tokens, reference.data(), MatMulPath::kReference);
        // The fast path quantizes activations: compare by normalised error over all outputs.
        double error = 0, norm = 0;
        for (size_t i = 0; i < fast.size(); ++i) {
          error += (fast[i] - reference[i]) * static_cast<double>(fast[i] - reference[i]);
          norm += static_cast<double>(reference[i]) * reference[i];
        }
        EXPECT_LE(error, 1e-3 * norm) << DTypeName(type) << " rows " << rows << " tokens " << tokens;
      }
    }
  }
}

// A matrix in the layout the loader leaves it in: rows interleaved by block in groups of 4 (types
// that have blocks), and re-encoded (quant/repack.h) when `repack`. The view points into `bytes`
// (moves keep it valid).
struct LoadedMatrix {
  std::vector<uint8_t> bytes;
  TensorView view;
};
LoadedMatrix InLoadedLayout(const std::vector<uint8_t>& file_rows, DType type, int64_t rows, int64_t cols, bool repack) {
  LoadedMatrix m{.bytes = file_rows, .view = {.type = type, .dims = {cols, rows, 1, 1}, .n_dims = 2}};
  m.view.data = m.bytes.data();
  if (!CanInterleave(type)) return m;
  InterleaveRows(m.bytes.data(), type, cols, rows, 1);
  if (repack) RepackRows(m.bytes.data(), type, cols, rows, 1);
  m.view.row_group = kInterleavedRowGroup;
  m.view.repacked = repack;
  return m;
}

// Interleaved weights (the loaded layout) give the same bits as plain rows on both paths, for
// types with tile kernels (Q4_K, Q6_K, Q8_0) and without (Q3_K: rows copied out one by one).
TEST(MatMulInterleaved, SameBitsAsPlainRows) {
  std::mt19937 rng(11);
  for (DType type : {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kQ3_K}) {
    for (int64_t rows : {3, 8, 67}) {
      for (int64_t tokens : {1, 5}) {
        const int64_t cols = 512;
        const std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
        const std::vector<float> x = RandomFloats(tokens * cols, rng);
        const LoadedMatrix interleaved = InLoadedLayout(w, type, rows, cols, /*repack=*/false);
        const TensorView plain{.data = w.data(), .type = type, .dims = {cols, rows, 1, 1}, .n_dims = 2};
        for (MatMulPath path : {MatMulPath::kFast, MatMulPath::kReference}) {
          std::vector<float> a(static_cast<size_t>(tokens * rows)), b(a.size(), -1.0f);
          MatMul(plain, x.data(), tokens, a.data(), path);
          MatMul(interleaved.view, x.data(), tokens, b.data(), path);
          // Random scale bits can make NaNs: compare bits.
          EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
              << DTypeName(type) << " rows " << rows << " tokens " << tokens
                          << (path == MatMulPath::kFast ? " fast" : " reference");
        }
      }
    }
  }
}

// Repacked weights through MatMul: the reference path reads the file's rows back (same bits as
// plain rows), the fast path runs the repacked kernel (close to the plain fast path).
TEST(MatMulRepacked, MatchesPlainRows) {
  std::mt19937 rng(12);
  for (DType type : kRepackedTypes) {
    for (int64_t rows : {4, 8, 68}) {
      for (int64_t tokens : {1, 5}) {
        const int64_t cols = 512;
        const std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
        const std::vector<float> x = RandomFloats(tokens * cols, rng);
        const LoadedMatrix loaded = InLoadedLayout(w, type, rows, cols, /*repack=*/true);
        const TensorView plain{.data = w.data(), .type = type, .dims = {cols, rows, 1, 1}, .n_dims = 2};
        const TensorView& repacked = loaded.view;
        std::vector<float> a(static_cast<size_t>(tokens * rows)), b(a.size(), -1.0f);
        MatMul(plain, x.data(), tokens, a.data(), MatMulPath::kReference);
        MatMul(repacked, x.data(), tokens, b.data(), MatMulPath::kReference);
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
            << DTypeName(type) << " rows " << rows << " tokens " << tokens;
        MatMul(plain, x.data(), tokens, a.data(), MatMulPath::kFast);
        MatMul(repacked, x.data(), tokens, b.data(), MatMulPath::kFast);
        double error = 0, norm = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          error += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
          norm += static_cast<double>(a[i]) * a[i];
        }
        EXPECT_LE(error, 1e-10 * norm) << DTypeName(type) << " rows " << rows << " tokens " << tokens;
      }
    }
  }
}

// Several matrices against one input in one call: the bits of one MatMul per matrix, whether
// they go together (one activation type) or not (a float matrix among them), on both paths.
TEST(MatMulMany, SameBitsAsOneMatMulEach) {
  std::mt19937 rng(21);
  const int64_t cols = 512;
  struct Matrix {
    DType type;
    int64_t rows;
    bool repack;
  };
  const std::vector<std::vector<Matrix>> sets = {
      {{DType::kQ4_K, 64, true}, {DType::kQ4_K, 8, true}, {DType::kQ6_K, 8, true}},  // q, k, v of Q4_K_M
      {{DType::kQ4_K, 12, false}, {DType::kQ5_K, 4, false}},
      {{DType::kQ8_0, 16, false}, {DType::kF32, 4, false}},  // two activation types: one by one
  };
  for (const std::vector<Matrix>& set : sets) {
    for (int64_t tokens : {1, 5}) {
      const std::vector<float> x = RandomFloats(tokens * cols, rng);
      std::vector<LoadedMatrix> data;
      std::vector<MatMulJob> jobs;
      std::vector<std::vector<float>> together, alone;
      for (const Matrix& m : set) {
        data.push_back(InLoadedLayout(RandomMatrix(m.type, m.rows, cols, rng), m.type, m.rows, cols, m.repack));
        together.emplace_back(static_cast<size_t>(tokens * m.rows), -1.0f);
        alone.emplace_back(static_cast<size_t>(tokens * m.rows), -2.0f);
      }
      for (size_t i = 0; i < set.size(); ++i) jobs.push_back({.w = data[i].view, .y = together[i].data()});
      for (MatMulPath path : {MatMulPath::kFast, MatMulPath::kReference}) {
        MatMulMany(jobs, x.data(), tokens, path);
        for (size_t i = 0; i < jobs.size(); ++i) {
          MatMul(jobs[i].w, x.data(), tokens, alone[i].data(), path);
          EXPECT_EQ(together[i], alone[i]) << "matrix " << i << " of " << jobs.size() << ", tokens " << tokens
                                           << (path == MatMulPath::kFast ? " fast" : " reference");
        }
      }
    }
  }
  // Matrices of different row lengths are a caller's bug.
  std::vector<uint8_t> a = RandomMatrix(DType::kQ8_0, 4, 64, rng), b = RandomMatrix(DType::kQ8_0, 4, 128, rng);
  std::vector<float> x(128), y(8);
  const MatMulJob mixed[] = {
      {.w = {.data = a.data(), .type = DType::kQ8_0, .dims = {64, 4, 1, 1}, .n_dims = 2}, .y = y.data()},
      {.w = {.data = b.data(), .type = DType::kQ8_0, .dims = {128, 4, 1, 1}, .n_dims = 2}, .y = y.data() + 4}};
  EXPECT_THROW(MatMulMany(mixed, x.data(), 1, MatMulPath::kFast), Error);
}

}  // namespace
}  // namespace moefit
