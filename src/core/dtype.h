// SPDX-License-Identifier: MIT
// Element types by their GGUF type ids, and how their bytes are laid out (block size, bytes).
// The reference math for each type lives in quant/ (quant/dtype_traits.h), keyed by this enum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace moefit {

// Values are the GGUF / ggml type ids; gaps are ids the format retired.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

inline constexpr uint32_t kDTypeIdLimit = 40;  // one past the largest GGUF type id

struct DTypeLayout {
  DType type;
  std::string_view name;    // as the reference tools print it: "Q4_K", "F16", ...
  int64_t block_elements;   // elements per block (1 for plain types)
  int64_t block_bytes;      // bytes per block
  bool quantized;           // block-quantized (as opposed to a plain number type)
};

// Every type id of the GGUF specification, in id order.
inline constexpr DTypeLayout kDTypeLayouts[] = {
    {DType::kF32, "F32", 1, 4, false},         {DType::kF16, "F16", 1, 2, false},
    {DType::kQ4_0, "Q4_0", 32, 18, true},      {DType::kQ4_1, "Q4_1", 32, 20, true},
    {DType::kQ5_0, "Q5_0", 32, 22, true},      {DType::kQ5_1, "Q5_1", 32, 24, true},
    {DType::kQ8_0, "Q8_0", 32, 34, true},      {DType::kQ8_1, "Q8_1", 32, 36, true},
    {DType::kQ2_K, "Q2_K", 256, 84, true},     {DType::kQ3_K, "Q3_K", 256, 110, true},
    {DType::kQ4_K, "Q4_K", 256, 144, true},    {DType::kQ5_K, "Q5_K", 256, 176, true},
    {DType::kQ6_K, "Q6_K", 256, 210, true},    {DType::kQ8_K, "Q8_K", 256, 292, true},
    {DType::kIQ2_XXS, "IQ2_XXS", 256, 66, true}, {DType::kIQ2_XS, "IQ2_XS", 256, 74, true},
    {DType::kIQ3_XXS, "IQ3_XXS", 256, 98, true}, {DType::kIQ1_S, "IQ1_S", 256, 50, true},
    {DType::kIQ4_NL, "IQ4_NL", 32, 18, true},  {DType::kIQ3_S, "IQ3_S", 256, 110, true},
    {DType::kIQ2_S, "IQ2_S", 256, 82, true},   {DType::kIQ4_XS, "IQ4_XS", 256, 136, true},
    {DType::kI8, "I8", 1, 1, false},           {DType::kI16, "I16", 1, 2, false},
    {DType::kI32, "I32", 1, 4, false},         {DType::kI64, "I64", 1, 8, false},
    {DType::kF64, "F64", 1, 8, false},         {DType::kIQ1_M, "IQ1_M", 256, 56, true},
    {DType::kBF16, "BF16", 1, 2, false},       {DType::kTQ1_0, "TQ1_0", 256, 54, true},
    {DType::kTQ2_0, "TQ2_0", 256, 66, true},   {DType::kMXFP4, "MXFP4", 32, 17, true},
};

// The layout of a type id, or nullopt for ids the specification does not define.
std::optional<DTypeLayout> FindDTypeLayout(uint32_t gguf_id);
const DTypeLayout& Layout(DType type);
std::string_view DTypeName(DType type);
// Parses a type name, case-insensitive ("q4_k", "F16").
std::optional<DType> ParseDType(std::string_view name);

// Bytes of a row of `elements` elements; the caller guarantees elements % block_elements == 0.
inline int64_t RowBytes(const DTypeLayout& layout, int64_t elements) {
  return elements / layout.block_elements * layout.block_bytes;
}
int64_t RowBytes(DType type, int64_t elements);

}  // namespace moefit
