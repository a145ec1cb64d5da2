// SPDX-License-Identifier: MIT
// AVX2 dots of the 256-element super-block formats against Q8_K activations: Q4_K, Q5_K, Q6_K,
// IQ4_XS. Per super-block the integer part (levels x int8, times the 6-bit / int8 sub-block
// scales) is exact in int32 lanes; one float multiply-add per block and row follows.
#include "kernels/cpu/avx2/simd_avx2.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"

namespace moefit::avx2 {
namespace {

// Q8_K block: d (float) at 0, 256 int8 at 4, 16 int16 block sums at 260.
constexpr int64_t kActBlock = sizeof(BlockQ8_K);
constexpr int kActLevels = 4;
constexpr int kActSums = 4 + kQK_K;

// Index vector for _mm256_shuffle_epi8 that broadcasts int16 lane `k` (of each 128-bit lane).
inline __m256i BroadcastLane16(int k) { return _mm256_set1_epi16(static_cast<int16_t>((2 * k + 1) << 8 | 2 * k)); }

// The same, int16 lane `k` in the low 128-bit lane and `k + 1` in the high one.
inline __m256i BroadcastLanePair16(int k) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>((2 * k + 3) << 8 | (2 * k + 2))),
                          _mm_set1_epi16(static_cast<int16_t>((2 * k + 1) << 8 | 2 * k)));
}

// Bit `bit` of every byte moved to bit 4 (other bits cleared).
inline __m256i BitToBit4(__m256i bytes, int bit) {
  const __m256i shifted = bit <= 4 ? _mm256_slli_epi16(bytes, 4 - bit) : _mm256_srli_epi16(bytes, bit - 4);
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x10));
}

// The eight 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K / Q5_K block from its 12
// packed bytes at p: sub-block j < 4 in the low 6 bits of bytes j and j + 4; j >= 4 in the
// nibbles of byte j + 4 plus the top 2 bits of bytes j - 4 (scale) and j (min). Reads 16 bytes
// (the block goes on past the 12).
inline __m128i UnpackScalesMinsK4(const uint8_t* p) {
  const __m128i packed = Load128(p);
  // a = s0..3 s8..11 s4..7 s8..11, b = - s0..3 - s4..7
  const __m128i a = _mm_shuffle_epi8(packed, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i b = _mm_shuffle_epi8(packed, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i low_bits =
      _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
  const __m128i high_nibbles =
      _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
  const __m128i top_bits = _mm_and_si128(
      _mm_srli_epi16(b, 2), _mm_setr_epi8(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48));  // bits 6-7 -> 4-5
  return _mm_or_si128(_mm_or_si128(low_bits, high_nibbles), top_bits);
}

// Two F16 scales at p (d, dmin) times yd: lanes 0 and 1.
inline __m128 ScalePair(const uint8_t* p, __m128 yd) {
  return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int32_t>(LoadU32(p)))), yd);
}

// Q4_K (144 bytes: d, dmin, scales[12], qs[128]) and Q5_K (176 bytes: d, dmin, scales[12],
// qh[32], qs[128]). value = d * scale * q - dmin * min, so
// dot = d * yd * sum_sub scale * sum(q * y) - dmin * yd * sum_sub min * sum(y).
template <bool kFifthBit>
struct K4Kernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = kFifthBit ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  static constexpr int kQs = kFifthBit ? 48 : 16;

  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const __m128 yd = _mm_set1_ps(LoadFloat(y));
      const int8_t* yq = reinterpret_cast<const int8_t*>(y + kActLevels);
      const __m256i bsums = Load256(y + kActSums);  // 16 x int16: sums of each 16 activations
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<kBlockBytes>(x);
        const __m128i scales_mins = UnpackScalesMinsK4(x + 4);
        // min_j * (bsums[2j] + bsums[2j + 1]) in 8 int32 lanes, from the mins doubled up.
        const __m256i min_sums =
            _mm256_madd_epi16(bsums, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins)));
        const __m256i scales16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
        const uint8_t* qs = x + kQs;
        __m256i high_bits = _mm256_setzero_si256();
        if constexpr (kFifthBit) high_bits = Load256(x + 16);
        __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {  // 64 elements: sub-blocks 2p (low nibbles), 2p + 1 (high)
          const __m256i q = Load256(qs + 32 * p);
          __m256i low = _mm256_and_si256(q, low_mask);
          __m256i high = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
          if constexpr (kFifthBit) {
            low = _mm256_or_si256(low, BitToBit4(high_bits, 2 * p));
            high = _mm256_or_si256(high, BitToBit4(high_bits, 2 * p + 1));
          }
          const __m256i dot_low = _mm256_maddubs_epi16(low, Load256(yq + 64 * p));
          const __m256i dot_high = _mm256_maddubs_epi16(high, Load256(yq + 64 * p + 32));
          sum = _mm256_add_epi32(sum, _mm256_madd_epi16(dot_low, _mm256_shuffle_epi8(scales16, BroadcastLane16(2 * p))));
          sum = _mm256_add_epi32(sum,
                                 _mm256_madd_epi16(dot_high, _mm256_shuffle_epi8(scales16, BroadcastLane16(2 * p + 1))));
        }
        const __m128 d = ScalePair(x, yd);  // d * yd, dmin * yd
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_broadcastss_ps(d), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(min_sums), _mm256_broadcastss_ps(_mm_movehdup_ps(d)), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

// Q6_K (210 bytes: ql[128], qh[64], int8 scales[16], d). Levels are stored as u = q + 32 in
// 0..63 so they can be the unsigned side of maddubs; the 32 * sum(y) this adds per sub-block
// comes off through the block sums.
struct Q6_KKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockQ6_K);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), high_mask = _mm256_set1_epi8(0x30);
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const float yd = LoadFloat(y);
      const int8_t* yq = reinterpret_cast<const int8_t*>(y + kActLevels);
      const __m256i bsums = Load256(y + kActSums);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<sizeof(BlockQ6_K)>(x);
        const __m128i scales8 = Load128(x + 192);
        const __m256i offset = _mm256_madd_epi16(bsums, _mm256_cvtepi8_epi16(scales8));
        __m256i sum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {  // 128 elements: sub-blocks 8h .. 8h + 7
          const __m256i scales16 =
              _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h == 0 ? scales8 : _mm_srli_si128(scales8, 8)));
          const __m256i ql0 = Load256(x + 64 * h), ql1 = Load256(x + 64 * h + 32);
          const __m256i qh = Load256(x + 128 + 32 * h);
          const __m256i u[4] = {
              _mm256_or_si256(_mm256_and_si256(ql0, low_mask), _mm256_and_si256(_mm256_slli_epi16(qh, 4), high_mask)),
              _mm256_or_si256(_mm256_and_si256(ql1, low_mask), _mm256_and_si256(_mm256_slli_epi16(qh, 2), high_mask)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask), _mm256_and_si256(qh, high_mask)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                              _mm256_and_si256(_mm256_srli_epi16(qh, 2), high_mask)),
          };
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + (0..31): sub-blocks 8h + 2k, 8h + 2k + 1
            const __m256i dot = _mm256_maddubs_epi16(u[k], Load256(yq + 128 * h + 32 * k));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(dot, _mm256_shuffle_epi8(scales16, BroadcastLanePair16(2 * k))));
          }
        }
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(HalfToFloat(x + 208) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

// IQ4_XS (136 bytes: d, scales_h, scales_l[4], qs[128]); sub-block j (32 elements) has the
// nibbles qs[16j .. 16j + 15] and the scale (6 bits) - 32.
struct IQ4_XSKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockIQ4_XS);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_setr_epi8(
        kIQ4Levels[0], kIQ4Levels[1], kIQ4Levels[2], kIQ4Levels[3], kIQ4Levels[4], kIQ4Levels[5], kIQ4Levels[6],
        kIQ4Levels[7], kIQ4Levels[8], kIQ4Levels[9], kIQ4Levels[10], kIQ4Levels[11], kIQ4Levels[12],
        kIQ4Levels[13], kIQ4Levels[14], kIQ4Levels[15]));
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    const __m256i low_shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i high_shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    __m256 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const float yd = LoadFloat(y);
      const int8_t* yq = reinterpret_cast<const int8_t*>(y + kActLevels);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<sizeof(BlockIQ4_XS)>(x);
        const __m256i low = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(LoadU32(x + 4))), low_shifts), _mm256_set1_epi32(15));
        const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(LoadU16(x + 2)), high_shifts),
                                              _mm256_set1_epi32(3));
        const __m256i scales32 = _mm256_sub_epi32(_mm256_or_si256(low, _mm256_slli_epi32(high, 4)), _mm256_set1_epi32(32));
        const __m256i scales16 = _mm256_broadcastsi128_si256(
            _mm_packs_epi32(_mm256_castsi256_si128(scales32), _mm256_extracti128_si256(scales32, 1)));
        __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {  // sub-blocks 2j (low 128-bit lane) and 2j + 1 (high lane)
          const __m256i q = Load256(x + 8 + 32 * j);
          const __m256i levels_low = _mm256_shuffle_epi8(table, _mm256_and_si256(q, low_mask));
          const __m256i levels_high = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask));
          const __m256i a = Load256(yq + 64 * j), c = Load256(yq + 64 * j + 32);
          const __m256i scale = _mm256_shuffle_epi8(scales16, BroadcastLanePair16(2 * j));
          const __m256i dot_low = MulSigned8(levels_low, _mm256_permute2x128_si256(a, c, 0x20));
          const __m256i dot_high = MulSigned8(levels_high, _mm256_permute2x128_si256(a, c, 0x31));
          sum = _mm256_add_epi32(sum, _mm256_madd_epi16(dot_low, scale));
          sum = _mm256_add_epi32(sum, _mm256_madd_epi16(dot_high, scale));
        }
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    StoreSums<kRows>(acc, out);
  }
};

}  // namespace

float DotRowQ4_K(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<K4Kernel<false>>(w, a, n); }
void DotTileQ4_K(const DotTile& tile) { cpu_detail::RunDotTile<K4Kernel<false>>(tile); }
float DotRowQ5_K(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<K4Kernel<true>>(w, a, n); }
void DotTileQ5_K(const DotTile& tile) { cpu_detail::RunDotTile<K4Kernel<true>>(tile); }
float DotRowQ6_K(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<Q6_KKernel>(w, a, n); }
void DotTileQ6_K(const DotTile& tile) { cpu_detail::RunDotTile<Q6_KKernel>(tile); }
float DotRowIQ4_XS(const void* w, const void* a, int64_t n) { return cpu_detail::DotOneRow<IQ4_XSKernel>(w, a, n); }
void DotTileIQ4_XS(const DotTile& tile) { cpu_detail::RunDotTile<IQ4_XSKernel>(tile); }

}  // namespace moefit::avx2
