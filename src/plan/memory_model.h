// SPDX-License-Identifier: MIT
// The memory a run needs beside its weights: KV cache, compute buffers, staging, fixed overhead.
// The runtime sizes its buffers with these same functions and charges them to its Budgets, so
// the plan and the measured peak agree; change both sides together.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "plan/model_inventory.h"

namespace moefit {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// Host: the process itself (code, libraries, touched thread stacks, parsed metadata).
inline constexpr uint64_t kHostBaseOverhead = 32 * kMiB;
// Host: tokenizer tables (token strings, ids, merge ranks), per vocabulary entry.
inline constexpr uint64_t kHostBytesPerVocabEntry = 128;
// Host: what the GPU driver and runtime keep in process memory once a GPU is used.
inline constexpr uint64_t kHostGpuRuntimeOverhead = 256 * kMiB;
// Host: pinned buffers that upload weights (and later experts) to the GPU, two of 32 MiB.
inline constexpr uint64_t kGpuUploadStaging = 64 * kMiB;
// GPU: context, kernels and library workspaces.
inline constexpr uint64_t kGpuContextOverhead = 384 * kMiB;
// KV positions one attention pass scores at a time (online softmax), so scratch does not grow
// with the context.
inline constexpr int64_t kAttentionChunk = 256;

// KV bytes of one token in one layer.
//   GQA: RowBytes(kv_type, n_kv_heads * key_length) + RowBytes(kv_type, n_kv_heads * value_length)
//   MLA: RowBytes(kv_type, kv_lora_rank + rope_dims)   (the latent and the rope key)
// Block-quantized KV types (q8_0, q4_0: 32 elements a block, incl. an f16 scale) need head
// widths that are multiples of the block: throws moefit::Error otherwise, or for a type that is
// not a KV type (f16, bf16, q8_0, q4_0).
uint64_t KvBytesPerCell(const ModelShape& shape, DType kv_type);

// Token cells a layer's cache holds: ctx * parallel, or for sliding-window layers
// parallel * min(ctx, sliding_window + ubatch) (the window plus the tokens of one pass).
int64_t KvCells(const ModelShape& shape, int64_t layer, int64_t ctx, int64_t parallel, int64_t ubatch);

// Buffers for one forward pass of `tokens` tokens (the ubatch, at most ctx * parallel), f32
// activations. A device's compute buffer is hidden + max(attention, dense_ffn, moe) + quantized,
// plus `logits` where the LM head runs; the host always holds `logits` for the sampler.
struct ComputeFigures {
  uint64_t hidden = 0;     // 4·T·3·model_dim: residual stream, normed input, block output
  uint64_t attention = 0;  // 4·T·(H·dk + Hkv·dk + Hkv·dv + H·dv) + 4·T·H·kAttentionChunk
                           //   (MLA: Hkv = H, plus 4·T·(kv_lora_rank + rope_dims))
  uint64_t dense_ffn = 0;  // 4·T·2·ffn_dim (gate and up outputs) for dense layers
  uint64_t moe = 0;        // 4·T·n_experts (router) + 4·T·A·(2·expert_ffn_dim + model_dim)
                           //   + 4·T·2·shared_expert_ffn_dim, A = active experts
  uint64_t quantized = 0;  // 2·T·max(inner widths): 8-bit activations with block scales
  uint64_t logits = 0;     // 4·vocab·parallel: one row of logits per sequence

  uint64_t Layers() const;       // hidden + max(attention, dense_ffn, moe) + quantized
  uint64_t ExpertsOnly() const;  // hidden + moe + quantized: a device computing routed experts only
};
ComputeFigures ComputeSizes(const ModelShape& shape, int64_t tokens, int64_t parallel);

// Host process overhead for this model: base + tokenizer tables.
uint64_t HostOverhead(const ModelShape& shape);

}  // namespace moefit
