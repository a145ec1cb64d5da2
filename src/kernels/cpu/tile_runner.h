// SPDX-License-Identifier: MIT
// Drives a "few rows x one token" dot kernel over a whole DotTile. Included only by the ISA
// variant files; every instantiation takes a kernel type from an anonymous namespace, so it has
// internal linkage and its SIMD code cannot leak into baseline code (see isa_kernels.h).
//
// A Kernel provides
//   static constexpr int kMaxRows;
//   static constexpr int64_t kBlockBytes;  // bytes of a weight block (0 for plain float types)
//   template <int kRows> static void Run(const uint8_t* weights, int64_t row_stride, int64_t block_stride,
//                                        const uint8_t* activations, int64_t elements, float* out);
// computing out[r] = dot(row r, activations) for r < kRows, where block b of row r starts at
// weights + r * row_stride + b * block_stride (plain rows: row_stride = row bytes and
// block_stride = kBlockBytes; rows interleaved by block: row_stride = kBlockBytes and
// block_stride = kRows * kBlockBytes). Float kernels support plain rows only. A kernel may also
// provide kTokenBlock and RunTokens<kRows>(weights, row_stride, block_stride, const uint8_t* const*
// activations, elements, float (*out)[kMaxRows]): kTokenBlock tokens at once, each token's bits
// those of Run (RunRowGroup runs a tile's first token alone, then the others that many at a
// time, and the rest one by one).
#pragma once

#include <cstdint>

#include "kernels/cpu/dot_tile.h"

namespace moefit::cpu_detail {

// How far ahead of the current block each weight row is prefetched (software prefetch keeps
// several rows' DRAM reads in flight; the hardware prefetcher alone leaves latency exposed).
// Measured on the Xeon host, 2 threads, cold Q4_K gate/up and Q6_K down, interleaved rows
// (GB/s): 1024 B ahead 17.2 / 15.4, 2048 B 18.8 / 21.8, 4096 B 22.9 / 23.8.
constexpr int64_t kPrefetchDistance = 4096;
// Each line is also asked into L2 this far ahead (a second hint): the L1 hint alone left one
// thread at ~91% of `bench --membw`'s one-thread bandwidth (its L1 misses in flight cover 4 KiB
// per stream, not DRAM's latency). On the AVX-512 Xeon, cold repacked rows, one token: one
// thread Q4_K gate/up 14.7-15.6 -> 15.5-16.8 GB/s, Q6_K down 13.8-15.3 -> 15.6-15.9; two threads
// 25.3-27.1 -> 27.9-31.3 and 24.8-27.3 -> 27.7-29.6 (L2 hints at 12 and 16 KiB, or 2 KiB for
// L1, were no better; the L2 hint alone was worse than none). docs/benchmarks.md has the runs.
constexpr int64_t kPrefetchL2Distance = 8192;

// Run and RunTokens of a kernel written once over the tokens it takes at a time:
//   template <int kRows, int kT, bool kPrefetch> static void Dots(weights, row_stride, block_stride,
//       const uint8_t* const* activations, elements, float* const* out)  // out[t][r]
// Run is a token alone, prefetching its rows (they come from memory); RunTokens is
// Kernel::kTokenBlock tokens whose rows the first token alone brought into L1.
template <typename Kernel>
struct TokenDots {
  template <int kRows>
  static void Run(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* act, int64_t elements, float* out) {
    Kernel::template Dots<kRows, 1, true>(w, stride, block_stride, &act, elements, &out);
  }
  template <int kRows, int kMaxRows>
  static void RunTokens(const uint8_t* w, int64_t stride, int64_t block_stride, const uint8_t* const* act, int64_t elements,
                        float (*out)[kMaxRows]) {
    float* rows[Kernel::kTokenBlock];
    for (int t = 0; t < Kernel::kTokenBlock; ++t) rows[t] = out[t];
    Kernel::template Dots<kRows, Kernel::kTokenBlock, false>(w, stride, block_stride, act, elements, rows);
  }
};

// Rows [row, row + kRows) against every token; the rows stay in L1 while the tokens go by. A
// kernel with RunTokens (kTokenBlock tokens at once, the same bits as Run for each, rows read
// from L1 without prefetching) takes the first token alone, which brings the rows in, and the
// others that many at a time.
template <typename Kernel, int kRows>
void RunRowGroup(const DotTile& tile, int64_t row) {
  const uint8_t* weights = tile.weights + row * tile.weight_row_bytes;
  const bool interleaved = tile.row_group > 1;
  const int64_t row_stride = interleaved ? Kernel::kBlockBytes : tile.weight_row_bytes;
  const int64_t block_stride = interleaved ? kRows * Kernel::kBlockBytes : Kernel::kBlockBytes;
  const auto activation = [&](int64_t t) {
    return tile.activations + (tile.activation_rows != nullptr ? tile.activation_rows[t] : t) * tile.activation_row_bytes;
  };
  const auto one_token = [&](int64_t t) {
    float out[kRows];
    Kernel::template Run<kRows>(weights, row_stride, block_stride, activation(t), tile.elements, out);
    float* y = tile.out + t * tile.out_token_stride + row;
    for (int r = 0; r < kRows; ++r) y[r] = out[r];
  };
  int64_t t = 0;
  if constexpr (requires { Kernel::kTokenBlock; }) {
    constexpr int kT = Kernel::kTokenBlock;
    if (tile.tokens > 0) one_token(t++);
    for (; t + kT <= tile.tokens; t += kT) {
      const uint8_t* act[kT];
      float out[kT][Kernel::kMaxRows];
      for (int i = 0; i < kT; ++i) act[i] = activation(t + i);
      Kernel::template RunTokens<kRows>(weights, row_stride, block_stride, act, tile.elements, out);
      for (int i = 0; i < kT; ++i)
        for (int r = 0; r < kRows; ++r) tile.out[(t + i) * tile.out_token_stride + row + r] = out[i][r];
    }
  }
  for (; t < tile.tokens; ++t) one_token(t);
}

template <typename Kernel>
void RunDotTile(const DotTile& tile) {
  constexpr int kGroup = Kernel::kMaxRows;
  static_assert(kGroup == 4, "interleaved weights come in groups of 4 rows");
  int64_t row = 0;
  for (; row + kGroup <= tile.rows; row += kGroup) RunRowGroup<Kernel, kGroup>(tile, row);
  const int64_t left = tile.rows - row;
  if constexpr (kGroup > 3) {
    if (left == 3) RunRowGroup<Kernel, 3>(tile, row);
  }
  if constexpr (kGroup > 2) {
    if (left == 2) RunRowGroup<Kernel, 2>(tile, row);
  }
  if constexpr (kGroup > 1) {
    if (left == 1) RunRowGroup<Kernel, 1>(tile, row);
  }
}

template <typename Kernel>
float DotOneRow(const void* weights, const void* activations, int64_t elements) {
  float out[1];
  Kernel::template Run<1>(static_cast<const uint8_t*>(weights), 0, Kernel::kBlockBytes,
                          static_cast<const uint8_t*>(activations), elements, out);
  return out[0];
}

}  // namespace moefit::cpu_detail
