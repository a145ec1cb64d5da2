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

// Per-layer K and V storage in the cache's type (kernels/ops.h IsKvType): one row per cell,
// K (cells, n_kv_heads * head_dim) and V (cells, n_kv_heads * value_head_dim).
struct KvLayerView {
  DType type = DType::kF16;
  // Head-major: K of KV head h at cell c at k + h * k_head_stride + c * k_row_bytes, each KV
  // head's cells side by side (attention streams one head's rows); V likewise.
  uint8_t* k = nullptr;
  uint8_t* v = nullptr;
  int64_t k_row_bytes = 0;    // RowBytes(type, head_dim): one cell of one KV head
  int64_t v_row_bytes = 0;    // RowBytes(type, value_head_dim)
  int64_t k_head_stride = 0;  // cells x k_row_bytes
  int64_t v_head_stride = 0;  // cells x v_row_bytes
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

// The three matrices of one routed expert of one layer.
struct ExpertMatrices {
  TensorView gate;  // (expert_ffn_dim, model_dim)
  TensorView up;    // (expert_ffn_dim, model_dim)
  TensorView down;  // (model_dim, expert_ffn_dim)
};

// Where the forward pass reads routed experts from: the model's own views by default, or a
// runtime store that streams them from disk into a bounded cache. Per MoE layer the forward
// pass routes the whole batch first, lets the source Order() the distinct experts chosen, then
// Acquire()s them in groups of at most Capacity(layer), computes a group and Release()s it
// before the next; each expert is acquired at most once per layer per batch.
class ExpertSource {
 public:
  virtual ~ExpertSource() = default;
  // How many experts of `layer` can be pinned at once (>= n_active_experts).
  virtual int64_t Capacity(int layer) const = 0;
  // Reorders the layer's distinct chosen experts (ascending on entry), e.g. cached ones first;
  // `uses[i]` is how many tokens chose experts[i] and moves with it.
  virtual void Order(int layer, std::span<int32_t> experts, std::span<int32_t> uses) {
    (void)layer, (void)experts, (void)uses;
  }
  // Pins `experts` of `layer` and writes their matrices to `out` (same length); the views stay
  // valid until Release(layer). `uses` as for Order.
  virtual void Acquire(int layer, std::span<const int32_t> experts, std::span<const int32_t> uses,
                       std::span<ExpertMatrices> out) = 0;
  virtual void Release(int layer) = 0;
};

// The default source: the experts' matrices in the layer weights, all pinned all the time.
class WeightsExpertSource final : public ExpertSource {
 public:
  explicit WeightsExpertSource(std::span<const LayerWeights> layers) : layers_(layers) {}
  int64_t Capacity(int layer) const override;
  void Acquire(int layer, std::span<const int32_t> experts, std::span<const int32_t> uses,
               std::span<ExpertMatrices> out) override;
  void Release(int) override {}

 private:
  std::span<const LayerWeights> layers_;
};

// Activation buffers. Reserve() sizes them once for the largest batch; Forward never grows them
// past that (it may grow them, allocating, when no Reserve() was made).
struct ForwardScratch {
  // Rows the kernels read with full-width loads: 64-byte aligned (core/aligned_vector.h).
  AlignedVector<float> residual, normed, q, k, v, attention, projected, ffn_out;
  AlignedVector<float> rope;  // RoPE's angles per token (RopeAngleFloats each), for all layers
  AlignedVector<float> router, expert_out, shared_out;
  FfnScratch ffn;                 // SwiGluMany's buffers (quantized input, hidden rows)
  std::vector<FfnJob> ffn_jobs;   // one per expert of a round (+ the shared expert)
  // Routing of a batch (MoE layers), per (token, slot j < n_active): chosen expert and weight;
  // entries grouped by expert (expert_start[e] .. expert_start[e + 1]) with their (token, j).
  std::vector<int32_t> chosen, expert_start, entry_token, entry_of, experts, expert_uses, expert_fill;
  std::vector<float> chosen_weight;
  std::vector<ExpertMatrices> expert_matrices;
  // Attention: tiles of queries (first token of each, then n) and their lengths; one
  // workspace per thread (attention_threads of them, AttentionWorkspaceBytes each) inside
  // `gate`, which only the feed-forward uses.
  std::vector<int32_t> attention_tiles, attention_lengths;
  int attention_threads = 0;

  // Sizes every buffer for batches of up to `max_tokens` tokens, with attention workspaces for
  // the OpenMP threads of the moment (omp_get_max_threads(); attention never uses more).
  void Reserve(const ModelSpec& spec, int64_t max_tokens);
  // Bytes Reserve(spec, max_tokens) allocates (for the same thread count).
  static uint64_t Bytes(const ModelSpec& spec, int64_t max_tokens);
};

// Where forward passes spend their time, phase by phase (ForwardOptions::profile; off unless
// asked for). The matrix phases also count the weight bytes they read and their multiply-adds,
// so a benchmark can say how fast each one streamed (decode: GB/s) or computed (prefill: GOP/s).
// kAttention is everything between the q/k/v and output projections (biases, q/k norms, RoPE,
// KV writes, flash attention); kOther is the rest (embedding, norms, residual adds, routing,
// expert sums).
enum class ForwardPhase : int { kQkv, kAttention, kAttentionOutput, kRouter, kFeedForward, kOutput, kOther, kCount };
constexpr int kForwardPhases = static_cast<int>(ForwardPhase::kCount);
const char* ForwardPhaseName(ForwardPhase phase);

struct ForwardProfile {
  double seconds[kForwardPhases] = {};
  uint64_t weight_bytes[kForwardPhases] = {};   // bytes of the weight matrices read
  uint64_t multiply_adds[kForwardPhases] = {};  // rows x row length x tokens, summed
  int64_t passes = 0;                           // forward passes
  int64_t tokens = 0;                           // tokens of those passes
};

struct ForwardOptions {
  MatMulPath path = MatMulPath::kFast;
  ExpertSource* experts = nullptr;   // null: the weights' own expert views
  ForwardProfile* profile = nullptr;  // null: no timing (adds to it otherwise)
};

// logits: (logit_tokens.size(), vocab_size), row-major.
void Forward(const ModelSpec& spec, const ModelWeights& weights, const ForwardBatch& batch,
             std::span<const KvLayerView> kv, const ForwardOptions& options, ForwardScratch& scratch, float* logits);
// The same with the model's own weights.
void Forward(const Model& model, const ForwardBatch& batch, std::span<const KvLayerView> kv, MatMulPath path,
             ForwardScratch& scratch, float* logits);

}  // namespace moefit
