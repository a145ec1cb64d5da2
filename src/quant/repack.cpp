// SPDX-License-Identifier: MIT
// Repacked row groups (see repack.h): encoding, decoding, in-place repacking, plain rows.
#include "quant/repack.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"

namespace moefit {
namespace {

// ---- Q4_K ------------------------------------------------------------------------------------

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

// Sets the low 4 bits of element e in Q4_K / Q5_K nibbles qs.
void SetNibble(uint8_t* qs, int e, uint8_t level) {
  uint8_t& byte = qs[32 * (e / 64) + e % 32];
  byte = e % 64 < 32 ? static_cast<uint8_t>((byte & 0xf0) | level) : static_cast<uint8_t>((byte & 0x0f) | level << 4);
}

// The header and low-nibble levels shared by Q4_K and Q5_K (same scales, mins and nibble order:
// element 64c + l has its low 4 bits in qs[32c + l % 32], low nibble for l < 32, else high).
template <typename Block>
void RepackHeaderAndNibbles(const Block* rows, uint8_t* packed) {
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

template <typename Block>
void UnrepackHeaderAndNibbles(const uint8_t* packed, Block* rows) {
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
          SetNibble(rows[r].qs, element, byte & 15);
          SetNibble(rows[r].qs, element + 8, byte >> 4);
        }
}

void RepackQ4_K(const uint8_t* blocks, uint8_t* packed) {
  BlockQ4_K rows[kRepackRows];
  std::memcpy(rows, blocks, sizeof(rows));
  RepackHeaderAndNibbles(rows, packed);
}

void UnrepackQ4_K(const uint8_t* packed, uint8_t* blocks) {
  BlockQ4_K rows[kRepackRows] = {};
  UnrepackHeaderAndNibbles(packed, rows);
  std::memcpy(blocks, rows, sizeof(rows));
}

// ---- Q5_K ------------------------------------------------------------------------------------

constexpr int64_t kQ5_KGroupBytes = kRepackRows * sizeof(BlockQ5_K);
constexpr int kQ5_KHighBitsAt = 576;

// The fifth bit of element 32j + l (l < 32) is bit j of qh[l].
void RepackQ5_K(const uint8_t* blocks, uint8_t* packed) {
  BlockQ5_K rows[kRepackRows];
  std::memcpy(rows, blocks, sizeof(rows));
  RepackHeaderAndNibbles(rows, packed);
  for (int p = 0; p < 4; ++p)
    for (int r = 0; r < kRepackRows; ++r)
      for (int e = 0; e < 8; ++e) {
        uint8_t bits = 0;
        for (int s = 0; s < 2; ++s)
          for (int k = 0; k < 4; ++k) {
            const int j = 2 * p + s;
            bits = static_cast<uint8_t>(bits | (rows[r].qh[8 * k + e] >> j & 1) << (4 * s + k));
          }
        packed[kQ5_KHighBitsAt + 32 * p + 8 * r + e] = bits;
      }
}

void UnrepackQ5_K(const uint8_t* packed, uint8_t* blocks) {
  BlockQ5_K rows[kRepackRows] = {};
  UnrepackHeaderAndNibbles(packed, rows);
  for (int p = 0; p < 4; ++p)
    for (int r = 0; r < kRepackRows; ++r)
      for (int e = 0; e < 8; ++e) {
        const uint8_t bits = packed[kQ5_KHighBitsAt + 32 * p + 8 * r + e];
        for (int s = 0; s < 2; ++s)
          for (int k = 0; k < 4; ++k)
            rows[r].qh[8 * k + e] = static_cast<uint8_t>(rows[r].qh[8 * k + e] | (bits >> (4 * s + k) & 1) << (2 * p + s));
      }
  std::memcpy(blocks, rows, sizeof(rows));
}

// ---- Q6_K ------------------------------------------------------------------------------------

constexpr int64_t kQ6_KGroupBytes = kRepackRows * sizeof(BlockQ6_K);
constexpr int kQ6_KScalesAt = 8, kQ6_KUnitsAt = 72, kQ6_KUnitBytes = 96;

// The 256 six-bit levels (q + 32, 0..63) of a Q6_K block, in element order. Element
// 128n + 32g + l has its low 4 bits in ql[64n + 32(g % 2) + l] (low nibble for g < 2, else high)
// and its top 2 bits in qh[32n + l] at bit 2g.
void LevelsOfQ6_K(const BlockQ6_K& block, uint8_t* u) {
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t a = block.ql[64 * n + l], b = block.ql[64 * n + 32 + l], h = block.qh[32 * n + l];
      u[128 * n + l] = static_cast<uint8_t>((a & 15) | (h & 3) << 4);
      u[128 * n + 32 + l] = static_cast<uint8_t>((b & 15) | (h >> 2 & 3) << 4);
      u[128 * n + 64 + l] = static_cast<uint8_t>((a >> 4) | (h >> 4 & 3) << 4);
      u[128 * n + 96 + l] = static_cast<uint8_t>((b >> 4) | (h >> 6 & 3) << 4);
    }
}

void SetLevelsOfQ6_K(const uint8_t* u, BlockQ6_K& block) {
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t u0 = u[128 * n + l], u1 = u[128 * n + 32 + l], u2 = u[128 * n + 64 + l], u3 = u[128 * n + 96 + l];
      block.ql[64 * n + l] = static_cast<uint8_t>((u0 & 15) | (u2 & 15) << 4);
      block.ql[64 * n + 32 + l] = static_cast<uint8_t>((u1 & 15) | (u3 & 15) << 4);
      block.qh[32 * n + l] = static_cast<uint8_t>((u0 >> 4) | (u1 >> 4) << 2 | (u2 >> 4) << 4 | (u3 >> 4) << 6);
    }
}

void RepackQ6_K(const uint8_t* blocks, uint8_t* packed) {
  BlockQ6_K rows[kRepackRows];
  std::memcpy(rows, blocks, sizeof(rows));
  uint8_t u[kRepackRows][kQK_K];
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(packed + 2 * r, &rows[r].d, 2);
    for (int q = 0; q < 4; ++q)
      for (int i = 0; i < 4; ++i) packed[kQ6_KScalesAt + 16 * q + 4 * r + i] = static_cast<uint8_t>(rows[r].scales[4 * q + i]);
    LevelsOfQ6_K(rows[r], u[r]);
  }
  for (int k = 0; k < 8; ++k) {
    uint8_t* unit = packed + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
    for (int r = 0; r < kRepackRows; ++r)
      for (int e = 0; e < 8; ++e) {
        const uint8_t* v = u[r] + 32 * k + e;  // v[0], v[8]: sub-block 2k; v[16], v[24]: 2k + 1
        unit[8 * r + e] = static_cast<uint8_t>((v[0] & 15) | (v[8] & 15) << 4);
        unit[32 + 8 * r + e] = static_cast<uint8_t>((v[16] & 15) | (v[24] & 15) << 4);
        unit[64 + 8 * r + e] = static_cast<uint8_t>((v[0] >> 4) | (v[8] >> 4) << 2 | (v[16] >> 4) << 4 | (v[24] >> 4) << 6);
      }
  }
}

void UnrepackQ6_K(const uint8_t* packed, uint8_t* blocks) {
  BlockQ6_K rows[kRepackRows] = {};
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(&rows[r].d, packed + 2 * r, 2);
    for (int q = 0; q < 4; ++q)
      for (int i = 0; i < 4; ++i) rows[r].scales[4 * q + i] = static_cast<int8_t>(packed[kQ6_KScalesAt + 16 * q + 4 * r + i]);
    uint8_t u[kQK_K];
    for (int k = 0; k < 8; ++k) {
      const uint8_t* unit = packed + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
      for (int e = 0; e < 8; ++e) {
        const uint8_t n0 = unit[8 * r + e], n1 = unit[32 + 8 * r + e], h = unit[64 + 8 * r + e];
        uint8_t* v = u + 32 * k + e;
        v[0] = static_cast<uint8_t>((n0 & 15) | (h & 3) << 4);
        v[8] = static_cast<uint8_t>((n0 >> 4) | (h >> 2 & 3) << 4);
        v[16] = static_cast<uint8_t>((n1 & 15) | (h >> 4 & 3) << 4);
        v[24] = static_cast<uint8_t>((n1 >> 4) | (h >> 6 & 3) << 4);
      }
    }
    SetLevelsOfQ6_K(u, rows[r]);
  }
  std::memcpy(blocks, rows, sizeof(rows));
}

// ---- IQ4_XS ----------------------------------------------------------------------------------

constexpr int64_t kIQ4_XSGroupBytes = kRepackRows * sizeof(BlockIQ4_XS);
constexpr int kIQ4_XSLevelsAt = 32;

// The 6-bit scale of sub-block j, and the nibble (level index) of element e.
uint8_t ScaleIQ4_XS(const BlockIQ4_XS& block, int j) {
  return static_cast<uint8_t>((block.scales_l[j / 2] >> (4 * (j % 2)) & 15) | (block.scales_h >> (2 * j) & 3) << 4);
}

uint8_t NibbleIQ4_XS(const BlockIQ4_XS& block, int e) {
  const uint8_t byte = block.qs[16 * (e / 32) + e % 16];
  return static_cast<uint8_t>(e % 32 < 16 ? byte & 15 : byte >> 4);
}

void RepackIQ4_XS(const uint8_t* blocks, uint8_t* packed) {
  BlockIQ4_XS rows[kRepackRows];
  std::memcpy(rows, blocks, sizeof(rows));
  uint8_t scales[32];
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(packed + 2 * r, &rows[r].d, 2);
    for (int j = 0; j < 8; ++j) scales[8 * r + j] = ScaleIQ4_XS(rows[r], j);
  }
  PackSixBits(scales, packed + 8, packed + 24);
  for (int j = 0; j < 8; ++j)
    for (int m = 0; m < 2; ++m)
      for (int r = 0; r < kRepackRows; ++r)
        for (int e = 0; e < 8; ++e) {
          const int element = 32 * j + 16 * m + e;
          packed[kIQ4_XSLevelsAt + 64 * j + 32 * m + 8 * r + e] =
              static_cast<uint8_t>(NibbleIQ4_XS(rows[r], element) | NibbleIQ4_XS(rows[r], element + 8) << 4);
        }
}

void UnrepackIQ4_XS(const uint8_t* packed, uint8_t* blocks) {
  BlockIQ4_XS rows[kRepackRows] = {};
  uint8_t scales[32];
  UnpackSixBits(packed + 8, packed + 24, scales);
  for (int r = 0; r < kRepackRows; ++r) {
    std::memcpy(&rows[r].d, packed + 2 * r, 2);
    for (int j = 0; j < 8; ++j) {
      rows[r].scales_l[j / 2] = static_cast<uint8_t>(rows[r].scales_l[j / 2] | (scales[8 * r + j] & 15) << (4 * (j % 2)));
      rows[r].scales_h = static_cast<uint16_t>(rows[r].scales_h | (scales[8 * r + j] >> 4) << (2 * j));
    }
  }
  for (int j = 0; j < 8; ++j)
    for (int m = 0; m < 2; ++m)
      for (int r = 0; r < kRepackRows; ++r)
        for (int e = 0; e < 8; ++e) {
          const uint8_t byte = packed[kIQ4_XSLevelsAt + 64 * j + 32 * m + 8 * r + e];
          for (int half = 0; half < 2; ++half) {
            const int element = 32 * j + 16 * m + 8 * half + e;
            const uint8_t nibble = static_cast<uint8_t>(half == 0 ? byte & 15 : byte >> 4);
            uint8_t& target = rows[r].qs[16 * j + element % 16];
            target = static_cast<uint8_t>(element % 32 < 16 ? (target & 0xf0) | nibble : (target & 0x0f) | nibble << 4);
          }
        }
  std::memcpy(blocks, rows, sizeof(rows));
}

// ---- The table: one row per repackable type --------------------------------------------------

struct RepackFormat {
  DType type;
  int64_t group_bytes;
  void (*repack)(const uint8_t* blocks, uint8_t* packed);
  void (*unrepack)(const uint8_t* packed, uint8_t* blocks);
};

constexpr RepackFormat kFormats[] = {
    {DType::kQ4_K, kQ4_KGroupBytes, RepackQ4_K, UnrepackQ4_K},
    {DType::kQ5_K, kQ5_KGroupBytes, RepackQ5_K, UnrepackQ5_K},
    {DType::kQ6_K, kQ6_KGroupBytes, RepackQ6_K, UnrepackQ6_K},
    {DType::kIQ4_XS, kIQ4_XSGroupBytes, RepackIQ4_XS, UnrepackIQ4_XS},
};
constexpr int64_t kMaxGroupBytes = kQ6_KGroupBytes;

const RepackFormat* Find(DType type) {
  for (const RepackFormat& format : kFormats)
    if (format.type == type) return &format;
  return nullptr;
}

const RepackFormat& Format(DType type) {
  const RepackFormat* format = Find(type);
  MOEFIT_CHECK(format != nullptr);
  return *format;
}

}  // namespace

bool CanRepack(DType type) { return Find(type) != nullptr; }

void RepackGroupBlock(DType type, const uint8_t* blocks, uint8_t* packed) { Format(type).repack(blocks, packed); }

void UnrepackGroupBlock(DType type, const uint8_t* packed, uint8_t* blocks) { Format(type).unrepack(packed, blocks); }

void RepackRows(void* data, DType type, int64_t row_length, int64_t rows, int64_t matrices) {
  const RepackFormat& format = Format(type);
  MOEFIT_CHECK(rows % kRepackRows == 0 && rows >= 0 && matrices >= 0);
  const int64_t group_bytes = format.group_bytes;
  const int64_t total = RowBytes(type, row_length) * rows * matrices;
  uint8_t* bytes = static_cast<uint8_t*>(data);
  uint8_t scratch[kMaxGroupBytes];
  for (int64_t at = 0; at < total; at += group_bytes) {
    format.repack(bytes + at, scratch);
    std::memcpy(bytes + at, scratch, static_cast<size_t>(group_bytes));
  }
}

void CopyPlainRow(const TensorView& view, int64_t r, void* dst) {
  if (!view.repacked) {
    CopyRow(view, r, dst);
    return;
  }
  const RepackFormat& format = Format(view.type);
  const int64_t group_bytes = format.group_bytes;
  const int64_t block_bytes = group_bytes / kRepackRows, blocks = view.row_bytes() / block_bytes;
  const uint8_t* group = view.bytes() + r / kRepackRows * kRepackRows * view.row_bytes();
  uint8_t* out = static_cast<uint8_t*>(dst);
  uint8_t unpacked[kMaxGroupBytes];
  for (int64_t b = 0; b < blocks; ++b) {
    format.unrepack(group + b * group_bytes, unpacked);
    std::memcpy(out + b * block_bytes, unpacked + r % kRepackRows * block_bytes, static_cast<size_t>(block_bytes));
  }
}

}  // namespace moefit
