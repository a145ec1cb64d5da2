// SPDX-License-Identifier: MIT
// AVX-512 VNNI dots of the 32-element block formats against Q8_0 activations: Q4_0, Q8_0,
// IQ4_NL. vpdpbusd sums four int8 products straight into int32 (exact); 256-bit vectors match
// the 32-element block, and the extra registers hold four rows without spilling.
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/legacy.h"

namespace moefit::avx512 {
namespace {

constexpr int64_t kActBlock = sizeof(BlockQ8_0);  // d (F16) + 32 int8

template <int kRows>
inline void StoreSums(const __m256* acc, float* out) {
  for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(acc[r]);
}

struct Q8_0Kernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK32; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const __m256i yq = Load256(y + 2);
      const float yd = HalfToFloat(y);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if (b % (64 / sizeof(BlockQ8_0)) == 0) Prefetch<64>(x);
        const __m256i sums = DotSigned8(Load256(x + 2), yq);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

// value (q - 8) * d with q in 0..15: unsigned levels go straight into vpdpbusd; 8 * sum(y) is
// taken off once per block for all rows.
struct Q4_0Kernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK32; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const __m256i yq = Load256(y + 2);
      const float yd = HalfToFloat(y);
      const __m256i offset = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), yq);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if (b % (64 / sizeof(BlockQ4_0)) == 0) Prefetch<64>(x);
        const __m256i sums = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), SplitNibbles(Load128(x + 2)), yq), offset);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

struct IQ4_NLKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockIQ4_NL);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        kIQ4Levels[0], kIQ4Levels[1], kIQ4Levels[2], kIQ4Levels[3], kIQ4Levels[4], kIQ4Levels[5], kIQ4Levels[6],
        kIQ4Levels[7], kIQ4Levels[8], kIQ4Levels[9], kIQ4Levels[10], kIQ4Levels[11], kIQ4Levels[12],
        kIQ4Levels[13], kIQ4Levels[14], kIQ4Levels[15]));
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK32; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const __m256i yq = Load256(y + 2);
      const float yd = HalfToFloat(y);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if (b % (64 / sizeof(BlockIQ4_NL)) == 0) Prefetch<64>(x);
        const __m256i sums = DotSigned8(_mm256_shuffle_epi8(table, SplitNibbles(Load128(x + 2))), yq);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

}  // namespace

float DotRowQ8_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q8_0Kernel>(w, a, n); }
void DotTileQ8_0(const DotTile& tile) { cpu_detail::RunDotTile<Q8_0Kernel>(tile); }
float DotRowQ4_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q4_0Kernel>(w, a, n); }
void DotTileQ4_0(const DotTile& tile) { cpu_detail::RunDotTile<Q4_0Kernel>(tile); }
float DotRowIQ4_NL(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<IQ4_NLKernel>(w, a, n); }
void DotTileIQ4_NL(const DotTile& tile) { cpu_detail::RunDotTile<IQ4_NLKernel>(tile); }

}  // namespace moefit::avx512
