// SPDX-License-Identifier: MIT
// AVX2 dots of plain float weights (F32, F16, BF16) against F32 activations: 16 elements per
// step in two float accumulators per row, any row length (scalar tail).
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"

namespace moefit::avx2 {
namespace {

struct F32Format {
  static constexpr int kBytes = 4;
  static __m256 Load8(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static float Load1(const uint8_t* row, int64_t i) { return LoadFloat(row + 4 * i); }
};

struct F16Format {
  static constexpr int kBytes = 2;
  static __m256 Load8(const uint8_t* row, int64_t i) { return _mm256_cvtph_ps(Load128(row + 2 * i)); }
  static float Load1(const uint8_t* row, int64_t i) { return HalfToFloat(row + 2 * i); }
};

struct BF16Format {
  static constexpr int kBytes = 2;
  static __m256 Load8(const uint8_t* row, int64_t i) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(Load128(row + 2 * i)), 16));
  }
  static float Load1(const uint8_t* row, int64_t i) {
    const uint32_t bits = static_cast<uint32_t>(LoadU16(row + 2 * i)) << 16;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
};

template <typename Format>
struct FloatKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = 0;  // plain rows: no blocks
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t /*block_stride*/, const uint8_t* act, int64_t elements, float* out) {
    const float* x = reinterpret_cast<const float*>(act);
    __m256 acc0[kRows], acc1[kRows];
    for (int r = 0; r < kRows; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= elements; i += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      for (int r = 0; r < kRows; ++r) {
        Prefetch<Format::kBytes * 16>(w + r * stride + Format::kBytes * i);
        acc0[r] = _mm256_fmadd_ps(Format::Load8(w + r * stride, i), x0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(Format::Load8(w + r * stride, i + 8), x1, acc1[r]);
      }
    }
    if (i + 8 <= elements) {
      const __m256 x0 = _mm256_loadu_ps(x + i);
      for (int r = 0; r < kRows; ++r) acc0[r] = _mm256_fmadd_ps(Format::Load8(w + r * stride, i), x0, acc0[r]);
      i += 8;
    }
    for (int r = 0; r < kRows; ++r) {
      float tail = 0;
      for (int64_t j = i; j < elements; ++j) tail += Format::Load1(w + r * stride, j) * x[j];
      out[r] = HorizontalSum(_mm256_add_ps(acc0[r], acc1[r])) + tail;
    }
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

}  // namespace moefit::avx2
