// SPDX-License-Identifier: MIT
// File types and the reference quantizer's per-tensor type choices (K-quant mixes), roughly:
// the rules that move bytes by more than a rounding error are here; imatrix-only rules are not.
#include "plan/file_type.h"

#include <cctype>

#include "core/error.h"

namespace moefit {
namespace {

constexpr FileTypeInfo kFileTypes[] = {
    {FileType::kF32, "f32", "F32", 0, DType::kF32, 32.0},
    {FileType::kF16, "f16", "F16", 1, DType::kF16, 16.0},
    {FileType::kBF16, "bf16", "BF16", 32, DType::kBF16, 16.0},
    {FileType::kQ8_0, "q8_0", "Q8_0", 7, DType::kQ8_0, 8.50},
    {FileType::kQ6_K, "q6_k", "Q6_K", 18, DType::kQ6_K, 6.56},
    {FileType::kQ5_K_M, "q5_k_m", "Q5_K_M", 17, DType::kQ5_K, 5.70},
    {FileType::kQ5_K_S, "q5_k_s", "Q5_K_S", 16, DType::kQ5_K, 5.54},
    {FileType::kQ5_0, "q5_0", "Q5_0", 8, DType::kQ5_0, 5.54},
    {FileType::kQ4_K_M, "q4_k_m", "Q4_K_M", 15, DType::kQ4_K, 4.85},
    {FileType::kQ4_K_S, "q4_k_s", "Q4_K_S", 14, DType::kQ4_K, 4.58},
    {FileType::kQ4_0, "q4_0", "Q4_0", 2, DType::kQ4_0, 4.55},
    {FileType::kIQ4_XS, "iq4_xs", "IQ4_XS", 30, DType::kIQ4_XS, 4.46},
    {FileType::kMXFP4, "mxfp4", "MXFP4_MOE", 38, DType::kMXFP4, 4.25},
    {FileType::kQ3_K_L, "q3_k_l", "Q3_K_L", 13, DType::kQ3_K, 4.27},
    {FileType::kQ3_K_M, "q3_k_m", "Q3_K_M", 12, DType::kQ3_K, 3.91},
    {FileType::kQ3_K_S, "q3_k_s", "Q3_K_S", 11, DType::kQ3_K, 3.50},
    {FileType::kQ2_K, "q2_k", "Q2_K", 10, DType::kQ2_K, 3.35},
};

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool Contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The reference quantizer's favoured layers for extra bits.
bool UseMoreBits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

bool FitsBlocks(DType type, int64_t row) { return row % Layout(type).block_elements == 0; }

// What the reference quantizer substitutes when a row does not fill 256-element blocks.
DType Fallback(DType type, int64_t row) {
  if (FitsBlocks(type, row)) return type;
  DType fallback = DType::kF16;
  switch (type) {
    case DType::kQ2_K: case DType::kQ3_K: case DType::kIQ4_XS: fallback = DType::kIQ4_NL; break;
    case DType::kQ4_K: fallback = DType::kQ5_0; break;
    case DType::kQ5_K: fallback = DType::kQ5_1; break;
    case DType::kQ6_K: fallback = DType::kQ8_0; break;
    default: break;
  }
  return FitsBlocks(fallback, row) ? fallback : DType::kF16;
}

struct MixContext {
  FileType file_type;
  DType base;
  int64_t n_blocks;     // every block of the file, as the quantizer counts layers
  int64_t n_experts;
  int64_t n_gqa;        // query heads per KV head
  int64_t n_attention_v;  // attn_v tensors in the file
  bool has_output;
};

bool Is(const MixContext& mix, std::initializer_list<FileType> types) {
  for (const FileType type : types)
    if (mix.file_type == type) return true;
  return false;
}

// The type of one quantizable tensor in a K-quant or legacy-quant file.
DType ChooseType(const MixContext& mix, const TensorEntry& tensor) {
  using F = FileType;
  const std::string& name = tensor.name;
  const int64_t layer = tensor.layer < 0 ? 0 : tensor.layer;
  if (name == "output.weight" || (!mix.has_output && name == "token_embd.weight"))
    return tensor.dims[0] % 256 != 0 ? DType::kQ8_0 : (mix.base == DType::kQ8_0 ? DType::kQ8_0 : DType::kQ6_K);
  if (name == "token_embd.weight") return mix.base;
  if (Contains(name, "attn_v.weight")) {
    DType type = mix.base;
    const int64_t i = layer, n = mix.n_attention_v;  // the quantizer counts attn_v tensors: one per layer
    if (Is(mix, {F::kQ2_K})) type = mix.n_gqa >= 4 || mix.n_experts >= 4 ? DType::kQ4_K : DType::kQ3_K;
    else if (Is(mix, {F::kQ3_K_M})) type = i < 2 ? DType::kQ5_K : DType::kQ4_K;
    else if (Is(mix, {F::kQ3_K_L})) type = DType::kQ5_K;
    else if (Is(mix, {F::kIQ4_XS}) && mix.n_gqa >= 4) type = DType::kQ5_K;
    else if (Is(mix, {F::kQ4_K_M, F::kQ5_K_M}) && UseMoreBits(i, n)) type = DType::kQ6_K;
    else if (Is(mix, {F::kQ4_K_S}) && i < 4) type = DType::kQ5_K;
    if (mix.n_experts == 8) type = DType::kQ8_0;  // 8-expert models: a cheap bump
    return type;
  }
  if (Contains(name, "attn_k.weight")) return mix.n_experts == 8 ? DType::kQ8_0 : mix.base;
  if (Contains(name, "ffn_down")) {
    const int64_t n = mix.n_blocks;
    if (Is(mix, {F::kQ2_K})) return DType::kQ3_K;
    if (Is(mix, {F::kQ3_K_M})) return layer < n / 16 ? DType::kQ5_K : DType::kQ4_K;
    if (Is(mix, {F::kQ3_K_L})) return DType::kQ5_K;
    if (Is(mix, {F::kQ4_K_M, F::kQ5_K_M}) && UseMoreBits(layer, n)) return DType::kQ6_K;
    if (Is(mix, {F::kQ4_K_S, F::kIQ4_XS}) && layer < n / 8) return DType::kQ5_K;
    return mix.base;
  }
  if (Contains(name, "attn_output.weight")) {
    if (mix.n_experts == 8)
      return Is(mix, {F::kQ2_K, F::kQ3_K_S, F::kQ3_K_M, F::kQ4_K_S, F::kQ4_K_M, F::kIQ4_XS}) ? DType::kQ5_K : mix.base;
    if (Is(mix, {F::kQ2_K})) return DType::kQ3_K;
    if (Is(mix, {F::kQ3_K_M})) return DType::kQ4_K;
    if (Is(mix, {F::kQ3_K_L})) return DType::kQ5_K;
    return mix.base;
  }
  if (Contains(name, "attn_qkv.weight")) {
    if (Is(mix, {F::kQ3_K_M, F::kQ3_K_L})) return DType::kQ4_K;
    if (Is(mix, {F::kQ4_K_M})) return DType::kQ5_K;
    if (Is(mix, {F::kQ5_K_M})) return DType::kQ6_K;
  }
  return mix.base;
}

}  // namespace

std::span<const FileTypeInfo> FileTypes() { return kFileTypes; }

const FileTypeInfo& Info(FileType type) {
  for (const FileTypeInfo& info : kFileTypes)
    if (info.type == type) return info;
  MOEFIT_CHECK(false);
}

std::optional<FileType> ParseFileType(std::string_view name) {
  for (const FileTypeInfo& info : kFileTypes)
    if (EqualsIgnoringCase(info.name, name) || EqualsIgnoringCase(info.display, name)) return info.type;
  return std::nullopt;
}

std::optional<FileType> FileTypeFromGgufId(int64_t id) {
  for (const FileTypeInfo& info : kFileTypes)
    if (info.gguf_id == id) return info.type;
  return std::nullopt;
}

bool IsQuantizable(const TensorEntry& tensor) {
  return tensor.dims.size() >= 2 && tensor.name.ends_with(".weight") && !Contains(tensor.name, "ffn_gate_inp.weight") &&
         tensor.role != TensorRole::kNorm;
}

void ApplyFileType(FileType type, const ModelShape& shape, std::vector<TensorEntry>& tensors) {
  const FileTypeInfo& info = Info(type);
  MixContext mix{.file_type = type,
                 .base = info.base,
                 .n_blocks = shape.n_layers + shape.n_unused_layers,
                 .n_experts = shape.n_experts,
                 .n_gqa = shape.n_kv_heads > 0 ? shape.n_heads / shape.n_kv_heads : 1,
                 .n_attention_v = 0,
                 .has_output = false};
  for (const TensorEntry& tensor : tensors) {
    if (Contains(tensor.name, "attn_v.weight")) ++mix.n_attention_v;
    if (tensor.name == "output.weight") mix.has_output = true;
  }
  const bool plain = type == FileType::kF32 || type == FileType::kF16 || type == FileType::kBF16;
  for (TensorEntry& tensor : tensors) {
    if (!IsQuantizable(tensor)) continue;
    const bool routed = tensor.role == TensorRole::kRoutedExperts;
    DType chosen = info.base;
    if (routed && tensor.type == DType::kMXFP4) {
      chosen = DType::kMXFP4;  // trained in MXFP4: published files keep it
    } else if (plain) {
      chosen = info.base;
    } else if (type == FileType::kMXFP4) {
      chosen = routed && tensor.dims.size() == 3 ? DType::kMXFP4 : DType::kQ8_0;
    } else {
      chosen = ChooseType(mix, tensor);
    }
    tensor.type = Fallback(chosen, tensor.dims[0]);
    tensor.bytes = TensorBytes(tensor.type, tensor.dims);
  }
}

}  // namespace moefit
