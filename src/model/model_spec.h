// SPDX-License-Identifier: MIT
// ModelSpec: the hyper-parameters and feature flags the one forward pass is driven by.
#pragma once

#include <cstdint>
#include <string>

namespace moefit {

enum class RopeStyle { kNorm, kNeox };        // rotate consecutive pairs | the two halves of a head
enum class QkNorm { kNone, kPerHead, kFull };  // RMS-norm of Q and K: none | per head | whole projection
enum class Gating { kSoftmax, kSigmoid };      // router probabilities
enum class AttentionKind { kGqa, kMla };
enum class RopeScaling { kNone, kLinear, kYarn };

struct RopeSpec {
  RopeStyle style = RopeStyle::kNeox;
  int dims = 0;  // rotated dimensions of each head (may be < head_dim)
  float base = 10000.0f;
  RopeScaling scaling = RopeScaling::kNone;
  float freq_scale = 1.0f;  // 1 / scaling factor
  int original_context = 0;
  // YaRN, as the reference implementation parameterises it.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
};

struct ModelSpec {
  std::string architecture;
  int n_layers = 0;
  int model_dim = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;        // key/query head size
  int value_head_dim = 0;  // value head size
  int vocab_size = 0;
  int context_length = 0;
  float rms_eps = 1e-6f;
  RopeSpec rope;

  // Feed-forward: dense layers use ffn_dim; MoE layers n_experts of expert_ffn_dim, of which
  // n_active_experts per token, plus shared experts.
  int ffn_dim = 0;
  int n_experts = 0;
  int n_active_experts = 0;
  int expert_ffn_dim = 0;
  int n_shared_experts = 0;
  int shared_expert_ffn_dim = 0;
  int leading_dense_layers = 0;  // the first layers are dense even in an MoE model

  // Flags (from the architecture descriptor, overridden by metadata where the file says).
  QkNorm qk_norm = QkNorm::kNone;
  bool qkv_bias = false;
  Gating gating = Gating::kSoftmax;
  bool norm_topk = false;          // renormalise the chosen experts' weights to sum 1
  bool shared_expert_gate = false;  // shared expert output scaled by sigmoid(gate . x)
  AttentionKind attention = AttentionKind::kGqa;
  bool tied_output = false;  // no output.weight: the embedding matrix is the LM head

  bool is_moe() const { return n_experts > 0; }
  bool LayerIsMoe(int layer) const { return is_moe() && layer >= leading_dense_layers; }
};

}  // namespace moefit
