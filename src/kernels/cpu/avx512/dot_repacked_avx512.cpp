// SPDX-License-Identifier: MIT
// AVX-512 VNNI dots of repacked row groups (quant/repack.h) against Q8_K activations: Q4_K, Q5_K,
// Q6_K and IQ4_XS, through the drivers of cpu/repacked_driver.h (decode streams, prefill passes), each
// taking two row groups at a time (KPairVnni for Q4_K and Q5_K, Q6_KPairVnni, IQ4_XSPairVnni; below): one
// 512-bit vector holds 8 levels of each of the 8 rows, so one broadcast of 8 activations meets
// all of them and `vpdpbusd` adds 4 products of a row into each int32 lane. The K-quants' lanes
// stay below 2^15, so two product vectors pack into int16 and take their sub-blocks' scales with
// one `vpdpwssd`; IQ4_XS's take theirs as floats.
#include "kernels/cpu/avx512/simd_avx512.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/repacked_driver.h"

namespace moefit::avx512 {
namespace {

using namespace repacked;

// An index vector for `vpermw` / `vpermd`-style permutes, built at compile time: lane -> index(lane).
template <typename T, int kLanes>
struct IndexTable {
  alignas(64) T index[kLanes];
};
template <typename T, int kLanes, typename Index>
constexpr IndexTable<T, kLanes> MakeIndex(Index index) {
  IndexTable<T, kLanes> table{};
  for (int lane = 0; lane < kLanes; ++lane) table.index[lane] = static_cast<T>(index(lane));
  return table;
}
using Words = IndexTable<int16_t, 32>;

template <typename T>
inline __m512i LoadIndex(const IndexTable<T, 64 / sizeof(T)>& table) {
  return _mm512_load_si512(table.index);
}

// ---- Q4_K and Q5_K, two row groups at a time -------------------------------------------------
// Eight rows per 512-bit vector: the same half of a sub-block of two groups (32 bytes each, rows
// 4g .. 4g + 3 and 4g + 4 .. 4g + 7) side by side, so each 64-bit lane k holds 8 levels of row k
// of the eight, and one broadcast of 8 activations meets all of them (a load, no widening). A
// sub-block's four level vectors then add 16 products per int32 lane, two lanes per row: |lane|
// <= 16 x 15 x 127 < 2^15, so two sub-blocks' sums pack into int16 and take their scales with one
// vpdpwssd per 8 rows (a 4-row kernel's lanes hold 8 products, and it needs two). Per pair of
// sub-blocks of the 8 rows and token: 8 vpdpbusd, a pack, a vpdpwssd; the mins two vpdpwssd per
// block. Q5_K's levels (up to 31) would overflow 16 products: see KPairVnni for its offset.
//
// Lane layout ("pair lanes"): int32 / float lane m = 4L + q of a sum belongs to row 2L + q % 2 of
// the eight (rows 0..3 the first group's, 4..7 the second's), sub-blocks 2p for q < 2 and 2p + 1
// for q >= 2: packing the two product vectors of sub-blocks 2p, 2p + 1 (int32 lane 2k + i of each
// is row k) and pairing int16 lanes with vpdpwssd lands there. Stores fold the two lanes of a row.
constexpr int RowOfPairedLane(int m) { return 2 * (m / 4) + m % 2; }

// Scales of the two groups widened to int16 (lane 32h + 8r + j: group h, row r, sub-block j) ->
// the vpdpwssd operand of sub-blocks 2p, 2p + 1: int16 lane 8L + i takes row 2L + (i % 4) / 2,
// sub-block 2p + i / 4.
constexpr Words PairScaleIndex(int p) {
  return MakeIndex<int16_t, 32>([p](int lane) {
    const int L = lane / 8, i = lane % 8, row = 2 * L + (i % 4) / 2;
    return 32 * (row / 4) + 8 * (row % 4) + 2 * p + i / 4;
  });
}
constexpr Words kPairScaleIndex[4] = {PairScaleIndex(0), PairScaleIndex(1), PairScaleIndex(2), PairScaleIndex(3)};

// Mins of the two groups widened to int16 (lane 32h + 8 kRepackMinRowOrder[r] + j) -> the
// vpdpwssd operand c (c < 2) against kPairSumPattern: int16 lane 8L + 2q + k takes row 2L + q % 2,
// sub-block 4c + 2 (q / 2) + k.
constexpr Words PairMinIndex(int c) {
  return MakeIndex<int16_t, 32>([c](int lane) {
    const int L = lane / 8, q = (lane % 8) / 2, k = lane % 2, row = 2 * L + q % 2;
    return 32 * (row / 4) + 8 * kRepackMinRowOrder[row % 4] + 4 * c + 2 * (q / 2) + k;
  });
}
constexpr Words kPairMinIndex[2] = {PairMinIndex(0), PairMinIndex(1)};

// A token's sub-block sums of 32 (int16 s0..s7) -> the two 128-bit patterns [s4c s4c+1 s4c s4c+1
// s4c+2 s4c+3 s4c+2 s4c+3] (byte shuffles; c = 0, 1) that every 128-bit lane of operand c meets.
constexpr IndexTable<int8_t, 16> PairSumPattern(int c) {
  IndexTable<int8_t, 16> table{};
  for (int lane = 0; lane < 8; ++lane) {
    const int q = lane / 2, k = lane % 2, sub = 4 * c + 2 * (q / 2) + k;
    table.index[2 * lane] = static_cast<int8_t>(2 * sub);
    table.index[2 * lane + 1] = static_cast<int8_t>(2 * sub + 1);
  }
  return table;
}
constexpr IndexTable<int8_t, 16> kPairSumPattern[2] = {PairSumPattern(0), PairSumPattern(1)};

// Row r's float (of 8) into the pair lanes.
constexpr IndexTable<int32_t, 16> kPairedLaneIndex = MakeIndex<int32_t, 16>([](int m) { return RowOfPairedLane(m); });
// The folded pair lanes (row r's sum in lane 4 (r / 2) + r % 2) -> rows 0..7 in lanes 0..7.
constexpr IndexTable<int32_t, 16> kPairedRowIndex = MakeIndex<int32_t, 16>([](int r) { return 4 * ((r % 8) / 2) + r % 2; });

// The four F16 values at first and the four at second (one per row of the pair) as floats, row r
// in the lanes that `lanes` (lane -> row) gives it: kPairedLaneIndex, kProductLaneIndex.
inline __m512 RowLanes(const uint8_t* first, const uint8_t* second, const IndexTable<int32_t, 16>& lanes) {
  int64_t a, b;
  std::memcpy(&a, first, sizeof a);
  std::memcpy(&b, second, sizeof b);
  const __m256 rows = _mm256_cvtph_ps(_mm_set_epi64x(b, a));
  return _mm512_permutexvar_ps(LoadIndex(lanes), _mm512_castps256_ps512(rows));
}

// The float sums of a pair of row groups for one token, in the pair lanes.
struct PairLaneSums {
  using Acc = __m512;
  static constexpr int kUnitGroups = 2;
  static Acc Zero() { return _mm512_setzero_ps(); }
  // The first group's 4 rows to first_out, the second's to second_out (unless null).
  static void Store(Acc acc, float* first_out, float* second_out) {
    const __m512 folded = _mm512_add_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m256 rows = _mm512_castps512_ps256(_mm512_permutexvar_ps(LoadIndex(kPairedRowIndex), folded));
    _mm_storeu_ps(first_out, _mm256_castps256_ps128(rows));
    if (second_out != nullptr) _mm_storeu_ps(second_out, _mm256_extractf128_ps(rows, 1));
  }
};

// 8 activations at p in every 64-bit lane.
inline __m512i Broadcast8(const uint8_t* p) {
  int64_t value;
  std::memcpy(&value, p, sizeof value);
  return _mm512_set1_epi64(value);
}

// The product chains of a pair kernel's step, for kTokens tokens, kInterleave of them side by side
// (a vpdpbusd of each in turn: one token's chains alone leave the out-of-order window short of
// independent work): chain (t, s), s < 2, starts at start(t, s) and takes kLinks vpdpbusd, link k
// of levels(s, k) against the 8 activations at activations(t, s, k) (broadcast); then done(t,
// chain (t, 0), chain (t, 1)).
template <int kTokens, int kInterleave, int kLinks, typename Start, typename Levels, typename Activations, typename Done>
[[gnu::always_inline]] inline void RunChains(const Start& start, const Levels& levels, const Activations& activations,
                                             const Done& done) {
#pragma GCC unroll 16
  for (int t = 0; t < kTokens; t += kInterleave) {
    __m512i chain[kInterleave][2];
#pragma GCC unroll 4
    for (int u = 0; u < kInterleave; ++u)
#pragma GCC unroll 2
      for (int s = 0; s < 2; ++s)
        if (t + u < kTokens) chain[u][s] = start(t + u, s);
#pragma GCC unroll 4
    for (int k = 0; k < kLinks; ++k)
#pragma GCC unroll 4
      for (int u = 0; u < kInterleave; ++u)
#pragma GCC unroll 2
        for (int s = 0; s < 2; ++s)
          if (t + u < kTokens) chain[u][s] = _mm512_dpbusd_epi32(chain[u][s], levels(s, k), Broadcast8(activations(t + u, s, k)));
#pragma GCC unroll 4
    for (int u = 0; u < kInterleave; ++u)
      if (t + u < kTokens) done(t + u, chain[u][0], chain[u][1]);
  }
}

// The scales of the two groups (widened to int16 as for PairMinIndex, in row order) -> the
// vpdpwssd operand c against kPairSumPattern, as PairMinIndex's: Q5_K's offset term.
constexpr Words PairScaleSumIndex(int c) {
  return MakeIndex<int16_t, 32>([c](int lane) {
    const int L = lane / 8, q = (lane % 8) / 2, k = lane % 2, row = 2 * L + q % 2;
    return 32 * (row / 4) + 8 * (row % 4) + 4 * c + 2 * (q / 2) + k;
  });
}
constexpr Words kPairScaleSumIndex[2] = {PairScaleSumIndex(0), PairScaleSumIndex(1)};

// Bits 0..3 of `nibbles`, bits 4..7 of `high` (one vpternlogd: mask ? nibbles : high).
inline __m512i MergeNibbles(__m512i nibbles, __m512i high, __m512i low_mask) {
  return _mm512_ternarylogic_epi32(nibbles, high, low_mask, 0xE4);
}

// Bit `from` of every byte moved to bit `to` (two 16-bit shifts never cross a byte for it).
template <int kFrom, int kTo>
inline __m512i MoveBit(__m512i v) {
  if constexpr (kFrom < kTo) {
    return _mm512_slli_epi16(v, kTo - kFrom);
  } else if constexpr (kFrom > kTo) {
    return _mm512_srli_epi16(v, kFrom - kTo);
  } else {
    return v;
  }
}

// The chain starts of a 64-byte run of activations (sub-blocks of 32 in its 256-bit halves) for a
// sub-block met by four level vectors of 8 elements each: lane i of its product vectors meets
// elements 8k + 4i + (0..3), k < 4, so its start is -kFactor x the sum of those 16 activations.
// Returns the 2 x 2 int32 starts (sub-block 0's, then 1's).
template <int kFactor>
inline __m128i ChainStarts(__m512i y) {
  const __m512i quads = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(kFactor)), y);
  const __m512i pairs = _mm512_add_epi32(quads, _mm512_shuffle_epi32(quads, _MM_PERM_BADC));  // + the quad 2 on
  const __m512i sums = _mm512_add_epi32(pairs, _mm512_shuffle_i32x4(pairs, pairs, _MM_SHUFFLE(2, 3, 0, 1)));  // + 4 on
  return _mm512_castsi512_si128(
      _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 4, 0, 4, 0, 4, 0, 4), _mm512_sub_epi32(_mm512_setzero_si512(), sums)));
}

// Q4_K (kFifthBit false) and Q5_K (true) two row groups at a time. Q5_K's levels u (0..31) would
// overflow the lanes' 16 products, so each of its chains starts from -16 x the sum of the lane's
// 16 activations (from the widening, a broadcast load): the lane ends at the sum of (u - 16) x y,
// |.| <= 16 x 16 x 127 < 2^15, and the 16 x scale x (sub-block sum) that this takes off comes
// back into the integer sums with two vpdpwssd per block, against the mins' patterns.
template <bool kFifthBit>
struct KPairVnni : PairLaneSums {
  // x 16 tokens x 64 bytes per pair: 32 KiB of sums. More groups per pass widen each token's
  // blocks fewer times: 16 -> 32 gave the 8-layer pp512 +3-25% in three alternations; 32 -> 64
  // the 32-token tile -1.2% (251.8 -> 248.7 us, hot; 268.5 -> 265.9 from DRAM), the two
  // alternating call by call in one process (128: the same as 64).
  static constexpr int64_t kPassGroups = 64;
  // Full passes and the rest: 17 tokens as 9 + 8 made the Q4_K tile 5% slower than 16 + 1 (152
  // -> 160 us; a lone token's unit of a pair overlaps the next unit's).
  static constexpr bool kEvenPasses = kFifthBit;
  static constexpr int kMaxTokens = 16;
  // Tokens whose product chains go side by side, a vpdpbusd of each in turn: a token's two
  // chains of 4 (latency ~6 cycles each) left the out-of-order window short of independent
  // work when the tokens came one after another (32-token hot tile 275-280 -> 257-263 us; 2
  // tokens at a time 265-272; 8 run out of registers).
  static constexpr int kInterleave = 4;
  // The block's 256 levels, the two sub-block sum patterns (32 bytes), d; Q5_K: then per
  // sub-block j of 32 the two chain starts at kStartsAt + 8j (int32: lane i of its product
  // vectors meets elements 8k + 4i + (0..3), k < 4).
  static constexpr int64_t kStartsAt = 256 + 64;
  static constexpr int64_t kWideBlock = kFifthBit ? kStartsAt + 64 : 256 + 64;
  static constexpr int64_t kGroupBlock = kFifthBit ? kQ5_KGroupBlock : kQ4_KGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    for (int i = 0; i < 4; ++i) {
      const __m512i y = Load512(block + kActLevels + 64 * i);  // sub-blocks 2i, 2i + 1
      _mm512_store_si512(wide + 64 * i, y);
      if constexpr (kFifthBit) _mm_store_si128(reinterpret_cast<__m128i*>(wide + kStartsAt + 16 * i), ChainStarts<16>(y));
    }
    const __m128i sums = _mm256_castsi256_si128(SubBlockSums(block));  // int16 s0..s7
    for (int c = 0; c < 2; ++c)
      _mm_store_si128(reinterpret_cast<__m128i*>(wide + 256 + 16 * c),
                      _mm_shuffle_epi8(sums, _mm_load_si128(reinterpret_cast<const __m128i*>(kPairSumPattern[c].index))));
    std::memcpy(wide + 256 + 32, block, sizeof(float));
  }

  // Sub-block 2p + s, half h of the pair: its low and high nibbles (Q5_K: with their fifth bits,
  // bits 4s + 2h and 4s + 2h + 1 of the pair's plane p).
  template <int kS, int kH>
  static void Unpack(const uint8_t* w, const uint8_t* w2, int p, __m512i plane, __m512i& lo, __m512i& hi) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
    const int64_t at = kQ4_KLevelsAt + 64 * (2 * p + kS) + 32 * kH;
    const __m512i packed = Concat(Load256(w + at), Load256(w2 + at));
    if constexpr (kFifthBit) {
      const __m512i bit4 = _mm512_set1_epi8(0x10);
      lo = MergeNibbles(packed, _mm512_and_si512(MoveBit<4 * kS + 2 * kH, 4>(plane), bit4), low_mask);
      hi = MergeNibbles(_mm512_srli_epi16(packed, 4), _mm512_and_si512(MoveBit<4 * kS + 2 * kH + 1, 4>(plane), bit4), low_mask);
    } else {
      lo = _mm512_and_si512(packed, low_mask);
      hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_mask);
    }
  }

  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* w2, const uint8_t* wide, __m512* acc) {
    if constexpr (kStream) {  // the header lines; the levels' lines one sub-block at a time below
      Prefetch<64>(w);
      Prefetch<64>(w2);
    }
    const __m512i scales_first = _mm512_cvtepu8_epi16(UnpackSixBits(w + 16)),
                  scales_second = _mm512_cvtepu8_epi16(UnpackSixBits(w2 + 16));
    __m512i sum[kTokens];
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int p = 0; p < 4; ++p) {
      __m512i plane = _mm512_setzero_si512();
      if constexpr (kFifthBit) {
        if constexpr (kStream) {
          Prefetch<64>(w + kQ5_KFifthBitsAt + 32 * p);
          Prefetch<64>(w2 + kQ5_KFifthBitsAt + 32 * p);
        }
        plane = Concat(Load256(w + kQ5_KFifthBitsAt + 32 * p), Load256(w2 + kQ5_KFifthBitsAt + 32 * p));
      }
      if constexpr (kStream)
        for (int s = 0; s < 2; ++s) {
          Prefetch<64>(w + kQ4_KLevelsAt + 64 * (2 * p + s));
          Prefetch<64>(w2 + kQ4_KLevelsAt + 64 * (2 * p + s));
        }
      __m512i lo[2][2], hi[2][2];  // [sub-block 2p + s][half]
      Unpack<0, 0>(w, w2, p, plane, lo[0][0], hi[0][0]);
      Unpack<0, 1>(w, w2, p, plane, lo[0][1], hi[0][1]);
      Unpack<1, 0>(w, w2, p, plane, lo[1][0], hi[1][0]);
      Unpack<1, 1>(w, w2, p, plane, lo[1][1], hi[1][1]);
      const __m512i scale = _mm512_permutex2var_epi16(scales_first, LoadIndex(kPairScaleIndex[p]), scales_second);
      RunChains<kTokens, kInterleave, 4>(
          [&](int t, int s) {
            return kFifthBit ? Broadcast8(wide + t * kWideBlock + kStartsAt + 8 * (2 * p + s)) : _mm512_setzero_si512();
          },
          [&](int s, int k) { return k % 2 == 0 ? lo[s][k / 2] : hi[s][k / 2]; },
          [&](int t, int s, int k) { return wide + t * kWideBlock + 64 * p + 32 * s + 8 * k; },
          [&](int t, __m512i first, __m512i second) {
            sum[t] = _mm512_dpwssd_epi32(sum[t], _mm512_packs_epi32(first, second), scale);
          });
    }
    const __m512i mins_first = _mm512_cvtepu8_epi16(UnpackSixBits(w + 40)),
                  mins_second = _mm512_cvtepu8_epi16(UnpackSixBits(w2 + 40));
    const __m512i mins[2] = {_mm512_permutex2var_epi16(mins_first, LoadIndex(kPairMinIndex[0]), mins_second),
                             _mm512_permutex2var_epi16(mins_first, LoadIndex(kPairMinIndex[1]), mins_second)};
    __m512i offsets[2];  // Q5_K: 16 x the scales, against the same patterns
    if constexpr (kFifthBit)
      for (int c = 0; c < 2; ++c)
        offsets[c] = _mm512_slli_epi16(_mm512_permutex2var_epi16(scales_first, LoadIndex(kPairScaleSumIndex[c]), scales_second), 4);
    const __m512 d = RowLanes(w, w2, kPairedLaneIndex), dmin = RowLanes(w + 8, w2 + 8, kPairedLaneIndex);
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* tail = wide + t * kWideBlock + 256;
      const __m512i pattern0 = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(tail)));
      const __m512i pattern1 = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(tail + 16)));
      if constexpr (kFifthBit) sum[t] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(sum[t], offsets[0], pattern0), offsets[1], pattern1);
      const __m512i min_sums = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(_mm512_setzero_si512(), mins[0], pattern0), mins[1], pattern1);
      const __m512 dots = _mm512_fmsub_ps(_mm512_cvtepi32_ps(sum[t]), d, _mm512_mul_ps(_mm512_cvtepi32_ps(min_sums), dmin));
      acc[t] = _mm512_fmadd_ps(dots, _mm512_set1_ps(LoadFloat(tail + 32)), acc[t]);
    }
  }
};
using Q4_KPairVnni = KPairVnni<false>;
using Q5_KPairVnni = KPairVnni<true>;

// Q6_K, two row groups at a time, as Q4_KPairVnni: a unit's three 32-byte parts of the two
// groups side by side give four vectors of 8 levels per 64-bit lane (row k of the eight), each
// met by one broadcast of 8 activations. The levels stay unsigned (u = q + 32, 0..63) and the
// activations signed; each chain starts from -32 x the sum of its lane's 8 activations (from the
// widening, a broadcast per chain), so a lane ends at the sum of its 8 products q x y, |.| <= 8 x
// 32 x 127 < 2^15, and a unit's two sub-blocks pack and take their scales with one vpdpwssd. Per
// unit and token: 4 vpdpbusd, a pack, a vpdpwssd; unpacking a unit's 256 levels of the pair takes
// ~13 operations (the two top bits moved to bits 4..5 and merged by one vpternlogd).
//
// Scales of the two groups (each widened to int16 as two vectors, h = sub-blocks 8h .. 8h + 7:
// lane 16q + 4r + i is row r, sub-block 8h + 4q + i) -> the vpdpwssd operand of unit k's
// sub-blocks 2k, 2k + 1 (k % 4 = c, from vector k / 4): int16 lane 8L + i takes row 2L + (i %
// 4) / 2, sub-block 2k + i / 4, as PairScaleIndex.
constexpr Words Q6_KPairScaleIndex(int c) {
  return MakeIndex<int16_t, 32>([c](int lane) {
    const int L = lane / 8, i = lane % 8, row = 2 * L + (i % 4) / 2, sub = 2 * c + i / 4;  // sub within the 8
    return 32 * (row / 4) + 16 * (sub / 4) + 4 * (row % 4) + sub % 4;
  });
}
constexpr Words kQ6_KPairScaleIndex[4] = {Q6_KPairScaleIndex(0), Q6_KPairScaleIndex(1), Q6_KPairScaleIndex(2),
                                          Q6_KPairScaleIndex(3)};

struct Q6_KPairVnni : PairLaneSums {
  // x 16 tokens x 64 bytes per pair, as Q4_KPairVnni's (32 and 128 groups, and two tokens' chains
  // side by side instead of four: the same within the noise).
  static constexpr int64_t kPassGroups = 64;
  // 17 tokens as 9 + 8: 196-211 us against 210-249 as 16 + 1 (the 2048 x 768 tile, one thread,
  // alternating); a lone token's pass unpacks each unit for 6 operations of its own.
  static constexpr bool kEvenPasses = true;
  static constexpr int kMaxTokens = 16;
  static constexpr int kInterleave = 4;
  // The block's 256 activations; per sub-block j of 16 the two chain starts (int32, 8 bytes at
  // kStartsAt + 8j): -32 x (y0..3 + y8..11), -32 x (y4..7 + y12..15) of its elements; then d.
  static constexpr int64_t kStartsAt = 256, kScaleAt = 256 + 128;
  static constexpr int64_t kWideBlock = kScaleAt + 64;
  static constexpr int64_t kGroupBlock = kQ6_KGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    const __m512i thirty_two = _mm512_set1_epi8(32);
    const __m512i even_quads = _mm512_setr_epi64(0, 2, 4, 6, 0, 2, 4, 6);
    for (int i = 0; i < 4; ++i) {  // sub-blocks 4i .. 4i + 3, one per 128-bit lane
      const __m512i y = Load512(block + kActLevels + 64 * i);
      _mm512_store_si512(wide + 64 * i, y);
      const __m512i quads = _mm512_dpbusd_epi32(_mm512_setzero_si512(), thirty_two, y);  // 32 x (4 in a row)
      const __m512i pairs = _mm512_add_epi32(quads, _mm512_shuffle_epi32(quads, _MM_PERM_BADC));
      const __m512i starts = _mm512_permutexvar_epi64(even_quads, _mm512_sub_epi32(_mm512_setzero_si512(), pairs));
      _mm256_store_si256(reinterpret_cast<__m256i*>(wide + kStartsAt + 32 * i), _mm512_castsi512_si256(starts));
    }
    std::memcpy(wide + kScaleAt, block, sizeof(float));
  }

  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* w2, const uint8_t* wide, __m512* acc) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f), top_mask = _mm512_set1_epi8(0x30);
    if constexpr (kStream) {  // d and the scales; the units one at a time below
      Prefetch<128>(w);
      Prefetch<128>(w2);
    }
    const __m512i scales_first[2] = {_mm512_cvtepi8_epi16(Load256(w + kQ6_KScalesAt)),
                                     _mm512_cvtepi8_epi16(Load256(w + kQ6_KScalesAt + 32))};
    const __m512i scales_second[2] = {_mm512_cvtepi8_epi16(Load256(w2 + kQ6_KScalesAt)),
                                      _mm512_cvtepi8_epi16(Load256(w2 + kQ6_KScalesAt + 32))};
    __m512i sum[kTokens];
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int k = 0; k < 8; ++k) {  // unit k: elements 32k .. 32k + 31, sub-blocks 2k, 2k + 1
      const uint8_t* unit = w + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
      const uint8_t* unit2 = w2 + kQ6_KUnitsAt + kQ6_KUnitBytes * k;
      if constexpr (kStream) {
        Prefetch<128>(unit);
        Prefetch<128>(unit2);
      }
      const __m512i packed[2] = {Concat(Load256(unit), Load256(unit2)), Concat(Load256(unit + 32), Load256(unit2 + 32))};
      const __m512i top = Concat(Load256(unit + 64), Load256(unit2 + 64));  // bits 0, 2, 4, 6: elements +0, +8, +16, +24
      // levels[s][half]: sub-block 2k + s, elements 32k + 16s + 8 half + (0..7).
      const __m512i levels[2][2] = {
          {MergeNibbles(packed[0], _mm512_and_si512(_mm512_slli_epi16(top, 4), top_mask), low_mask),
           MergeNibbles(_mm512_srli_epi16(packed[0], 4), _mm512_and_si512(_mm512_slli_epi16(top, 2), top_mask), low_mask)},
          {MergeNibbles(packed[1], _mm512_and_si512(top, top_mask), low_mask),
           MergeNibbles(_mm512_srli_epi16(packed[1], 4), _mm512_and_si512(_mm512_srli_epi16(top, 2), top_mask), low_mask)}};
      const __m512i scale =
          _mm512_permutex2var_epi16(scales_first[k / 4], LoadIndex(kQ6_KPairScaleIndex[k % 4]), scales_second[k / 4]);
      RunChains<kTokens, kInterleave, 2>(
          [&](int t, int s) { return Broadcast8(wide + t * kWideBlock + kStartsAt + 8 * (2 * k + s)); },
          [&](int s, int half) { return levels[s][half]; },
          [&](int t, int s, int half) { return wide + t * kWideBlock + 32 * k + 16 * s + 8 * half; },
          [&](int t, __m512i first, __m512i second) {
            sum[t] = _mm512_dpwssd_epi32(sum[t], _mm512_packs_epi32(first, second), scale);
          });
    }
    const __m512 d = RowLanes(w, w2, kPairedLaneIndex);
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sum[t]), d), _mm512_set1_ps(LoadFloat(wide + t * kWideBlock + kScaleAt)),
                               acc[t]);
  }
};

// ---- IQ4_XS, two row groups at a time ------------------------------------------------------
// The levels' nibbles as Q4_K's (two groups side by side per vector), looked up as u = L + 128
// (1..241, kIQ4Levels L) with one vpshufb per vector, against broadcast activations; each chain
// starts from -128 x the sum of its lane's 16 activations (from the widening), so it ends at the
// sum of L x y over its 16 elements. That is up to 16 x 127 x 127: no room for int16, so each
// sub-block's product vector takes its scale as a float, d x (scale - 32) of its row: a
// conversion and an FMA into the token's block sum, which takes y's d once per block. Per
// sub-block of the 8 rows and token: 4 vpdpbusd, a conversion, an FMA (the AVX2 kernel: 4
// sign + 4 maddubs + 4 madd + 4 adds per 4 rows).
//
// Lane layout ("product lanes"): int32 / float lane m of a product vector and of the sums is row
// m / 2 of the eight (rows 0..3 the first group's); stores fold the two lanes of a row.
constexpr IndexTable<int32_t, 16> kProductLaneIndex = MakeIndex<int32_t, 16>([](int m) { return m / 2; });
// The folded product lanes (row r's sum in lane 2r) -> rows 0..7 in lanes 0..7.
constexpr IndexTable<int32_t, 16> kProductRowIndex = MakeIndex<int32_t, 16>([](int r) { return 2 * (r % 8); });
struct ProductLaneSums {
  using Acc = __m512;
  static constexpr int kUnitGroups = 2;
  static Acc Zero() { return _mm512_setzero_ps(); }
  static void Store(Acc acc, float* first_out, float* second_out) {
    const __m512 folded = _mm512_add_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(2, 3, 0, 1)));  // row k in lane 2k
    const __m256 rows = _mm512_castps512_ps256(_mm512_permutexvar_ps(LoadIndex(kProductRowIndex), folded));
    _mm_storeu_ps(first_out, _mm256_castps256_ps128(rows));
    if (second_out != nullptr) _mm_storeu_ps(second_out, _mm256_extractf128_ps(rows, 1));
  }
};

// Scales of the two groups widened to int16 (lane 32h + 8r + j) -> int32 lane m = the scale of row
// m / 2, sub-block j (its int16 lane 2m; the odd lanes are masked to zero).
constexpr Words ProductScaleIndex(int j) {
  return MakeIndex<int16_t, 32>([j](int lane) {
    const int row = lane / 4;
    return 32 * (row / 4) + 8 * (row % 4) + j;
  });
}
constexpr Words kProductScaleIndex[8] = {ProductScaleIndex(0), ProductScaleIndex(1), ProductScaleIndex(2), ProductScaleIndex(3),
                                         ProductScaleIndex(4), ProductScaleIndex(5), ProductScaleIndex(6), ProductScaleIndex(7)};

struct IQ4_XSPairVnni : ProductLaneSums {
  static constexpr int64_t kPassGroups = 64;
  static constexpr bool kEvenPasses = true;
  static constexpr int kMaxTokens = 16;
  static constexpr int kInterleave = 4;
  // The block's 256 activations, the chain starts of its 8 sub-blocks (8 bytes each), d.
  static constexpr int64_t kStartsAt = 256, kScaleAt = 256 + 64;
  static constexpr int64_t kWideBlock = kScaleAt + 64;
  static constexpr int64_t kGroupBlock = kIQ4_XSGroupBlock;

  static void Widen(const uint8_t* block, uint8_t* wide) {
    for (int i = 0; i < 4; ++i) {
      const __m512i y = Load512(block + kActLevels + 64 * i);
      _mm512_store_si512(wide + 64 * i, y);
      _mm_store_si128(reinterpret_cast<__m128i*>(wide + kStartsAt + 16 * i), ChainStarts<128>(y));
    }
    std::memcpy(wide + kScaleAt, block, sizeof(float));
  }

  template <int kTokens, bool kStream>
  static void Block(const uint8_t* w, const uint8_t* w2, const uint8_t* wide, __m512* acc) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
    constexpr auto U = [](int i) { return static_cast<char>(static_cast<uint8_t>(kIQ4Levels[i] + 128)); };
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(U(0), U(1), U(2), U(3), U(4), U(5), U(6), U(7), U(8), U(9),
                                                               U(10), U(11), U(12), U(13), U(14), U(15)));
    if constexpr (kStream) {  // d and the scales; the levels a sub-block pair at a time below
      Prefetch<64>(w);
      Prefetch<64>(w2);
    }
    const __m512i scales_first = _mm512_cvtepu8_epi16(UnpackSixBits(w + 8)),
                  scales_second = _mm512_cvtepu8_epi16(UnpackSixBits(w2 + 8));
    const __m512 d = RowLanes(w, w2, kProductLaneIndex);
    __m512 block_sum[kTokens];
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t) block_sum[t] = _mm512_setzero_ps();
#pragma GCC unroll 1
    for (int p = 0; p < 4; ++p) {  // sub-blocks 2p, 2p + 1
      __m512i lo[2][2], hi[2][2];  // [sub-block 2p + s][half]
      __m512 scale[2];
#pragma GCC unroll 2
      for (int s = 0; s < 2; ++s) {
        const int64_t at = kIQ4_XSLevelsAt + 64 * (2 * p + s);
        if constexpr (kStream) {
          Prefetch<64>(w + at);
          Prefetch<64>(w2 + at);
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m512i packed = Concat(Load256(w + at + 32 * h), Load256(w2 + at + 32 * h));
          lo[s][h] = _mm512_shuffle_epi8(table, _mm512_and_si512(packed, low_mask));
          hi[s][h] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_mask));
        }
        const __m512i scale_int = _mm512_maskz_permutex2var_epi16(0x55555555, scales_first, LoadIndex(kProductScaleIndex[2 * p + s]),
                                                                  scales_second);
        scale[s] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(scale_int, _mm512_set1_epi32(32))), d);
      }
      RunChains<kTokens, kInterleave, 4>(
          [&](int t, int s) { return Broadcast8(wide + t * kWideBlock + kStartsAt + 8 * (2 * p + s)); },
          [&](int s, int k) { return k % 2 == 0 ? lo[s][k / 2] : hi[s][k / 2]; },
          [&](int t, int s, int k) { return wide + t * kWideBlock + 64 * p + 32 * s + 8 * k; },
          [&](int t, __m512i first, __m512i second) {
            block_sum[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(first), scale[0], block_sum[t]);
            block_sum[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(second), scale[1], block_sum[t]);
          });
    }
#pragma GCC unroll 16
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm512_fmadd_ps(block_sum[t], _mm512_set1_ps(LoadFloat(wide + t * kWideBlock + kScaleAt)), acc[t]);
  }
};

}  // namespace

void DotTileRepackedQ4_K(const DotTile& tile) { RunTile<Q4_KPairVnni>(tile); }
void DotTileRepackedQ5_K(const DotTile& tile) { RunTile<Q5_KPairVnni>(tile); }
void DotTileRepackedQ6_K(const DotTile& tile) { RunTile<Q6_KPairVnni>(tile); }
void DotTileRepackedIQ4_XS(const DotTile& tile) { RunTile<IQ4_XSPairVnni>(tile); }

}  // namespace moefit::avx512
