// SPDX-License-Identifier: MIT
// The DType traits table (one row per GGUF type id) and its checked entry points.
#include "quant/dtype_traits.h"

#include <array>

#include "core/error.h"
#include "quant/float_types.h"
#include "quant/iq4.h"
#include "quant/k_quants.h"
#include "quant/legacy.h"
#include "quant/mxfp4.h"

namespace moefit {
namespace {

constexpr const DTypeLayout& LayoutOf(DType type) {
  for (const DTypeLayout& layout : kDTypeLayouts)
    if (layout.type == type) return layout;
  return kDTypeLayouts[0];
}

// Dot against float activations for a block type: dequantize 256 elements at a time, multiply
// in float, sum in double.
template <DType kType, DequantizeRowFn kDequantize>
float DotRowFloatViaDequantize(const void* weights, const float* x, int64_t elements) {
  constexpr int64_t kChunk = 256;  // a multiple of every block size
  constexpr int64_t kChunkBytes = kChunk / LayoutOf(kType).block_elements * LayoutOf(kType).block_bytes;
  static_assert(kChunk % LayoutOf(kType).block_elements == 0);
  const auto* bytes = static_cast<const uint8_t*>(weights);
  float values[kChunk];
  double sum = 0;
  for (int64_t start = 0; start < elements; start += kChunk) {
    const int64_t count = elements - start < kChunk ? elements - start : kChunk;
    kDequantize(bytes + start / kChunk * kChunkBytes, values, count);
    for (int64_t i = 0; i < count; ++i) sum += values[i] * x[start + i];
  }
  return static_cast<float>(sum);
}

template <DotRowFn kDot>
float DotRowFloatDirect(const void* weights, const float* x, int64_t elements) {
  return kDot(weights, x, elements);
}

// A row for a type with no reference math.
constexpr DTypeTraits NoMath(DType type) {
  return {.type = type, .dequantize_row = nullptr, .quantize_row = nullptr, .dot_type = type,
          .dot_row = nullptr, .dot_row_float = nullptr, .flags = 0};
}

// A float type: dots take F32 activations.
template <DType kType, DequantizeRowFn kDequantize, QuantizeRowFn kQuantize, DotRowFn kDot>
constexpr DTypeTraits FloatRow(uint32_t extra_flags) {
  return {.type = kType, .dequantize_row = kDequantize, .quantize_row = kQuantize, .dot_type = DType::kF32,
          .dot_row = kDot, .dot_row_float = DotRowFloatDirect<kDot>, .flags = kDTypeFloat | extra_flags};
}

// A block type: dot_row_float goes through dequantization.
template <DType kType, DequantizeRowFn kDequantize, QuantizeRowFn kQuantize, DType kDotType, DotRowFn kDot>
constexpr DTypeTraits BlockRow(uint32_t flags) {
  return {.type = kType, .dequantize_row = kDequantize, .quantize_row = kQuantize, .dot_type = kDotType,
          .dot_row = kDot, .dot_row_float = DotRowFloatViaDequantize<kType, kDequantize>, .flags = flags};
}

using enum DType;

// Ids in the order of kDTypeLayouts. Activation pairings follow the reference: Q8_0 for the
// symmetric 32-blocks, Q8_1 for those with an offset (Q4_1, Q5_1), Q8_K for 256-blocks.
constexpr DTypeTraits kDTypes[] = {
    FloatRow<kF32, DequantizeRowF32, QuantizeRowF32, DotRowF32>(kDTypeActivation),
    FloatRow<kF16, DequantizeRowF16, QuantizeRowF16, DotRowF16>(0),
    BlockRow<kQ4_0, DequantizeRowQ4_0, QuantizeRowQ4_0, kQ8_0, DotRowQ4_0>(0),
    BlockRow<kQ4_1, DequantizeRowQ4_1, QuantizeRowQ4_1, kQ8_1, DotRowQ4_1>(0),
    BlockRow<kQ5_0, DequantizeRowQ5_0, QuantizeRowQ5_0, kQ8_0, DotRowQ5_0>(0),
    BlockRow<kQ5_1, DequantizeRowQ5_1, QuantizeRowQ5_1, kQ8_1, DotRowQ5_1>(0),
    BlockRow<kQ8_0, DequantizeRowQ8_0, QuantizeRowQ8_0, kQ8_0, DotRowQ8_0>(kDTypeActivation),
    BlockRow<kQ8_1, DequantizeRowQ8_1, QuantizeRowQ8_1, kQ8_1, nullptr>(kDTypeActivation),
    BlockRow<kQ2_K, DequantizeRowQ2_K, QuantizeRowQ2_K, kQ8_K, DotRowQ2_K>(kDTypeScaleSearch),
    BlockRow<kQ3_K, DequantizeRowQ3_K, QuantizeRowQ3_K, kQ8_K, DotRowQ3_K>(kDTypeScaleSearch),
    BlockRow<kQ4_K, DequantizeRowQ4_K, QuantizeRowQ4_K, kQ8_K, DotRowQ4_K>(kDTypeScaleSearch),
    BlockRow<kQ5_K, DequantizeRowQ5_K, QuantizeRowQ5_K, kQ8_K, DotRowQ5_K>(kDTypeScaleSearch),
    BlockRow<kQ6_K, DequantizeRowQ6_K, QuantizeRowQ6_K, kQ8_K, DotRowQ6_K>(kDTypeScaleSearch),
    BlockRow<kQ8_K, DequantizeRowQ8_K, QuantizeRowQ8_K, kQ8_K, DotRowQ8_K>(kDTypeActivation),
    NoMath(kIQ2_XXS),
    NoMath(kIQ2_XS),
    NoMath(kIQ3_XXS),
    NoMath(kIQ1_S),
    BlockRow<kIQ4_NL, DequantizeRowIQ4_NL, QuantizeRowIQ4_NL, kQ8_0, DotRowIQ4_NL>(kDTypeScaleSearch),
    NoMath(kIQ3_S),
    NoMath(kIQ2_S),
    BlockRow<kIQ4_XS, DequantizeRowIQ4_XS, QuantizeRowIQ4_XS, kQ8_K, DotRowIQ4_XS>(kDTypeScaleSearch),
    NoMath(kI8),
    NoMath(kI16),
    NoMath(kI32),
    NoMath(kI64),
    NoMath(kF64),
    NoMath(kIQ1_M),
    FloatRow<kBF16, DequantizeRowBF16, QuantizeRowBF16, DotRowBF16>(0),
    NoMath(kTQ1_0),
    NoMath(kTQ2_0),
    BlockRow<kMXFP4, DequantizeRowMXFP4, QuantizeRowMXFP4, kQ8_0, DotRowMXFP4>(0),
};

constexpr bool TableMatchesLayouts() {
  if (std::size(kDTypes) != std::size(kDTypeLayouts)) return false;
  for (size_t i = 0; i < std::size(kDTypes); ++i) {
    const DTypeTraits& row = kDTypes[i];
    if (row.type != kDTypeLayouts[i].type) return false;
    // All or nothing: a type with reference math dequantizes and dots against float.
    if ((row.dequantize_row == nullptr) != (row.dot_row_float == nullptr)) return false;
    if (row.dequantize_row == nullptr && (row.quantize_row != nullptr || row.dot_row != nullptr)) return false;
  }
  return true;
}
// (Not under the sanitizers: GCC 12 with UBSan no longer takes a function pointer's comparison
// with nullptr as a constant. The ordinary build checks both tables.)
#ifndef MOEFIT_SANITIZE_BUILD
static_assert(TableMatchesLayouts(), "kDTypes needs one row per kDTypeLayouts entry, in the same order");
#endif

constexpr bool DotTypesQuantize() {
  for (const DTypeTraits& row : kDTypes) {
    if (row.dot_row == nullptr) continue;
    if (LayoutOf(row.type).block_elements % LayoutOf(row.dot_type).block_elements != 0) return false;
    for (const DTypeTraits& other : kDTypes)
      if (other.type == row.dot_type && (other.quantize_row == nullptr || !(other.flags & kDTypeActivation)))
        return false;
  }
  return true;
}
#ifndef MOEFIT_SANITIZE_BUILD
static_assert(DotTypesQuantize(), "every dot's activation type must be a quantizable activation type");
#endif

struct TraitsIndex {
  std::array<const DTypeTraits*, kDTypeIdLimit> by_id{};
  constexpr TraitsIndex() {
    for (const DTypeTraits& row : kDTypes) by_id[static_cast<uint32_t>(row.type)] = &row;
  }
};
constexpr TraitsIndex kIndex;

const DTypeTraits* FindTraits(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  return id < kDTypeIdLimit ? kIndex.by_id[id] : nullptr;
}

const DTypeTraits& CheckedTraits(DType type, int64_t elements) {
  const DTypeTraits& traits = Traits(type);
  const int64_t block = traits.layout().block_elements;
  if (elements < 0 || elements % block != 0)
    Fail("a row of {} must hold a multiple of {} elements, not {}", traits.layout().name, block, elements);
  return traits;
}

}  // namespace

std::span<const DTypeTraits> AllDTypeTraits() { return kDTypes; }

const DTypeTraits& Traits(DType type) {
  const DTypeTraits* traits = FindTraits(type);
  if (traits == nullptr) Fail("unknown tensor type id {}", static_cast<uint32_t>(type));
  return *traits;
}

bool CanDequantize(DType type) {
  const DTypeTraits* traits = FindTraits(type);
  return traits != nullptr && traits->dequantize_row != nullptr;
}

bool CanQuantize(DType type) {
  const DTypeTraits* traits = FindTraits(type);
  return traits != nullptr && traits->quantize_row != nullptr;
}

bool CanDot(DType weight_type) {
  const DTypeTraits* traits = FindTraits(weight_type);
  return traits != nullptr && traits->dot_row != nullptr;
}

void DequantizeRow(DType type, const void* src, float* dst, int64_t elements) {
  const DTypeTraits& traits = CheckedTraits(type, elements);
  if (traits.dequantize_row == nullptr) Fail("no reference dequantization for tensor type {}", traits.layout().name);
  traits.dequantize_row(src, dst, elements);
}

void QuantizeRow(DType type, const float* src, void* dst, int64_t elements) {
  const DTypeTraits& traits = CheckedTraits(type, elements);
  if (traits.quantize_row == nullptr) Fail("no reference quantization to tensor type {}", traits.layout().name);
  traits.quantize_row(src, dst, elements);
}

float DotRow(DType weight_type, const void* weights, const void* activations, int64_t elements) {
  const DTypeTraits& traits = CheckedTraits(weight_type, elements);
  if (traits.dot_row == nullptr) Fail("no reference quantized dot product for tensor type {}", traits.layout().name);
  return traits.dot_row(weights, activations, elements);
}

float DotRowFloat(DType weight_type, const void* weights, const float* x, int64_t elements) {
  const DTypeTraits& traits = CheckedTraits(weight_type, elements);
  if (traits.dot_row_float == nullptr) Fail("no reference dot product for tensor type {}", traits.layout().name);
  return traits.dot_row_float(weights, x, elements);
}

}  // namespace moefit
