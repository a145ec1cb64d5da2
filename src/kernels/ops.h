// SPDX-License-Identifier: MIT
// The op API the forward pass is written in. Float activations in, float out; weights are
// TensorViews in any type with reference math. Kernels never throw and never see a ModelSpec.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/aligned_vector.h"
#include "core/dtype.h"
#include "core/tensor_view.h"

namespace moefit {

// Reference: dequantize each weight row to float and accumulate in double (the oracle).
// Fast: quantize activations to the weight type's dot type once, then integer/SIMD dots.
enum class MatMulPath { kReference, kFast };

// W (rows, cols) @ x (n_tokens, cols) -> y (n_tokens, rows); rows split across threads.
void MatMul(const TensorView& w, const float* x, int64_t n_tokens, float* y, MatMulPath path);

// Several matrices of the same row length against the same input (attention's q, k and v): for
// every job y (n_tokens, rows) = w @ x. On the fast path, where the matrices share an activation
// type (and there are at most kMaxMatMulJobs), the input is quantized once and all their rows are
// split over the threads by bytes in one parallel region; else matrix by matrix. The results are
// those of MatMul, bit for bit.
struct MatMulJob {
  TensorView w;
  float* y = nullptr;
};
inline constexpr int kMaxMatMulJobs = 8;
void MatMulMany(std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens, MatMulPath path);

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
  AlignedVector<uint8_t> x_quantized, hidden_quantized;  // 64-byte aligned (core/aligned_vector.h)
  AlignedVector<float> gate, up, gathered;
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

// out[i] = the sum over k < count of weights[k] * rows[k][i], added in k order from 0, each
// product rounded before its add: the same bits on every ISA level (cpu/dispatch.h).
void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out);

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
// The same in two steps, so the angles of a position are computed once for every head and
// layer that rotates at it: RopeAngles writes RopePairs cosines then as many sines (each times
// the YaRN magnitude scale) to cos_sin (RopeAngleFloats floats); RopeApply rotates with them.
// Same bits as Rope.
constexpr int RopePairs(const RopeParams& params) { return (params.dims + 1) / 2; }
constexpr int RopeAngleFloats(const RopeParams& params) { return 2 * RopePairs(params); }
void RopeAngles(int64_t pos, const RopeParams& params, float* cos_sin);
void RopeApply(float* heads, int n_heads, int head_dim, const float* cos_sin, const RopeParams& params);

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
// Queries of one sequence that share each read of a chunk of K/V rows (a prefill tile): up to
// kAttentionMaxQueries, fewer where a KV head has many query heads, so that a tile's rows
// (queries x query heads per KV head) stay near kAttentionTileRows (their scores and
// accumulators are the workspace) and at least kAttentionMinQueries share each read. Each K and
// V row is converted (and K transposed) once per tile: 16 queries instead of 4 made a 512-token
// prefill at 4096 cells 1.3x faster with an F16 cache (docs/benchmarks.md). The planner's
// attention workspace (plan/memory_model.cpp) follows the same rule.
inline constexpr int kAttentionMaxQueries = 16;
inline constexpr int kAttentionMinQueries = 4;
inline constexpr int kAttentionTileRows = 128;

struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;      // query head h reads KV head h / (n_heads / n_kv_heads)
  int head_dim = 0;        // query/key head size
  int value_head_dim = 0;  // value head size (may differ from head_dim)
};

// The most queries a tile of this shape takes (kAttentionMinQueries .. kAttentionMaxQueries).
constexpr int AttentionTileQueries(const AttentionShape& shape) {
  const int group = shape.n_heads / (shape.n_kv_heads > 0 ? shape.n_kv_heads : 1);
  const int queries = kAttentionTileRows / (group > 0 ? group : 1);
  return queries < kAttentionMinQueries ? kAttentionMinQueries : queries > kAttentionMaxQueries ? kAttentionMaxQueries : queries;
}

// Per-thread workspace bytes Attention needs for this shape (both paths).
uint64_t AttentionWorkspaceBytes(const AttentionShape& shape);

// Causal attention of up to AttentionTileQueries(shape) query tokens of one sequence over the cache
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
  int n_queries = 1;                    // 1 .. AttentionTileQueries(shape)
  const int32_t* lengths = nullptr;     // (n_queries) cells each query attends to, 1 .. cells.size(), nondecreasing
  std::span<const int32_t> cells;       // cache cells of the sequence, in position order
  DType kv_type = DType::kF16;          // IsKvType
  // K of KV head h at cell c: k_cache + h * k_head_stride + c * k_row_bytes (head_dim values);
  // V likewise. A head-major cache (the engine's: each KV head's cells side by side, so a head's
  // rows are one stream) has row bytes RowBytes(kv_type, head_dim) and head strides cells x row
  // bytes; a cell-major one (a cell's heads side by side) the reverse.
  const uint8_t* k_cache = nullptr;
  const uint8_t* v_cache = nullptr;
  int64_t k_row_bytes = 0;
  int64_t v_row_bytes = 0;
  int64_t k_head_stride = 0;
  int64_t v_head_stride = 0;
  AttentionShape shape;
  int kv_head_begin = 0;
  int kv_head_end = 0;
  float scale = 1.0f;                   // usually 1 / sqrt(head_dim)
  void* workspace = nullptr;            // AttentionWorkspaceBytes(shape) bytes, 64-byte aligned
  float* out = nullptr;                 // (n_queries, n_heads, value_head_dim)
};
void Attention(const AttentionArgs& args, MatMulPath path);

// Reads `bytes` (a multiple of 256) at `data` as fast as the memory system delivers them: four
// streams in lockstep with software prefetch, as the 4-row kernels read weights. Returns a
// checksum so the reads cannot be optimised away. The measure of read bandwidth (bench --membw).
uint64_t StreamRead(const void* data, int64_t bytes);

}  // namespace moefit
