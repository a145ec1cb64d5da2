// SPDX-License-Identifier: MIT
// AVX2 element-wise activations of the feed-forward: gate = silu(gate) * up, 8 at a time.
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

}  // namespace moefit::avx2
