// SPDX-License-Identifier: MIT
// AVX2 dots of the 32-element block formats against Q8_0 activations: Q4_0, Q8_0, IQ4_NL, up to
// two tokens per pass over a row group's blocks (prefill). Each block's integer dot is exact
// (int8 products summed in int16 pairs, then int32); the per-block float scales accumulate in 8
// float lanes per row and token.
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/legacy.h"

namespace moefit::avx2 {
namespace {

constexpr int64_t kActBlock = sizeof(BlockQ8_0);  // d (F16) + 32 int8

inline __m256i Ones16() { return _mm256_set1_epi16(1); }

// Each format's levels of a block (quants at block + 2): signed, or (Q4_0) unsigned 0..15 with
// the value q - 8, the 8 applied once per block and token as 8 * sum(activations).
struct Q8_0Levels {  // d (F16), 32 int8
  static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
  static constexpr bool kUnsigned = false;
  static __m256i Levels(const uint8_t* x) { return Load256(x + 2); }
};
struct Q4_0Levels {  // d (F16), 16 bytes of nibbles
  static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
  static constexpr bool kUnsigned = true;
  static __m256i Levels(const uint8_t* x) { return SplitNibbles(Load128(x + 2)); }
};
struct IQ4_NLLevels {  // d (F16), 16 bytes of nibbles indexing kIQ4Levels
  static constexpr int64_t kBlockBytes = sizeof(BlockIQ4_NL);
  static constexpr bool kUnsigned = false;
  static __m256i Levels(const uint8_t* x) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        kIQ4Levels[0], kIQ4Levels[1], kIQ4Levels[2], kIQ4Levels[3], kIQ4Levels[4], kIQ4Levels[5], kIQ4Levels[6],
        kIQ4Levels[7], kIQ4Levels[8], kIQ4Levels[9], kIQ4Levels[10], kIQ4Levels[11], kIQ4Levels[12],
        kIQ4Levels[13], kIQ4Levels[14], kIQ4Levels[15]));
    return _mm256_shuffle_epi8(table, SplitNibbles(Load128(x + 2)));
  }
};

// Per block and (row, token): the block's exact integer dot (int8 products summed in int16
// pairs, then int32; signed levels as |levels| against the activations with their signs), its
// conversion, and an FMA by the product of the two F16 scales into the (row, token)'s 8 lanes,
// summed at the end. A row's levels, their magnitudes and scale serve kTokenBlock tokens at once
// (RunTokens) and a token alone (Run) takes the same chain: the same bits among others or alone.
template <typename Format>
struct BlocksKernel : cpu_detail::TokenDots<BlocksKernel<Format>> {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = Format::kBlockBytes;
  static constexpr int kTokenBlock = 2;  // 8 accumulators of the 16 registers

  template <int kRows, int kT, bool kPrefetch>
  static void Dots(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* const* act, int64_t elements,
                   float* const* out) {
    __m256 acc[kRows][kT];
    for (int r = 0; r < kRows; ++r)
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK32; ++b) {
      __m256i y[kT], offset[kT];
      float y_scale[kT];
      for (int t = 0; t < kT; ++t) {
        const uint8_t* a = act[t] + b * kActBlock;
        y[t] = Load256(a + 2);
        y_scale[t] = HalfToFloat(a);
        if constexpr (Format::kUnsigned) offset[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), y[t]), Ones16());
      }
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if constexpr (kPrefetch)
          if (b % (64 / kBlockBytes) == 0) Prefetch<64>(x);
        const __m256i levels = Format::Levels(x);
        const float w_scale = HalfToFloat(x);
        const __m256i magnitude = Format::kUnsigned ? levels : _mm256_sign_epi8(levels, levels);
        for (int t = 0; t < kT; ++t) {
          __m256i sums;
          if constexpr (Format::kUnsigned) {
            sums = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(levels, y[t]), Ones16()), offset[t]);
          } else {
            sums = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(y[t], levels)), Ones16());
          }
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(w_scale * y_scale[t]), acc[r][t]);
        }
      }
    }
    for (int t = 0; t < kT; ++t)
      for (int r = 0; r < kRows; ++r) out[t][r] = HorizontalSum(acc[r][t]);
  }
};

using Q8_0Kernel = BlocksKernel<Q8_0Levels>;
using Q4_0Kernel = BlocksKernel<Q4_0Levels>;
using IQ4_NLKernel = BlocksKernel<IQ4_NLLevels>;

}  // namespace

float DotRowQ8_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q8_0Kernel>(w, a, n); }
void DotTileQ8_0(const DotTile& tile) { cpu_detail::RunDotTile<Q8_0Kernel>(tile); }
float DotRowQ4_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q4_0Kernel>(w, a, n); }
void DotTileQ4_0(const DotTile& tile) { cpu_detail::RunDotTile<Q4_0Kernel>(tile); }
float DotRowIQ4_NL(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<IQ4_NLKernel>(w, a, n); }
void DotTileIQ4_NL(const DotTile& tile) { cpu_detail::RunDotTile<IQ4_NLKernel>(tile); }

}  // namespace moefit::avx2
