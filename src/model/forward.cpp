// SPDX-License-Identifier: MIT
// Forward pass: embeddings, then per layer attention and a dense or MoE feed-forward, then the
// final norm and the LM head for the requested positions. Branches on spec flags, never names.
#include "model/forward.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/half.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

template <typename T>
T* Grow(std::vector<T>& buffer, int64_t size) {
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

// SwiGLU feed-forward: down(silu(gate x) * up x) for n tokens.
void SwiGlu(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x, int64_t n_tokens,
            MatMulPath path, ForwardScratch& s, float* out) {
  const int64_t ffn = gate.rows();
  float* g = Grow(s.gate, n_tokens * ffn);
  float* u = Grow(s.up, n_tokens * ffn);
  MatMul(gate, x, n_tokens, g, path);
  MatMul(up, x, n_tokens, u, path);
  for (int64_t i = 0; i < n_tokens * ffn; ++i) g[i] = Silu(g[i]) * u[i];
  MatMul(down, g, n_tokens, out, path);
}

void Attention(const ModelSpec& spec, const LayerWeights& l, const ForwardBatch& batch, const KvLayerView& kv,
               MatMulPath path, ForwardScratch& s) {
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t q_dim = int64_t{spec.n_heads} * spec.head_dim;
  const int64_t k_dim = int64_t{spec.n_kv_heads} * spec.head_dim;
  const int64_t v_dim = int64_t{spec.n_kv_heads} * spec.value_head_dim;
  float* q = Grow(s.q, n * q_dim);
  float* k = Grow(s.k, n * k_dim);
  float* v = Grow(s.v, n * v_dim);
  MatMul(l.attn_q, s.normed.data(), n, q, path);
  MatMul(l.attn_k, s.normed.data(), n, k, path);
  MatMul(l.attn_v, s.normed.data(), n, v, path);
  AddBias(q, n, l.attn_q_bias);
  AddBias(k, n, l.attn_k_bias);
  AddBias(v, n, l.attn_v_bias);
  const RopeParams rope = MakeRopeParams(spec.rope);
  for (int64_t t = 0; t < n; ++t) {
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
    Rope(qt, spec.n_heads, spec.head_dim, batch.positions[t], rope);
    Rope(kt, spec.n_kv_heads, spec.head_dim, batch.positions[t], rope);
    uint16_t* k_cell = kv.k + int64_t{batch.cells[t]} * k_dim;
    uint16_t* v_cell = kv.v + int64_t{batch.cells[t]} * v_dim;
    for (int64_t i = 0; i < k_dim; ++i) k_cell[i] = FloatToFp16(kt[i]);
    for (int64_t i = 0; i < v_dim; ++i) v_cell[i] = FloatToFp16(v[t * v_dim + i]);
  }
  const int64_t out_dim = int64_t{spec.n_heads} * spec.value_head_dim;
  float* attention = Grow(s.attention, n * out_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim));
  int64_t attention_work = 0;  // query-key products in this batch
  for (int64_t t = 0; t < n; ++t) attention_work += static_cast<int64_t>(batch.attend[t].size()) * q_dim;
#pragma omp parallel if (attention_work >= (1 << 16))
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n; ++t) {
      const std::span<const int32_t> cells = batch.attend[t];
      scores.resize(cells.size());
      moefit::Attention({.q = q + t * q_dim,
                         .k_cache = kv.k,
                         .v_cache = kv.v,
                         .cells = cells,
                         .n_heads = spec.n_heads,
                         .n_kv_heads = spec.n_kv_heads,
                         .head_dim = spec.head_dim,
                         .value_head_dim = spec.value_head_dim,
                         .scale = scale,
                         .scores = scores.data(),
                         .out = attention + t * out_dim});
    }
  }
  MatMul(l.attn_output, attention, n, Grow(s.projected, n * spec.model_dim), path);
}

// Routed experts: route every token, group tokens by expert so each expert's weights are read
// once per batch, then the weighted sum; plus the shared expert.
void MixtureOfExperts(const ModelSpec& spec, const LayerWeights& l, int64_t n, MatMulPath path, ForwardScratch& s) {
  const int64_t dim = spec.model_dim;
  const int experts = spec.n_experts, active = spec.n_active_experts;
  float* router = Grow(s.router, n * experts);
  MatMul(l.ffn_gate_inp, s.normed.data(), n, router, path);
  int32_t* chosen = Grow(s.chosen, n * active);
  float* chosen_weight = Grow(s.chosen_weight, n * active);
  if (static_cast<int>(s.expert_tokens.size()) < experts) s.expert_tokens.resize(static_cast<size_t>(experts));
  for (auto& list : s.expert_tokens) list.clear();
  int top[256];
  MOEFIT_CHECK(active <= 256);
  for (int64_t t = 0; t < n; ++t) {
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
      const float weight = spec.norm_topk ? static_cast<float>(probs[top[j]] / sum) : probs[top[j]];
      chosen[t * active + j] = top[j];
      chosen_weight[t * active + j] = weight;
      s.expert_tokens[static_cast<size_t>(top[j])].emplace_back(static_cast<int32_t>(t), weight);
    }
  }
  float* out = Grow(s.ffn_out, n * dim);
  std::fill(out, out + n * dim, 0.0f);
  for (int e = 0; e < experts; ++e) {
    const auto& tokens = s.expert_tokens[static_cast<size_t>(e)];
    if (tokens.empty()) continue;
    const int64_t count = static_cast<int64_t>(tokens.size());
    float* in = Grow(s.expert_in, count * dim);
    for (int64_t i = 0; i < count; ++i)
      std::copy_n(s.normed.data() + tokens[i].first * dim, dim, in + i * dim);
    float* expert_out = Grow(s.expert_out, count * dim);
    SwiGlu(l.ffn_gate_exps.matrix(e), l.ffn_up_exps.matrix(e), l.ffn_down_exps.matrix(e), in, count, path, s, expert_out);
    for (int64_t i = 0; i < count; ++i) {
      float* target = out + tokens[i].first * dim;
      const float weight = tokens[i].second;
      for (int64_t d = 0; d < dim; ++d) target[d] += weight * expert_out[i * dim + d];
    }
  }
  if (l.ffn_up_shexp) {
    float* shared = Grow(s.expert_out, n * dim);
    SwiGlu(l.ffn_gate_shexp, l.ffn_up_shexp, l.ffn_down_shexp, s.normed.data(), n, path, s, shared);
    for (int64_t t = 0; t < n; ++t) {
      float scale = 1.0f;
      if (l.ffn_gate_inp_shexp) {
        double dot = 0.0;
        for (int64_t d = 0; d < dim; ++d) dot += static_cast<double>(l.ffn_gate_inp_shexp.data[d]) * s.normed[t * dim + d];
        scale = Sigmoid(static_cast<float>(dot));
      }
      for (int64_t d = 0; d < dim; ++d) out[t * dim + d] += scale * shared[t * dim + d];
    }
  }
}

}  // namespace

void Forward(const Model& model, const ForwardBatch& batch, std::span<const KvLayerView> kv, MatMulPath path,
             ForwardScratch& s, float* logits) {
  const ModelSpec& spec = model.spec();
  const ModelWeights& w = model.weights();
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
  for (int layer = 0; layer < spec.n_layers; ++layer) {
    const LayerWeights& l = w.layers[static_cast<size_t>(layer)];
    for (int64_t t = 0; t < n; ++t) RmsNorm(x + t * dim, l.attn_norm.data, dim, spec.rms_eps, s.normed.data() + t * dim);
    Attention(spec, l, batch, kv[static_cast<size_t>(layer)], path, s);
    for (int64_t i = 0; i < n * dim; ++i) x[i] += s.projected[i];
    for (int64_t t = 0; t < n; ++t) RmsNorm(x + t * dim, l.ffn_norm.data, dim, spec.rms_eps, s.normed.data() + t * dim);
    if (spec.LayerIsMoe(layer)) {
      MixtureOfExperts(spec, l, n, path, s);
    } else {
      SwiGlu(l.ffn_gate, l.ffn_up, l.ffn_down, s.normed.data(), n, path, s, Grow(s.ffn_out, n * dim));
    }
    for (int64_t i = 0; i < n * dim; ++i) x[i] += s.ffn_out[i];
  }
  const int64_t n_logits = static_cast<int64_t>(batch.logit_tokens.size());
  if (n_logits == 0) return;
  for (int64_t i = 0; i < n_logits; ++i) {
    const int32_t t = batch.logit_tokens[i];
    MOEFIT_CHECK(t >= 0 && t < n);
    RmsNorm(x + int64_t{t} * dim, w.output_norm.data, dim, spec.rms_eps, s.normed.data() + i * dim);
  }
  MatMul(w.output, s.normed.data(), n_logits, logits, path);
}

}  // namespace moefit
