// SPDX-License-Identifier: MIT
// AVX-512 VNNI dots of the 256-element super-block formats against Q8_K activations: Q4_K,
// Q5_K, Q6_K, IQ4_XS. maddubs makes int16 pair sums; vpdpwssd multiplies them by the sub-block
// scales and accumulates in int32 (exact), 64 elements per instruction. The activations of a
// block are arranged once into the weights' lane order and reused for every row.
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/tile_runner.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"

namespace moefit::avx512 {
namespace {

// Q8_K block: d (float) at 0, 256 int8 at 4, 16 int16 block sums at 260.
constexpr int64_t kActBlock = sizeof(BlockQ8_K);
constexpr int kActLevels = 4;
constexpr int kActSums = 4 + kQK_K;

inline int16_t LaneBytes(int lane) { return static_cast<int16_t>((2 * lane + 1) << 8 | 2 * lane); }

// _mm512_shuffle_epi8 index broadcasting int16 lane `a` (of each 128-bit lane) into the low 256
// bits and lane `b` into the high 256 bits.
inline __m512i BroadcastLanes16(int a, int b) {
  return Concat(_mm256_set1_epi16(LaneBytes(a)), _mm256_set1_epi16(LaneBytes(b)));
}

// _mm512_permutexvar_epi16 index: 128-bit lane i takes int16 element first + i.
inline __m512i SpreadLanes16(int first) {
  return _mm512_inserti32x4(_mm512_inserti32x4(Concat(_mm256_set1_epi16(static_cast<int16_t>(first)),
                                                      _mm256_set1_epi16(static_cast<int16_t>(first + 2))),
                                               _mm_set1_epi16(static_cast<int16_t>(first + 1)), 1),
                            _mm_set1_epi16(static_cast<int16_t>(first + 3)), 3);
}

inline float HorizontalSum(__m512 v) { return _mm512_reduce_add_ps(v); }

// The eight 6-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K / Q5_K block from its 12
// packed bytes at p (layout in the AVX2 file). Reads 16 bytes (the block goes on past the 12).
inline __m128i UnpackScalesMinsK4(const uint8_t* p) {
  const __m128i packed = Load128(p);
  const __m128i a = _mm_shuffle_epi8(packed, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i b = _mm_shuffle_epi8(packed, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i low_bits =
      _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
  const __m128i high_nibbles =
      _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
  const __m128i top_bits =
      _mm_and_si128(_mm_srli_epi16(b, 2), _mm_setr_epi8(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48));
  return _mm_or_si128(_mm_or_si128(low_bits, high_nibbles), top_bits);
}

// Two F16 scales at p (d, dmin) times yd: lanes 0 and 1.
inline __m128 ScalePair(const uint8_t* p, __m128 yd) {
  return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int32_t>(LoadU32(p)))), yd);
}

// Q4_K / Q5_K (see the AVX2 file for the algebra). Chunk c holds qs[64c .. 64c + 63]: its low
// nibbles are sub-blocks 4c (low 256 bits) and 4c + 2 (high), its high nibbles 4c + 1 and 4c + 3.
template <bool kFifthBit>
struct K4Kernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = kFifthBit ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  static constexpr int kQs = kFifthBit ? 48 : 16;

  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
    __m512 acc[kRows];
    __m256 min_acc[kRows];
    for (int r = 0; r < kRows; ++r) {
      acc[r] = _mm512_setzero_ps();
      min_acc[r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const __m128 yd = _mm_set1_ps(LoadFloat(y));
      const uint8_t* yq = y + kActLevels;
      const __m256i bsums = Load256(y + kActSums);  // 16 x int16: sums of each 16 activations
      __m512i y_low[2], y_high[2];
      for (int c = 0; c < 2; ++c) {
        y_low[c] = Concat(Load256(yq + 128 * c), Load256(yq + 128 * c + 64));
        y_high[c] = Concat(Load256(yq + 128 * c + 32), Load256(yq + 128 * c + 96));
      }
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<kBlockBytes>(x);
        const __m128i scales_mins = UnpackScalesMinsK4(x + 4);
        // min_j * (bsums[2j] + bsums[2j + 1]) in 8 int32 lanes, from the mins doubled up.
        const __m256i min_sums =
            _mm256_madd_epi16(bsums, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins)));
        const __m512i scales16 = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(scales_mins));
        __m512i high_bits = _mm512_setzero_si512();
        if constexpr (kFifthBit) high_bits = _mm512_broadcast_i64x4(Load256(x + 16));
        __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int c = 0; c < 2; ++c) {
          const __m512i q = Load512(x + kQs + 64 * c);
          __m512i low = _mm512_and_si512(q, low_mask);
          __m512i high = _mm512_and_si512(_mm512_srli_epi16(q, 4), low_mask);
          if constexpr (kFifthBit) {
            // Fifth bit of element 64p + l: bit 2p (low nibble) or 2p + 1 (high) of qh[l].
            const __m512i sixteen = _mm512_set1_epi8(16);
            const __mmask64 low_set = _mm512_test_epi8_mask(
                high_bits, Concat(_mm256_set1_epi8(static_cast<char>(1 << (4 * c))), _mm256_set1_epi8(static_cast<char>(1 << (4 * c + 2)))));
            const __mmask64 high_set = _mm512_test_epi8_mask(
                high_bits, Concat(_mm256_set1_epi8(static_cast<char>(1 << (4 * c + 1))), _mm256_set1_epi8(static_cast<char>(1 << (4 * c + 3)))));
            low = _mm512_mask_add_epi8(low, low_set, low, sixteen);
            high = _mm512_mask_add_epi8(high, high_set, high, sixteen);
          }
          sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(low, y_low[c]),
                                    _mm512_shuffle_epi8(scales16, BroadcastLanes16(4 * c, 4 * c + 2)));
          sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(high, y_high[c]),
                                    _mm512_shuffle_epi8(scales16, BroadcastLanes16(4 * c + 1, 4 * c + 3)));
        }
        const __m128 d = ScalePair(x, yd);  // d * yd, dmin * yd
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_broadcastss_ps(d), acc[r]);
        min_acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_sums), _mm256_broadcastss_ps(_mm_movehdup_ps(d)), min_acc[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(acc[r]) - HorizontalSum(min_acc[r]);
  }
};

// Q6_K with u = q + 32 (see the AVX2 file). For half h, ql[64h .. 64h + 63] gives elements
// 128h + 0..63 from its low nibbles and 128h + 64..127 from its high nibbles, each 128-bit lane
// one sub-block.
struct Q6_KKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockQ6_K);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f), high_mask = _mm512_set1_epi8(0x30);
    const __m512i shifts_01 = Concat(_mm256_set1_epi16(4), _mm256_set1_epi16(2));  // k = 0, 1: left
    const __m512i shifts_23 = Concat(_mm256_set1_epi16(0), _mm256_set1_epi16(2));  // k = 2, 3: right
    __m512 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const float yd = LoadFloat(y);
      const uint8_t* yq = y + kActLevels;
      const __m256i bsums = Load256(y + kActSums);
      __m512i ys[4];
      for (int i = 0; i < 4; ++i) ys[i] = Load512(yq + 64 * i);
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<sizeof(BlockQ6_K)>(x);
        const __m256i scales16 = _mm256_cvtepi8_epi16(Load128(x + 192));
        const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(bsums, scales16), 5);
        __m512i sum = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), offset));
        const __m512i scales = _mm512_castsi256_si512(scales16);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m512i ql = Load512(x + 64 * h);
          const __m512i qh = _mm512_broadcast_i64x4(Load256(x + 128 + 32 * h));
          const __m512i u01 = _mm512_or_si512(_mm512_and_si512(ql, low_mask),
                                              _mm512_and_si512(_mm512_sllv_epi16(qh, shifts_01), high_mask));
          const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low_mask),
                                              _mm512_and_si512(_mm512_srlv_epi16(qh, shifts_23), high_mask));
          sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u01, ys[2 * h]),
                                    _mm512_permutexvar_epi16(SpreadLanes16(8 * h), scales));
          sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u23, ys[2 * h + 1]),
                                    _mm512_permutexvar_epi16(SpreadLanes16(8 * h + 4), scales));
        }
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(HalfToFloat(x + 208) * yd), acc[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(acc[r]);
  }
};

// IQ4_XS: chunk c holds sub-blocks 4c .. 4c + 3 (16 bytes of nibbles each, one per 128-bit lane).
struct IQ4_XSKernel {
  static constexpr int kMaxRows = 4;
  static constexpr int64_t kBlockBytes = sizeof(BlockIQ4_XS);
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        kIQ4Levels[0], kIQ4Levels[1], kIQ4Levels[2], kIQ4Levels[3], kIQ4Levels[4], kIQ4Levels[5], kIQ4Levels[6],
        kIQ4Levels[7], kIQ4Levels[8], kIQ4Levels[9], kIQ4Levels[10], kIQ4Levels[11], kIQ4Levels[12],
        kIQ4Levels[13], kIQ4Levels[14], kIQ4Levels[15]));
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
    const __m256i low_shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i high_shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    __m512 acc[kRows];
    for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < elements / kQK_K; ++b) {
      const uint8_t* y = act + b * kActBlock;
      const float yd = LoadFloat(y);
      const uint8_t* yq = y + kActLevels;
      __m512i y_low[2], y_high[2];
      for (int c = 0; c < 2; ++c) {
        const __m512i a = Load512(yq + 128 * c), e = Load512(yq + 128 * c + 64);
        y_low[c] = _mm512_shuffle_i64x2(a, e, 0x88);   // first 16 elements of each sub-block
        y_high[c] = _mm512_shuffle_i64x2(a, e, 0xdd);  // last 16
      }
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* x = w + r * stride + b * block_stride;
        Prefetch<sizeof(BlockIQ4_XS)>(x);
        const __m256i low = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(LoadU32(x + 4))), low_shifts), _mm256_set1_epi32(15));
        const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(LoadU16(x + 2)), high_shifts),
                                              _mm256_set1_epi32(3));
        const __m256i scales32 = _mm256_sub_epi32(_mm256_or_si256(low, _mm256_slli_epi32(high, 4)), _mm256_set1_epi32(32));
        const __m512i scales = _mm512_castsi128_si512(_mm256_cvtepi32_epi16(scales32));
        __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int c = 0; c < 2; ++c) {
          const __m512i q = Load512(x + 8 + 64 * c);
          const __m512i levels_low = _mm512_shuffle_epi8(table, _mm512_and_si512(q, low_mask));
          const __m512i levels_high = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(q, 4), low_mask));
          const __m512i scale = _mm512_permutexvar_epi16(SpreadLanes16(4 * c), scales);
          sum = _mm512_dpwssd_epi32(sum, MulSigned8(levels_low, y_low[c]), scale);
          sum = _mm512_dpwssd_epi32(sum, MulSigned8(levels_high, y_high[c]), scale);
        }
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(HalfToFloat(x) * yd), acc[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(acc[r]);
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

}  // namespace moefit::avx512
