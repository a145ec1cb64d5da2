// SPDX-License-Identifier: MIT
// AVX-512 activation quantizers, bit-exact with the scalar references: float -> Q8_0 (round
// half away from zero, F16 scale) and float -> Q8_K (round half to even, float scale, sums).
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "quant/k_quants.h"
#include "quant/legacy.h"

namespace moefit::avx512 {
namespace {

// std::round: to nearest, halves away from zero. v - trunc(v) is exact, so compare it with 0.5.
inline __m512 RoundHalfAway(__m512 v) {
  const __m512 truncated = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 away = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, truncated)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));  // +-1
  return _mm512_mask_add_ps(truncated, away, truncated, step);
}

}  // namespace

// Conversions keep the low byte (vpmovdb), as the references' plain casts do (see the AVX2 file).
void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < elements / kQK32; ++b, src += kQK32, out += sizeof(BlockQ8_0)) {
    const __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    const __m512 scale = _mm512_set1_ps(inverse);
    const __m128i q0 = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(RoundHalfAway(_mm512_mul_ps(v0, scale))));
    const __m128i q1 = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(RoundHalfAway(_mm512_mul_ps(v1, scale))));
    const uint16_t d_bits = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(out, &d_bits, sizeof d_bits);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), q0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 18), q1);
  }
}

void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < elements / kQK_K; ++b, src += kQK_K, out += sizeof(BlockQ8_K)) {
    __m512 amax_v = _mm512_setzero_ps();
    for (int i = 0; i < kQK_K / 16; ++i) amax_v = _mm512_max_ps(amax_v, _mm512_abs_ps(_mm512_loadu_ps(src + 16 * i)));
    const float amax = _mm512_reduce_max_ps(amax_v);
    if (amax == 0) {
      std::memset(out, 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference keeps the first element of largest magnitude (with its sign).
    float max = 0;
    const __m512 amax_b = _mm512_set1_ps(amax);
    for (int i = 0; i < kQK_K / 16; ++i) {
      const __mmask16 hits = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(src + 16 * i)), amax_b, _CMP_EQ_OQ);
      if (hits != 0) {
        max = src[16 * i + __builtin_ctz(static_cast<unsigned>(hits))];
        break;
      }
    }
    const float inverse = -127 / max;
    const __m512 scale = _mm512_set1_ps(inverse);
    __m512i q[16];
    for (int g = 0; g < 16; ++g) {
      // cvtps rounds to nearest even (default MXCSR) like lrintf; then min(127, .) and the cast
      // to int8 (the low byte), as in the reference. |x| <= amax makes q >= -127, so the low
      // byte is q itself and the sums can be taken on q.
      q[g] = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(src + 16 * g), scale)), _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 + 16 * g), _mm512_cvtepi32_epi8(q[g]));
    }
    // The 16 sums of 16 by a transposing tree (~45 operations; a horizontal reduction per group
    // took ~9 each): per 128-bit lane, four vectors' partial sums side by side, then the lanes.
    __m512i quads[4];
    for (int j = 0; j < 4; ++j) {
      __m512i pair[2];
      for (int h = 0; h < 2; ++h) {
        const __m512i first = q[4 * j + 2 * h], second = q[4 * j + 2 * h + 1];
        pair[h] = _mm512_add_epi32(_mm512_unpacklo_epi32(first, second), _mm512_unpackhi_epi32(first, second));
      }
      quads[j] = _mm512_add_epi32(_mm512_unpacklo_epi64(pair[0], pair[1]), _mm512_unpackhi_epi64(pair[0], pair[1]));
    }
    __m512i halves[2];
    for (int h = 0; h < 2; ++h) {
      const __m512i first = quads[2 * h], second = quads[2 * h + 1];
      halves[h] = _mm512_add_epi32(_mm512_shuffle_i32x4(first, second, _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm512_shuffle_i32x4(first, second, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    const __m512i sums = _mm512_add_epi32(_mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                          _mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const float d = 1 / inverse;
    std::memcpy(out, &d, sizeof d);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 + kQK_K), _mm512_cvtepi32_epi16(sums));
  }
}

}  // namespace moefit::avx512
