// SPDX-License-Identifier: MIT
// Drives a "few rows x one token" dot kernel over a whole DotTile. Included only by the ISA
// variant files; every instantiation takes a kernel type from an anonymous namespace, so it has
// internal linkage and its SIMD code cannot leak into baseline code (see isa_kernels.h).
//
// A Kernel provides
//   static constexpr int kMaxRows;
//   template <int kRows> static void Run(const uint8_t* weights, int64_t weight_row_bytes,
//                                        const uint8_t* activations, int64_t elements, float* out);
// computing out[r] = dot(weights + r * weight_row_bytes, activations) for r < kRows.
#pragma once

#include <cstdint>

#include "kernels/cpu/dot_tile.h"

namespace moefit::cpu_detail {

// How far ahead of the current block each weight row is prefetched (software prefetch keeps
// several rows' DRAM reads in flight; the hardware prefetcher alone leaves latency exposed).
constexpr int64_t kPrefetchDistance = 1024;

// Rows [row, row + kRows) against every token; the rows stay in L1 while the tokens go by.
template <typename Kernel, int kRows>
void RunRowGroup(const DotTile& tile, int64_t row) {
  const uint8_t* weights = tile.weights + row * tile.weight_row_bytes;
  for (int64_t t = 0; t < tile.tokens; ++t) {
    float out[kRows];
    Kernel::template Run<kRows>(weights, tile.weight_row_bytes, tile.activations + t * tile.activation_row_bytes,
                                tile.elements, out);
    float* y = tile.out + t * tile.out_token_stride + row;
    for (int r = 0; r < kRows; ++r) y[r] = out[r];
  }
}

template <typename Kernel>
void RunDotTile(const DotTile& tile) {
  constexpr int kGroup = Kernel::kMaxRows;
  static_assert(kGroup >= 1 && kGroup <= 4);
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
  Kernel::template Run<1>(static_cast<const uint8_t*>(weights), 0, static_cast<const uint8_t*>(activations),
                          elements, out);
  return out[0];
}

}  // namespace moefit::cpu_detail
