// SPDX-License-Identifier: MIT
// Helpers shared by the repacked kernels (Q4_K, Q5_K, Q6_K, IQ4_XS) of the variant files (cpu/avx2, cpu/avx512): AVX2
// instructions only, every function of internal linkage (see isa_kernels.h), so each variant
// file compiles its own copy with its own flags. The encoding is in quant/repack.h.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/iq4.h"
#include "quant/k_quants.h"
#include "quant/repack.h"

namespace moefit {
namespace {
namespace repacked {

constexpr int64_t kActBlock = sizeof(BlockQ8_K);
constexpr int kActLevels = 4;
constexpr int kActSums = 4 + kQK_K;
constexpr int64_t kQ4_KGroupBlock = kRepackRows * sizeof(BlockQ4_K);  // 576
constexpr int kQ4_KLevelsAt = 64;
constexpr int64_t kQ5_KGroupBlock = kRepackRows * sizeof(BlockQ5_K);  // 704: Q4_K's 576, then the fifth bits
constexpr int kQ5_KFifthBitsAt = 576;
constexpr int64_t kIQ4_XSGroupBlock = kRepackRows * sizeof(BlockIQ4_XS);  // 544: d, 6-bit scales, then levels as Q4_K's
constexpr int kIQ4_XSLevelsAt = 32;
constexpr int64_t kQ6_KGroupBlock = kRepackRows * sizeof(BlockQ6_K);  // 840
constexpr int kQ6_KScalesAt = 8, kQ6_KUnitsAt = 72, kQ6_KUnitBytes = 96;

// 8 activations broadcast to the four 64-bit lanes.
inline __m256i Broadcast64(const int8_t* p) {
  int64_t value;
  std::memcpy(&value, p, sizeof value);
  return _mm256_set1_epi64x(value);
}

// 32 six-bit values from 16 bytes of low nibbles at p and 8 bytes of high bit pairs at p + 16:
// byte i = value i.
inline __m256i UnpackSixBits(const uint8_t* p) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m256i low = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), mask), _mm_and_si128(packed, mask));
  int64_t high_bits;
  std::memcpy(&high_bits, p + 16, sizeof high_bits);
  const __m256i high = _mm256_srlv_epi64(_mm256_set1_epi64x(high_bits), _mm256_setr_epi64x(0, 2, 4, 6));
  return _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(3)), 4));
}

// Four F16 values at p as floats [v0 v0 v1 v1 v2 v2 v3 v3] (the lanes of rows 0..3).
inline __m256 RowPairs(const uint8_t* p) {
  int64_t bits;
  std::memcpy(&bits, p, sizeof bits);
  const __m128i halves = _mm_cvtsi64_si128(bits);
  return _mm256_cvtph_ps(_mm_unpacklo_epi16(halves, halves));
}

// The header of a group block (its first 64 bytes), unpacked once per block.
struct GroupHeader {
  __m256i scales;               // byte 8r + j: the scale of row r, sub-block j
  __m256i mins_low, mins_high;  // mins as int16: rows 0, 2 and rows 1, 3 (quant/repack.h)
  __m256 d, dmin;               // lanes [r0 r0 r1 r1 | r2 r2 r3 r3]
};

inline GroupHeader UnpackHeader(const uint8_t* group) {
  const __m256i mins = UnpackSixBits(group + 40);
  return {.scales = UnpackSixBits(group + 16),
          .mins_low = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(mins)),
          .mins_high = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(mins, 1)),
          .d = RowPairs(group),
          .dmin = RowPairs(group + 8)};
}

// The sums of a Q8_K block's 8 sub-blocks of 32 activations, as int16 [s0 .. s7] in both 128-bit lanes.
inline __m256i SubBlockSums(const uint8_t* activation_block) {
  const __m256i pairs =
      _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(activation_block + kActSums)),
                        _mm256_set1_epi16(1));
  return _mm256_permute4x64_epi64(_mm256_packs_epi32(pairs, pairs), _MM_SHUFFLE(3, 1, 2, 0));
}

// Per row, sum over sub-blocks of min x (sum of the sub-block's 32 activations), in the lanes
// [r0 r0 r1 r1 | r2 r2 r3 r3] (two partial sums per row). mins_low / mins_high: the unpacked
// mins widened to int16, rows 0, 2 and rows 1, 3 (quant/repack.h's min order).
inline __m256i MinSums(const uint8_t* activation_block, __m256i mins_low, __m256i mins_high) {
  const __m256i sub_sums = SubBlockSums(activation_block);
  return _mm256_hadd_epi32(_mm256_madd_epi16(mins_low, sub_sums), _mm256_madd_epi16(mins_high, sub_sums));
}

// acc += d * yd * sums - dmin * yd * (mins . sub-block sums of the activations), all lanes
// [r0 r0 r1 r1 | r2 r2 r3 r3].
inline __m256 AddBlock(__m256 acc, const GroupHeader& header, const uint8_t* activation_block, __m256i sums) {
  float yd;
  std::memcpy(&yd, activation_block, sizeof yd);
  const __m256 scale = _mm256_set1_ps(yd);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(header.d, scale), acc);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(MinSums(activation_block, header.mins_low, header.mins_high)),
                          _mm256_mul_ps(header.dmin, scale), acc);
}

// out[r] = acc[2r] + acc[2r + 1] for the lanes [r0 r0 r1 r1 | r2 r2 r3 r3].
inline void StoreRowSums(__m256 acc, float* out) {
  const __m256 pairs = _mm256_hadd_ps(acc, acc);  // [r0 r1 r0 r1 | r2 r3 r2 r3]
  _mm_storeu_ps(out, _mm_castpd_ps(_mm_unpacklo_pd(_mm_castps_pd(_mm256_castps256_ps128(pairs)),
                                                   _mm_castps_pd(_mm256_extractf128_ps(pairs, 1)))));
}

// The accumulator of the kernels whose sums sit in the lanes [r0 r0 r1 r1 | r2 r2 r3 r3] (see
// repacked_driver.h): 32 row groups' sums of up to 8 tokens (8 KiB) wait in L1 per pass.
struct RowPairSums {
  using Acc = __m256;
  static constexpr int64_t kPassGroups = 32;
  // Full passes and the rest: the AVX2 kernels' tiles of 17 and 35 tokens took the same time
  // either way (within 1-2%, alternating call by call).
  static constexpr bool kEvenPasses = false;
  static constexpr int kUnitGroups = 1;
  static Acc Zero() { return _mm256_setzero_ps(); }
  static void Store(Acc acc, float* out) { StoreRowSums(acc, out); }
};

}  // namespace repacked
}  // namespace
}  // namespace moefit
