// SPDX-License-Identifier: MIT
// The op API the forward pass is written in. Float activations in, float out; weights are
// TensorViews in any type with reference math. Kernels never throw and never see a ModelSpec.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor_view.h"

namespace moefit {

// Reference: dequantize each weight row to float and accumulate in double (the oracle).
// Fast: quantize activations to the weight type's dot type once, then integer/SIMD dots.
enum class MatMulPath { kReference, kFast };

// W (rows, cols) @ x (n_tokens, cols) -> y (n_tokens, rows); rows split across threads.
void MatMul(const TensorView& w, const float* x, int64_t n_tokens, float* y, MatMulPath path);

// y = x / sqrt(mean(x^2) + eps) * weight, over n elements (in place allowed).
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y);

// Softmax over n values in place.
void Softmax(float* x, int64_t n);

inline float Silu(float x) { return x / (1.0f + __builtin_expf(-x)); }
inline float Sigmoid(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

// Indices of the k largest values (ties: lower index first), in descending order of value.
void TopK(const float* values, int n, int k, int* indices);

enum class RopeKind { kNorm, kNeox };
struct RopeParams {
  RopeKind kind = RopeKind::kNeox;
  int dims = 0;  // rotated dims per head
  float base = 10000.0f;
  float freq_scale = 1.0f;
  float ext_factor = 0.0f;  // YaRN mix (0: off)
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int original_context = 0;
};
// Rotates each of n_heads heads of head_dim values at `pos` (in place).
void Rope(float* heads, int n_heads, int head_dim, int64_t pos, const RopeParams& params);

// Causal attention of one query token over `cells` of an F16 KV cache.
struct AttentionArgs {
  const float* q;            // (n_heads, head_dim)
  const uint16_t* k_cache;   // (cells, n_kv_heads * head_dim) F16
  const uint16_t* v_cache;   // (cells, n_kv_heads * value_head_dim) F16
  std::span<const int32_t> cells;  // cache cells this token attends to
  int n_heads;
  int n_kv_heads;
  int head_dim;
  int value_head_dim;
  float scale;               // usually 1 / sqrt(head_dim)
  float* scores;             // scratch, cells.size()
  float* out;                // (n_heads, value_head_dim)
};
void Attention(const AttentionArgs& args);

}  // namespace moefit
