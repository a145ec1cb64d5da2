// SPDX-License-Identifier: MIT
// Tensor roles from GGUF tensor names.
#include "model/tensor_role.h"

#include <charconv>

namespace moefit {
namespace {

bool Contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

std::string_view TensorRoleName(TensorRole role) {
  switch (role) {
    case TensorRole::kEmbedding: return "embeddings";
    case TensorRole::kAttention: return "attention";
    case TensorRole::kNorm: return "norms";
    case TensorRole::kRouter: return "router";
    case TensorRole::kSharedExperts: return "shared experts";
    case TensorRole::kRoutedExperts: return "routed experts";
    case TensorRole::kDenseFfn: return "dense ffn";
    case TensorRole::kOutput: return "output";
    case TensorRole::kOther: return "other";
  }
  return "other";
}

TensorRole ClassifyTensor(std::string_view name) {
  if (name.starts_with("token_embd")) return Contains(name, "norm") ? TensorRole::kNorm : TensorRole::kEmbedding;
  if (name.starts_with("output_norm")) return TensorRole::kNorm;
  if (name.starts_with("output.") || name == "output") return TensorRole::kOutput;
  if (!name.starts_with("blk.")) return TensorRole::kOther;
  if (Contains(name, "_norm")) return TensorRole::kNorm;
  if (Contains(name, "_exps")) return TensorRole::kRoutedExperts;
  if (Contains(name, "_shexp")) return TensorRole::kSharedExperts;  // includes ffn_gate_inp_shexp
  if (Contains(name, "ffn_gate_inp") || Contains(name, "exp_probs_b")) return TensorRole::kRouter;
  if (Contains(name, ".attn_")) return TensorRole::kAttention;
  if (Contains(name, ".ffn_")) return TensorRole::kDenseFfn;
  return TensorRole::kOther;
}

std::optional<int> TensorLayer(std::string_view name) {
  if (!name.starts_with("blk.")) return std::nullopt;
  const std::string_view rest = name.substr(4);
  int layer = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  if (error != std::errc() || end == rest.data()) return std::nullopt;
  return layer;
}

}  // namespace moefit
