// SPDX-License-Identifier: MIT
// The repacked encoding is lossless: random bytes survive the round trip, and every row of a
// repacked matrix reads back as the file's row; the documented byte positions hold.
#include "quant/repack.h"

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"

namespace moefit {
namespace {

std::vector<uint8_t> RandomBytes(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::vector<uint8_t> bytes(count);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(generator());
  return bytes;
}

TEST(Repack, GroupBlocksRoundTripEveryBit) {
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS})
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      const std::vector<uint8_t> blocks = RandomBytes(static_cast<size_t>(kRepackRows * RowBytes(type, kQK_K)), seed);
      std::vector<uint8_t> packed(blocks.size()), back(blocks.size());
      RepackGroupBlock(type, blocks.data(), packed.data());
      UnrepackGroupBlock(type, packed.data(), back.data());
      EXPECT_EQ(back, blocks) << DTypeName(type) << " seed " << seed;
      EXPECT_NE(packed, blocks) << DTypeName(type);
    }
}

// Value i of 32 six-bit values packed as repack.h says: low nibbles at `low` (byte i % 16, high
// nibble for i >= 16), top 2 bits at `high` (byte i % 8, bits 2 * (i / 8)).
int SixBitValue(const std::vector<uint8_t>& packed, int low, int high, int i) {
  const int nibble = i < 16 ? packed[low + i] & 15 : packed[low + i - 16] >> 4;
  return nibble | (packed[high + i % 8] >> (2 * (i / 8)) & 3) << 4;
}

// Row r's nibble of element e in Q4_K's level layout starting at `levels` (Q4_K 64, IQ4_XS 32):
// sub-block j, half m at levels + 64j + 32m, byte 8r + e % 8, high nibble for e % 16 >= 8.
int PackedNibble(const std::vector<uint8_t>& packed, int levels, int r, int e) {
  const int j = e / 32, m = e % 32 / 16, high = e % 16 / 8;
  const uint8_t byte = packed[levels + 64 * j + 32 * m + 8 * r + e % 8];
  return high ? byte >> 4 : byte & 15;
}

// kRepackRows random blocks of one type (seeded) as rows, and their repacked group block.
template <typename Block>
struct RepackedGroup {
  Block rows[kRepackRows];
  std::vector<uint8_t> packed;
  RepackedGroup(DType type, uint32_t seed) {
    const std::vector<uint8_t> blocks = RandomBytes(sizeof(rows), seed);
    std::memcpy(rows, blocks.data(), sizeof(rows));
    packed.resize(blocks.size());
    RepackGroupBlock(type, blocks.data(), packed.data());
  }
};

// The F16 bits at byte `at` of a packed group block.
uint16_t PackedHalf(const std::vector<uint8_t>& packed, int at) {
  uint16_t bits;
  std::memcpy(&bits, packed.data() + at, sizeof bits);
  return bits;
}

TEST(Repack, Q4_KBytesAreWhereTheHeaderSays) {
  const RepackedGroup<BlockQ4_K> group(DType::kQ4_K, 7);
  const auto& rows = group.rows;
  const std::vector<uint8_t>& packed = group.packed;
  for (int r = 0; r < kRepackRows; ++r) {
    EXPECT_EQ(PackedHalf(packed, 2 * r), rows[r].d);
    EXPECT_EQ(PackedHalf(packed, 8 + 2 * r), rows[r].dmin);
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      ScaleMinK4(j, rows[r].scales, scale, min);
      const int i = 8 * r + j, i_min = 8 * kRepackMinRowOrder[r] + j;
      EXPECT_EQ(SixBitValue(packed, 16, 32, i), scale) << r << " " << j;
      EXPECT_EQ(SixBitValue(packed, 40, 56, i_min), min) << r << " " << j;
    }
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t byte = rows[r].qs[32 * (e / 64) + e % 32];
      const int level = e % 64 < 32 ? byte & 15 : byte >> 4;
      EXPECT_EQ(PackedNibble(packed, 64, r, e), level) << r << " " << e;
    }
  }
}

// Q5_K: the first 576 bytes as Q4_K's (same scales, mins and nibbles), then the fifth bits.
TEST(Repack, Q5_KBytesAreWhereTheHeaderSays) {
  const RepackedGroup<BlockQ5_K> group(DType::kQ5_K, 11);
  const auto& rows = group.rows;
  const std::vector<uint8_t>& packed = group.packed;
  // The same header and nibbles in a Q4_K group block.
  BlockQ4_K q4[kRepackRows];
  for (int r = 0; r < kRepackRows; ++r) {
    q4[r].d = rows[r].d;
    q4[r].dmin = rows[r].dmin;
    std::memcpy(q4[r].scales, rows[r].scales, sizeof q4[r].scales);
    std::memcpy(q4[r].qs, rows[r].qs, sizeof q4[r].qs);
  }
  std::vector<uint8_t> q4_packed(kRepackRows * sizeof(BlockQ4_K));
  RepackGroupBlock(DType::kQ4_K, reinterpret_cast<const uint8_t*>(q4), q4_packed.data());
  EXPECT_EQ(0, std::memcmp(packed.data(), q4_packed.data(), q4_packed.size()));
  for (int r = 0; r < kRepackRows; ++r)
    for (int e = 0; e < kQK_K; ++e) {
      const int j = e / 32, k = e % 32 / 8, e8 = e % 8;  // sub-block, level vector, byte
      const int fifth = packed[576 + 32 * (j / 2) + 8 * r + e8] >> (4 * (j % 2) + k) & 1;
      EXPECT_EQ(fifth, rows[r].qh[e % 32] >> j & 1) << r << " " << e;
    }
}

// Levels (u = q + 32), element by element from the file's encoding (see BlockQ6_K).
int LevelQ6_K(const BlockQ6_K& block, int e) {
  const int n = e / 128, g = e % 128 / 32, l = e % 32;
  const int low = block.ql[64 * n + 32 * (g % 2) + l] >> (4 * (g / 2)) & 15;
  return low | (block.qh[32 * n + l] >> (2 * g) & 3) << 4;
}

TEST(Repack, Q6_KBytesAreWhereTheHeaderSays) {
  const RepackedGroup<BlockQ6_K> group(DType::kQ6_K, 9);
  const auto& rows = group.rows;
  const std::vector<uint8_t>& packed = group.packed;
  for (int r = 0; r < kRepackRows; ++r) {
    EXPECT_EQ(PackedHalf(packed, 2 * r), rows[r].d);
    for (int j = 0; j < 16; ++j)
      EXPECT_EQ(static_cast<int8_t>(packed[8 + 16 * (j / 4) + 4 * r + j % 4]), rows[r].scales[j]) << r << " " << j;
    for (int e = 0; e < kQK_K; ++e) {
      const int k = e / 32, within = e % 32, e8 = within % 8, part = within / 8;  // part: 0..3
      const uint8_t* unit = packed.data() + 72 + 96 * k;
      const uint8_t nibbles = unit[32 * (part / 2) + 8 * r + e8];
      const int low = part % 2 == 0 ? nibbles & 15 : nibbles >> 4;
      const int high = unit[64 + 8 * r + e8] >> (2 * part) & 3;
      EXPECT_EQ(low | high << 4, LevelQ6_K(rows[r], e)) << r << " " << e;
    }
  }
}

TEST(Repack, IQ4_XSBytesAreWhereTheHeaderSays) {
  const RepackedGroup<BlockIQ4_XS> group(DType::kIQ4_XS, 13);
  const auto& rows = group.rows;
  const std::vector<uint8_t>& packed = group.packed;
  for (int r = 0; r < kRepackRows; ++r) {
    EXPECT_EQ(PackedHalf(packed, 2 * r), rows[r].d);
    for (int j = 0; j < 8; ++j) {
      const int scale = (rows[r].scales_l[j / 2] >> (4 * (j % 2)) & 15) | (rows[r].scales_h >> (2 * j) & 3) << 4;
      const int i = 8 * r + j;
      EXPECT_EQ(SixBitValue(packed, 8, 24, i), scale) << r << " " << j;
    }
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t byte = rows[r].qs[16 * (e / 32) + e % 16];
      const int level = e % 32 < 16 ? byte & 15 : byte >> 4;
      EXPECT_EQ(PackedNibble(packed, 32, r, e), level) << r << " " << e;
    }
  }
}

TEST(Repack, RowsReadBackInFileOrder) {
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS}) {
    constexpr int64_t kRows = 12, kCols = 3 * kQK_K, kMatrices = 2;
    const int64_t row_bytes = RowBytes(type, kCols);
    const std::vector<uint8_t> file = RandomBytes(static_cast<size_t>(kMatrices * kRows * row_bytes), 3);
    std::vector<uint8_t> loaded = file;
    InterleaveRows(loaded.data(), type, kCols, kRows, kMatrices);
    RepackRows(loaded.data(), type, kCols, kRows, kMatrices);
    EXPECT_NE(loaded, file);
    TensorView view{.data = loaded.data(), .type = type, .dims = {kCols, kRows, kMatrices, 1}, .n_dims = 3,
                    .row_group = kInterleavedRowGroup, .repacked = true};
    std::vector<uint8_t> row(static_cast<size_t>(row_bytes));
    for (int64_t m = 0; m < kMatrices; ++m)
      for (int64_t r = 0; r < kRows; ++r) {
        CopyPlainRow(view.matrix(m), r, row.data());
        EXPECT_EQ(0, std::memcmp(row.data(), file.data() + (m * kRows + r) * row_bytes, row.size()))
            << DTypeName(type) << " " << m << " " << r;
      }
    // CopyRow does not know the encoding and refuses rather than return wrong bytes.
    EXPECT_THROW(CopyRow(view, 0, row.data()), Error);
  }
}

TEST(Repack, RepackableTypes) {
  EXPECT_TRUE(CanRepack(DType::kQ4_K));
  EXPECT_TRUE(CanRepack(DType::kQ5_K));
  EXPECT_TRUE(CanRepack(DType::kQ6_K));
  EXPECT_TRUE(CanRepack(DType::kIQ4_XS));
  EXPECT_FALSE(CanRepack(DType::kIQ4_NL));
  EXPECT_FALSE(CanRepack(DType::kQ8_0));
  EXPECT_FALSE(CanRepack(DType::kF32));
  uint8_t block[kRepackRows * 210] = {};
  EXPECT_THROW(RepackGroupBlock(DType::kQ8_0, block, block + 1), Error);
}

}  // namespace
}  // namespace moefit
