// SPDX-License-Identifier: MIT
// The forward pass, written once for every architecture and driven by ModelSpec flags: a batch
// of tokens from one or more sequences at any positions, K/V written to and read from the cache
// cells the runtime assigns, logits only for the tokens asked for.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/ops.h"
#include "model/model.h"

namespace moefit {

// Per-layer K and V storage (F16), each (cells, n_kv_heads * head_dim or value_head_dim).
struct KvLayerView {
  uint16_t* k = nullptr;
  uint16_t* v = nullptr;
};

struct ForwardBatch {
  std::span<const int32_t> tokens;     // (n_tokens)
  std::span<const int32_t> positions;  // (n_tokens) position of each token in its sequence
  std::span<const int32_t> cells;      // (n_tokens) cache cell where each token's K/V goes
  // (n_tokens) cache cells each token attends to: its sequence's cells up to its own position,
  // its own cell included (written earlier in the same pass).
  std::span<const std::span<const int32_t>> attend;
  std::span<const int32_t> logit_tokens;  // indices into the batch whose logits are wanted
};

// Activation buffers, grown to the largest batch seen and then reused.
struct ForwardScratch {
  std::vector<float> residual, normed, q, k, v, attention, projected, ffn_out;
  std::vector<float> router, gate, up, expert_in, expert_out, scores, shared_gate;
  std::vector<int32_t> chosen;
  std::vector<float> chosen_weight;
  std::vector<std::vector<std::pair<int32_t, float>>> expert_tokens;  // per expert: (token, weight)
};

// logits: (logit_tokens.size(), vocab_size), row-major.
void Forward(const Model& model, const ForwardBatch& batch, std::span<const KvLayerView> kv, MatMulPath path,
             ForwardScratch& scratch, float* logits);

}  // namespace moefit
