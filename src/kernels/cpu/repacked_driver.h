// SPDX-License-Identifier: MIT
// The drivers of the repacked kernels (quant/repack.h) over a DotTile, shared by the variant
// files (cpu/avx2, cpu/avx512): each compiles its own copy with its own flags, every function of
// internal linkage (see isa_kernels.h). A Kernel provides
//   using Acc;                                  // a token's float sums for one row group
//   static Acc Zero();  static void Store(Acc, float* out);   // out[0..3] = the 4 rows' dots
//   static constexpr int kMaxTokens;            // tokens per unpacking of the levels (prefill)
//   static constexpr int64_t kPassGroups;       // row groups per pass of the prefill path
//   static constexpr bool kEvenPasses;          // prefill token passes of even sizes (17: 9 + 8),
//                                               // or kMaxTokens each and the rest (17: 16 + 1)
//   static constexpr int kUnitGroups;           // row groups per Block (1, or 2: a pair)
//   static constexpr int64_t kWideBlock, kGroupBlock;  // widened activation block, group block
//   static void Widen(const uint8_t* q8k_block, uint8_t* wide);  // 64-byte aligned `wide`
//   template <int kTokens, bool kStream> static void Block(const uint8_t* group_block,
//                                                          const uint8_t* wide, Acc* acc);
// Block adds one group block's dots against kTokens widened tokens (token t's block at wide + t *
// kWideBlock) to acc[t]; with kStream it prefetches the group's next blocks itself. A kernel of
// pairs (kUnitGroups 2) takes the blocks of any two groups, Block(first, second, wide, acc), and
// stores their rows with Store(acc, first_out, second_out); a group without a partner is passed
// as both (second_out null). A row's bits do not depend on its partner, so they are the same
// whichever way the groups are paired (neighbours in the passes, the tile's halves in the
// streams) and wherever the tile boundaries fall. Decode (up to
// kStreamTokens tokens) widens the tokens whole and streams every group past them; prefill goes
// a block at a time with kPassGroups groups' sums waiting in L1 (or L2: the sizes are measured per kernel).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/dot_tile.h"
#include "kernels/cpu/repacked_simd.h"

namespace moefit {
namespace {
namespace repacked {

// (Internal-linkage helpers only, no std:: templates: see isa_kernels.h.)
inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }

// Widened activations held on the stack by the streaming path: up to this many blocks of 256
// over its tokens (longer rows take the passes, which give the same bits).
constexpr int64_t kMaxWideBlocks = 64;
// Tiles of at most this many tokens stream the weights (decode, one sequence or a few): each
// row group reads its blocks one after another, prefetched ahead in that stream, and each weight
// byte is read once either way. The block-at-a-time passes jump from group to group, which the
// hardware prefetcher does not follow from DRAM.
constexpr int kStreamTokens = kDotTileStreamTokens;

// One unit's block: a group's (kUnitGroups 1), or a pair's (`second`: the other group's block,
// or the first again for a lone group).
template <typename Kernel, int kTokens, bool kStream>
inline void UnitBlock(const uint8_t* first, const uint8_t* second, const uint8_t* wide, typename Kernel::Acc* acc) {
  if constexpr (Kernel::kUnitGroups == 1) {
    Kernel::template Block<kTokens, kStream>(first, wide, acc);
  } else {
    Kernel::template Block<kTokens, kStream>(first, second, wide, acc);
  }
}

// Row groups [first, first + kStreams * count) against kTokens tokens widened at `wide` (block b
// of token t at wide + (b * kTokens + t) * kWideBlock) as kStreams runs of `count` groups read
// side by side, block by block; the sums in registers. Each group sums its own blocks in order,
// so a row's bits do not depend on the number of streams.
template <typename Kernel, int kTokens, int kStreams>
void StreamRuns(const DotTile& tile, const uint8_t* wide, int64_t first, int64_t count) {
  const int64_t blocks = tile.elements / kQK_K, group_bytes = 4 * tile.weight_row_bytes;
  constexpr int64_t kStep = kTokens * Kernel::kWideBlock;
  for (int64_t g = 0; g < count; ++g) {
    int64_t group[kStreams];
    typename Kernel::Acc acc[kStreams][kTokens];
#pragma GCC unroll 2
    for (int s = 0; s < kStreams; ++s) {
      group[s] = first + s * count + g;
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) acc[s][t] = Kernel::Zero();
    }
    for (int64_t b = 0; b < blocks; ++b)
#pragma GCC unroll 2
      for (int s = 0; s < kStreams; ++s)
        Kernel::template Block<kTokens, true>(tile.weights + group[s] * group_bytes + b * Kernel::kGroupBlock, wide + b * kStep,
                                              acc[s]);
#pragma GCC unroll 2
    for (int s = 0; s < kStreams; ++s)
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) Kernel::Store(acc[s][t], tile.out + t * tile.out_token_stride + 4 * group[s]);
  }
}

// A kernel of pairs streams the two halves of the tile side by side as one: group g with group
// g + half (half = ceil(groups / 2); the last group alone when the count is odd), each half read
// in order, so each group's stream is contiguous and prefetched in the kernel as the single-group
// kernels' are. (Pairs of neighbouring groups read two streams a group apart, interleaved: cold
// Q4_K rows of 768 on one thread 8% slower than two halves of single groups.)
template <typename Kernel, int kTokens>
void StreamPairs(const DotTile& tile, const uint8_t* wide) {
  const int64_t blocks = tile.elements / kQK_K, group_bytes = 4 * tile.weight_row_bytes;
  const int64_t groups = tile.rows / 4, half = (groups + 1) / 2;
  constexpr int64_t kStep = kTokens * Kernel::kWideBlock;
  for (int64_t g = 0; g < half; ++g) {
    const bool paired = g + half < groups;
    const uint8_t* first = tile.weights + g * group_bytes;
    const uint8_t* second = paired ? first + half * group_bytes : first;
    typename Kernel::Acc acc[kTokens];
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) acc[t] = Kernel::Zero();
    for (int64_t b = 0; b < blocks; ++b)
      Kernel::template Block<kTokens, true>(first + b * Kernel::kGroupBlock, second + b * Kernel::kGroupBlock, wide + b * kStep, acc);
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) {
      float* out = tile.out + t * tile.out_token_stride;
      Kernel::Store(acc[t], out + 4 * g, paired ? out + 4 * (g + half) : nullptr);
    }
  }
}

// Every row group against kTokens widened tokens, the groups read as two halves side by side: two
// streams from DRAM keep more reads in flight than one (one token: Q4_K and Q6_K 8-18% faster on
// 2 threads on the AMD box; 2-4 tokens on the Xeon: 5-20%, docs/benchmarks.md); four streams did
// not gain. A group left over from the halves goes alone.
template <typename Kernel, int kTokens>
void StreamGroups(const DotTile& tile, const uint8_t* wide) {
  if constexpr (Kernel::kUnitGroups == 2) {
    StreamPairs<Kernel, kTokens>(tile, wide);
  } else {
    constexpr int kStreams = 2;
    const int64_t groups = tile.rows / 4, per_stream = groups / kStreams;
    StreamRuns<Kernel, kTokens, kStreams>(tile, wide, 0, per_stream);
    StreamRuns<Kernel, kTokens, 1>(tile, wide, kStreams * per_stream, groups - kStreams * per_stream);
  }
}

// StreamGroups for a run-time n in [1, kTokens].
template <typename Kernel, int kTokens>
void StreamGroupsTokens(int n, const DotTile& tile, const uint8_t* wide) {
  if (n == kTokens) {
    StreamGroups<Kernel, kTokens>(tile, wide);
  } else if constexpr (kTokens > 1) {
    StreamGroupsTokens<Kernel, kTokens - 1>(n, tile, wide);
  }
}

// A tile of up to kStreamTokens tokens (decode, small expert tiles): their activations widened once, then every row
// group streams its blocks past them. False (nothing done) for more tokens or longer rows.
template <typename Kernel>
bool RunStreaming(const DotTile& tile) {
  const int64_t blocks = tile.elements / kQK_K;
  if (tile.tokens > kStreamTokens || tile.tokens * blocks > kMaxWideBlocks) return false;
  alignas(64) uint8_t wide[kMaxWideBlocks * Kernel::kWideBlock];
  const int n = static_cast<int>(tile.tokens);
  for (int t = 0; t < n; ++t) {
    const int64_t row = tile.activation_rows != nullptr ? tile.activation_rows[t] : t;
    const uint8_t* activations = tile.activations + row * tile.activation_row_bytes;
    for (int64_t b = 0; b < blocks; ++b)
      Kernel::Widen(activations + b * kActBlock, wide + (b * n + t) * Kernel::kWideBlock);
  }
  StreamGroupsTokens<Kernel, kStreamTokens>(n, tile, wide);
  return true;
}

// Block b of `groups` row groups (the first at w, one every group_stride bytes) against kTokens
// widened tokens, a unit at a time; each group's block is prefetched two groups ahead. The first
// block zeroes each unit's sums just before (vector stores; a memset of them all, which GCC makes
// a `rep stos`, took 3-4% of a pass).
template <typename Kernel, int kTokens>
void PassBlock(const uint8_t* w, int64_t group_stride, int64_t groups, const uint8_t* wide, typename Kernel::Acc* acc,
               bool first) {
  constexpr int64_t kUnit = Kernel::kUnitGroups;
  for (int64_t g = 0; g < groups; g += kUnit, w += kUnit * group_stride) {
    for (int64_t ahead = 2; ahead < 2 + kUnit; ++ahead)
      if (g + ahead < groups)
        for (int64_t i = 0; i < Kernel::kGroupBlock; i += 64)
          _mm_prefetch(reinterpret_cast<const char*>(w + ahead * group_stride + i), _MM_HINT_T0);
    typename Kernel::Acc* unit_acc = acc + g / kUnit * Kernel::kMaxTokens;
    if (first)
#pragma GCC unroll 16
      for (int t = 0; t < kTokens; ++t) unit_acc[t] = Kernel::Zero();
    UnitBlock<Kernel, kTokens, false>(w, kUnit == 2 && g + 1 < groups ? w + group_stride : w, wide, unit_acc);
  }
}

// PassBlock for a run-time n in [1, kTokens].
template <typename Kernel, int kTokens>
void PassBlockTokens(int n, const uint8_t* w, int64_t group_stride, int64_t groups, const uint8_t* wide,
                     typename Kernel::Acc* acc, bool first) {
  if (n == kTokens) {
    PassBlock<Kernel, kTokens>(w, group_stride, groups, wide, acc, first);
  } else if constexpr (kTokens > 1) {
    PassBlockTokens<Kernel, kTokens - 1>(n, w, group_stride, groups, wide, acc, first);
  }
}

// More tokens (prefill): up to Kernel::kPassGroups row groups at a time, and for them
// up to kMaxTokens tokens at a time, block after block: the tokens' block is widened into L1 and
// every row group's block goes by it (each unpacking of the levels shared by the tokens), so the
// activations stay in L1 and each weight byte is read once per kMaxTokens tokens.
template <typename Kernel>
void RunTokenPasses(const DotTile& tile) {
  constexpr int kMax = Kernel::kMaxTokens;
  constexpr int64_t kPassGroups = Kernel::kPassGroups, kUnit = Kernel::kUnitGroups;
  static_assert(kPassGroups % kUnit == 0, "a pass takes whole units");
  alignas(64) uint8_t wide[kMax * Kernel::kWideBlock];
  typename Kernel::Acc acc[kPassGroups / kUnit * kMax];
  const int64_t blocks = tile.elements / kQK_K, group_stride = 4 * tile.weight_row_bytes;
  for (int64_t row0 = 0; row0 < tile.rows; row0 += 4 * kPassGroups) {
    const int64_t groups = Min(kPassGroups, (tile.rows - row0 + 3) / 4);
    const uint8_t* weights = tile.weights + row0 * tile.weight_row_bytes;
    // ceil(tokens / kMax) passes of the tokens: as even as they go (kEvenPasses), or full ones
    // and the rest last.
    const int64_t passes = (tile.tokens + kMax - 1) / kMax;
    for (int64_t pass = 0; pass < passes; ++pass) {
      const int64_t t0 = Kernel::kEvenPasses ? tile.tokens * pass / passes : pass * kMax;
      const int n =
          static_cast<int>(Kernel::kEvenPasses ? tile.tokens * (pass + 1) / passes - t0 : Min(kMax, tile.tokens - t0));
      const uint8_t* act[kMax];
      for (int i = 0; i < n; ++i)
        act[i] = tile.activations +
                 (tile.activation_rows != nullptr ? tile.activation_rows[t0 + i] : t0 + i) * tile.activation_row_bytes;
      const int64_t units = (groups + kUnit - 1) / kUnit;
      // The pass's outputs are stored at its end, 32 bytes at a time into lines of rows x tokens
      // that are rarely cached (an expert layer's gate and up outputs are ~25 MB at pp512): each
      // missing line held the stores behind it for DRAM's latency. Asked in now, they arrive
      // while the pass computes. pp512 on the 30B preset, with and without, alternating prompt by
      // prompt in one process: +1% to +7% on the means of three runs (the stalls were ~5% of the
      // Q4_K kernel's samples, these prefetches ~2%); PREFETCHW did the same.
      for (int i = 0; i < n; ++i) {
        const float* out = tile.out + (t0 + i) * tile.out_token_stride + row0;
        const uintptr_t end = reinterpret_cast<uintptr_t>(out + Min(4 * groups, tile.rows - row0));
        for (uintptr_t line = reinterpret_cast<uintptr_t>(out) & ~uintptr_t{63}; line < end; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
      }
      for (int64_t b = 0; b < blocks; ++b) {
        for (int i = 0; i < n; ++i) Kernel::Widen(act[i] + b * kActBlock, wide + i * Kernel::kWideBlock);
        PassBlockTokens<Kernel, kMax>(n, weights + b * Kernel::kGroupBlock, group_stride, groups, wide, acc, b == 0);
      }
      for (int64_t u = 0; u < units; ++u)
        for (int i = 0; i < n; ++i) {
          float* out = tile.out + (t0 + i) * tile.out_token_stride + row0 + 4 * kUnit * u;
          if constexpr (kUnit == 1) {
            Kernel::Store(acc[u * kMax + i], out);
          } else {
            Kernel::Store(acc[u * kMax + i], out, kUnit * u + 1 < groups ? out + 4 : nullptr);
          }
        }
    }
  }
}

template <typename Kernel>
void RunTile(const DotTile& tile) {
  if (!RunStreaming<Kernel>(tile)) RunTokenPasses<Kernel>(tile);
}

}  // namespace repacked
}  // namespace
}  // namespace moefit
