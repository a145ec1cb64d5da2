// SPDX-License-Identifier: MIT
// Model: the spec read from GGUF metadata and views of every weight, shapes checked against it.
// Matrices stay where the file maps them (quantized); 1-D vectors (norms, biases) are copied to
// float because every op reads them as float.
#pragma once

#include <deque>
#include <vector>

#include "core/tensor_view.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"

namespace moefit {

// A 1-D float vector owned by the Model (norm weights, biases).
struct FloatVector {
  const float* data = nullptr;
  int64_t size = 0;
  explicit operator bool() const { return data != nullptr; }
};

struct LayerWeights {
  FloatVector attn_norm;  // (model_dim)
  TensorView attn_q;      // (n_heads * head_dim, model_dim)
  TensorView attn_k;      // (n_kv_heads * head_dim, model_dim)
  TensorView attn_v;      // (n_kv_heads * value_head_dim, model_dim)
  TensorView attn_output; // (model_dim, n_heads * value_head_dim)
  FloatVector attn_q_bias, attn_k_bias, attn_v_bias;  // optional, sizes as the rows above
  FloatVector attn_q_norm, attn_k_norm;  // (head_dim) per head, or the whole projection (QkNorm)
  FloatVector ffn_norm;                  // (model_dim)
  // Dense feed-forward.
  TensorView ffn_gate, ffn_up;  // (ffn_dim, model_dim)
  TensorView ffn_down;          // (model_dim, ffn_dim)
  // Mixture of experts.
  TensorView ffn_gate_inp;                 // router (n_experts, model_dim)
  TensorView ffn_gate_exps, ffn_up_exps;   // (n_experts, expert_ffn_dim, model_dim)
  TensorView ffn_down_exps;                // (n_experts, model_dim, expert_ffn_dim)
  TensorView ffn_gate_shexp, ffn_up_shexp; // (shared_ffn_dim, model_dim)
  TensorView ffn_down_shexp;               // (model_dim, shared_ffn_dim)
  FloatVector ffn_gate_inp_shexp;          // (model_dim): sigmoid gate of the shared expert
};

struct ModelWeights {
  TensorView token_embd;  // (vocab_size, model_dim)
  FloatVector output_norm;
  TensorView output;  // (vocab_size, model_dim); token_embd when tied
  std::vector<LayerWeights> layers;
};

// Reads the hyper-parameters; throws naming the key that is missing or wrong.
ModelSpec ReadModelSpec(const GgufFile& file);

class Model {
 public:
  // Binds views into `file`, which must outlive the Model.
  static Model Load(const GgufFile& file);

  const ModelSpec& spec() const { return spec_; }
  const ModelWeights& weights() const { return weights_; }

 private:
  FloatVector CopyVector(const GgufTensorInfo& tensor);

  ModelSpec spec_;
  ModelWeights weights_;
  std::deque<std::vector<float>> vector_storage_;  // stable addresses
};

}  // namespace moefit
