// SPDX-License-Identifier: MIT
// Repacked row groups: a lossless re-encoding of 4 rows' blocks that the CPU kernels compute
// from with fewer instructions than the file's encoding (same bytes, so plans do not change).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/tensor_view.h"

namespace moefit {

// Rows per repacked group: the row group of the interleaved layout (core/tensor_view.h).
inline constexpr int kRepackRows = kInterleavedRowGroup;

// Whether a type has a repacked encoding: Q4_K, Q5_K, Q6_K, IQ4_XS.
//
// Q4_K, 4 rows x one 256-element super-block = 576 bytes (4 x 144). With scale index
// i = 8 * row + sub-block (32 elements each) and min index i' = 8 * kMinRowOrder[row] + sub-block:
//   [0, 8)     d of rows 0..3 (F16)
//   [8, 16)    dmin of rows 0..3 (F16)
//   [16, 32)   scales, low 4 bits: byte b holds index b (low nibble) and index b + 16 (high)
//   [32, 40)   scales, high 2 bits: byte b, bits 2k..2k+1 hold index b + 8k (k < 4)
//   [40, 56)   mins, low 4 bits (as the scales, by min index)
//   [56, 64)   mins, high 2 bits
//   [64, 576)  levels: sub-block j, half m (m < 2) in the 32 bytes at 64 + 64j + 32m; byte
//              8r + e (r < 4, e < 8) has in its low nibble the level of row r, element
//              32j + 16m + e, and in its high nibble that of element 32j + 16m + 8 + e.
// So a kernel that broadcasts 8 activations to the four 64-bit lanes of a vector multiplies
// them by 8 levels of each of the 4 rows at once, and the 32-bit lanes of its sums are per row.
// Mins go in row order 0, 2, 1, 3 so that a horizontal add of their per-row products lands each
// row's sum in the same lanes as the levels' sums.
//
// Q5_K, 4 rows x one 256-element super-block = 704 bytes (4 x 176): bytes [0, 576) as Q4_K's
// (the scales and mins, and the low 4 bits of the levels), then the fifth bits:
//   [576, 704) four 32-byte planes, plane p for sub-blocks 2p + s (s < 2): byte 8r + e has at
//              bit 4s + k the fifth bit of row r, element 32(2p + s) + 8k + e (k < 4).
// So the bit that joins the nibble in byte 8r + e of level vector k (the nibbles of Q4_K's half
// k / 2, low for even k) is one shift away from bit 4 for every byte of the vector.
//
// Q6_K, 4 rows x one 256-element super-block = 840 bytes (4 x 210). Levels are u = q + 32 (0..63);
// sub-blocks have 16 elements and an int8 scale each.
//   [0, 8)     d of rows 0..3 (F16)
//   [8, 72)    scales: byte 8 + 16q + 4r + i is the scale of row r, sub-block 4q + i (q, i < 4)
//   [72, 840)  eight units of 96 bytes, unit k holding elements 32k .. 32k + 31 (sub-blocks 2k,
//              2k + 1) at 72 + 96k: in bytes [0, 32) and [32, 64), byte 8r + e holds the low 4
//              bits of row r's elements 32k + e (low nibble) and 32k + 8 + e (high nibble), resp.
//              32k + 16 + e and 32k + 24 + e; byte 64 + 8r + e holds the top 2 bits of those four
//              elements at bits 0, 2, 4, 6 in that order.
// The same broadcast of 8 activations then meets 8 levels of each row; the 16 scales of a quarter
// q widen to int16 lanes 4r + i, which is what a madd with 4 broadcast block sums needs.
//
// IQ4_XS, 4 rows x one 256-element super-block = 544 bytes (4 x 136). Levels are the nibbles
// (indexes into kIQ4Levels); scale i = 8 * row + sub-block is the 6-bit scale (the value is
// d * (scale - 32) * kIQ4Levels[nibble]).
//   [0, 8)     d of rows 0..3 (F16)
//   [8, 24)    scales, low 4 bits: byte b holds index b (low nibble) and index b + 16 (high)
//   [24, 32)   scales, high 2 bits: byte b, bits 2k..2k+1 hold index b + 8k (k < 4)
//   [32, 544)  nibbles as Q4_K's levels at [64, 576): sub-block j, half m in the 32 bytes at
//              32 + 64j + 32m, byte 8r + e holding elements 32j + 16m + e (low) and + 8 (high).
bool CanRepack(DType type);
inline constexpr int kRepackMinRowOrder[kRepackRows] = {0, 2, 1, 3};

// kRepackRows consecutive blocks (block b of rows 4g .. 4g + 3, as InterleaveRows leaves them)
// -> one repacked group block of the same size, and back. `blocks` and `packed` must not overlap.
void RepackGroupBlock(DType type, const uint8_t* blocks, uint8_t* packed);
void UnrepackGroupBlock(DType type, const uint8_t* packed, uint8_t* blocks);

// Re-encodes `matrices` interleaved matrices (rows a multiple of kRepackRows) in place.
void RepackRows(void* data, DType type, int64_t row_length, int64_t rows, int64_t matrices);

// Row r of a 2-D view in plain (file) order, whatever its layout: plain, interleaved or repacked.
void CopyPlainRow(const TensorView& view, int64_t r, void* dst);

}  // namespace moefit
