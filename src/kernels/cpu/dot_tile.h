// SPDX-License-Identifier: MIT
// The contract between MatMul and the ISA dot kernels: one block of rows x tokens dot products.
#pragma once

#include <cstdint>

namespace moefit {

// Weight rows [0, rows) . activation rows [0, tokens), each `elements` long:
//   out[t * out_token_stride + r] = dot(weight row r, activations + t * activation_row_bytes)
// Weight row r starts at weights + r * weight_row_bytes (row_group 1), or, with row_group 4,
// the rows are interleaved by block in groups of 4 (see core/tensor_view.h): the group of rows
// [4g, 4g + k) fills the bytes of those k rows with block 0 of each row, then block 1 of each,
// and so on (k = 4 but for a short last group). Tiles of row_group 4 start on a group.
// Activations are already in the weight type's dot type (Q8_0, Q8_K or F32), made by the
// table's quantizers: int8 levels in [-127, 127] (the SIMD sign tricks rely on it; Q8_K block
// sums consistent with the levels). No alignment is required of any pointer. Kernels never
// throw and never allocate.
struct DotTile {
  const uint8_t* weights;
  int64_t weight_row_bytes;
  int64_t rows;
  int64_t row_group = 1;  // 1: plain rows; 4: rows interleaved by block in groups of 4
  const uint8_t* activations;
  int64_t activation_row_bytes;
  int64_t tokens;
  // Token t's activations are row activation_rows[t] (else row t) of `activations`.
  const int32_t* activation_rows = nullptr;
  int64_t elements;
  float* out;
  int64_t out_token_stride;
};

using DotTileFn = void (*)(const DotTile& tile);

// Tiles of at most this many tokens (decode: one sequence or a few; a prompt's experts that few
// of its tokens chose) stream their weights from DRAM, each row group's blocks one after another
// (repacked_driver.h); more tokens go a block at a time over the row groups. 8 rather than 4: the
// passes prefetch only two groups ahead, so a pass of 5-8 tokens from DRAM waited on it (AVX-512,
// 2 threads, cold 768 x 2048 Q4_K, 8 tokens ~62 -> ~45 us; Q6_K 2048 x 768, 5 tokens ~75 -> ~53),
// and hot 8-token tiles streamed as fast or faster (one thread: Q6_K 97-102 -> 85-86 us, IQ4_XS
// 112-125 -> 81-96; AVX2 Q4_K 149-159 -> 158-162, the one within a few percent slower). The 30B
// preset's pp128 (8 tokens an expert on average), the two alternating prompt by prompt: the same
// (77.5 against 78.4 t/s, 6 of 12 pairs faster).
constexpr int kDotTileStreamTokens = 8;

}  // namespace moefit
