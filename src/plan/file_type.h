// SPDX-License-Identifier: MIT
// GGUF file types (q4_k_m, q8_0, ...) and which tensor gets which block type in such a file, as
// the reference quantizer assigns them, so a model can be sized before it is downloaded.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "plan/model_inventory.h"

namespace moefit {

enum class FileType {
  kF32, kF16, kBF16, kQ8_0, kQ6_K, kQ5_K_M, kQ5_K_S, kQ5_0, kQ4_K_M, kQ4_K_S, kQ4_0, kIQ4_XS,
  kMXFP4, kQ3_K_L, kQ3_K_M, kQ3_K_S, kQ2_K,
};

struct FileTypeInfo {
  FileType type;
  std::string_view name;     // as typed: "q4_k_m"
  std::string_view display;  // as files name it: "Q4_K_M"
  int64_t gguf_id;           // general.file_type
  DType base;                // the type of most tensors
  double typical_bits;       // effective bits per weight of a typical 7B-class file (for listings)
};

// Largest first.
std::span<const FileTypeInfo> FileTypes();
const FileTypeInfo& Info(FileType type);
std::optional<FileType> ParseFileType(std::string_view name);  // "q4_k_m", "Q4_K_M"
std::optional<FileType> FileTypeFromGgufId(int64_t id);

// True for tensors a quantizer converts: weights of two or more dimensions, except the router
// (kept in F32 by the converter and the quantizer).
bool IsQuantizable(const TensorEntry& tensor);

// Gives every quantizable tensor the type a `type` file gives it, and updates its bytes:
// output head Q6_K, more bits for attn_v / ffn_down in the layers the reference quantizer
// favours (the first and last eighth and every third between), Q8_0 attn_k / attn_v for
// 8-expert models, fallbacks for rows that do not fill 256-element blocks. Routed experts
// already in MXFP4 (gpt-oss) stay MXFP4, as published files keep them.
void ApplyFileType(FileType type, const ModelShape& shape, std::vector<TensorEntry>& tensors);

}  // namespace moefit
