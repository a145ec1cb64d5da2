// SPDX-License-Identifier: MIT
// Small AVX-512 helpers for the files in this folder only (all internal linkage: see
// isa_kernels.h). The level guarantees F, BW, VL, DQ and VNNI.
#pragma once

// GCC 12's AVX-512 headers implement _mm512_undefined_* as a self-initialised variable, which
// -Wuninitialized / -Wmaybe-uninitialized report once inlined (a false positive); only these files see it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/tile_runner.h"

namespace moefit::avx512 {
namespace {

inline __m512i Load512(const void* p) { return _mm512_loadu_si512(p); }
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

inline float HalfToFloat(const uint8_t* p) { return _cvtsh_ss(LoadU16(p)); }

inline float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline int HorizontalSum(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(v);
}

// Signed int8 x signed int8 with pairs summed to int16 (no saturation for |b| <= 127).
inline __m512i MulSigned8(__m512i a, __m512i b) {
  const __mmask64 negative = _mm512_movepi8_mask(a);
  return _mm512_maddubs_epi16(_mm512_abs_epi8(a), _mm512_mask_sub_epi8(b, negative, _mm512_setzero_si512(), b));
}

// Signed x signed int8, 4-element groups summed into int32 lanes (VNNI).
inline __m256i DotSigned8(__m256i a, __m256i b) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

// The 32 nibbles of 16 bytes as bytes: low nibbles in the low lane, high nibbles in the high lane.
inline __m256i SplitNibbles(__m128i bytes) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
}

// Two 256-bit halves as one 512-bit vector.
inline __m512i Concat(__m256i low, __m256i high) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

}  // namespace
}  // namespace moefit::avx512
