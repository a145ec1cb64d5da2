// SPDX-License-Identifier: MIT
// The contract between Attention (cpu/attention.cpp) and the per-ISA flash-attention kernels:
// the query heads of one KV head, for up to AttentionTileQueries tokens of one sequence, over
// that sequence's cache cells. Plain data only (the ISA files include this; see isa_kernels.h).
#pragma once

#include <cstdint>

namespace moefit {

// V rows a kernel dequantizes and sums at a time (the `values` workspace).
inline constexpr int64_t kAttentionValueCells = 32;
// K rows a kernel may convert and transpose at a time into the same workspace while it scores
// (the V phase does not need it then): the AVX-512 kernel's 32 (AVX2 takes 16).
inline constexpr int kAttentionKeyCells = 32;

// Row r = i * group + g is query token i, query head g of the KV head's group. A kernel
//   1. keeps, per row, a running max, a running sum and an accumulator (value_head_dim floats);
//   2. for each chunk [c0, c0 + chunk_cells) of the cells (fixed boundaries: chunk k starts at
//      cell k * chunk_cells whatever the rows), scores every row against the chunk's cells it
//      attends to (row r attends to cells[0, lengths[i])) times `scale`, rescales its sum and
//      accumulator by exp(old max - new max), turns the scores into exp(score - new max), adds
//      them to the sum and their V rows into the accumulator, each in cell order;
//   3. writes accumulator / sum to out.
// So a row's arithmetic never depends on the other rows of the tile. K and V rows are read
// once per tile (shared by all rows). Kernels never throw and never allocate.
struct AttentionTile {
  const float* q;            // float queries: row (i, g) at q + i * q_stride + g * head_dim
  int64_t q_stride;
  int n_queries;
  int group;                 // query heads per KV head
  const int32_t* lengths;    // (n_queries) cells each query attends to: >= 1, nondecreasing
  const int32_t* cells;      // (max of lengths) cache cells in position order
  const uint8_t* k;          // this KV head's K of cell c at k + c * k_row_bytes
  int64_t k_row_bytes;
  const uint8_t* v;          // this KV head's V of cell c at v + c * v_row_bytes
  int64_t v_row_bytes;
  int head_dim;
  int value_head_dim;
  float scale;
  int64_t chunk_cells;
  // Workspace (no alignment required).
  float* scores;             // (n_queries * group, chunk_cells)
  float* acc;                // (n_queries * group, value_head_dim)
  float* running_max;        // (n_queries * group)
  float* running_sum;        // (n_queries * group)
  float* row;                // max(head_dim, value_head_dim): one K or V row as floats (scalar kernel)
  float* values;             // (kAttentionValueCells, value_head_dim): V rows as floats; or
                             // (head_dim, kAttentionKeyCells): K rows transposed, while scoring
  float* out;                // row (i, g) at out + i * out_stride + g * value_head_dim
  int64_t out_stride;
};

using AttentionFn = void (*)(const AttentionTile& tile);

}  // namespace moefit
