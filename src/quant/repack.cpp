// SPDX-License-Identifier: MIT
// Repacked row groups (see repack.h): encoding, decoding, in-place repacking, plain rows.
#include "quant/repack.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "quant/k_quants.h"

namespace moefit {
namespace {

constexpr int64_t kQ4_KGroupBytes = kRepackRows * sizeof(BlockQ4_K);
constexpr int kLevelsAt = 64;

// 32 six-bit values -> 16 bytes of low nibbles + 8 bytes of high 2-bit pairs (see repack.h).
void PackSixBits(const uint8_t* values, uint8_t* low, uint8_t* high) {
  for (int b = 0; b < 16; ++b) low[b] = static_cast<uint8_t>((values[b] & 15) | (values[b + 16] & 15) << 4);
  for (int b = 0; b < 8; ++b) {
    uint8_t bits = 0;
    for (int k = 0; k < 4; ++k) bits = static_cast<uint8_t>(bits | (values[b + 8 * k] >> 4 & 3) << (2 * k));
    high[b] = bits;
  }
}

void UnpackSixBits(const uint8_t* low, const uint8_t* high, uint8_t* values) {
  for (int i = 0; i < 32; ++i) {
    const int nibble = i < 16 ? low[i] & 15 : low[i - 16] >> 4;
    const int top = high[i % 8] >> (2 * (i / 8)) & 3;
    values[i] = static_cast<uint8_t>(nibble | top << 4);
  }
}

// The 12 packed bytes of a Q4_K block from its eight 6-bit scales and mins.
void PackScalesMinsK4(const uint8_t* scale, const uint8_t* min, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>((scale[j] & 63) | (scale[j + 4] >> 4) << 6);
    packed[j + 4] = static_cast<uint8_t>((min[j] & 63) | (min[j + 4] >> 4) << 6);
    packed[j + 8] = static_cast<uint8_t>((scale[j + 4] & 15) | (min[j + 4] & 15) << 4);
  }
}

void SetLevelQ4_K(BlockQ4_K& block, int e, uint8_t level) {
  uint8_t& byte = block.qs[32 * (e / 64) + e % 32];
  byte = e % 64 < 32 ? static_cast<uint8_t>((byte & 0xf0) | level) : static_cast<uint8_t>((byte & 0x0f) | level << 4);
}

void RepackQ4_K(const uint8_t* blocks, uint8_t* packed) {
  BlockQ4_K rows[kRepackRows];
  std::memcpy(rows, blocks, sizeof(rows));
  uint8_t scales[32], mins[32];
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(packed + 2 * r, &rows[r].d, 2);
    std::memcpy(packed + 8 + 2 * r, &rows[r].dmin, 2);
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      ScaleMinK4(j, rows[r].scales, scale, min);
      scales[8 * r + j] = static_cast<uint8_t>(scale);
      mins[8 * kRepackMinRowOrder[r] + j] = static_cast<uint8_t>(min);
    }
  }
  PackSixBits(scales, packed + 16, packed + 32);
  PackSixBits(mins, packed + 40, packed + 56);
  // Element 32j + 16m + e (e < 16) is nibble j % 2 of qs[32 * (j / 2) + 16m + e]: 8 bytes at a time.
  constexpr uint64_t kLowNibbles = 0x0f0f0f0f0f0f0f0full;
  for (int j = 0; j < 8; ++j)
    for (int m = 0; m < 2; ++m)
      for (int r = 0; r < kRepackRows; ++r) {
        const uint8_t* source = rows[r].qs + 32 * (j / 2) + 16 * m;
        uint64_t first, second;
        std::memcpy(&first, source, 8);
        std::memcpy(&second, source + 8, 8);
        const int shift = 4 * (j % 2);
        const uint64_t out = (first >> shift & kLowNibbles) | (second >> shift & kLowNibbles) << 4;
        std::memcpy(packed + kLevelsAt + 64 * j + 32 * m + 8 * r, &out, 8);
      }
}

void UnrepackQ4_K(const uint8_t* packed, uint8_t* blocks) {
  BlockQ4_K rows[kRepackRows] = {};
  uint8_t scales[32], mins[32];
  UnpackSixBits(packed + 16, packed + 32, scales);
  UnpackSixBits(packed + 40, packed + 56, mins);
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(&rows[r].d, packed + 2 * r, 2);
    std::memcpy(&rows[r].dmin, packed + 8 + 2 * r, 2);
    PackScalesMinsK4(scales + 8 * r, mins + 8 * kRepackMinRowOrder[r], rows[r].scales);
  }
  for (int j = 0; j < 8; ++j)
    for (int m = 0; m < 2; ++m)
      for (int r = 0; r < kRepackRows; ++r)
        for (int e = 0; e < 8; ++e) {
          const uint8_t byte = packed[kLevelsAt + 64 * j + 32 * m + 8 * r + e];
          const int element = 32 * j + 16 * m + e;
          SetLevelQ4_K(rows[r], element, byte & 15);
          SetLevelQ4_K(rows[r], element + 8, byte >> 4);
        }
  std::memcpy(blocks, rows, sizeof(rows));
}

int64_t GroupBlockBytes(DType type) {
  MOEFIT_CHECK(CanRepack(type));
  return kQ4_KGroupBytes;
}

}  // namespace

bool CanRepack(DType type) { return type == DType::kQ4_K; }

void RepackGroupBlock(DType type, const uint8_t* blocks, uint8_t* packed) {
  MOEFIT_CHECK(CanRepack(type));
  RepackQ4_K(blocks, packed);
}

void UnrepackGroupBlock(DType type, const uint8_t* packed, uint8_t* blocks) {
  MOEFIT_CHECK(CanRepack(type));
  UnrepackQ4_K(packed, blocks);
}

void RepackRows(void* data, DType type, int64_t row_length, int64_t rows, int64_t matrices) {
  MOEFIT_CHECK(CanRepack(type) && rows % kRepackRows == 0 && rows >= 0 && matrices >= 0);
  const int64_t group_bytes = GroupBlockBytes(type);
  const int64_t total = RowBytes(type, row_length) * rows * matrices;
  uint8_t* bytes = static_cast<uint8_t*>(data);
  uint8_t scratch[kQ4_KGroupBytes];
  for (int64_t at = 0; at < total; at += group_bytes) {
    RepackGroupBlock(type, bytes + at, scratch);
    std::memcpy(bytes + at, scratch, static_cast<size_t>(group_bytes));
  }
}

void CopyPlainRow(const TensorView& view, int64_t r, void* dst) {
  if (!view.repacked) {
    CopyRow(view, r, dst);
    return;
  }
  const int64_t group_bytes = GroupBlockBytes(view.type);
  const int64_t block_bytes = group_bytes / kRepackRows, blocks = view.row_bytes() / block_bytes;
  const uint8_t* group = view.bytes() + r / kRepackRows * kRepackRows * view.row_bytes();
  uint8_t* out = static_cast<uint8_t*>(dst);
  uint8_t unpacked[kQ4_KGroupBytes];
  for (int64_t b = 0; b < blocks; ++b) {
    UnrepackGroupBlock(view.type, group + b * group_bytes, unpacked);
    std::memcpy(out + b * block_bytes, unpacked + r % kRepackRows * block_bytes, static_cast<size_t>(block_bytes));
  }
}

}  // namespace moefit
