// SPDX-License-Identifier: MIT
// The op API the forward pass is written in. Float activations in, float out; weights are
// TensorViews in any type with reference math. Kernels never throw and never see a ModelSpec.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor_view.h"

namespace moefit {

// Reference: dequantize each weight row to float and accumulate in double (the oracle).
// Fast: quantize activations to the weight type's dot type once, then integer/SIMD dots.
enum class MatMulPath { kReference, kFast };

// W (rows, cols) @ x (n_tokens, cols) -> y (n_tokens, rows); rows split across threads.
void MatMul(const TensorView& w, const float* x, int64_t n_tokens, float* y, MatMulPath path);

// SwiGLU feed-forwards of one batch, all in one parallel region: for every job,
//   out (n_tokens, model_dim) = down(silu(gate x) * up x)
// where the job's token t is row rows[t] (or t, when rows is null) of the shared input
// x (x_rows, model_dim). A MoE layer is one job per chosen expert (plus the shared expert);
// a dense layer is one job. The input is quantized once per activation type, the gate/up rows
// of all jobs are split over the threads by cost (weight bytes x tokens) with SiLU·mul fused,
// then the down rows likewise: two barriers per layer instead of two per matrix.
struct FfnJob {
  TensorView gate, up, down;
  const int32_t* rows = nullptr;
  int64_t n_tokens = 0;
  float* out = nullptr;
};
// Buffers SwiGluMany works in; they grow to what a call needs and are kept (no allocation once
// warm). Reserve sizes them up front for the largest call; Bytes is what that takes.
struct FfnScratch {
  std::vector<uint8_t> x_quantized, hidden_quantized;
  std::vector<float> gate, up, gathered;
  std::vector<int64_t> layout;  // per-call offsets and the thread split (7 per job)
  // x_rows input rows of `dim`; jobs with hidden_elements = sum over jobs of tokens x ffn size.
  // Quantized rows are counted at 4 bytes an element (the F32 "activation type" of float
  // weights; the 8-bit types take less), for one activation type of gate/up.
  void Reserve(int64_t x_rows, int64_t dim, int64_t hidden_elements);
  static uint64_t Bytes(int64_t x_rows, int64_t dim, int64_t hidden_elements);
};
void SwiGluMany(const float* x, int64_t x_rows, int64_t dim, std::span<const FfnJob> jobs, MatMulPath path,
                FfnScratch& scratch);

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

// Reads `bytes` (a multiple of 256) at `data` as fast as the memory system delivers them: four
// streams in lockstep with software prefetch, as the 4-row kernels read weights. Returns a
// checksum so the reads cannot be optimised away. The measure of read bandwidth (bench --membw).
uint64_t StreamRead(const void* data, int64_t bytes);

}  // namespace moefit
