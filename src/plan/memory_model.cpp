// SPDX-License-Identifier: MIT
// KV cache and compute buffer sizes from the model's shape.
#include "plan/memory_model.h"

#include <algorithm>

#include "core/error.h"

namespace moefit {
namespace {

uint64_t U(int64_t value) { return static_cast<uint64_t>(std::max<int64_t>(value, 0)); }

void CheckKvWidth(DType kv_type, int64_t width, const char* what) {
  const DTypeLayout& layout = Layout(kv_type);
  if (width % layout.block_elements != 0)
    Fail("KV type {} stores blocks of {} values, but this model's {} is {} wide: use f16 or bf16", layout.name,
         layout.block_elements, what, width);
}

}  // namespace

uint64_t KvBytesPerCell(const ModelShape& shape, DType kv_type) {
  if (kv_type != DType::kF16 && kv_type != DType::kBF16 && kv_type != DType::kQ8_0 && kv_type != DType::kQ4_0)
    Fail("KV type {} is not supported: use f16, bf16, q8_0 or q4_0", DTypeName(kv_type));
  if (shape.attention == AttentionKind::kMla) {
    CheckKvWidth(kv_type, shape.kv_lora_rank, "KV latent (kv_lora_rank)");
    CheckKvWidth(kv_type, shape.rope_dims, "rope key");
    return U(RowBytes(kv_type, shape.kv_lora_rank) + RowBytes(kv_type, shape.rope_dims));
  }
  CheckKvWidth(kv_type, shape.key_length, "key head");
  CheckKvWidth(kv_type, shape.value_length, "value head");
  return U(RowBytes(kv_type, shape.n_kv_heads * shape.key_length) + RowBytes(kv_type, shape.n_kv_heads * shape.value_length));
}

int64_t KvCells(const ModelShape& shape, int64_t layer, int64_t ctx, int64_t parallel, int64_t ubatch) {
  if (!shape.LayerSlides(layer)) return ctx * parallel;
  const int64_t tokens = std::min(ubatch, ctx * parallel);
  return parallel * std::min(ctx, shape.sliding_window + tokens);
}

uint64_t ComputeFigures::Layers() const { return hidden + attention + ffn + moe + quantized; }
uint64_t ComputeFigures::ExpertsOnly() const { return hidden + ffn + moe + quantized; }

uint64_t AttentionWorkspacePerThread(const ModelShape& shape) {
  auto align = [](uint64_t bytes) { return (bytes + 63) / 64 * 64; };
  const bool mla = shape.attention == AttentionKind::kMla;
  const uint64_t heads = U(shape.n_heads), kv_heads = mla ? heads : std::max<uint64_t>(1, U(shape.n_kv_heads));
  // kernels/ops.h AttentionTileQueries: 128 rows / group, clamped to [4, 16] queries
  const uint64_t group = std::max<uint64_t>(1, heads / kv_heads);
  const uint64_t queries = std::clamp<uint64_t>(128 / group, 4, 16);
  const uint64_t rows = queries * group, dk = U(shape.key_length), dv = U(shape.value_length);
  // kernels/cpu/attention_tile.h kAttentionValueCells, kAttentionKeyCells: the `values` workspace
  // holds V rows as floats or, while scoring, K rows transposed.
  const uint64_t value_cells = 32, key_cells = 32;
  return align(rows * U(kAttentionChunk) * 4) + align(rows * dv * 4) + 2 * align(rows * 4) + align(std::max(dk, dv) * 4) +
         align(std::max(value_cells * dv, key_cells * dk) * 4) + align(rows * (dk / 32 * 34 + 34)) + 128;
}

ComputeFigures ComputeSizes(const ModelShape& shape, int64_t tokens, int64_t parallel, int threads) {
  const uint64_t t = U(tokens), f32 = 4, i32 = 4;
  const uint64_t d = U(shape.model_dim), heads = U(shape.n_heads), dk = U(shape.key_length), dv = U(shape.value_length);
  const bool mla = shape.attention == AttentionKind::kMla;
  const uint64_t kv_heads = mla ? heads : U(shape.n_kv_heads);
  ComputeFigures figures;
  figures.hidden = f32 * t * 4 * d;
  figures.attention = f32 * t * (heads * dk + kv_heads * dk + kv_heads * dv + heads * dv) +
                      f32 * t * heads * U(kAttentionChunk);
  if (mla) figures.attention += f32 * t * U(shape.kv_lora_rank + shape.rope_dims);
  figures.attention += U(std::max(threads, 1)) * AttentionWorkspacePerThread(shape);
  const bool has_dense = !shape.is_moe() || shape.leading_dense_layers > 0;
  const int64_t ffn_width = std::max({has_dense ? shape.ffn_dim : 0, shape.is_moe() ? shape.expert_ffn_dim : 0,
                                      shape.is_moe() ? shape.shared_expert_ffn_dim : 0});
  // SwiGluMany (kernels/ops.h): hidden rows of all jobs of a call (a dense layer, or every
  // expert entry plus the shared expert), gate and up in f32, quantized at <= 4 bytes an
  // element, the input quantized likewise, and the job list.
  const uint64_t dense_hidden = has_dense ? t * U(shape.ffn_dim) : 0;
  const uint64_t moe_hidden = shape.is_moe() ? t * U(shape.n_active_experts) * U(shape.expert_ffn_dim) +
                                                   t * U(shape.shared_expert_ffn_dim)
                                             : 0;
  const uint64_t hidden = std::max(dense_hidden, moe_hidden);
  const uint64_t jobs = shape.is_moe() ? U(shape.n_experts) + 1 : 1;
  figures.ffn = 3 * f32 * hidden + f32 * t * d + kFfnJobBytes * jobs;
  if (shape.is_moe()) {
    const uint64_t experts = U(shape.n_experts), active = U(shape.n_active_experts);
    figures.moe = f32 * t * experts + f32 * t * active * d + (shape.shared_expert_ffn_dim > 0 ? f32 * t * d : 0) +
                  i32 * (4 * t * active + 4 * experts + 1) + kExpertViewBytes * experts;
  }
  const int64_t widest = std::max({shape.model_dim, ffn_width, shape.n_heads * shape.value_length});
  figures.quantized = 2 * t * U(widest);
  figures.logits = f32 * U(shape.vocab_size) * U(parallel);
  return figures;
}

uint64_t HostOverhead(const ModelShape& shape) {
  return kHostBaseOverhead + kHostBytesPerVocabEntry * U(shape.vocab_size) + kHostBytesPerMerge * U(shape.n_merges);
}

}  // namespace moefit
