// SPDX-License-Identifier: MIT
// AVX-512 VNNI dots of repacked row groups (quant/repack.h) against Q8_K activations: Q4_K. As
// the AVX2 kernel (4 rows per instruction, 8 activations broadcast to the 64-bit lanes), but
// vpdpbusd multiplies and adds the 4-level groups straight into int32 lanes: each sub-block's
// lanes hold at most 16 products (|sum| <= 16 * 15 * 127 < 2^15), so two sub-blocks pack into
// int16 and take their scales with one madd. 256-bit vectors (AVX-512 VL): the 32 registers hold
// 4 tokens' accumulators, and the instructions run on three ports rather than two.
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/repacked_simd.h"

namespace moefit::avx512 {
namespace {

using namespace repacked;

// shuffle_epi8 index for sub-blocks j, j + 1 after packing: int16 lanes [a a b b c c e e] of each
// 128-bit lane with a = byte j, b = byte 8 + j, c = byte j + 1, e = byte 9 + j (rows 0, 1 in the
// low lane and 2, 3 in the high lane: the first row's scale at byte j, the second's at 8 + j).
inline __m256i PairScaleIndex(int j) {
  const int8_t a = static_cast<int8_t>(j), b = static_cast<int8_t>(8 + j), c = static_cast<int8_t>(j + 1),
               e = static_cast<int8_t>(9 + j), z = -1;
  return _mm256_setr_epi8(a, z, a, z, b, z, b, z, c, z, c, z, e, z, e, z, a, z, a, z, b, z, b, z, c, z, c, z, e, z, e, z);
}

struct Q4_KRepackedVnni {
  static constexpr int kMaxTokens = 4;

  template <int kTokens>
  static void Run(const uint8_t* w, const uint8_t* const* act, int64_t elements, float* const* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256 acc[kTokens];
    for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kQ4_KGroupBlock) {
      Prefetch<64>(w);  // the header line; the levels' lines one sub-block at a time below
      const GroupHeader header = UnpackHeader(w);
      __m256i sum[kTokens];  // lanes [r0 r1 r0 r1 | r2 r3 r2 r3]
      for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int j = 0; j < 8; j += 2) {
        Prefetch<128>(w + kQ4_KLevelsAt + 64 * j);
        __m256i dots[2][kTokens];  // sub-blocks j, j + 1; lanes [r0 r0 r1 r1 | r2 r2 r3 r3]
#pragma GCC unroll 2
        for (int k = 0; k < 2; ++k) {
          for (int t = 0; t < kTokens; ++t) dots[k][t] = _mm256_setzero_si256();
#pragma GCC unroll 2
          for (int m = 0; m < 2; ++m) {
            const __m256i packed = Load256(w + kQ4_KLevelsAt + 64 * (j + k) + 32 * m);
            const __m256i first = _mm256_and_si256(packed, low_mask);
            const __m256i second = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask);
            for (int t = 0; t < kTokens; ++t) {
              const int8_t* y =
                  reinterpret_cast<const int8_t*>(act[t] + b * kActBlock + kActLevels) + 32 * (j + k) + 16 * m;
              dots[k][t] = _mm256_dpbusd_epi32(dots[k][t], first, Broadcast64(y));
              dots[k][t] = _mm256_dpbusd_epi32(dots[k][t], second, Broadcast64(y + 8));
            }
          }
        }
        const __m256i scale = _mm256_shuffle_epi8(header.scales, PairScaleIndex(j));
        for (int t = 0; t < kTokens; ++t)
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_packs_epi32(dots[0][t], dots[1][t]), scale));
      }
      for (int t = 0; t < kTokens; ++t)  // sums to lanes [r0 r0 r1 r1 | r2 r2 r3 r3]
        acc[t] = AddBlock(acc[t], header, act[t] + b * kActBlock, _mm256_shuffle_epi32(sum[t], _MM_SHUFFLE(3, 1, 2, 0)));
    }
    for (int t = 0; t < kTokens; ++t) StoreRowSums(acc[t], out[t]);
  }
};

}  // namespace

void DotTileRepackedQ4_K(const DotTile& tile) { cpu_detail::RunRepackedTile<Q4_KRepackedVnni>(tile); }

}  // namespace moefit::avx512
