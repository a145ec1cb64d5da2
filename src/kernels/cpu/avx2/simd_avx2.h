// SPDX-License-Identifier: MIT
// Small AVX2 helpers for the files in this folder only (all internal linkage: see isa_kernels.h).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/tile_runner.h"

namespace moefit::avx2 {
namespace {

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i Load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Prefetches the kBytes at p + kPrefetchDistance into L1 and those at p + kPrefetchL2Distance
// into L2, one hint per cache line each.
template <int kBytes>
inline void Prefetch(const uint8_t* p) {
  for (int i = 0; i < kBytes; i += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + cpu_detail::kPrefetchDistance + i), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + cpu_detail::kPrefetchL2Distance + i), _MM_HINT_T1);
  }
}

inline float LoadFloat(const uint8_t* p) {
  float value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// F16 bits -> float, exact (F16C).
inline float HalfToFloat(const uint8_t* p) { return _cvtsh_ss(LoadU16(p)); }

inline float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int HorizontalSum(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(v);
}

inline __m128i HorizontalPairs(__m256i v) {
  return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

// Signed int8 x signed int8, pairs summed to int16 (|a| <= 128, |b| <= 127 cannot saturate).
inline __m256i MulSigned8(__m256i a, __m256i b) {
  return _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

// The 32 nibbles of 16 bytes as bytes: low nibbles in the low lane, high nibbles in the high lane.
inline __m256i SplitNibbles(__m128i bytes) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
}

// Stores up to 4 float sums (one per row) to out.
template <int kRows>
inline void StoreSums(const __m256* acc, float* out) {
  for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(acc[r]);
}

// exp(x) for x <= 88.7 (larger x overflow the exponent bits: callers clamp): 0 below -87.3
// (where the result would leave the normal floats), else x = n ln2 + r, |r| <= ln2 / 2, e^r by
// the Cephes expf polynomial and 2^n through the exponent bits. Relative error about 2e-7.
// Written once over the vector width (Ops: ExpOps8 and ExpOps16 below), so
// every width runs the same operations lane for lane: the same bits.
template <typename Ops>
inline typename Ops::V ExpWith(typename Ops::V x) {
  using V = typename Ops::V;
  const V lowest = Ops::Set1(-87.33654f);
  const auto underflow = Ops::Below(x, lowest);
  x = Ops::Max(x, lowest);
  const V n = Ops::RoundNearest(Ops::Mul(x, Ops::Set1(1.44269504088896341f)));
  V r = Ops::Fnmadd(n, Ops::Set1(0.693359375f), x);
  r = Ops::Fnmadd(n, Ops::Set1(-2.12194440e-4f), r);
  V p = Ops::Set1(1.9875691500e-4f);
  p = Ops::Fmadd(p, r, Ops::Set1(1.3981999507e-3f));
  p = Ops::Fmadd(p, r, Ops::Set1(8.3334519073e-3f));
  p = Ops::Fmadd(p, r, Ops::Set1(4.1665795894e-2f));
  p = Ops::Fmadd(p, r, Ops::Set1(1.6666665459e-1f));
  p = Ops::Fmadd(p, r, Ops::Set1(5.0000001201e-1f));
  p = Ops::Fmadd(p, Ops::Mul(r, r), Ops::Add(r, Ops::Set1(1.0f)));
  return Ops::MulZeroWhere(underflow, p, Ops::TwoToThe(n));
}

struct ExpOps8 {
  using V = __m256;
  static V Set1(float x) { return _mm256_set1_ps(x); }
  static V Below(V x, V limit) { return _mm256_cmp_ps(x, limit, _CMP_LT_OQ); }
  static V Max(V a, V b) { return _mm256_max_ps(a, b); }
  static V Mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  static V Fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V Fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V RoundNearest(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V TwoToThe(V n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static V MulZeroWhere(V zero, V a, V b) { return _mm256_andnot_ps(zero, _mm256_mul_ps(a, b)); }
};

inline __m256 Exp(__m256 x) { return ExpWith<ExpOps8>(x); }

#if defined(__AVX512F__)
// Exp on 16 lanes, for the AVX-512 files that include this one (ExpWith: the same operations lane
// for lane, so the same bits as Exp).
struct ExpOps16 {
  using V = __m512;
  static V Set1(float x) { return _mm512_set1_ps(x); }
  static __mmask16 Below(V x, V limit) { return _mm512_cmp_ps_mask(x, limit, _CMP_LT_OQ); }
  static V Max(V a, V b) { return _mm512_max_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V RoundNearest(V x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V TwoToThe(V n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  static V MulZeroWhere(__mmask16 zero, V a, V b) { return _mm512_maskz_mul_ps(static_cast<__mmask16>(~zero), a, b); }
};
inline __m512 Exp16(__m512 x) { return ExpWith<ExpOps16>(x); }
#endif

}  // namespace
}  // namespace moefit::avx2
