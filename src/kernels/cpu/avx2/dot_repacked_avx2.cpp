// SPDX-License-Identifier: MIT
// AVX2 dots of repacked row groups (quant/repack.h) against Q8_K activations: Q4_K, Q6_K. Four rows
// go through each instruction at once: 8 activations broadcast to the 64-bit lanes meet 8 levels
// of each row, so the 32-bit lanes of the sums are per row, scales apply to 4 rows with one
// madd, the levels' products add up in int16 over a whole sub-block, and there is no horizontal
// sum per block. Several tokens share each unpacking of the levels (prefill). One token (decode)
// goes through the single-token kernels: its activations are widened once per tile (each group
// of 8 levels already broadcast to the four 64-bit lanes, the block sums and scale in the shapes
// the kernel wants), so every row group reads them with plain loads instead of redoing that work.
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/repacked_simd.h"

namespace moefit::avx2 {
namespace {

using namespace repacked;

// shuffle_epi8 index giving int16 lanes 0-3 = byte j and 4-7 = byte 8 + j of each 128-bit lane:
// the scale of sub-block j for the rows of that lane (rows 0, 1 low; 2, 3 high).
inline __m256i ScaleIndex(int j) {
  const int8_t a = static_cast<int8_t>(j), b = static_cast<int8_t>(8 + j), z = -1;
  return _mm256_setr_epi8(a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z, a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z);
}

// One token's Q8_K activations widened for the single-token kernels, per block of 256: the 32
// groups of 8 levels, each repeated over the four 64-bit lanes (1024 bytes), then what the
// kernel's block update reads (each kernel's kWideBlock says how much). Every value is the one
// the multi-token kernels compute from the plain block, so both give the same bits.
constexpr int64_t kWideLevels = 32 * 32;

inline void WidenLevels(const uint8_t* block, uint8_t* wide) {
  const auto* y = reinterpret_cast<const int8_t*>(block + kActLevels);
  for (int k = 0; k < 32; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(wide + 32 * k), Broadcast64(y + 8 * k));
}

inline __m256i LoadWide(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

struct Q4_KRepacked {
  static constexpr int kMaxTokens = 8;
  // After the levels: the 8 sub-block sums as int16 in both 128-bit halves, then d in 8 lanes.
  static constexpr int64_t kWideBlock = kWideLevels + 64;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    WidenLevels(block, wide);
    _mm256_store_si256(reinterpret_cast<__m256i*>(wide + kWideLevels), SubBlockSums(block));
    float yd;
    std::memcpy(&yd, block, sizeof yd);
    _mm256_store_ps(reinterpret_cast<float*>(wide + kWideLevels + 32), _mm256_set1_ps(yd));
  }

  // Rows 4g .. 4g + 3 (their group blocks at w) against one widened token -> out[0..3]: the
  // arithmetic of Run<1>, the activations read as they were widened.
  static void RunWide(const uint8_t* w, const uint8_t* wide, int64_t elements, float* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kQ4_KGroupBlock, wide += kWideBlock) {
      Prefetch<64>(w);
      const GroupHeader header = UnpackHeader(w);
      __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        Prefetch<64>(w + kQ4_KLevelsAt + 64 * j);
        const __m256i packed0 = Load256(w + kQ4_KLevelsAt + 64 * j), packed1 = Load256(w + kQ4_KLevelsAt + 64 * j + 32);
        const uint8_t* y = wide + 128 * j;
        const __m256i products = _mm256_add_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(packed0, low_mask), LoadWide(y)),
                             _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(packed0, 4), low_mask), LoadWide(y + 32))),
            _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(packed1, low_mask), LoadWide(y + 64)),
                             _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(packed1, 4), low_mask), LoadWide(y + 96))));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(products, _mm256_shuffle_epi8(header.scales, ScaleIndex(j))));
      }
      const __m256 scale = _mm256_load_ps(reinterpret_cast<const float*>(wide + kWideLevels + 32));
      const __m256i sub_sums = LoadWide(wide + kWideLevels);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(header.d, scale), acc);
      const __m256i mins = _mm256_hadd_epi32(_mm256_madd_epi16(header.mins_low, sub_sums), _mm256_madd_epi16(header.mins_high, sub_sums));
      acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(header.dmin, scale), acc);
    }
    StoreRowSums(acc, out);
  }

  // Rows 4g .. 4g + 3 (their group blocks at w) against kTokens activation rows -> out[t][0..3].
  // Per sub-block the 4 level vectors stay in registers while the tokens go by, each token's
  // int16 products only live within its turn: 16 registers hold 8 tokens' int32 sums.
  template <int kTokens>
  static void Run(const uint8_t* w, const uint8_t* const* act, int64_t elements, float* const* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256 acc[kTokens];
    for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kQ4_KGroupBlock) {
      Prefetch<64>(w);  // the header line; the levels' lines one sub-block at a time below
      const GroupHeader header = UnpackHeader(w);
      __m256i sum[kTokens];
      for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        Prefetch<64>(w + kQ4_KLevelsAt + 64 * j);
        const __m256i packed0 = Load256(w + kQ4_KLevelsAt + 64 * j), packed1 = Load256(w + kQ4_KLevelsAt + 64 * j + 32);
        const __m256i levels[4] = {_mm256_and_si256(packed0, low_mask),
                                   _mm256_and_si256(_mm256_srli_epi16(packed0, 4), low_mask),
                                   _mm256_and_si256(packed1, low_mask),
                                   _mm256_and_si256(_mm256_srli_epi16(packed1, 4), low_mask)};
        const __m256i scale = _mm256_shuffle_epi8(header.scales, ScaleIndex(j));
        for (int t = 0; t < kTokens; ++t) {
          const int8_t* y = reinterpret_cast<const int8_t*>(act[t] + b * kActBlock + kActLevels) + 32 * j;
          // |.| <= 4 * 2 * 15 * 127
          const __m256i products = _mm256_add_epi16(
              _mm256_add_epi16(_mm256_maddubs_epi16(levels[0], Broadcast64(y)), _mm256_maddubs_epi16(levels[1], Broadcast64(y + 8))),
              _mm256_add_epi16(_mm256_maddubs_epi16(levels[2], Broadcast64(y + 16)),
                               _mm256_maddubs_epi16(levels[3], Broadcast64(y + 24))));
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(products, scale));
        }
      }
      for (int t = 0; t < kTokens; ++t) acc[t] = AddBlock(acc[t], header, act[t] + b * kActBlock, sum[t]);
    }
    for (int t = 0; t < kTokens; ++t) StoreRowSums(acc[t], out[t]);
  }
};

// shuffle_epi8 index spreading int16 lane i of each 64-bit lane over the 4 lanes of that 64-bit lane.
inline __m256i SpreadLane16(int i) {
  const int8_t a = static_cast<int8_t>(2 * i), b = static_cast<int8_t>(2 * i + 1), c = static_cast<int8_t>(a + 8),
               e = static_cast<int8_t>(b + 8);
  return _mm256_setr_epi8(a, b, a, b, a, b, a, b, c, e, c, e, c, e, c, e, a, b, a, b, a, b, a, b, c, e, c, e, c, e, c, e);
}

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
struct Q6_KRepacked {
  static constexpr int kMaxTokens = 4;
  // After the levels: the block sums of quarter q (4 int16) repeated over the four 64-bit lanes
  // (4 x 32 bytes), then d in 8 lanes.
  static constexpr int64_t kWideBlock = kWideLevels + 128 + 32;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    WidenLevels(block, wide);
    for (int q = 0; q < 4; ++q)
      _mm256_store_si256(reinterpret_cast<__m256i*>(wide + kWideLevels + 32 * q),
                         Broadcast64(reinterpret_cast<const int8_t*>(block + kActSums) + 8 * q));
    float yd;
    std::memcpy(&yd, block, sizeof yd);
    _mm256_store_ps(reinterpret_cast<float*>(wide + kWideLevels + 128), _mm256_set1_ps(yd));
  }

  // Rows 4g .. 4g + 3 against one widened token -> out[0..3]: the arithmetic of Run<1>.
  static void RunWide(const uint8_t* w, const uint8_t* wide, int64_t elements, float* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), high_mask = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kQ6_KGroupBlock, wide += kWideBlock) {
      Prefetch<64>(w);
      __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        Prefetch<192>(w + kQ6_KUnitsAt + 2 * kQ6_KUnitBytes * q);
        const __m256i scales = _mm256_cvtepi8_epi16(Load128(w + kQ6_KScalesAt + 16 * q));
        sum = _mm256_sub_epi32(sum, _mm256_madd_epi16(_mm256_slli_epi16(scales, 5), LoadWide(wide + kWideLevels + 32 * q)));
#pragma GCC unroll 2
        for (int u = 0; u < 2; ++u) {
          const int k = 2 * q + u;
          const uint8_t* unit = w + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
          const __m256i high = Load256(unit + 64);
#pragma GCC unroll 2
          for (int i = 0; i < 2; ++i) {
            const Q6_KLevels levels = UnpackQ6_KLevels(unit, high, i, low_mask, high_mask);
            const uint8_t* y = wide + 128 * k + 64 * i;
            const __m256i products = _mm256_add_epi16(_mm256_maddubs_epi16(levels.first, LoadWide(y)),
                                                      _mm256_maddubs_epi16(levels.second, LoadWide(y + 32)));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(products, _mm256_shuffle_epi8(scales, SpreadLane16(2 * u + i))));
          }
        }
      }
      const __m256 yd = _mm256_load_ps(reinterpret_cast<const float*>(wide + kWideLevels + 128));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(RowPairs(w), yd), acc);
    }
    StoreRowSums(acc, out);
  }

  template <int kTokens>
  static void Run(const uint8_t* w, const uint8_t* const* act, int64_t elements, float* const* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), high_mask = _mm256_set1_epi8(0x30);
    __m256 acc[kTokens];
    for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kQ6_KGroupBlock) {
      Prefetch<64>(w);  // d and the scales; the levels a quarter at a time below
      __m256i sum[kTokens];  // lanes [r0 r0 r1 r1 | r2 r2 r3 r3]
      for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {  // sub-blocks 4q .. 4q + 3: units 2q, 2q + 1
        Prefetch<192>(w + kQ6_KUnitsAt + 2 * kQ6_KUnitBytes * q);
        const __m256i scales = _mm256_cvtepi8_epi16(Load128(w + kQ6_KScalesAt + 16 * q));  // lanes 4r + i
        const __m256i offsets = _mm256_slli_epi16(scales, 5);
        for (int t = 0; t < kTokens; ++t) {
          const int8_t* sums = reinterpret_cast<const int8_t*>(act[t] + b * kActBlock + kActSums) + 8 * q;
          sum[t] = _mm256_sub_epi32(sum[t], _mm256_madd_epi16(offsets, Broadcast64(sums)));
        }
#pragma GCC unroll 2
        for (int u = 0; u < 2; ++u) {
          const int k = 2 * q + u;
          const uint8_t* unit = w + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
          const __m256i high = Load256(unit + 64);
#pragma GCC unroll 2
          for (int i = 0; i < 2; ++i) {  // sub-block 2k + i: elements 32k + 16i + (0..15) of each row
            const Q6_KLevels levels = UnpackQ6_KLevels(unit, high, i, low_mask, high_mask);
            const __m256i first = levels.first, second = levels.second;
            const __m256i scale = _mm256_shuffle_epi8(scales, SpreadLane16(2 * u + i));
            for (int t = 0; t < kTokens; ++t) {
              const int8_t* y = reinterpret_cast<const int8_t*>(act[t] + b * kActBlock + kActLevels) + 32 * k + 16 * i;
              const __m256i products = _mm256_add_epi16(_mm256_maddubs_epi16(first, Broadcast64(y)),
                                                         _mm256_maddubs_epi16(second, Broadcast64(y + 8)));
              sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(products, scale));
            }
          }
        }
      }
      const __m256 d = RowPairs(w);
      for (int t = 0; t < kTokens; ++t) {
        float yd;
        std::memcpy(&yd, act[t] + b * kActBlock, sizeof yd);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(d, _mm256_set1_ps(yd)), acc[t]);
      }
    }
    for (int t = 0; t < kTokens; ++t) StoreRowSums(acc[t], out[t]);
  }
};

// Widened activations of one token held on the stack: up to this many blocks of 256 (longer rows
// take the multi-token kernels' path, which gives the same bits).
constexpr int64_t kMaxWideBlocks = 64;

// A tile of one token: its activations widened once, then every row group against them.
template <typename Kernel>
bool RunSingleToken(const DotTile& tile) {
  const int64_t blocks = tile.elements / kQK_K;
  if (tile.tokens != 1 || blocks > kMaxWideBlocks) return false;
  alignas(32) uint8_t wide[kMaxWideBlocks * Kernel::kWideBlock];
  const int64_t row = tile.activation_rows != nullptr ? tile.activation_rows[0] : 0;
  const uint8_t* activations = tile.activations + row * tile.activation_row_bytes;
  for (int64_t b = 0; b < blocks; ++b) Kernel::Widen(activations + b * kActBlock, wide + b * Kernel::kWideBlock);
  for (int64_t r = 0; r < tile.rows; r += 4)
    Kernel::RunWide(tile.weights + r * tile.weight_row_bytes, wide, tile.elements, tile.out + r);
  return true;
}

template <typename Kernel>
void RunTile(const DotTile& tile) {
  if (!RunSingleToken<Kernel>(tile)) cpu_detail::RunRepackedTile<Kernel>(tile);
}

}  // namespace

void DotTileRepackedQ4_K(const DotTile& tile) { RunTile<Q4_KRepacked>(tile); }
void DotTileRepackedQ6_K(const DotTile& tile) { RunTile<Q6_KRepacked>(tile); }

}  // namespace moefit::avx2
