// SPDX-License-Identifier: MIT
// Flash attention over an F16, BF16, Q8_0 or Q4_0 KV cache (contract: attention_tile.h), the
// body of the AVX2 and AVX-512 kernels (cpu/avx2/attention_avx2.cpp,
// cpu/avx512/attention_avx512.cpp): each includes it and compiles its own copy with its own
// flags, every function of internal linkage (see isa_kernels.h). AVX2 instructions throughout;
// with AVX-512 the two FMA loops (scores, weighted V sums) take 512-bit vectors.
// Scores: the K rows of 16 cells at a time (AVX-512: 32) are converted to floats (Q8_0 / Q4_0:
// dequantized, the floats the reference's rows hold) and transposed once, then scored against 4
// float query rows at a time (AVX-512: 8), two vectors of cells each, one FMA chain per score.
// Exponentials 8 at a time (AVX-512: 16). Values: the chunk's V rows are dequantized once into
// floats, then each row sums its weighted V rows in registers, 64 columns at a time, and adds
// that to its (rescaled) accumulator. Every score and every output dimension is the same chain of operations on both
// levels: the same bits.
#pragma once

#include <type_traits>

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/avx2/simd_avx2.h"
#include "quant/legacy.h"

namespace moefit {
namespace {
namespace flash {

using namespace avx2;  // the AVX2 helpers (internal linkage: this file's copy)

// (Only internal-linkage helpers here, no std:: templates: see isa_kernels.h.)
inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }
inline float MaxFloat(float a, float b) { return a > b ? a : b; }

inline __m128i Load64(const void* p) { return _mm_loadl_epi64(static_cast<const __m128i*>(p)); }

// Lanes [0, n) set, n in [0, 8].
inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Float vectors of 8 lanes, and of 16 where the file is compiled for AVX-512 (WideF32): the two
// FMA loops (scores, weighted V sums) are written once over the width, with the same chain of
// operations per lane either way.
struct F32x8 {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V Zero() { return _mm256_setzero_ps(); }
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static V Set1(float x) { return _mm256_set1_ps(x); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  static V Mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
};
#if defined(__AVX512F__)
struct F32x16 {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V Zero() { return _mm512_setzero_ps(); }
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static V Set1(float x) { return _mm512_set1_ps(x); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
};
using WideF32 = F32x16;
#else
using WideF32 = F32x8;
#endif

// acc[0, 8 kVecs) += sum over cells c < n of p[c] * values[c * stride + (0, 8 kVecs)], the
// accumulators in registers across the cells.
template <int kVecs>
inline void AccumulateValues(const float* p, int64_t n, const float* values, int64_t stride, float* acc) {
  __m256 sum[kVecs];
  for (int k = 0; k < kVecs; ++k) sum[k] = _mm256_setzero_ps();
  for (int64_t c = 0; c < n; ++c) {
    const __m256 weight = _mm256_broadcast_ss(p + c);
    const float* row = values + c * stride;
    for (int k = 0; k < kVecs; ++k) sum[k] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(row + 8 * k), sum[k]);
  }
  for (int k = 0; k < kVecs; ++k) _mm256_storeu_ps(acc + 8 * k, _mm256_add_ps(_mm256_loadu_ps(acc + 8 * k), sum[k]));
}

// One row's accumulator (dv floats) += its n weights times the chunk's V rows, dimensions from d.
// Every dimension is one FMA chain over the cells in order, then one add to the accumulator:
// the bits do not depend on how the dimensions are grouped.
inline void AccumulateRow(const float* p, int64_t n, const float* values, int dv, float* acc, int d = 0) {
  for (; d + 64 <= dv; d += 64) AccumulateValues<8>(p, n, values + d, dv, acc + d);
  for (; d + 32 <= dv; d += 32) AccumulateValues<4>(p, n, values + d, dv, acc + d);
  for (; d + 8 <= dv; d += 8) AccumulateValues<1>(p, n, values + d, dv, acc + d);
  for (; d < dv; ++d) {
    float sum = 0;
    for (int64_t c = 0; c < n; ++c) sum += p[c] * values[c * dv + d];
    acc[d] += sum;
  }
}

// kRows rows' accumulators (acc[j], dv floats) += their weights (p[j], n of them) times the
// block's V rows, 2 vectors of columns at a time from d: each V vector loaded once for the rows
// (one row at a time loads it per row: more loads than FMAs). The same chains as AccumulateRow.
// Returns where it stopped (the columns left are fewer than 2 vectors).
template <typename F, int kRows>
inline int AccumulateRowsBy(const float* const* p, int64_t n, const float* values, int dv, float* const* acc, int d) {
  constexpr int kStep = 2 * F::kLanes;
  for (; d + kStep <= dv; d += kStep) {
    typename F::V sum[2 * kRows];
#pragma GCC unroll 16
    for (int k = 0; k < 2 * kRows; ++k) sum[k] = F::Zero();
    for (int64_t c = 0; c < n; ++c) {
      const float* row = values + c * dv + d;
      const typename F::V low = F::Load(row), high = F::Load(row + F::kLanes);
#pragma GCC unroll 8
      for (int j = 0; j < kRows; ++j) {
        const typename F::V weight = F::Set1(p[j][c]);
        sum[2 * j] = F::Fma(weight, low, sum[2 * j]);
        sum[2 * j + 1] = F::Fma(weight, high, sum[2 * j + 1]);
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < kRows; ++j) {
      F::Store(acc[j] + d, F::Add(F::Load(acc[j] + d), sum[2 * j]));
      F::Store(acc[j] + d + F::kLanes, F::Add(F::Load(acc[j] + d + F::kLanes), sum[2 * j + 1]));
    }
  }
  return d;
}

// Rows taken together by the V phase: 8 with 32 vector registers (16 chains of FMAs over the
// cells: 4 rows' 8 chains only just cover the FMA latency at two a cycle), 4 with 16.
constexpr int kValueRows = WideF32::kLanes == 16 ? 8 : 4;

template <int kRows>
inline void AccumulateRows(const float* const* p, int64_t n, const float* values, int dv, float* const* acc) {
  int d = AccumulateRowsBy<WideF32, kRows>(p, n, values, dv, acc, 0);
  if constexpr (WideF32::kLanes > F32x8::kLanes) d = AccumulateRowsBy<F32x8, kRows>(p, n, values, dv, acc, d);
  if (d < dv)
    for (int j = 0; j < kRows; ++j) AccumulateRow(p[j], n, values, dv, acc[j], d);
}

inline void Scale(float* acc, float factor, int n) {
  const __m256 f = _mm256_set1_ps(factor);
  int d = 0;
  for (; d + 8 <= n; d += 8) _mm256_storeu_ps(acc + d, _mm256_mul_ps(f, _mm256_loadu_ps(acc + d)));
  for (; d < n; ++d) acc[d] *= factor;
}


// ---- Row formats ------------------------------------------------------------------------------

inline void F16ToFloat(const uint8_t* src, float* dst, int n) {
  int d = 0;
#if defined(__AVX512F__)
  for (; d + 16 <= n; d += 16) _mm512_storeu_ps(dst + d, _mm512_cvtph_ps(Load256(src + 2 * d)));
#endif
  for (; d + 8 <= n; d += 8) _mm256_storeu_ps(dst + d, _mm256_cvtph_ps(Load128(src + 2 * d)));
  for (; d < n; ++d) dst[d] = HalfToFloat(src + 2 * d);
}

inline void BF16ToFloat(const uint8_t* src, float* dst, int n) {
  int d = 0;
#if defined(__AVX512F__)
  for (; d + 16 <= n; d += 16)
    _mm512_storeu_ps(dst + d, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(Load256(src + 2 * d)), 16)));
#endif
  for (; d + 8 <= n; d += 8)
    _mm256_storeu_ps(dst + d, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(Load128(src + 2 * d)), 16)));
  for (; d < n; ++d) {
    uint16_t bits;
    std::memcpy(&bits, src + 2 * d, sizeof bits);
    const uint32_t wide = static_cast<uint32_t>(bits) << 16;
    std::memcpy(dst + d, &wide, sizeof wide);
  }
}

// Every format gives 8 values of a row at d (a multiple of 8: Load8) or one (Load1) for the K
// block transposition, and a V row as floats (LoadValue). Block formats (kBlocks) give the
// values as the reference dequantizes them, scale x level (one float product each), with the
// scale of d's block (Scale) passed in, so the transposition converts it once per block.
struct F16Format {
  static constexpr bool kBlocks = false;
  static int64_t RowBytes(int n) { return 2 * int64_t{n}; }
  static void LoadValue(const uint8_t* v, float* row, int n) { F16ToFloat(v, row, n); }
  static float Scale(const uint8_t*, int) { return 1.0f; }
  static __m256 Load8(const uint8_t* row, int d, float) { return _mm256_cvtph_ps(Load128(row + 2 * d)); }
  static float Load1(const uint8_t* row, int d) { return HalfToFloat(row + 2 * d); }
  static constexpr bool kHalves = true;  // 16-bit values (with AVX-512: TransposeKeys16 below)
#if defined(__AVX512F__)
  static __m512 Widen16(__m256i halves) { return _mm512_cvtph_ps(halves); }
#endif
};

struct BF16Format {
  static constexpr bool kBlocks = false;
  static int64_t RowBytes(int n) { return 2 * int64_t{n}; }
  static void LoadValue(const uint8_t* v, float* row, int n) { BF16ToFloat(v, row, n); }
  static float Scale(const uint8_t*, int) { return 1.0f; }
  static __m256 Load8(const uint8_t* row, int d, float) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(Load128(row + 2 * d)), 16));
  }
  static float Load1(const uint8_t* row, int d) {
    float value;
    BF16ToFloat(row + 2 * d, &value, 1);
    return value;
  }
  static constexpr bool kHalves = true;
#if defined(__AVX512F__)
  static __m512 Widen16(__m256i halves) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16)); }
#endif
};

constexpr int64_t kQ8Block = sizeof(BlockQ8_0);  // d (F16) + 32 int8
constexpr int64_t kQ4Block = sizeof(BlockQ4_0);  // d (F16) + 16 bytes of nibbles

struct Q8_0Format {
  static constexpr bool kBlocks = true;
  static constexpr bool kHalves = false;
  static int64_t RowBytes(int n) { return n / kQK32 * kQ8Block; }
  static float Scale(const uint8_t* row, int d) { return HalfToFloat(row + (d / kQK32) * kQ8Block); }
  static __m256 Levels8(const uint8_t* row, int d) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(Load64(row + (d / kQK32) * kQ8Block + 2 + d % kQK32)));
  }
  static __m256 Load8(const uint8_t* row, int d, float scale) { return _mm256_mul_ps(_mm256_set1_ps(scale), Levels8(row, d)); }
  static float Load1(const uint8_t* row, int d) {
    return Scale(row, d) * static_cast<float>(static_cast<int8_t>(row[(d / kQK32) * kQ8Block + 2 + d % kQK32]));
  }
  static void LoadValue(const uint8_t* v, float* row, int n) {
    for (int d = 0; d < n; d += kQK32) {
      const __m256 scale = _mm256_set1_ps(Scale(v, d));
      for (int k = 0; k < kQK32; k += 8) _mm256_storeu_ps(row + d + k, _mm256_mul_ps(scale, Levels8(v, d + k)));
    }
  }
};

struct Q4_0Format {
  static constexpr bool kBlocks = true;
  static constexpr bool kHalves = false;
  static int64_t RowBytes(int n) { return n / kQK32 * kQ4Block; }
  static float Scale(const uint8_t* row, int d) { return HalfToFloat(row + (d / kQK32) * kQ4Block); }
  // Elements 0..15 of a block are the low nibbles of its 16 bytes, 16..31 the high ones; level - 8.
  static __m256 Levels8(const uint8_t* row, int d) {
    const int e = d % kQK32;
    __m128i bytes = Load64(row + (d / kQK32) * kQ4Block + 2 + e % 16);
    if (e >= 16) bytes = _mm_srli_epi16(bytes, 4);
    const __m128i levels = _mm_sub_epi8(_mm_and_si128(bytes, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(levels));
  }
  static __m256 Load8(const uint8_t* row, int d, float scale) { return _mm256_mul_ps(_mm256_set1_ps(scale), Levels8(row, d)); }
  static float Load1(const uint8_t* row, int d) {
    const uint8_t* block = row + (d / kQK32) * kQ4Block;
    const int e = d % kQK32;
    const int level = (e < 16 ? block[2 + e] & 0x0f : block[2 + e - 16] >> 4) - 8;
    return Scale(row, d) * static_cast<float>(level);
  }
  static void LoadValue(const uint8_t* v, float* row, int n) {
    for (int d = 0; d < n; d += kQK32) {
      const __m256 scale = _mm256_set1_ps(Scale(v, d));
      for (int k = 0; k < kQK32; k += 8) _mm256_storeu_ps(row + d + k, _mm256_mul_ps(scale, Levels8(v, d + k)));
    }
  }
};

// ---- The flash loop -------------------------------------------------------------------------

// One row's chunk of n scores -> weights; rescales its sum and accumulator to the new max. With
// AVX-512, 16 scores at a time where 16 are left: the same exponentials, and the sum takes each
// half in turn, the order of the 8-lane loop (the same bits).
inline void SoftmaxStep(float* scores, int64_t n, float& running_max, float& running_sum, float* acc, int value_head_dim) {
  __m256 vmax = _mm256_set1_ps(-__builtin_inff());
  int64_t j = 0;
#if defined(__AVX512F__)
  if (n >= 16) {
    __m512 wide_max = _mm512_set1_ps(-__builtin_inff());
    for (; j + 16 <= n; j += 16) wide_max = _mm512_max_ps(wide_max, _mm512_loadu_ps(scores + j));
    vmax = _mm256_max_ps(_mm512_castps512_ps256(wide_max), _mm512_extractf32x8_ps(wide_max, 1));
  }
#endif
  for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + j));
  float chunk_max = HorizontalMax(vmax);
  for (; j < n; ++j) chunk_max = MaxFloat(chunk_max, scores[j]);
  const float new_max = MaxFloat(running_max, chunk_max);
  const float factor = __builtin_expf(running_max - new_max);
  if (factor != 1.0f) {
    running_sum *= factor;
    Scale(acc, factor, value_head_dim);
  }
  running_max = new_max;
  const __m256 shift = _mm256_set1_ps(new_max);
  __m256 sum = _mm256_setzero_ps();
  j = 0;
#if defined(__AVX512F__)
  const __m512 wide_shift = _mm512_set1_ps(new_max);
  for (; j + 16 <= n; j += 16) {
    const __m512 p = Exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + j), wide_shift));
    _mm512_storeu_ps(scores + j, p);
    sum = _mm256_add_ps(sum, _mm512_castps512_ps256(p));
    sum = _mm256_add_ps(sum, _mm512_extractf32x8_ps(p, 1));
  }
#endif
  for (; j + 8 <= n; j += 8) {
    const __m256 p = Exp(_mm256_sub_ps(_mm256_loadu_ps(scores + j), shift));
    _mm256_storeu_ps(scores + j, p);
    sum = _mm256_add_ps(sum, p);
  }
  if (j < n) {
    const __m256i mask = TailMask(n - j);
    const __m256 p = _mm256_and_ps(Exp(_mm256_sub_ps(_mm256_maskload_ps(scores + j, mask), shift)), _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(scores + j, mask, p);
    sum = _mm256_add_ps(sum, p);
  }
  running_sum += HorizontalSum(sum);
}

// Rows are fetched a few cells ahead: a sequence's cells may lie anywhere in the cache, and even
// when they are in order a KV head's 16 rows of 256 bytes (F16, head size 128) fill one 4 KiB
// page, where the L2 streamer stops.
constexpr int64_t kPrefetchCells = 16;
// V rows dequantized and summed at a time (32 x 128 floats: 16 KiB, in L1).
constexpr int64_t kValueCells = kAttentionValueCells;
// K rows scored together (transposed in the `values` workspace): 32 with AVX-512, so that each
// query broadcast meets two vectors of K (10 loads per 16 FMAs; with 16 cells, 9 per 8 held the
// score loop to the load ports), 16 with AVX2.
constexpr int kKeyCells = WideF32::kLanes == 16 ? 32 : 16;
static_assert(kKeyCells <= kAttentionKeyCells && kKeyCells % 16 == 0, "blocks of 16-row transpositions within the workspace");

// A prefetch every 64 bytes of the row. (A row not on a 64-byte boundary leaves its last line to
// the hardware prefetcher: one more prefetch per row, of the last byte, cost a decode tile 7-9%
// from DRAM, aligned rows or not, in an in-process A/B; the cache's F16/BF16 rows are aligned.)
inline void PrefetchRow(const uint8_t* p, int64_t bytes) {
  for (int64_t offset = 0; offset < bytes; offset += 64) _mm_prefetch(reinterpret_cast<const char*>(p + offset), _MM_HINT_T0);
}

// Share i of n of the rows of cells [first, end) (row_bytes apart from base, `bytes` each), fetched
// ahead: spread over pieces of work, since a burst of them waits for the L1's fill buffers and
// holds up the work behind it.
// (GCC 12 sees only loads and prefetches here, takes a call of it, or of a lambda around it,
// for one without effects and deletes it: the empty volatile asm is the effect that keeps it.)
inline void FetchShare(const uint8_t* base, const int32_t* cells, int64_t row_bytes, int64_t bytes, int64_t first,
                       int64_t end, int i, int n) {
  const int64_t per = (end - first + n - 1) / n;
  const int64_t stop = Min(first + (i + 1) * per, end);
  for (int64_t c = first + i * per; c < stop; ++c) PrefetchRow(base + cells[c] * row_bytes, bytes);
  asm volatile("");
}

// r[k] = element k of each of r[0..7] (an 8 x 8 transposition in registers).
inline void Transpose8x8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  // s_k: element k of rows 0-3 (low half) and element k + 4 (high half); s_{k+4} the same for rows 4-7
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

#if defined(__AVX512F__)
// Dimensions [d, d + 16) of 16 K rows of 16-bit values, transposed in 16-bit lanes and then
// widened: kt[kKeyCells (d + i) + j] = K(j)[d + i] (kt: the block's column of these rows). Each
// 512-bit vector holds two rows' halves as 128-bit lanes
// [row k, dims 0-7 | row k + 8, dims 0-7 | row k, dims 8-15 | row k + 8, dims 8-15];
// three rounds of unpacks transpose the 8 x 8 blocks of every lane, after which lanes 0-1 of
// vector i hold dimension d + i of rows 0-15 and lanes 2-3 dimension d + i + 8. A quarter of
// the shuffles of transposing floats 8 x 8 (the conversion is the same exact one).
template <typename Format>
inline void TransposeKeys16(const uint8_t* const* rows, int d, float* kt) {
  const __m512i order = _mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7);
  __m512i x[8];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    const __m256i low = rows[k] != nullptr ? Load256(rows[k] + 2 * d) : _mm256_setzero_si256();
    const __m256i high = rows[k + 8] != nullptr ? Load256(rows[k + 8] + 2 * d) : _mm256_setzero_si256();
    x[k] = _mm512_permutexvar_epi64(order, _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1));
  }
  __m512i t[8], u[8];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {  // rows 2j, 2j + 1 interleaved: dims 0-3 (t[2j]) and 4-7 (t[2j + 1]) of each lane
    t[2 * j] = _mm512_unpacklo_epi16(x[2 * j], x[2 * j + 1]);
    t[2 * j + 1] = _mm512_unpackhi_epi16(x[2 * j], x[2 * j + 1]);
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3: dims (0, 1), (2, 3), (4, 5), (6, 7)
    u[4 * h] = _mm512_unpacklo_epi32(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm512_unpackhi_epi32(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm512_unpacklo_epi32(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm512_unpackhi_epi32(t[4 * h + 1], t[4 * h + 3]);
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {  // rows 0-7 (and 8-15) of dims 2q, 2q + 1
    const __m512i even = _mm512_unpacklo_epi64(u[q], u[q + 4]), odd = _mm512_unpackhi_epi64(u[q], u[q + 4]);
    _mm512_storeu_ps(kt + (d + 2 * q) * kKeyCells, Format::Widen16(_mm512_castsi512_si256(even)));
    _mm512_storeu_ps(kt + (d + 2 * q + 8) * kKeyCells, Format::Widen16(_mm512_extracti64x4_epi64(even, 1)));
    _mm512_storeu_ps(kt + (d + 2 * q + 1) * kKeyCells, Format::Widen16(_mm512_castsi512_si256(odd)));
    _mm512_storeu_ps(kt + (d + 2 * q + 9) * kKeyCells, Format::Widen16(_mm512_extracti64x4_epi64(odd, 1)));
  }
}
#endif

// The K rows of cells [c, c + count), count <= kKeyCells, as floats transposed:
// kt[kKeyCells d + j] = K(c + j)[d], zero for j >= count.
// fetch(i, n) fetches share i of n of the rows to read next, along the way: a share per 16
// dimensions (16-bit formats at AVX-512) or per 8.
template <typename Format, typename Fetch>
void TransposeKeys(const AttentionTile& t, int64_t c, int count, float* kt, const Fetch& fetch) {
  const uint8_t* rows[kKeyCells];
  for (int j = 0; j < kKeyCells; ++j) rows[j] = j < count ? t.k + t.cells[c + j] * t.k_row_bytes : nullptr;
  float scales[kKeyCells] = {};  // block formats: the scales of d's block, per row
  int d = 0;
#if defined(__AVX512F__)
  if constexpr (Format::kHalves) {
    constexpr int kParts = kKeyCells / 16;
    const int steps = t.head_dim / 16 * kParts;
    for (; d + 16 <= t.head_dim; d += 16) {
#pragma GCC unroll 2
      for (int h = 0; h < kParts; ++h) {
        fetch(d / 16 * kParts + h, steps);
        TransposeKeys16<Format>(rows + 16 * h, d, kt + 16 * h);
      }
    }
  }
#endif
  // Here the rows are fetched a share per 8 dimensions (unless the 16-bit path above did).
  const bool fetching = d == 0;
  const int steps = t.head_dim / 8;
  if (fetching && steps == 0) fetch(0, 1);
  for (; d + 8 <= t.head_dim; d += 8) {
    if (fetching) fetch(d / 8, steps);
    if constexpr (Format::kBlocks)
      if (d % kQK32 == 0)
        for (int j = 0; j < count; ++j) scales[j] = Format::Scale(rows[j], d);
    for (int half = 0; half < kKeyCells / 8; ++half) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) {
        const uint8_t* row = rows[8 * half + j];
        r[j] = row != nullptr ? Format::Load8(row, d, scales[8 * half + j]) : _mm256_setzero_ps();
      }
      Transpose8x8(r);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(kt + (d + k) * kKeyCells + 8 * half, r[k]);
    }
  }
  for (; d < t.head_dim; ++d)
    for (int j = 0; j < kKeyCells; ++j) kt[d * kKeyCells + j] = rows[j] != nullptr ? Format::Load1(rows[j], d) : 0.0f;
}

// The cells of a block take kScoreVecs vectors per query row (2 at both levels); ScoreBlock keeps
// kScoreRows x kScoreVecs vectors of sums: 8 at AVX2 (16 registers), 16 at AVX-512 (32).
constexpr int kScoreVecs = kKeyCells / WideF32::kLanes;
constexpr int kScoreRows = WideF32::kLanes == 16 ? 8 : 4;

// Scores (times scale) of kRows query rows from `first` against the kKeyCells transposed K rows of
// kt, into columns [column, column + kKeyCells) of their score rows. Each score is one FMA chain
// over the dimensions in order, in its own lane: the same bits whatever rows or block it is computed in.
// kDims > 0: the kRows rows are heads of one query token (consecutive, kDims floats apart) and
// head_dim is kDims, so each row's query is a constant offset from the first: eight row pointers
// of a run-time head size did not fit the registers (GCC reloaded them from the stack for every
// dimension: 17 loads per 8 FMAs).
template <int kRows, int kDims = 0>
inline void ScoreBlock(const AttentionTile& t, const float* kt, int first, int64_t column) {
  using F = WideF32;
  const float* q[kRows];
  for (int j = 0; j < kRows; ++j) {
    const int r = first + j;
    q[j] = t.q + (r / t.group) * t.q_stride + int64_t{r % t.group} * t.head_dim;
  }
  if constexpr (kDims > 0) {
    for (int j = 1; j < kRows; ++j) q[j] = q[0] + j * kDims;
  }
  // Every loop over the accumulators unrolled, so that GCC keeps them in registers (a rolled
  // loop after the main one makes it store all of them to the stack on every dimension).
  typename F::V acc[kScoreVecs * kRows];
#pragma GCC unroll 8
  for (int j = 0; j < kScoreVecs * kRows; ++j) acc[j] = F::Zero();
  const int dims = kDims > 0 ? kDims : t.head_dim;
  for (int d = 0; d < dims; ++d) {
    typename F::V k[kScoreVecs];
#pragma GCC unroll 2
    for (int v = 0; v < kScoreVecs; ++v) k[v] = F::Load(kt + d * kKeyCells + v * F::kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < kRows; ++j) {
      const typename F::V qd = F::Set1(q[j][d]);
#pragma GCC unroll 2
      for (int v = 0; v < kScoreVecs; ++v) acc[kScoreVecs * j + v] = F::Fma(qd, k[v], acc[kScoreVecs * j + v]);
    }
  }
  const typename F::V scale = F::Set1(t.scale);
#pragma GCC unroll 8
  for (int j = 0; j < kRows; ++j) {
    float* out = t.scores + (first + j) * t.chunk_cells + column;
#pragma GCC unroll 2
    for (int v = 0; v < kScoreVecs; ++v) F::Store(out + v * F::kLanes, F::Mul(acc[kScoreVecs * j + v], scale));
  }
}

// The chunk's scores kKeyCells cells at a time, each block's K rows transposed once
// (into the `values` workspace, idle until the V phase) and scored by kScoreRows query rows at a time.
// Rows whose query does not reach a cell of the block get scores there that nobody reads.
template <typename Format>
void ScoreChunkByBlocks(const AttentionTile& t, int64_t c0, int64_t c1, int64_t n_cells, int rows) {
  const int64_t k_bytes = Format::RowBytes(t.head_dim), v_bytes = Format::RowBytes(t.value_head_dim);
  int first_query = 0;
  for (int64_t cb = c0; cb < c1; cb += kKeyCells) {
    const int count = static_cast<int>(Min(kKeyCells, c1 - cb));
    while (t.lengths[first_query] <= cb) ++first_query;
    // Ahead: the next block's K rows, and in the last block the V phase's first rows (fetched at
    // the chunk's start, the K rows between evicted them from L1).
    const int64_t k_end = Min(cb + 2 * kKeyCells, n_cells), v_end = cb + kKeyCells >= c1 ? Min(c0 + kPrefetchCells, c1) : c0;
    const auto fetch = [&](int i, int n) {
      FetchShare(t.k, t.cells, t.k_row_bytes, k_bytes, cb + kKeyCells, k_end, i, n);
      FetchShare(t.v, t.cells, t.v_row_bytes, v_bytes, c0, v_end, i, n);
    };
    TransposeKeys<Format>(t, cb, count, t.values, fetch);
    int r = first_query * t.group;
    if (t.group % kScoreRows == 0 && t.head_dim == 128) {  // whole tokens' heads (r is a multiple of group)
      for (; r + kScoreRows <= rows; r += kScoreRows) ScoreBlock<kScoreRows, 128>(t, t.values, r, cb - c0);
    } else if (t.group % kScoreRows == 0 && t.head_dim == 64) {
      for (; r + kScoreRows <= rows; r += kScoreRows) ScoreBlock<kScoreRows, 64>(t, t.values, r, cb - c0);
    }
    for (; r + kScoreRows <= rows; r += kScoreRows) ScoreBlock<kScoreRows>(t, t.values, r, cb - c0);
    if constexpr (kScoreRows > 4) {
      if (rows - r >= 4) {
        ScoreBlock<4>(t, t.values, r, cb - c0);
        r += 4;
      }
    }
    if (rows - r == 3) ScoreBlock<3>(t, t.values, r, cb - c0);
    if (rows - r == 2) ScoreBlock<2>(t, t.values, r, cb - c0);
    if (rows - r == 1) ScoreBlock<1>(t, t.values, r, cb - c0);
  }
}

template <typename Format>
void Flash(const AttentionTile& t) {
  const int rows = t.n_queries * t.group;
  const int64_t n_cells = t.lengths[t.n_queries - 1];  // lengths are nondecreasing
  for (int r = 0; r < rows; ++r) {
    t.running_max[r] = -__builtin_inff();
    t.running_sum[r] = 0;
    float* acc = t.acc + int64_t{r} * t.value_head_dim;
    for (int d = 0; d < t.value_head_dim; ++d) acc[d] = 0;
  }
  const int64_t v_bytes = Format::RowBytes(t.value_head_dim);
  for (int64_t c0 = 0; c0 < n_cells; c0 += t.chunk_cells) {
    const int64_t c1 = Min(c0 + t.chunk_cells, n_cells);
    // Scores: each K row once, against the rows of the queries that attend to it (a suffix).
    ScoreChunkByBlocks<Format>(t, c0, c1, n_cells, rows);
    for (int i = 0; i < t.n_queries; ++i) {
      const int64_t n = Min(c1, t.lengths[i]) - c0;
      if (n <= 0) continue;
      for (int g = 0; g < t.group; ++g) {
        const int r = i * t.group + g;
        SoftmaxStep(t.scores + r * t.chunk_cells, n, t.running_max[r], t.running_sum[r], t.acc + int64_t{r} * t.value_head_dim,
                    t.value_head_dim);
      }
    }
    // Values, kValueCells at a time (their float rows stay in L1): each V row dequantized once,
    // then each query row's weighted sum of them in registers.
    for (int64_t v0 = c0; v0 < c1; v0 += kValueCells) {
      const int64_t v1 = Min(v0 + kValueCells, c1);
      for (int64_t c = v0; c < v1; ++c) {
        if (c + kPrefetchCells < n_cells) PrefetchRow(t.v + t.cells[c + kPrefetchCells] * t.v_row_bytes, v_bytes);
        Format::LoadValue(t.v + t.cells[c] * t.v_row_bytes, t.values + (c - v0) * t.value_head_dim, t.value_head_dim);
      }
      for (int i = 0; i < t.n_queries; ++i) {
        const int64_t n = Min(v1, t.lengths[i]) - v0;
        if (n <= 0) continue;
        int g = 0;
        // Query rows g .. g + kRows - 1 of this query's heads.
        const auto rows_at = [&]<int kRows>(std::integral_constant<int, kRows>) {
          const float* p[kRows];
          float* acc[kRows];
          for (int j = 0; j < kRows; ++j) {
            const int r = i * t.group + g + j;
            p[j] = t.scores + r * t.chunk_cells + (v0 - c0);
            acc[j] = t.acc + int64_t{r} * t.value_head_dim;
          }
          AccumulateRows<kRows>(p, n, t.values, t.value_head_dim, acc);
          g += kRows;
        };
        while (g + kValueRows <= t.group) rows_at(std::integral_constant<int, kValueRows>{});
        if constexpr (kValueRows > 4) {
          while (g + 4 <= t.group) rows_at(std::integral_constant<int, 4>{});
        }
        for (; g < t.group; ++g) {
          const int r = i * t.group + g;
          AccumulateRow(t.scores + r * t.chunk_cells + (v0 - c0), n, t.values, t.value_head_dim,
                        t.acc + int64_t{r} * t.value_head_dim);
        }
      }
    }
  }
  for (int i = 0; i < t.n_queries; ++i) {
    for (int g = 0; g < t.group; ++g) {
      const int r = i * t.group + g;
      float* out = t.out + i * t.out_stride + int64_t{g} * t.value_head_dim;
      const float* acc = t.acc + int64_t{r} * t.value_head_dim;
      const float inverse = 1.0f / t.running_sum[r];
      for (int d = 0; d < t.value_head_dim; ++d) out[d] = acc[d] * inverse;
    }
  }
}

}  // namespace flash
}  // namespace
}  // namespace moefit
