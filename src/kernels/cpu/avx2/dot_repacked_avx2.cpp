// SPDX-License-Identifier: MIT
// AVX2 dots of repacked row groups (quant/repack.h) against Q8_K activations: Q4_K, Q5_K, Q6_K, IQ4_XS. Four rows
// go through each instruction at once: 8 activations repeated over the 64-bit lanes meet 8 levels
// of each row, so the 32-bit lanes of the sums are per row, scales apply to 4 rows with one
// madd, the levels' products add up in int16 over a whole sub-block, and there is no horizontal
// sum per block. The activations are widened first (each group of 8 levels already repeated over
// the four 64-bit lanes, the block sums and scale in the shapes the kernel wants), so the kernels
// read them with plain loads. Up to 4 tokens (decode) are widened whole and every row group
// streams its blocks past them; more tokens (prefill) go a block at a time: their block widened
// into L1, a pass of row groups goes by it, and the tokens share each unpacking of the levels.
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/repacked_driver.h"

namespace moefit::avx2 {
namespace {

using namespace repacked;

// shuffle_epi8 indexes, one 32-byte row each, loaded where a loop over them is not unrolled.
template <int kRows>
struct ShuffleTable {
  alignas(32) int8_t index[kRows][32];
  __m256i operator[](int r) const { return _mm256_load_si256(reinterpret_cast<const __m256i*>(index[r])); }
};

// Row j: int16 lanes 0-3 = byte j and 4-7 = byte 8 + j of each 128-bit lane, the scale of
// sub-block j for the rows of that lane (rows 0, 1 low; 2, 3 high).
constexpr ShuffleTable<8> MakeScaleIndex() {
  ShuffleTable<8> table{};
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 32; ++i) table.index[j][i] = i % 2 == 1 ? int8_t{-1} : static_cast<int8_t>((i / 2) % 8 < 4 ? j : 8 + j);
  return table;
}
constexpr ShuffleTable<8> kScaleIndex = MakeScaleIndex();

// Row i: int16 lane i of each 64-bit lane spread over the 4 lanes of that 64-bit lane.
constexpr ShuffleTable<4> MakeSpreadLane16() {
  ShuffleTable<4> table{};
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 32; ++i) table.index[r][i] = static_cast<int8_t>(2 * r + i % 2 + 8 * ((i % 16) / 8));
  return table;
}
constexpr ShuffleTable<4> kSpreadLane16 = MakeSpreadLane16();

// Tokens' Q8_K activations widened for these kernels, per block of 256: the 32 groups of 8
// levels, each repeated over the four 64-bit lanes (1024 bytes), then what the kernel's block
// update reads (each kernel's kWideBlock says how much). The levels then reach `maddubs` as plain
// loads (no broadcast per row group), and every value is the one a kernel would compute from the
// plain block, so any number of tokens gives the same bits.
constexpr int64_t kWideLevels = 32 * 32;

inline void WidenLevels(const uint8_t* block, uint8_t* wide) {
  const auto* y = reinterpret_cast<const int8_t*>(block + kActLevels);
  for (int k = 0; k < 32; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(wide + 32 * k), Broadcast64(y + 8 * k));
}

inline __m256i LoadWide(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// The Q8_K block's scale d in the 8 float lanes at `at` (the last part of every widened block).
inline void WidenScale(const uint8_t* block, uint8_t* at) {
  float yd;
  std::memcpy(&yd, block, sizeof yd);
  _mm256_store_ps(reinterpret_cast<float*>(at), _mm256_set1_ps(yd));
}

// The 4 nibble vectors of one sub-block in Q4_K's level layout (64 bytes at p, quant/repack.h):
// vector k holds, in byte 8r + e, the nibble of row r, element 8k + e of the sub-block.
struct Nibbles {
  __m256i v0, v1, v2, v3;
};
inline Nibbles UnpackNibbles(const uint8_t* p, __m256i low_mask) {
  const __m256i packed0 = Load256(p), packed1 = Load256(p + 32);
  return {.v0 = _mm256_and_si256(packed0, low_mask),
          .v1 = _mm256_and_si256(_mm256_srli_epi16(packed0, 4), low_mask),
          .v2 = _mm256_and_si256(packed1, low_mask),
          .v3 = _mm256_and_si256(_mm256_srli_epi16(packed1, 4), low_mask)};
}

// A kernel's Block<kTokens, kStream>(w, wide, acc): one group block (rows 4g .. 4g + 3, one block
// of 256) against kTokens widened tokens (token t's block at wide + t * kWideBlock), acc[t] +=
// the 4 rows' dots in the lanes [r0 r0 r1 r1 | r2 r2 r3 r3]. kStream: the group's blocks are read
// one after another (one token: decode), so the block prefetches the weights ahead of itself;
// otherwise the caller prefetches.
// Q4_K and Q5_K (kFifthBit): the same scales and mins; Q5_K's levels (0..31) get their fifth bit
// from a plane per pair of sub-blocks (quant/repack.h), 12 more operations per sub-block shared
// by the tokens. |products| <= 4 * 2 * 31 * 127 < 2^15.
template <bool kFifthBit>
struct Q4_KFamilyRepacked : RowPairSums {
  static constexpr int kMaxTokens = 8;
  // After the levels: the 8 sub-block sums as int16 in both 128-bit halves, then d in 8 lanes.
  static constexpr int64_t kWideBlock = kWideLevels + 64;
  static constexpr int64_t kGroupBlock = kFifthBit ? kQ5_KGroupBlock : kQ4_KGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    WidenLevels(block, wide);
    _mm256_store_si256(reinterpret_cast<__m256i*>(wide + kWideLevels), SubBlockSums(block));
    WidenScale(block, wide + kWideLevels + 32);
  }

  // Per sub-block the 4 level vectors stay in registers while the tokens go by; 8 tokens' int32
  // sums take 8 registers (the activations come from memory operands).
  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* wide, __m256* acc) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    if constexpr (kStream) Prefetch<64>(w);  // the header line; the levels' lines one sub-block at a time below
    const GroupHeader header = UnpackHeader(w);
    __m256i sum[kTokens];
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int pair = 0; pair < 4; ++pair) {
      __m256i fifth_bits, plane;  // plane: the fifth bits of the current sub-block at bits 4..7
      if constexpr (kFifthBit) {
        if constexpr (kStream) Prefetch<64>(w + kQ5_KFifthBitsAt + 32 * pair);
        fifth_bits = Load256(w + kQ5_KFifthBitsAt + 32 * pair);
        plane = _mm256_slli_epi16(fifth_bits, 4);
      }
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * pair + half;
        if constexpr (kStream) Prefetch<64>(w + kQ4_KLevelsAt + 64 * j);
        const Nibbles nibbles = UnpackNibbles(w + kQ4_KLevelsAt + 64 * j, low_mask);
        __m256i level0 = nibbles.v0, level1 = nibbles.v1, level2 = nibbles.v2, level3 = nibbles.v3;
        if constexpr (kFifthBit) {  // level vector k takes bit 4 + k of the plane
          level0 = _mm256_or_si256(level0, _mm256_and_si256(plane, bit4));
          level1 = _mm256_or_si256(level1, _mm256_and_si256(_mm256_srli_epi16(plane, 1), bit4));
          level2 = _mm256_or_si256(level2, _mm256_and_si256(_mm256_srli_epi16(plane, 2), bit4));
          level3 = _mm256_or_si256(level3, _mm256_and_si256(_mm256_srli_epi16(plane, 3), bit4));
          plane = fifth_bits;
        }
        const __m256i scale = _mm256_shuffle_epi8(header.scales, kScaleIndex[j]);
#pragma GCC unroll 8
        for (int t = 0; t < kTokens; ++t) {
          const uint8_t* y = wide + t * kWideBlock + 128 * j;
          const __m256i products = _mm256_add_epi16(
              _mm256_add_epi16(_mm256_maddubs_epi16(level0, LoadWide(y)), _mm256_maddubs_epi16(level1, LoadWide(y + 32))),
              _mm256_add_epi16(_mm256_maddubs_epi16(level2, LoadWide(y + 64)), _mm256_maddubs_epi16(level3, LoadWide(y + 96))));
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(products, scale));
        }
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* tail = wide + t * kWideBlock + kWideLevels;
      const __m256 scale = _mm256_load_ps(reinterpret_cast<const float*>(tail + 32));
      const __m256i sub_sums = LoadWide(tail);
      const __m256 dots = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(header.d, scale), acc[t]);
      const __m256i mins = _mm256_hadd_epi32(_mm256_madd_epi16(header.mins_low, sub_sums), _mm256_madd_epi16(header.mins_high, sub_sums));
      acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(header.dmin, scale), dots);
    }
  }
};

// The levels u = q + 32 of sub-block 2k + i of a Q6_K unit (its two halves of 16 elements per
// row), given the unit's 2-bit plane `high`.
struct Q6_KLevels {
  __m256i first, second;
};
// low_mask: 0x0f in every byte; high_mask: 0x30.
inline Q6_KLevels UnpackQ6_KLevels(const uint8_t* unit, __m256i high, int i, __m256i low_mask, __m256i high_mask) {
  const __m256i nibbles = Load256(unit + 32 * i);
  // the top 2 bits of the two halves sit at bits 4i and 4i + 2 of `high`: moved to bits 4-5
  const __m256i top_first = i == 0 ? _mm256_slli_epi16(high, 4) : high;
  const __m256i top_second = i == 0 ? _mm256_slli_epi16(high, 2) : _mm256_srli_epi16(high, 2);
  return {.first = _mm256_or_si256(_mm256_and_si256(nibbles, low_mask), _mm256_and_si256(top_first, high_mask)),
          .second = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(nibbles, 4), low_mask),
                                    _mm256_and_si256(top_second, high_mask))};
}

// Q6_K: levels u = q + 32 (0..63) are the unsigned side of maddubs; per sub-block of 16 the two
// products (|.| <= 2 * 2 * 63 * 128 < 2^15) take the int8 scale with one madd, and the 32 * scale
// * (sum of the sub-block's activations) that u adds comes off with one madd of the widened scales
// against 4 broadcast block sums per quarter.
struct Q6_KRepacked : RowPairSums {
  static constexpr int kMaxTokens = 8;
  // After the levels: the block sums of quarter q (4 int16) repeated over the four 64-bit lanes
  // (4 x 32 bytes), then d in 8 lanes.
  static constexpr int64_t kWideBlock = kWideLevels + 128 + 32;
  static constexpr int64_t kGroupBlock = kQ6_KGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    WidenLevels(block, wide);
    for (int q = 0; q < 4; ++q)
      _mm256_store_si256(reinterpret_cast<__m256i*>(wide + kWideLevels + 32 * q),
                         Broadcast64(reinterpret_cast<const int8_t*>(block + kActSums) + 8 * q));
    WidenScale(block, wide + kWideLevels + 128);
  }

  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* wide, __m256* acc) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), high_mask = _mm256_set1_epi8(0x30);
    if constexpr (kStream) Prefetch<64>(w);  // d and the scales; the levels a quarter at a time below
    __m256i sum[kTokens];  // lanes [r0 r0 r1 r1 | r2 r2 r3 r3]
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int q = 0; q < 4; ++q) {  // sub-blocks 4q .. 4q + 3: units 2q, 2q + 1
      if constexpr (kStream) Prefetch<192>(w + kQ6_KUnitsAt + 2 * kQ6_KUnitBytes * q);
      const __m256i scales = _mm256_cvtepi8_epi16(Load128(w + kQ6_KScalesAt + 16 * q));  // lanes 4r + i
      const __m256i offsets = _mm256_slli_epi16(scales, 5);
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t)
        sum[t] = _mm256_sub_epi32(sum[t], _mm256_madd_epi16(offsets, LoadWide(wide + t * kWideBlock + kWideLevels + 32 * q)));
#pragma GCC unroll 1
      for (int u = 0; u < 2; ++u) {
        const int k = 2 * q + u;
        const uint8_t* unit = w + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
        const __m256i high = Load256(unit + 64);
#pragma GCC unroll 2
        for (int i = 0; i < 2; ++i) {  // sub-block 2k + i: elements 32k + 16i + (0..15) of each row
          const Q6_KLevels levels = UnpackQ6_KLevels(unit, high, i, low_mask, high_mask);
          const __m256i scale = _mm256_shuffle_epi8(scales, kSpreadLane16[2 * u + i]);
#pragma GCC unroll 8
          for (int t = 0; t < kTokens; ++t) {
            const uint8_t* y = wide + t * kWideBlock + 128 * k + 64 * i;
            const __m256i products = _mm256_add_epi16(_mm256_maddubs_epi16(levels.first, LoadWide(y)),
                                                       _mm256_maddubs_epi16(levels.second, LoadWide(y + 32)));
            sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(products, scale));
          }
        }
      }
    }
    const __m256 d = RowPairs(w);
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) {
      const __m256 yd = _mm256_load_ps(reinterpret_cast<const float*>(wide + t * kWideBlock + kWideLevels + 128));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(d, yd), acc[t]);
    }
  }
};

// IQ4_XS: each nibble indexes kIQ4Levels (int8, -127..113), looked up 32 at a time with
// shuffle_epi8 once per sub-block; `maddubs` then takes |level| against the token's activations
// with the level's sign, and each of its results (|.| <= 2 * 127 * 127) takes the scale - 32
// with its own madd (two of them could overflow int16). No mins. 8 tokens per unpacking: GCC
// keeps some of the 4 levels and their magnitudes on the stack then, and it still measured ~7%
// faster than 4 tokens (GEMM 768x2048, one thread).
struct IQ4_XSRepacked : RowPairSums {
  static constexpr int kMaxTokens = 8;
  // After the levels: d in 8 lanes.
  static constexpr int64_t kWideBlock = kWideLevels + 32;
  static constexpr int64_t kGroupBlock = kIQ4_XSGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    WidenLevels(block, wide);
    WidenScale(block, wide + kWideLevels);
  }

  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* wide, __m256* acc) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), offset = _mm256_set1_epi16(32);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_setr_epi8(  // constants, not a read of the shared array
        kIQ4Levels[0], kIQ4Levels[1], kIQ4Levels[2], kIQ4Levels[3], kIQ4Levels[4], kIQ4Levels[5], kIQ4Levels[6], kIQ4Levels[7],
        kIQ4Levels[8], kIQ4Levels[9], kIQ4Levels[10], kIQ4Levels[11], kIQ4Levels[12], kIQ4Levels[13], kIQ4Levels[14],
        kIQ4Levels[15]));
    if constexpr (kStream) Prefetch<64>(w);  // d and the scales; the levels one sub-block at a time below
    const __m256i scales = UnpackSixBits(w + 8);  // byte 8r + j
    __m256i sum[kTokens];
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      if constexpr (kStream) Prefetch<64>(w + kIQ4_XSLevelsAt + 64 * j);
      const Nibbles nibbles = UnpackNibbles(w + kIQ4_XSLevelsAt + 64 * j, low_mask);
      const __m256i level0 = _mm256_shuffle_epi8(table, nibbles.v0), level1 = _mm256_shuffle_epi8(table, nibbles.v1),
                    level2 = _mm256_shuffle_epi8(table, nibbles.v2), level3 = _mm256_shuffle_epi8(table, nibbles.v3);
      const __m256i magnitude0 = _mm256_abs_epi8(level0), magnitude1 = _mm256_abs_epi8(level1),
                    magnitude2 = _mm256_abs_epi8(level2), magnitude3 = _mm256_abs_epi8(level3);
      const __m256i scale = _mm256_sub_epi16(_mm256_shuffle_epi8(scales, kScaleIndex[j]), offset);
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) {
        const uint8_t* y = wide + t * kWideBlock + 128 * j;
        const __m256i p0 = _mm256_maddubs_epi16(magnitude0, _mm256_sign_epi8(LoadWide(y), level0));
        const __m256i p1 = _mm256_maddubs_epi16(magnitude1, _mm256_sign_epi8(LoadWide(y + 32), level1));
        const __m256i p2 = _mm256_maddubs_epi16(magnitude2, _mm256_sign_epi8(LoadWide(y + 64), level2));
        const __m256i p3 = _mm256_maddubs_epi16(magnitude3, _mm256_sign_epi8(LoadWide(y + 96), level3));
        const __m256i first = _mm256_add_epi32(_mm256_madd_epi16(p0, scale), _mm256_madd_epi16(p1, scale));
        const __m256i second = _mm256_add_epi32(_mm256_madd_epi16(p2, scale), _mm256_madd_epi16(p3, scale));
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(first, second));
      }
    }
    const __m256 d = RowPairs(w);
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) {
      const __m256 yd = _mm256_load_ps(reinterpret_cast<const float*>(wide + t * kWideBlock + kWideLevels));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(d, yd), acc[t]);
    }
  }
};

using Q4_KRepacked = Q4_KFamilyRepacked<false>;
using Q5_KRepacked = Q4_KFamilyRepacked<true>;

}  // namespace

void DotTileRepackedQ4_K(const DotTile& tile) { RunTile<Q4_KRepacked>(tile); }
void DotTileRepackedQ5_K(const DotTile& tile) { RunTile<Q5_KRepacked>(tile); }
void DotTileRepackedQ6_K(const DotTile& tile) { RunTile<Q6_KRepacked>(tile); }
void DotTileRepackedIQ4_XS(const DotTile& tile) { RunTile<IQ4_XSRepacked>(tile); }

}  // namespace moefit::avx2
