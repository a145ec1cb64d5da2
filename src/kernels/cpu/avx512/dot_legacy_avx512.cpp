// SPDX-License-Identifier: MIT
// AVX-512 VNNI dots of the 32-element block formats against Q8_0 activations, up to four tokens
// per pass over a row group's blocks (prefill): Q8_0 two blocks per 512-bit vector, Q4_0 and
// IQ4_NL a block per 256-bit vector (pairing blocks cost their single-token dots, compute-bound,
// 7-20%). vpdpbusd sums four int8 products straight into int32 (exact).
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/legacy.h"

namespace moefit::avx512 {
namespace {

constexpr int64_t kActBlock = sizeof(BlockQ8_0);  // d (F16) + 32 int8

// -(2^shift x the sum of each int32 lane's 4 signed bytes): the start of a vpdpbusd against these
// bytes that takes off the +2^shift its other operand carries (activations + 128 as unsigned;
// Q4_0's levels q = value + 8).
inline __m256i MinusScaledLaneSums(__m256i bytes, int shift) {
  const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), bytes);
  return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, shift));
}
inline __m512i MinusScaledLaneSums(__m512i bytes, int shift) {
  const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), bytes);
  return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, shift));
}

// The F16 scales at a and b as [a x 8 | b x 8] (b = a for an odd last block: its products are 0).
inline __m512 PairScales(const uint8_t* a, const uint8_t* b) {
  const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(LoadU16(a) | (uint32_t{LoadU16(b)} << 16))));
  const __m512i index = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_ps(index, _mm512_castps128_ps512(both));
}

// Q8_0 (d, 32 int8 levels) against Q8_0 activations, two blocks per 512-bit vector (the high
// half zero for an odd last block). For several tokens (RunTokens) vpdpbusd takes the
// activations + 128 (unsigned) against the levels and starts from -128 x the sum of each lane's
// 4 levels (once per row for the tokens); a token alone (Run) takes |levels| against the
// activations with the levels' signs. Either way each lane is the exact sum of its 4 products;
// then per block pair and (row, token) a conversion, the pair's scales (row x token) multiplied
// and an FMA into the (row, token)'s 16 lanes, summed at the end: the same float chain, so the
// same bits among others or alone.
struct Q8_0Kernel : cpu_detail::TokenDots<Q8_0Kernel> {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
  static constexpr int kTokenBlock = 4;

  template <int kRows, int kT, bool kPrefetch>
  static void Dots(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* const* act, int64_t elements,
                   float* const* out) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512 acc[kRows][kT];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm512_setzero_ps();
    const int64_t blocks = elements / kQK32;
    for (int64_t b = 0; b < blocks; b += 2) {
      const bool pair = b + 1 < blocks;
      __m512i y[kT];
      __m512 y_scale[kT];
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) {
        const uint8_t* a0 = act[t] + b * kActBlock;
        const uint8_t* a1 = pair ? a0 + kActBlock : a0;
        y[t] = Concat(Load256(a0 + 2), pair ? Load256(a1 + 2) : _mm256_setzero_si256());
        if constexpr (kT > 1) y[t] = _mm512_xor_si512(y[t], flip);  // + 128: unsigned
        y_scale[t] = PairScales(a0, a1);
      }
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x0 = w + r * stride + b * block_stride;
        const uint8_t* x1 = pair ? x0 + block_stride : nullptr;
        if constexpr (kPrefetch) {
          Prefetch<64>(x0);
          if (pair) Prefetch<64>(x1);
        }
        const __m512i levels = Concat(Load256(x0 + 2), pair ? Load256(x1 + 2) : _mm256_setzero_si256());
        const __m512 w_scale = PairScales(x0, pair ? x1 : x0);
        if constexpr (kT == 1) {
          // One token: |levels| against the activations with the levels' signs, the same exact sums.
          const __mmask64 negative = _mm512_movepi8_mask(levels);
          const __m512i signed_y = _mm512_mask_sub_epi8(y[0], negative, _mm512_setzero_si512(), y[0]);
          const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(levels), signed_y);
          acc[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(w_scale, y_scale[0]), acc[r][0]);
        } else {
          const __m512i start = MinusScaledLaneSums(levels, 7);
#pragma GCC unroll 4
          for (int t = 0; t < kT; ++t) {
            const __m512i sums = _mm512_dpbusd_epi32(start, y[t], levels);
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(w_scale, y_scale[t]), acc[r][t]);
          }
        }
      }
    }
    for (int t = 0; t < kT; ++t)
      for (int r = 0; r < kRows; ++r) out[t][r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

// Q4_0 and IQ4_NL: a block per 256-bit vector. Per block and (row, token): the exact int32 sums
// of the block's 32 products, their conversion, and an FMA by the product of the two F16 scales
// (one float multiply), into the (row, token)'s 8 lanes, summed at the end. The levels and their
// row's scale serve kTokenBlock tokens at once (RunTokens), and a token alone (Run) takes the
// same chain: the same bits among others or alone.
// Q4_0: value (q - 8) * d with q in 0..15: the unsigned levels go straight into vpdpbusd, and
// 8 x the sum of each lane's 4 activations (once per token) comes off.
struct Q4_0Nibbles {
  static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
  static constexpr bool kUnsigned = true;
  static __m256i Levels(const uint8_t* x) { return SplitNibbles(Load128(x + 2)); }
};
// IQ4_NL: signed levels from the table; the activations + 128 against them, from -128 x the sum
// of each lane's 4 levels (once per row), or for a token alone the sign trick.
struct IQ4_NLNibbles {
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

template <typename Format>
struct NibbleBlocksKernel : cpu_detail::TokenDots<NibbleBlocksKernel<Format>> {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = Format::kBlockBytes;
  static constexpr int kTokenBlock = 4;

  template <int kRows, int kT, bool kPrefetch>
  static void Dots(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* const* act, int64_t elements,
                   float* const* out) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256 acc[kRows][kT];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK32; ++b) {
      __m256i y[kT], y_start[kT];
      float y_scale[kT];
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) {
        const uint8_t* a = act[t] + b * kActBlock;
        y[t] = Load256(a + 2);
        y_scale[t] = HalfToFloat(a);
        if constexpr (Format::kUnsigned) {
          y_start[t] = MinusScaledLaneSums(y[t], 3);  // the levels' offset 8 x the activations
        } else if constexpr (kT > 1) {
          y[t] = _mm256_xor_si256(y[t], flip);  // + 128: unsigned
        }
      }
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        if constexpr (kPrefetch) Prefetch<64>(x);
        const __m256i levels = Format::Levels(x);
        const float w_scale = HalfToFloat(x);
        __m256i start = _mm256_setzero_si256();
        if constexpr (!Format::kUnsigned && kT > 1) start = MinusScaledLaneSums(levels, 7);
#pragma GCC unroll 4
        for (int t = 0; t < kT; ++t) {
          __m256i sums;
          if constexpr (Format::kUnsigned) {
            sums = _mm256_dpbusd_epi32(y_start[t], levels, y[t]);
          } else if constexpr (kT > 1) {
            sums = _mm256_dpbusd_epi32(start, y[t], levels);
          } else {
            sums = DotSigned8(levels, y[t]);
          }
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(w_scale * y_scale[t]), acc[r][t]);
        }
      }
    }
    for (int t = 0; t < kT; ++t)
      for (int r = 0; r < kRows; ++r) out[t][r] = HorizontalSum(acc[r][t]);
  }
};

using Q4_0Kernel = NibbleBlocksKernel<Q4_0Nibbles>;
using IQ4_NLKernel = NibbleBlocksKernel<IQ4_NLNibbles>;

}  // namespace

float DotRowQ8_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q8_0Kernel>(w, a, n); }
void DotTileQ8_0(const DotTile& tile) { cpu_detail::RunDotTile<Q8_0Kernel>(tile); }
float DotRowQ4_0(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q4_0Kernel>(w, a, n); }
void DotTileQ4_0(const DotTile& tile) { cpu_detail::RunDotTile<Q4_0Kernel>(tile); }
float DotRowIQ4_NL(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<IQ4_NLKernel>(w, a, n); }
void DotTileIQ4_NL(const DotTile& tile) { cpu_detail::RunDotTile<IQ4_NLKernel>(tile); }

}  // namespace moefit::avx512
