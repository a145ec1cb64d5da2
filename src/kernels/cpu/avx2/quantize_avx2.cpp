// SPDX-License-Identifier: MIT
// AVX2 activation quantizers, bit-exact with the scalar references: float -> Q8_0 (round half
// away from zero, F16 scale) and float -> Q8_K (round half to even, float scale, block sums).
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "quant/k_quants.h"
#include "quant/legacy.h"

namespace moefit::avx2 {
namespace {

// (No namespace-scope SIMD constants: their initialisers would run at start-up on any CPU.)
inline __m256 SignBit() { return _mm256_set1_ps(-0.0f); }
inline __m256 Abs(__m256 v) { return _mm256_andnot_ps(SignBit(), v); }

// std::round: to nearest, halves away from zero. v - trunc(v) is exact, so compare it with 0.5.
inline __m256 RoundHalfAway(__m256 v) {
  const __m256 truncated = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 fraction = Abs(_mm256_sub_ps(v, truncated));
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, SignBit()), _mm256_set1_ps(1.0f));  // +-1
  return _mm256_add_ps(truncated, _mm256_and_ps(_mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

// 32 int32 (4 vectors) -> their low bytes, in element order. The references convert with a
// plain cast, which keeps the low byte of the int32 conversion (0 for NaN / inf / out of range:
// 0x80000000), so truncation, not saturation, is what matches them on degenerate input.
inline __m256i PackLowBytes(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i low_byte = _mm256_set1_epi32(0xff);
  const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, low_byte), _mm256_and_si256(b, low_byte));
  const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, low_byte), _mm256_and_si256(d, low_byte));
  const __m256i packed = _mm256_packus_epi16(ab, cd);  // a0 b0 c0 d0 | a1 b1 c1 d1 (4 ints each)
  return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < elements / kQK32; ++b, src += kQK32, out += sizeof(BlockQ8_0)) {
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(src + 8 * i);
    const float amax = HorizontalMax(_mm256_max_ps(_mm256_max_ps(Abs(v[0]), Abs(v[1])), _mm256_max_ps(Abs(v[2]), Abs(v[3]))));
    const float d = amax / 127;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    const __m256 scale = _mm256_set1_ps(inverse);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v[i], scale)));
    const uint16_t d_bits = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(out, &d_bits, sizeof d_bits);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2), PackLowBytes(q[0], q[1], q[2], q[3]));
  }
}

void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < elements / kQK_K; ++b, src += kQK_K, out += sizeof(BlockQ8_K)) {
    __m256 amax_v = _mm256_setzero_ps();
    for (int i = 0; i < kQK_K / 8; ++i) amax_v = _mm256_max_ps(amax_v, Abs(_mm256_loadu_ps(src + 8 * i)));
    const float amax = HorizontalMax(amax_v);
    std::memset(out, 0, sizeof(BlockQ8_K));
    if (amax == 0) continue;
    // The reference keeps the first element of largest magnitude (with its sign).
    float max = 0;
    const __m256 amax_b = _mm256_set1_ps(amax);
    for (int i = 0; i < kQK_K / 8; ++i) {
      const int hits = _mm256_movemask_ps(_mm256_cmp_ps(Abs(_mm256_loadu_ps(src + 8 * i)), amax_b, _CMP_EQ_OQ));
      if (hits != 0) {
        max = src[8 * i + __builtin_ctz(static_cast<unsigned>(hits))];
        break;
      }
    }
    const float inverse = -127 / max;
    const __m256 scale = _mm256_set1_ps(inverse);
    int8_t* qs = reinterpret_cast<int8_t*>(out + 4);
    int16_t bsums[16];
    for (int g = 0; g < kQK_K / 32; ++g) {
      __m256i q[4];
      // cvtps rounds to nearest even (the default MXCSR mode), like lrintf in the reference,
      // then min(127, .) and the cast to int8, as there.
      for (int i = 0; i < 4; ++i)
        q[i] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 32 * g + 8 * i), scale)),
                                _mm256_set1_epi32(127));
      const __m256i packed = PackLowBytes(q[0], q[1], q[2], q[3]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * g), packed);
      // Sums of each 16 levels, from the stored bytes.
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), packed);            // 16 x int16
      const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));               // 8 x int32
      const __m128i halves = _mm_hadd_epi32(_mm256_castsi256_si128(quads), _mm256_extracti128_si256(quads, 1));
      const __m128i sums = _mm_hadd_epi32(halves, halves);                                // s0 s1 s0 s1
      bsums[2 * g] = static_cast<int16_t>(_mm_cvtsi128_si32(sums));
      bsums[2 * g + 1] = static_cast<int16_t>(_mm_extract_epi32(sums, 1));
    }
    const float d = 1 / inverse;
    std::memcpy(out, &d, sizeof d);
    std::memcpy(out + 4 + kQK_K, bsums, sizeof bsums);
  }
}

}  // namespace moefit::avx2
