// SPDX-License-Identifier: MIT
// The op API the forward pass is written in. Float activations in, float out; weights are
// TensorViews in any type with reference math. Kernels never throw and never see a ModelSpec.
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"
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

// ---- Attention over the KV cache ----------------------------------------------------------

// KV cache types: F16 (default), BF16, Q8_0 and Q4_0 (32-element blocks with an F16 scale, laid
// out exactly like the weight formats of the same name). Block types need head sizes that are
// multiples of 32, so that each head starts at a block boundary.
bool IsKvType(DType type);

// x (elements floats) -> row (RowBytes(kv_type, elements) bytes) in the KV type, with the
// fastest quantizer that is bit-exact with the quant layer's reference (one cell row at a time,
// so a token's K/V bytes do not depend on the batch it came in).
void QuantizeKvRow(DType kv_type, const float* x, void* row, int64_t elements);

// KV positions one attention pass scores at a time (online softmax): scratch does not grow
// with the context, and chunk boundaries are fixed in the cell list, so a query gives the same
// bits whatever other queries share its pass.
inline constexpr int64_t kAttentionChunkCells = 256;
// Queries of one sequence that share each read of a chunk of K/V rows (a prefill tile).
inline constexpr int kAttentionMaxQueries = 4;

struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;      // query head h reads KV head h / (n_heads / n_kv_heads)
  int head_dim = 0;        // query/key head size
  int value_head_dim = 0;  // value head size (may differ from head_dim)
};

// Per-thread workspace bytes Attention needs for this shape (both paths).
uint64_t AttentionWorkspaceBytes(const AttentionShape& shape);

// Causal attention of up to kAttentionMaxQueries query tokens of one sequence over the cache
// cells of that sequence: query i attends to cells[0, lengths[i]) (cells in position order,
// anywhere in the cache). Only the query heads of KV heads [kv_head_begin, kv_head_end) are
// computed, so callers can split the work by KV head.
//   kReference: K/V rows dequantized to float, scores and a full softmax in double (the oracle).
//   kFast: the dispatched flash kernel for the KV type: online softmax over chunks of
//     kAttentionChunkCells cells (running max, running sum, rescaled accumulator); the query
//     heads of one KV head share each K/V row read; for Q8_0/Q4_0 K the queries are quantized
//     to Q8_0 once and scored with integer dots; V rows are dequantized one at a time.
// Never throws, never allocates.
struct AttentionArgs {
  const float* q = nullptr;             // (n_queries, n_heads, head_dim)
  int n_queries = 1;                    // 1 .. kAttentionMaxQueries
  const int32_t* lengths = nullptr;     // (n_queries) cells each query attends to, 1 .. cells.size(), nondecreasing
  std::span<const int32_t> cells;       // cache cells of the sequence, in position order
  DType kv_type = DType::kF16;          // IsKvType
  const uint8_t* k_cache = nullptr;     // (cache cells, k_row_bytes): n_kv_heads * head_dim values
  const uint8_t* v_cache = nullptr;     // (cache cells, v_row_bytes): n_kv_heads * value_head_dim values
  int64_t k_row_bytes = 0;              // RowBytes(kv_type, n_kv_heads * head_dim)
  int64_t v_row_bytes = 0;              // RowBytes(kv_type, n_kv_heads * value_head_dim)
  AttentionShape shape;
  int kv_head_begin = 0;
  int kv_head_end = 0;
  float scale = 1.0f;                   // usually 1 / sqrt(head_dim)
  void* workspace = nullptr;            // AttentionWorkspaceBytes(shape) bytes, 64-byte aligned
  float* out = nullptr;                 // (n_queries, n_heads, value_head_dim)
};
void Attention(const AttentionArgs& args, MatMulPath path);

}  // namespace moefit
