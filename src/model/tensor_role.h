// SPDX-License-Identifier: MIT
// What a tensor is for, from its GGUF name (the naming is shared by every architecture).
#pragma once

#include <optional>
#include <string_view>

namespace moefit {

enum class TensorRole {
  kEmbedding,      // token_embd
  kAttention,      // attn_q/k/v/output (+ biases), MLA projections
  kNorm,           // every *_norm
  kRouter,         // ffn_gate_inp (+ expert bias / correction)
  kSharedExperts,  // ffn_*_shexp and the shared-expert gate
  kRoutedExperts,  // ffn_*_exps: the 3-D expert tensors
  kDenseFfn,       // ffn_gate/up/down of dense layers
  kOutput,         // output (the LM head)
  kOther,
};
inline constexpr int kTensorRoleCount = 9;

std::string_view TensorRoleName(TensorRole role);
TensorRole ClassifyTensor(std::string_view name);
// The layer index of "blk.N.*" names, or nullopt.
std::optional<int> TensorLayer(std::string_view name);

}  // namespace moefit
