// SPDX-License-Identifier: MIT
// AVX2 dots of the 32-element block formats against Q8_0 activations: Q4_0, Q8_0, IQ4_NL.
// Each block's integer dot is exact (int8 products summed in int16 pairs, then int32); the
// per-block float scales accumulate in 8 float lanes per row.
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/legacy.h"

namespace moefit::avx2 {
namespace {

constexpr int64_t kActBlock = sizeof(BlockQ8_0);  // d (F16) + 32 int8

inline __m256i Ones16() { return _mm256_set1_epi16(1); }

// Weights Q8_0: d (F16), 32 int8.
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
        const __m256i sums = _mm256_madd_epi16(MulSigned8(Load256(x + 2), yq), Ones16());
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

// Weights Q4_0: d (F16), 16 bytes of nibbles; value (q - 8) * d. The -8 is applied once per
// block to all rows as 8 * sum(activations).
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
      const __m256i offset = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), yq), Ones16());
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if (b % (64 / sizeof(BlockQ4_0)) == 0) Prefetch<64>(x);
        const __m256i levels = SplitNibbles(Load128(x + 2));  // 0..15
        const __m256i sums = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(levels, yq), Ones16()), offset);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

// Weights IQ4_NL: d (F16), 16 bytes of nibbles indexing kIQ4Levels.
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
        const __m256i levels = _mm256_shuffle_epi8(table, SplitNibbles(Load128(x + 2)));
        const __m256i sums = _mm256_madd_epi16(MulSigned8(levels, yq), Ones16());
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

}  // namespace moefit::avx2
