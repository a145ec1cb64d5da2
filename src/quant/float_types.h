// SPDX-License-Identifier: MIT
// The plain floating-point types F32, F16 and BF16: conversions and dots against F32.
#pragma once

#include <cstdint>

namespace moefit {

// Row functions; never throw. Dots: weights (elements) . F32 activations (elements), products
// in float, summed in double. (The reference rounds activations to F16 / BF16 for F16 / BF16
// weights; moefit's reference keeps them in F32.)
void DequantizeRowF32(const void* src, float* dst, int64_t elements);
void QuantizeRowF32(const float* src, void* dst, int64_t elements);
float DotRowF32(const void* weights, const void* activations_f32, int64_t elements);

void DequantizeRowF16(const void* src, float* dst, int64_t elements);
void QuantizeRowF16(const float* src, void* dst, int64_t elements);  // round to nearest even
float DotRowF16(const void* weights, const void* activations_f32, int64_t elements);

void DequantizeRowBF16(const void* src, float* dst, int64_t elements);
void QuantizeRowBF16(const float* src, void* dst, int64_t elements);  // round to nearest even
float DotRowBF16(const void* weights, const void* activations_f32, int64_t elements);

}  // namespace moefit
