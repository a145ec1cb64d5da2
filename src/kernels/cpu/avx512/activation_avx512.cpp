// SPDX-License-Identifier: MIT
// AVX-512 element-wise ops, the AVX2 ones (avx2/activation_avx2.cpp) 16 lanes wide with the same
// bits: SwiGLU's exponential is ExpWith over 16 lanes (the same operations lane for lane), the
// RMS norm keeps the reference's eight double lanes in one vector, and the weighted sum rounds
// each product before its add.
#include "kernels/cpu/avx512/simd_avx512.h"  // first: its GCC 12 warning switches
#include "kernels/cpu/avx2/simd_avx2.h"      // ExpWith, Exp16
#include "kernels/cpu/isa_kernels.h"

#include <cmath>

namespace moefit::avx512 {
namespace {

// silu(g) * u = g * u / (1 + exp(-g)), exp's argument clamped to 88: avx2's SwiGlu8 on 16 lanes.
inline __m512 SwiGlu16(__m512 gate, __m512 up) {
  const __m512 e = avx2::Exp16(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), gate), _mm512_set1_ps(88.0f)));
  return _mm512_mul_ps(_mm512_div_ps(gate, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), up);
}

}  // namespace

void SwiGluRow(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(gate + i, SwiGlu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i == n) return;
  // The last < 16 through the same arithmetic, masked (the lanes past the row compute on zeros
  // and are not stored), so an element's bits do not depend on where in a row it falls.
  const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
  _mm512_mask_storeu_ps(gate + i, mask, SwiGlu16(_mm512_maskz_loadu_ps(mask, gate + i), _mm512_maskz_loadu_ps(mask, up + i)));
}

// RmsNormReference's eight double lanes in one vector (lane j sums the squares of the elements
// 8k + j, as the AVX2 kernel's two halves do), then the same final sum and scaling.
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y) {
  __m512d lanes8 = _mm512_setzero_pd();
  int64_t e = 0;
  for (; e + 8 <= n; e += 8) {
    const __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x + e));
    lanes8 = _mm512_fmadd_pd(a, a, lanes8);
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, lanes8);
  double sum = 0.0;
  for (; e < n; ++e) sum += static_cast<double>(x[e]) * x[e];
  for (double lane : lanes) sum += lane;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  const __m512 s = _mm512_set1_ps(scale);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), _mm512_loadu_ps(weight + i)));
  for (; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

// 0 + each row's product in order, 16 elements at a time (four vectors at a time where 64 are
// left); each product hidden from the compiler by an empty asm so it is not fused with its add.
void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 sum[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int k = 0; k < count; ++k) {
      const __m512 w = _mm512_set1_ps(weights[k]);
      for (int j = 0; j < 4; ++j) {
        __m512 product = _mm512_mul_ps(w, _mm512_loadu_ps(rows[k] + i + 16 * j));
        asm("" : "+v"(product));
        sum[j] = _mm512_add_ps(sum[j], product);
      }
    }
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(out + i + 16 * j, sum[j]);
  }
  for (; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 sum = _mm512_setzero_ps();
    for (int k = 0; k < count; ++k) {
      __m512 product = _mm512_mul_ps(_mm512_set1_ps(weights[k]), _mm512_maskz_loadu_ps(mask, rows[k] + i));
      asm("" : "+v"(product));
      sum = _mm512_add_ps(sum, product);
    }
    _mm512_mask_storeu_ps(out + i, mask, sum);
  }
}

}  // namespace moefit::avx512
