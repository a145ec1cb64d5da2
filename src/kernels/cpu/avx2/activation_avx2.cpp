// SPDX-License-Identifier: MIT
// AVX2 element-wise ops: the feed-forward's gate = silu(gate) * up, 8 at a time; RMS norm; the
// MoE layer's weighted sum of a token's expert rows.
#include <cmath>

#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"

namespace moefit::avx2 {
namespace {

// silu(g) * u = g * u / (1 + exp(-g)); exp's argument clamped to 88 (exp(88) ~ 1.7e38 is finite,
// and g / (1 + that) is ~0 where the reference gives -0).
inline __m256 SwiGlu8(__m256 gate, __m256 up) {
  const __m256 e = Exp(_mm256_min_ps(_mm256_sub_ps(_mm256_setzero_ps(), gate), _mm256_set1_ps(88.0f)));
  return _mm256_mul_ps(_mm256_div_ps(gate, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), up);
}

}  // namespace

void SwiGluRow(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, SwiGlu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i == n) return;
  // The last < 8 through the same vector arithmetic (padded), so an element's bits do not
  // depend on where in a row it falls.
  alignas(32) float g[8] = {}, u[8] = {};
  const int64_t rest = n - i;
  for (int64_t j = 0; j < rest; ++j) {
    g[j] = gate[i + j];
    u[j] = up[i + j];
  }
  _mm256_store_ps(g, SwiGlu8(_mm256_load_ps(g), _mm256_load_ps(u)));
  for (int64_t j = 0; j < rest; ++j) gate[i + j] = g[j];
}

// RmsNormReference's arithmetic with its eight double lanes in two vectors: each product of two
// floats is exact in double, so the FMA adds what the reference's multiply and add do (the
// same bits), and the scaling multiplies x by the scale, then by the weight, as it does.
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y) {
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  int64_t e = 0;
  for (; e + 8 <= n; e += 8) {
    const __m256d a = _mm256_cvtps_pd(_mm_loadu_ps(x + e)), b = _mm256_cvtps_pd(_mm_loadu_ps(x + e + 4));
    low = _mm256_fmadd_pd(a, a, low);
    high = _mm256_fmadd_pd(b, b, high);
  }
  alignas(32) double lanes[8];
  _mm256_store_pd(lanes, low);
  _mm256_store_pd(lanes + 4, high);
  double sum = 0.0;
  for (; e < n; ++e) sum += static_cast<double>(x[e]) * x[e];
  for (double lane : lanes) sum += lane;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(weight + i)));
  for (; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

// The reference's arithmetic 8 elements at a time: 0 + each row's product in order. The empty asm
// hides each product from the compiler, which would otherwise fuse it with its add (-mfma and
// GCC's default -ffp-contract=fast), changing the bits.
void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out) {
  const auto add_rows = [&](int64_t i, const auto& load) {
    __m256 sum = _mm256_setzero_ps();
    for (int k = 0; k < count; ++k) {
      __m256 product = _mm256_mul_ps(_mm256_set1_ps(weights[k]), load(rows[k] + i));
      asm("" : "+x"(product));
      sum = _mm256_add_ps(sum, product);
    }
    return sum;
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, add_rows(i, [](const float* p) { return _mm256_loadu_ps(p); }));
  if (i == n) return;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)), lanes);
  _mm256_maskstore_ps(out + i, mask, add_rows(i, [&](const float* p) { return _mm256_maskload_ps(p, mask); }));
}

}  // namespace moefit::avx2
