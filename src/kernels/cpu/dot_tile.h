// SPDX-License-Identifier: MIT
// The contract between MatMul and the ISA dot kernels: one block of rows x tokens dot products.
#pragma once

#include <cstdint>

namespace moefit {

// Weight rows [0, rows) . activation rows [0, tokens), each `elements` long:
//   out[t * out_token_stride + r] = dot(weights + r * weight_row_bytes,
//                                       activations + t * activation_row_bytes)
// Activations are already in the weight type's dot type (Q8_0, Q8_K or F32), made by the
// table's quantizers: int8 levels in [-127, 127] (the SIMD sign tricks rely on it; Q8_K block
// sums consistent with the levels). No alignment is required of any pointer. Kernels never
// throw and never allocate.
struct DotTile {
  const uint8_t* weights;
  int64_t weight_row_bytes;
  int64_t rows;
  const uint8_t* activations;
  int64_t activation_row_bytes;
  int64_t tokens;
  int64_t elements;
  float* out;
  int64_t out_token_stride;
};

using DotTileFn = void (*)(const DotTile& tile);

}  // namespace moefit
