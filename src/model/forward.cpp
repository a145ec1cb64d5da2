// SPDX-License-Identifier: MIT
// Forward pass: embeddings, then per layer attention and a dense or MoE feed-forward, then the
// final norm and the LM head for the requested positions. Branches on spec flags, never names.
#include "model/forward.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "core/error.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

// Batches of at least this many tokens run their per-token work (norms, RoPE, KV writes,
// routing, expert sums) over the threads: at pp512 that work on one thread was ~5% of the time
// while the other waited. Each token's arithmetic is its own, so the bits never depend on it.
constexpr int64_t kParallelTokens = 16;

// body(t) for every token of the batch; over the threads for large batches.
template <typename Body>
void ForEachToken(int64_t n, Body body) {
#pragma omp parallel for schedule(static) if (n >= kParallelTokens)
  for (int64_t t = 0; t < n; ++t) body(t);
}

// Charges the wall time between marks to the phases of a ForwardProfile; without one it does nothing.
class PhaseClock {
 public:
  explicit PhaseClock(ForwardProfile* profile) : profile_(profile), last_(profile != nullptr ? omp_get_wtime() : 0.0) {}

  // The time since the previous mark goes to `phase`, with the weights that phase read.
  void Mark(ForwardPhase phase, uint64_t weight_bytes = 0, uint64_t multiply_adds = 0) {
    if (profile_ == nullptr) return;
    const double now = omp_get_wtime();
    const auto i = static_cast<size_t>(phase);
    profile_->seconds[i] += now - last_;
    profile_->weight_bytes[i] += weight_bytes;
    profile_->multiply_adds[i] += multiply_adds;
    last_ = now;
  }
  // The same for a phase of matrices, each against n tokens.
  void Mark(ForwardPhase phase, std::initializer_list<const TensorView*> matrices, int64_t n) {
    if (profile_ == nullptr) return;
    Cost cost;
    for (const TensorView* w : matrices) cost.Add(*w, n);
    Mark(phase, cost.bytes, cost.multiply_adds);
  }
  // The same for feed-forward jobs (gate, up and down against each job's tokens).
  void Mark(ForwardPhase phase, std::span<const FfnJob> jobs) {
    if (profile_ == nullptr) return;
    Cost cost;
    for (const FfnJob& job : jobs)
      for (const TensorView* w : {&job.gate, &job.up, &job.down}) cost.Add(*w, job.n_tokens);
    Mark(phase, cost.bytes, cost.multiply_adds);
  }

 private:
  struct Cost {
    uint64_t bytes = 0, multiply_adds = 0;
    void Add(const TensorView& w, int64_t n) {
      bytes += static_cast<uint64_t>(w.matrix_bytes());
      multiply_adds += static_cast<uint64_t>(w.rows() * w.row_length() * n);
    }
  };

  ForwardProfile* profile_;
  double last_;
};

template <typename T, typename Allocator>
T* Grow(std::vector<T, Allocator>& buffer, int64_t size) {
  if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(static_cast<size_t>(size));
  return buffer.data();
}

RopeParams MakeRopeParams(const RopeSpec& rope) {
  return {.kind = rope.style == RopeStyle::kNorm ? RopeKind::kNorm : RopeKind::kNeox,
          .dims = rope.dims,
          .base = rope.base,
          .freq_scale = rope.freq_scale,
          .ext_factor = rope.ext_factor,
          .attn_factor = rope.attn_factor,
          .beta_fast = rope.beta_fast,
          .beta_slow = rope.beta_slow,
          .original_context = rope.original_context};
}

void AddBias(float* rows, int64_t n_tokens, const FloatVector& bias) {
  if (!bias) return;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < bias.size; ++i) rows[t * bias.size + i] += bias.data[i];
}

// SwiGLU feed-forward of a dense layer: down(silu(gate x) * up x) for n tokens, as one job.
void SwiGlu(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x, int64_t n_tokens,
            int64_t dim, MatMulPath path, ForwardScratch& s, float* out) {
  const FfnJob job{.gate = gate, .up = up, .down = down, .rows = nullptr, .n_tokens = n_tokens, .out = out};
  SwiGluMany(x, n_tokens, dim, std::span<const FfnJob>(&job, 1), path, s.ffn);
}

// Per-thread attention workspace, a multiple of 64 bytes.
uint64_t AttentionWorkspaceStride(const ModelSpec& spec) {
  const uint64_t bytes = AttentionWorkspaceBytes({.n_heads = spec.n_heads, .n_kv_heads = spec.n_kv_heads,
                                                  .head_dim = spec.head_dim, .value_head_dim = spec.value_head_dim});
  return (bytes + 63) / 64 * 64;
}

int AttentionThreads() { return std::max(1, omp_get_max_threads()); }

// Floats of the attention workspaces of `threads` threads (64-byte aligned within).
int64_t AttentionWorkspaceFloats(const ModelSpec& spec, int threads) {
  return static_cast<int64_t>((AttentionWorkspaceStride(spec) * static_cast<uint64_t>(threads) + 64) / sizeof(float));
}

// The attention_threads workspaces, 64-byte aligned. They live in ffn.gate, which only the
// feed-forward uses: attention and feed-forward scratch take turns. Sized here when no
// Reserve() was made.
uint8_t* AttentionWorkspaces(const ModelSpec& spec, ForwardScratch& s) {
  if (s.attention_threads == 0) s.attention_threads = AttentionThreads();
  auto* base = reinterpret_cast<uint8_t*>(Grow(s.ffn.gate, AttentionWorkspaceFloats(spec, s.attention_threads)));
  return base + (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
}

void Attention(const ModelSpec& spec, const LayerWeights& l, const ForwardBatch& batch, const KvLayerView& kv,
               MatMulPath path, ForwardScratch& s, PhaseClock& clock) {
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t q_dim = int64_t{spec.n_heads} * spec.head_dim;
  const int64_t k_dim = int64_t{spec.n_kv_heads} * spec.head_dim;
  const int64_t v_dim = int64_t{spec.n_kv_heads} * spec.value_head_dim;
  float* q = Grow(s.q, n * q_dim);
  float* k = Grow(s.k, n * k_dim);
  float* v = Grow(s.v, n * v_dim);
  const MatMulJob qkv[] = {{.w = l.attn_q, .y = q}, {.w = l.attn_k, .y = k}, {.w = l.attn_v, .y = v}};
  MatMulMany(qkv, s.normed.data(), n, path);
  clock.Mark(ForwardPhase::kQkv, {&l.attn_q, &l.attn_k, &l.attn_v}, n);
  AddBias(q, n, l.attn_q_bias);
  AddBias(k, n, l.attn_k_bias);
  AddBias(v, n, l.attn_v_bias);
  const RopeParams rope = MakeRopeParams(spec.rope);
  ForEachToken(n, [&](int64_t t) {
    float* qt = q + t * q_dim;
    float* kt = k + t * k_dim;
    if (spec.qk_norm == QkNorm::kPerHead) {
      for (int h = 0; h < spec.n_heads; ++h)
        RmsNorm(qt + int64_t{h} * spec.head_dim, l.attn_q_norm.data, spec.head_dim, spec.rms_eps, qt + int64_t{h} * spec.head_dim);
      for (int h = 0; h < spec.n_kv_heads; ++h)
        RmsNorm(kt + int64_t{h} * spec.head_dim, l.attn_k_norm.data, spec.head_dim, spec.rms_eps, kt + int64_t{h} * spec.head_dim);
    } else if (spec.qk_norm == QkNorm::kFull) {
      RmsNorm(qt, l.attn_q_norm.data, q_dim, spec.rms_eps, qt);
      RmsNorm(kt, l.attn_k_norm.data, k_dim, spec.rms_eps, kt);
    }
    const float* angles = s.rope.data() + t * RopeAngleFloats(rope);
    RopeApply(qt, spec.n_heads, spec.head_dim, angles, rope);
    RopeApply(kt, spec.n_kv_heads, spec.head_dim, angles, rope);
    // Each KV head's row of the cell (head-major cache), one at a time: a token's K/V bytes do
    // not depend on its batch. Block types' blocks of 32 lie within a head (KvCache checks), so a
    // head's bytes are those of its slice of the whole row.
    const int64_t cell = batch.cells[t];
    for (int h = 0; h < spec.n_kv_heads; ++h) {
      QuantizeKvRow(kv.type, kt + int64_t{h} * spec.head_dim, kv.k + h * kv.k_head_stride + cell * kv.k_row_bytes,
                    spec.head_dim);
      QuantizeKvRow(kv.type, v + t * v_dim + int64_t{h} * spec.value_head_dim,
                    kv.v + h * kv.v_head_stride + cell * kv.v_row_bytes, spec.value_head_dim);
    }
  });
  const int64_t out_dim = int64_t{spec.n_heads} * spec.value_head_dim;
  float* attention = Grow(s.attention, n * out_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim));
  const AttentionShape shape{.n_heads = spec.n_heads, .n_kv_heads = spec.n_kv_heads, .head_dim = spec.head_dim,
                             .value_head_dim = spec.value_head_dim};
  const int tile_queries = AttentionTileQueries(shape);
  // Tiles: runs of up to tile_queries consecutive tokens of one sequence (their spans
  // share the sequence's cell list and grow), which share every K/V row read. Work items are
  // tiles x KV heads, the last tiles first (a sequence's later tiles attend to more cells, so
  // the threads do not wait on one long tile at the end); a query's result does not depend on
  // either split or the order.
  int32_t* tiles = Grow(s.attention_tiles, n + 1);
  int32_t* lengths = Grow(s.attention_lengths, n);
  int64_t n_tiles = 0;
  int64_t attention_work = 0;  // query-key products in this batch
  for (int64_t t = 0; t < n; ++t) {
    const std::span<const int32_t> cells = batch.attend[t];
    MOEFIT_CHECK(!cells.empty() && cells.size() <= (size_t{1} << 31));
    lengths[t] = static_cast<int32_t>(cells.size());
    attention_work += static_cast<int64_t>(cells.size()) * q_dim;
    const bool continues = n_tiles > 0 && t - tiles[n_tiles - 1] < tile_queries &&
                           cells.data() == batch.attend[t - 1].data() && cells.size() > batch.attend[t - 1].size();
    if (!continues) tiles[n_tiles++] = static_cast<int32_t>(t);
  }
  tiles[n_tiles] = static_cast<int32_t>(n);
  uint8_t* workspaces = AttentionWorkspaces(spec, s);
  const uint64_t workspace_bytes = AttentionWorkspaceStride(spec);
  const int64_t items = n_tiles * spec.n_kv_heads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(s.attention_threads) if (attention_work >= (1 << 16) && items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t tile = n_tiles - 1 - item / spec.n_kv_heads;
    const int kv_head = static_cast<int>(item % spec.n_kv_heads);
    const int64_t first = tiles[tile], count = tiles[tile + 1] - tiles[tile];
    moefit::Attention({.q = q + first * q_dim,
                       .n_queries = static_cast<int>(count),
                       .lengths = lengths + first,
                       .cells = batch.attend[first + count - 1],
                       .kv_type = kv.type,
                       .k_cache = kv.k,
                       .v_cache = kv.v,
                       .k_row_bytes = kv.k_row_bytes,
                       .v_row_bytes = kv.v_row_bytes,
                       .k_head_stride = kv.k_head_stride,
                       .v_head_stride = kv.v_head_stride,
                       .shape = shape,
                       .kv_head_begin = kv_head,
                       .kv_head_end = kv_head + 1,
                       .scale = scale,
                       .workspace = workspaces + static_cast<uint64_t>(omp_get_thread_num()) * workspace_bytes,
                       .out = attention + first * out_dim},
                      path);
  }
  clock.Mark(ForwardPhase::kAttention);
  MatMul(l.attn_output, attention, n, Grow(s.projected, n * spec.model_dim), path);
  clock.Mark(ForwardPhase::kAttentionOutput, {&l.attn_output}, n);
}

// Routed experts: route the whole batch, group its (token, expert) entries by expert, then run
// the distinct experts in the order and groups the source asks for, each expert's weights read
// once per batch. Every entry's output has its own row, and each token sums its experts in
// ascending expert order afterwards, so the result does not depend on that order or grouping:
// a streamed expert gives the same bits as a resident one.
void MixtureOfExperts(const ModelSpec& spec, const LayerWeights& l, int layer, int64_t n, MatMulPath path,
                      ExpertSource& source, ForwardScratch& s, PhaseClock& clock) {
  const int64_t dim = spec.model_dim;
  const int experts = spec.n_experts, active = spec.n_active_experts;
  MOEFIT_CHECK(active >= 1 && active <= 256);
  float* router = Grow(s.router, n * experts);
  clock.Mark(ForwardPhase::kOther);
  MatMul(l.ffn_gate_inp, s.normed.data(), n, router, path);
  clock.Mark(ForwardPhase::kRouter, {&l.ffn_gate_inp}, n);
  int32_t* chosen = Grow(s.chosen, n * active);
  float* chosen_weight = Grow(s.chosen_weight, n * active);
  int32_t* start = Grow(s.expert_start, experts + 1);  // counts first, then offsets
  std::fill(start, start + experts + 1, 0);
  ForEachToken(n, [&](int64_t t) {
    int top[256];
    float* probs = router + t * experts;
    if (spec.gating == Gating::kSoftmax) {
      Softmax(probs, experts);
    } else {
      for (int e = 0; e < experts; ++e) probs[e] = Sigmoid(probs[e]);
    }
    TopK(probs, experts, active, top);
    double sum = 0.0;
    for (int j = 0; j < active; ++j) sum += probs[top[j]];
    for (int j = 0; j < active; ++j) {
      chosen[t * active + j] = top[j];
      chosen_weight[t * active + j] = spec.norm_topk ? static_cast<float>(probs[top[j]] / sum) : probs[top[j]];
    }
  });
  for (int64_t i = 0; i < n * active; ++i) ++start[chosen[i] + 1];
  // Distinct experts (ascending) with their token counts; then entry offsets per expert.
  int32_t* distinct = Grow(s.experts, experts);
  int32_t* uses = Grow(s.expert_uses, experts);
  int64_t n_distinct = 0;
  for (int e = 0; e < experts; ++e) {
    if (start[e + 1] == 0) continue;
    distinct[n_distinct] = e;
    uses[n_distinct] = start[e + 1];
    ++n_distinct;
  }
  for (int e = 0; e < experts; ++e) start[e + 1] += start[e];
  int32_t* entry_token = Grow(s.entry_token, n * active);  // by expert, tokens ascending
  int32_t* entry_of = Grow(s.entry_of, n * active);        // (token, j) -> entry
  int32_t* fill = Grow(s.expert_fill, experts);
  std::copy_n(start, experts, fill);
  for (int64_t t = 0; t < n; ++t) {
    for (int j = 0; j < active; ++j) {
      const int32_t entry = fill[chosen[t * active + j]]++;
      entry_token[entry] = static_cast<int32_t>(t);
      entry_of[t * active + j] = entry;
    }
  }

  source.Order(layer, std::span<int32_t>(distinct, static_cast<size_t>(n_distinct)),
               std::span<int32_t>(uses, static_cast<size_t>(n_distinct)));
  const int64_t capacity = source.Capacity(layer);
  MOEFIT_CHECK(capacity >= 1);
  if (static_cast<int64_t>(s.expert_matrices.size()) < experts) s.expert_matrices.resize(static_cast<size_t>(experts));
  float* entry_out = Grow(s.expert_out, n * active * dim);  // (entries, model_dim)
  // Every acquired expert of a round is one job of one parallel region (the shared expert joins
  // the first round); each job reads its tokens' rows of the normed input in place.
  float* shared = l.ffn_up_shexp ? Grow(s.shared_out, n * dim) : nullptr;
  for (int64_t first = 0; first < n_distinct; first += capacity) {
    const size_t count = static_cast<size_t>(std::min(capacity, n_distinct - first));
    const std::span<ExpertMatrices> matrices(s.expert_matrices.data(), count);
    source.Acquire(layer, std::span<const int32_t>(distinct + first, count), std::span<const int32_t>(uses + first, count),
                   matrices);
    s.ffn_jobs.clear();
    for (size_t i = 0; i < count; ++i) {
      const int32_t e = distinct[first + static_cast<int64_t>(i)];
      const int64_t begin = start[e], rows = start[e + 1] - start[e];
      s.ffn_jobs.push_back({.gate = matrices[i].gate, .up = matrices[i].up, .down = matrices[i].down,
                            .rows = entry_token + begin, .n_tokens = rows, .out = entry_out + begin * dim});
    }
    if (shared != nullptr && first == 0)
      s.ffn_jobs.push_back({.gate = l.ffn_gate_shexp, .up = l.ffn_up_shexp, .down = l.ffn_down_shexp, .rows = nullptr,
                            .n_tokens = n, .out = shared});
    clock.Mark(ForwardPhase::kOther);
    SwiGluMany(s.normed.data(), n, dim, s.ffn_jobs, path, s.ffn);
    clock.Mark(ForwardPhase::kFeedForward, s.ffn_jobs);
    source.Release(layer);
  }
  float* out = Grow(s.ffn_out, n * dim);
  ForEachToken(n, [&](int64_t t) {
    int order[256];
    for (int j = 0; j < active; ++j) order[j] = j;
    std::sort(order, order + active, [&](int a, int b) { return chosen[t * active + a] < chosen[t * active + b]; });
    const float* rows[256];
    float weights[256];
    for (int k = 0; k < active; ++k) {
      rows[k] = entry_out + int64_t{entry_of[t * active + order[k]]} * dim;
      weights[k] = chosen_weight[t * active + order[k]];
    }
    // Each element sums 0 + w x row over the experts in ascending order (the bits of adding the
    // rows one after another into a zeroed row), in one pass over the target (the table's
    // weighted sum: the same bits at every ISA level).
    WeightedSum(rows, weights, active, dim, out + t * dim);
  });
  if (shared != nullptr) {
    ForEachToken(n, [&](int64_t t) {
      float scale = 1.0f;
      if (l.ffn_gate_inp_shexp) {
        double dot = 0.0;
        for (int64_t d = 0; d < dim; ++d) dot += static_cast<double>(l.ffn_gate_inp_shexp.data[d]) * s.normed[t * dim + d];
        scale = Sigmoid(static_cast<float>(dot));
      }
      for (int64_t d = 0; d < dim; ++d) out[t * dim + d] += scale * shared[t * dim + d];
    });
  }
}

// Elements of each scratch buffer for batches of `tokens` tokens.
struct ScratchSizes {
  int64_t hidden = 0, q = 0, k = 0, v = 0, attention = 0, rope = 0;
  int64_t router = 0, entries = 0, experts = 0, expert_out = 0, shared_out = 0;
  int64_t ffn_hidden = 0;  // elements of hidden rows in one SwiGluMany call (all its jobs)
  int64_t ffn_jobs = 0;
};

ScratchSizes SizesFor(const ModelSpec& spec, int64_t tokens) {
  ScratchSizes sizes;
  const int64_t t = tokens;
  sizes.hidden = t * spec.model_dim;
  sizes.q = t * spec.n_heads * spec.head_dim;
  sizes.k = t * spec.n_kv_heads * spec.head_dim;
  sizes.v = t * spec.n_kv_heads * spec.value_head_dim;
  sizes.attention = t * spec.n_heads * spec.value_head_dim;
  sizes.rope = t * RopeAngleFloats(MakeRopeParams(spec.rope));
  const bool has_dense = !spec.is_moe() || spec.leading_dense_layers > 0;
  if (has_dense) {
    sizes.ffn_hidden = t * spec.ffn_dim;
    sizes.ffn_jobs = 1;
  }
  if (spec.is_moe()) {
    sizes.router = t * spec.n_experts;
    sizes.entries = t * spec.n_active_experts;
    sizes.experts = spec.n_experts;
    sizes.ffn_hidden = std::max(sizes.ffn_hidden, sizes.entries * spec.expert_ffn_dim + t * spec.shared_expert_ffn_dim);
    sizes.ffn_jobs = std::max<int64_t>(sizes.ffn_jobs, spec.n_experts + 1);
    sizes.expert_out = sizes.entries * spec.model_dim;
    if (spec.shared_expert_ffn_dim > 0) sizes.shared_out = sizes.hidden;
  }
  return sizes;
}

}  // namespace

int64_t WeightsExpertSource::Capacity(int layer) const {
  return layers_[static_cast<size_t>(layer)].ffn_gate_exps.matrices();
}

void WeightsExpertSource::Acquire(int layer, std::span<const int32_t> experts, std::span<const int32_t>,
                                  std::span<ExpertMatrices> out) {
  const LayerWeights& l = layers_[static_cast<size_t>(layer)];
  for (size_t i = 0; i < experts.size(); ++i)
    out[i] = {l.ffn_gate_exps.matrix(experts[i]), l.ffn_up_exps.matrix(experts[i]), l.ffn_down_exps.matrix(experts[i])};
}

void ForwardScratch::Reserve(const ModelSpec& spec, int64_t max_tokens) {
  const ScratchSizes z = SizesFor(spec, max_tokens);
  auto size = [](auto& buffer, int64_t elements) { buffer.resize(static_cast<size_t>(elements)); };
  for (AlignedVector<float>* buffer : {&residual, &normed, &projected, &ffn_out}) size(*buffer, z.hidden);
  size(q, z.q);
  size(k, z.k);
  size(v, z.v);
  size(attention, z.attention);
  size(rope, z.rope);
  size(router, z.router);
  ffn.Reserve(max_tokens, spec.model_dim, z.ffn_hidden);
  ffn_jobs.reserve(static_cast<size_t>(z.ffn_jobs));
  attention_threads = AttentionThreads();
  // The attention workspaces live in ffn.gate (idle while attention runs): room for both.
  if (static_cast<int64_t>(ffn.gate.size()) < AttentionWorkspaceFloats(spec, attention_threads))
    ffn.gate.resize(static_cast<size_t>(AttentionWorkspaceFloats(spec, attention_threads)));
  size(expert_out, z.expert_out);
  size(shared_out, z.shared_out);
  for (std::vector<int32_t>* buffer : {&chosen, &entry_token, &entry_of}) size(*buffer, z.entries);
  size(chosen_weight, z.entries);
  size(expert_start, z.experts > 0 ? z.experts + 1 : 0);
  for (std::vector<int32_t>* buffer : {&experts, &expert_uses, &expert_fill}) size(*buffer, z.experts);
  size(expert_matrices, z.experts);
  size(attention_tiles, max_tokens + 1);
  size(attention_lengths, max_tokens);
}

uint64_t ForwardScratch::Bytes(const ModelSpec& spec, int64_t max_tokens) {
  const ScratchSizes z = SizesFor(spec, max_tokens);
  const int64_t floats =
      4 * z.hidden + z.q + z.k + z.v + z.attention + z.rope + z.router + z.expert_out + z.shared_out + z.entries;
  const int64_t ints = 3 * z.entries + (z.experts > 0 ? z.experts + 1 : 0) + 3 * z.experts + 2 * max_tokens + 1;
  // Attention workspaces share ffn.gate (z.ffn_hidden floats): only what they need beyond it.
  const int64_t attention_extra = std::max<int64_t>(0, AttentionWorkspaceFloats(spec, AttentionThreads()) - z.ffn_hidden);
  return static_cast<uint64_t>(floats) * sizeof(float) + static_cast<uint64_t>(ints) * sizeof(int32_t) +
         static_cast<uint64_t>(z.experts) * sizeof(ExpertMatrices) +
         FfnScratch::Bytes(max_tokens, spec.model_dim, z.ffn_hidden) + static_cast<uint64_t>(z.ffn_jobs) * sizeof(FfnJob) +
         static_cast<uint64_t>(attention_extra) * sizeof(float);
}

void Forward(const Model& model, const ForwardBatch& batch, std::span<const KvLayerView> kv, MatMulPath path,
             ForwardScratch& s, float* logits) {
  Forward(model.spec(), model.weights(), batch, kv, {.path = path}, s, logits);
}

void Forward(const ModelSpec& spec, const ModelWeights& w, const ForwardBatch& batch, std::span<const KvLayerView> kv,
             const ForwardOptions& options, ForwardScratch& s, float* logits) {
  const MatMulPath path = options.path;
  PhaseClock clock(options.profile);
  WeightsExpertSource own_experts(w.layers);
  ExpertSource& experts = options.experts != nullptr ? *options.experts : own_experts;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t dim = spec.model_dim;
  MOEFIT_CHECK(batch.positions.size() == batch.tokens.size() && batch.cells.size() == batch.tokens.size() &&
               batch.attend.size() == batch.tokens.size());
  MOEFIT_CHECK(static_cast<int>(kv.size()) == spec.n_layers);

  float* x = Grow(s.residual, n * dim);
  Grow(s.normed, n * dim);
  const DTypeTraits& embedding = Traits(w.token_embd.type);
  for (int64_t t = 0; t < n; ++t) {
    const int32_t token = batch.tokens[t];
    MOEFIT_CHECK(token >= 0 && token < spec.vocab_size);
    embedding.dequantize_row(w.token_embd.row(token), x + t * dim, dim);
  }
  // RoPE's angles for each token's position, once for all layers (they differ only by position).
  const RopeParams rope = MakeRopeParams(spec.rope);
  float* angles = Grow(s.rope, n * RopeAngleFloats(rope));
  ForEachToken(n, [&](int64_t t) { RopeAngles(batch.positions[t], rope, angles + t * RopeAngleFloats(rope)); });
  for (int layer = 0; layer < spec.n_layers; ++layer) {
    const LayerWeights& l = w.layers[static_cast<size_t>(layer)];
    ForEachToken(n, [&](int64_t t) { RmsNorm(x + t * dim, l.attn_norm.data, dim, spec.rms_eps, s.normed.data() + t * dim); });
    clock.Mark(ForwardPhase::kOther);
    Attention(spec, l, batch, kv[static_cast<size_t>(layer)], path, s, clock);
    ForEachToken(n, [&](int64_t t) {
      for (int64_t i = t * dim; i < (t + 1) * dim; ++i) x[i] += s.projected[i];
      RmsNorm(x + t * dim, l.ffn_norm.data, dim, spec.rms_eps, s.normed.data() + t * dim);
    });
    if (spec.LayerIsMoe(layer)) {
      MixtureOfExperts(spec, l, layer, n, path, experts, s, clock);
    } else {
      clock.Mark(ForwardPhase::kOther);
      SwiGlu(l.ffn_gate, l.ffn_up, l.ffn_down, s.normed.data(), n, dim, path, s, Grow(s.ffn_out, n * dim));
      clock.Mark(ForwardPhase::kFeedForward, {&l.ffn_gate, &l.ffn_up, &l.ffn_down}, n);
    }
    ForEachToken(n, [&](int64_t t) {
      for (int64_t i = t * dim; i < (t + 1) * dim; ++i) x[i] += s.ffn_out[i];
    });
  }
  if (options.profile != nullptr) {
    ++options.profile->passes;
    options.profile->tokens += n;
  }
  const int64_t n_logits = static_cast<int64_t>(batch.logit_tokens.size());
  if (n_logits == 0) {
    clock.Mark(ForwardPhase::kOther);
    return;
  }
  for (int64_t i = 0; i < n_logits; ++i) {
    const int32_t t = batch.logit_tokens[i];
    MOEFIT_CHECK(t >= 0 && t < n);
    RmsNorm(x + int64_t{t} * dim, w.output_norm.data, dim, spec.rms_eps, s.normed.data() + i * dim);
  }
  clock.Mark(ForwardPhase::kOther);
  MatMul(w.output, s.normed.data(), n_logits, logits, path);
  clock.Mark(ForwardPhase::kOutput, {&w.output}, n_logits);
}

const char* ForwardPhaseName(ForwardPhase phase) {
  switch (phase) {
    case ForwardPhase::kQkv: return "q/k/v projections";
    case ForwardPhase::kAttention: return "attention (RoPE, KV, flash)";
    case ForwardPhase::kAttentionOutput: return "attention output";
    case ForwardPhase::kRouter: return "router";
    case ForwardPhase::kFeedForward: return "feed-forward (experts)";
    case ForwardPhase::kOutput: return "LM head";
    case ForwardPhase::kOther: return "other (norms, routing, sums)";
    case ForwardPhase::kCount: break;
  }
  return "?";
}

}  // namespace moefit
