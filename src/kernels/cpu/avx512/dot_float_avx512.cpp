// SPDX-License-Identifier: MIT
// AVX-512 dots of plain float weights (F32, F16, BF16) against F32 activations: 32 elements per
// step in two accumulators per row; the tail is a masked load.
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"

namespace moefit::avx512 {
namespace {

struct F32Format {
  static constexpr int kBytes = 4;
  static __m512 Load16(const uint8_t* row, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static __m512 LoadPart(const uint8_t* row, int64_t i, __mmask16 mask) {
    return _mm512_maskz_loadu_ps(mask, reinterpret_cast<const float*>(row) + i);
  }
};

struct F16Format {
  static constexpr int kBytes = 2;
  static __m512 Load16(const uint8_t* row, int64_t i) { return _mm512_cvtph_ps(Load256(row + 2 * i)); }
  static __m512 LoadPart(const uint8_t* row, int64_t i, __mmask16 mask) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
  }
};

struct BF16Format {
  static constexpr int kBytes = 2;
  static __m512 Widen(__m256i bits) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16)); }
  static __m512 Load16(const uint8_t* row, int64_t i) { return Widen(Load256(row + 2 * i)); }
  static __m512 LoadPart(const uint8_t* row, int64_t i, __mmask16 mask) {
    return Widen(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
  }
};

template <typename Format>
struct FloatKernel : cpu_detail::TokenDots<FloatKernel<Format>> {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = 0;  // plain rows: no blocks
  // Tokens at once in RunTokens (TokenDots), the same bits per token. One token at a time, the
  // router of a prefill (F32, 4 rows against 512 tokens) ran at ~0.45 fmadds a cycle.
  static constexpr int kTokenBlock = 2;
  // out[t][r] = dot(row r, token t's activations) for kRows rows and kT tokens: each weight load
  // (and F16 / BF16 widening) serves every token, and each (row, token) takes the same chain of
  // fmadds whatever kT is, so the bits do not depend on the tokens beside it. kPrefetch: the
  // rows come from memory (a token alone; the tile runner sends a tile's first token alone, and
  // the blocks after it find the rows in L1, where prefetches were ~40% of a prefill router).
  template <int kRows, int kT, bool kPrefetch>
  static void Dots(const uint8_t* w, int64_t stride, int64_t /*block_stride*/, const uint8_t* const* act, int64_t elements,
                   float* const* out) {
    const float* x[kT];
    for (int t = 0; t < kT; ++t) x[t] = reinterpret_cast<const float*>(act[t]);
    __m512 acc0[kRows][kT], acc1[kRows][kT];
    for (int r = 0; r < kRows; ++r)
      for (int t = 0; t < kT; ++t) acc0[r][t] = acc1[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= elements; i += 32) {
      __m512 x0[kT], x1[kT];
      for (int t = 0; t < kT; ++t) {
        x0[t] = _mm512_loadu_ps(x[t] + i);
        x1[t] = _mm512_loadu_ps(x[t] + i + 16);
      }
      for (int r = 0; r < kRows; ++r) {
        if constexpr (kPrefetch) Prefetch<Format::kBytes * 32>(w + r * stride + Format::kBytes * i);
        __m512 w0 = Format::Load16(w + r * stride, i), w1 = Format::Load16(w + r * stride, i + 16);
        // Loaded once for all kT tokens: GCC otherwise folds each load into every token's
        // fmadd (20 loads per 16 fmadds at kT = 2); the empty asm keeps them in registers. A
        // prefill router tile (128 x 2048, 32 tokens, one thread): 187.8 -> 141.5 us.
        if constexpr (kT > 1) asm("" : "+v"(w0), "+v"(w1));
        for (int t = 0; t < kT; ++t) {
          acc0[r][t] = _mm512_fmadd_ps(w0, x0[t], acc0[r][t]);
          acc1[r][t] = _mm512_fmadd_ps(w1, x1[t], acc1[r][t]);
        }
      }
    }
    for (; i < elements; i += 16) {
      const int64_t left = elements - i;
      const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
      for (int r = 0; r < kRows; ++r) {
        const __m512 w0 = Format::LoadPart(w + r * stride, i, mask);
        for (int t = 0; t < kT; ++t) acc0[r][t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(mask, x[t] + i), acc0[r][t]);
      }
    }
    for (int t = 0; t < kT; ++t)
      for (int r = 0; r < kRows; ++r) out[t][r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r][t], acc1[r][t]));
  }
};

}  // namespace

float DotRowF32(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<FloatKernel<F32Format>>(w, a, n); }
void DotTileF32(const DotTile& tile) { cpu_detail::RunDotTile<FloatKernel<F32Format>>(tile); }
float DotRowF16(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<FloatKernel<F16Format>>(w, a, n); }
void DotTileF16(const DotTile& tile) { cpu_detail::RunDotTile<FloatKernel<F16Format>>(tile); }
float DotRowBF16(const void* w, const void* a, int64_t n) {
  return cpu_detail::DotOneRow<FloatKernel<BF16Format>>(w, a, n);
}
void DotTileBF16(const DotTile& tile) { cpu_detail::RunDotTile<FloatKernel<BF16Format>>(tile); }

}  // namespace moefit::avx512
