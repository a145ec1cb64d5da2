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

// Prefetches the kBytes at p + kPrefetchDistance into L1, one hint per cache line.
template <int kBytes>
inline void Prefetch(const uint8_t* p) {
  for (int i = 0; i < kBytes; i += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + cpu_detail::kPrefetchDistance + i), _MM_HINT_T0);
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

}  // namespace
}  // namespace moefit::avx2
