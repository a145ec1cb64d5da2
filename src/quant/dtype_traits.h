// SPDX-License-Identifier: MIT
// The DType traits table: for every GGUF type, its scalar reference math (dequantize, quantize,
// dot products) and the activation type its quantized dot expects. The function pointers never
// throw and are meant for hot paths (callers check CanDequantize etc. first); the entry points
// below them check their input and throw moefit::Error naming the type.
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"

namespace moefit {

// src (elements of the type) -> dst (elements floats)
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t elements);
// src (elements floats) -> dst (RowBytes(type, elements) bytes)
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t elements);
// weights (elements of the type) . activations (elements of its dot_type) -> float
using DotRowFn = float (*)(const void* weights, const void* activations, int64_t elements);
// weights (elements of the type) . x (elements floats) -> float
using DotRowFloatFn = float (*)(const void* weights, const float* x, int64_t elements);

enum DTypeFlag : uint32_t {
  kDTypeFloat = 1u << 0,        // plain floating point (F32, F16, BF16): dots take F32 activations
  kDTypeActivation = 1u << 1,   // activations of other types' dots are quantized to this type
  kDTypeScaleSearch = 1u << 2,  // quantize searches for error-minimising scales: too slow per token
};

struct DTypeTraits {
  DType type;
  DequantizeRowFn dequantize_row;  // nullptr: no reference math for this type (then all are)
  QuantizeRowFn quantize_row;      // nullptr: no quantizer
  DType dot_type;                  // what dot_row's activations are (meaningless without dot_row)
  DotRowFn dot_row;                // nullptr: no quantized dot (use dot_row_float)
  DotRowFloatFn dot_row_float;     // set whenever dequantize_row is
  uint32_t flags;                  // DTypeFlag bits

  const DTypeLayout& layout() const { return Layout(type); }
  bool Has(DTypeFlag flag) const { return (flags & flag) != 0; }
};

// One row per entry of kDTypeLayouts, in the same (id) order.
std::span<const DTypeTraits> AllDTypeTraits();
// Throws moefit::Error for a value that is not a GGUF type id.
const DTypeTraits& Traits(DType type);

// False (never a throw) for unknown ids and for types without that reference function.
bool CanDequantize(DType type);
bool CanQuantize(DType type);
bool CanDot(DType weight_type);  // has a quantized dot (DotRow)

// Checked entry points: throw moefit::Error naming the type when it lacks the function, or when
// `elements` is negative or not a multiple of the type's block size.
// src (elements of type) -> dst (elements floats)
void DequantizeRow(DType type, const void* src, float* dst, int64_t elements);
// src (elements floats) -> dst (RowBytes(type, elements) bytes)
void QuantizeRow(DType type, const float* src, void* dst, int64_t elements);
// weights (elements of weight_type) . activations (elements of Traits(weight_type).dot_type)
float DotRow(DType weight_type, const void* weights, const void* activations, int64_t elements);
// weights (elements of weight_type) . x (elements floats)
float DotRowFloat(DType weight_type, const void* weights, const float* x, int64_t elements);

}  // namespace moefit
