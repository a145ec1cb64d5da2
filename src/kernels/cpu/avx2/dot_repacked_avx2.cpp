// SPDX-License-Identifier: MIT
// AVX2 dots of repacked row groups (quant/repack.h) against Q8_K activations: Q4_K. Four rows
// go through each instruction at once: 8 activations broadcast to the 64-bit lanes meet 8 levels
// of each row, so the 32-bit lanes of the sums are per row, scales apply to 4 rows with one
// madd, the levels' products add up in int16 over a whole sub-block, and there is no horizontal
// sum per block. Several tokens share each unpacking of the levels (prefill).
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/repacked_q4_k_simd.h"

namespace moefit::avx2 {
namespace {

using namespace repacked_q4_k;

// shuffle_epi8 index giving int16 lanes 0-3 = byte j and 4-7 = byte 8 + j of each 128-bit lane:
// the scale of sub-block j for the rows of that lane (rows 0, 1 low; 2, 3 high).
inline __m256i ScaleIndex(int j) {
  const int8_t a = static_cast<int8_t>(j), b = static_cast<int8_t>(8 + j), z = -1;
  return _mm256_setr_epi8(a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z, a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z);
}

struct Q4_KRepacked {
  static constexpr int kMaxTokens = 4;

  // Rows 4g .. 4g + 3 (their group blocks at w) against kTokens activation rows -> out[t][0..3].
  template <int kTokens>
  static void Run(const uint8_t* w, const uint8_t* const* act, int64_t elements, float* const* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256 acc[kTokens];
    for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b, w += kGroupBlock) {
      Prefetch<64>(w);  // the header line; the levels' lines one sub-block at a time below
      const GroupHeader header = UnpackHeader(w);
      __m256i sum[kTokens];
      for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        Prefetch<64>(w + kLevelsAt + 64 * j);
        __m256i products[kTokens];
#pragma GCC unroll 2
        for (int m = 0; m < 2; ++m) {
          const __m256i packed = Load256(w + kLevelsAt + 64 * j + 32 * m);
          const __m256i first = _mm256_and_si256(packed, low_mask);
          const __m256i second = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask);
          for (int t = 0; t < kTokens; ++t) {
            const int8_t* y = reinterpret_cast<const int8_t*>(act[t] + b * kActBlock + kActLevels) + 32 * j + 16 * m;
            const __m256i part = _mm256_add_epi16(_mm256_maddubs_epi16(first, Broadcast64(y)),
                                                  _mm256_maddubs_epi16(second, Broadcast64(y + 8)));
            products[t] = m == 0 ? part : _mm256_add_epi16(products[t], part);  // |.| <= 4 * 2 * 15 * 127
          }
        }
        const __m256i scale = _mm256_shuffle_epi8(header.scales, ScaleIndex(j));
        for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(products[t], scale));
      }
      for (int t = 0; t < kTokens; ++t) acc[t] = AddBlock(acc[t], header, act[t] + b * kActBlock, sum[t]);
    }
    for (int t = 0; t < kTokens; ++t) StoreRowSums(acc[t], out[t]);
  }
};

}  // namespace

void DotTileRepackedQ4_K(const DotTile& tile) { cpu_detail::RunRepackedTile<Q4_KRepacked>(tile); }

}  // namespace moefit::avx2
