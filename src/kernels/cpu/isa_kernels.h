// SPDX-License-Identifier: MIT
// Entry points of the ISA variant files (cpu/avx2/*.cpp, cpu/avx512/*.cpp). Only dispatch.cpp
// and the kernel tests call them, and only after checking that the machine has the level.
//
// Rule for the variant files (they are compiled with -mavx2 / -mavx512*): everything they define
// is either one of the functions declared here or has internal linkage (anonymous namespace,
// `static`, or a template instantiated on such a type). An inline function or template from a
// shared header that they instantiate with external linkage would be emitted as a weak symbol
// with AVX encodings, and the linker may pick that copy for the baseline code too. The test
// `kernels_isa_objects_export_only_kernels` checks the object files for this.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/dot_tile.h"

// Declares the row and tile kernels of one weight type: DotRow<T> and DotTile<T>.
#define MOEFIT_DECLARE_DOT_KERNELS(type)                                                     \
  float DotRow##type(const void* weights, const void* activations, int64_t elements); \
  void DotTile##type(const DotTile& tile);

namespace moefit {

namespace avx2 {
MOEFIT_DECLARE_DOT_KERNELS(F32)
MOEFIT_DECLARE_DOT_KERNELS(F16)
MOEFIT_DECLARE_DOT_KERNELS(BF16)
MOEFIT_DECLARE_DOT_KERNELS(Q4_0)
MOEFIT_DECLARE_DOT_KERNELS(Q8_0)
MOEFIT_DECLARE_DOT_KERNELS(IQ4_NL)
MOEFIT_DECLARE_DOT_KERNELS(Q4_K)
MOEFIT_DECLARE_DOT_KERNELS(Q5_K)
MOEFIT_DECLARE_DOT_KERNELS(Q6_K)
MOEFIT_DECLARE_DOT_KERNELS(IQ4_XS)
void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements);
void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements);
void SwiGluRow(float* gate, const float* up, int64_t n);  // cpu/avx2/activation_avx2.cpp
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y);  // the same file
void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out);  // the same file
// Repacked row groups (quant/repack.h), rows x tokens (cpu/avx2/dot_repacked_avx2.cpp).
void DotTileRepackedQ4_K(const DotTile& tile);
void DotTileRepackedQ5_K(const DotTile& tile);
void DotTileRepackedQ6_K(const DotTile& tile);
void DotTileRepackedIQ4_XS(const DotTile& tile);
// Flash attention over a KV cache of each type (cpu/avx2/attention_avx2.cpp).
void AttentionF16(const AttentionTile& tile);
void AttentionBF16(const AttentionTile& tile);
void AttentionQ8_0(const AttentionTile& tile);
void AttentionQ4_0(const AttentionTile& tile);
}  // namespace avx2

namespace avx512 {
MOEFIT_DECLARE_DOT_KERNELS(F32)
MOEFIT_DECLARE_DOT_KERNELS(F16)
MOEFIT_DECLARE_DOT_KERNELS(BF16)
MOEFIT_DECLARE_DOT_KERNELS(Q4_0)
MOEFIT_DECLARE_DOT_KERNELS(Q8_0)
MOEFIT_DECLARE_DOT_KERNELS(IQ4_NL)
MOEFIT_DECLARE_DOT_KERNELS(Q4_K)
MOEFIT_DECLARE_DOT_KERNELS(Q5_K)
MOEFIT_DECLARE_DOT_KERNELS(Q6_K)
MOEFIT_DECLARE_DOT_KERNELS(IQ4_XS)
void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements);
void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements);
void SwiGluRow(float* gate, const float* up, int64_t n);  // cpu/avx512/activation_avx512.cpp: avx2's bits
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y);  // the same file
void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out);  // the same file
// Repacked row groups with VNNI (cpu/avx512/dot_repacked_avx512.cpp).
void DotTileRepackedQ4_K(const DotTile& tile);
void DotTileRepackedQ5_K(const DotTile& tile);
void DotTileRepackedQ6_K(const DotTile& tile);
void DotTileRepackedIQ4_XS(const DotTile& tile);
// Flash attention (cpu/avx512/attention_avx512.cpp).
void AttentionF16(const AttentionTile& tile);
void AttentionBF16(const AttentionTile& tile);
void AttentionQ8_0(const AttentionTile& tile);
void AttentionQ4_0(const AttentionTile& tile);
}  // namespace avx512

}  // namespace moefit

#undef MOEFIT_DECLARE_DOT_KERNELS
