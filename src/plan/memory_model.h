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

// Host: the process itself (code and libraries, thread stacks, heap bookkeeping). Measured at
// 11.0 MiB (peak RSS less everything else, docs/memory.md); planned with 5 MiB to spare.
inline constexpr uint64_t kHostBaseOverhead = 16 * kMiB;
// Host: tokenizer tables and the GGUF metadata they are parsed from, per vocabulary entry and per
// BPE merge (measured 122 and 73 bytes from the Qwen3 and Llama 3 vocabularies, docs/memory.md).
inline constexpr uint64_t kHostBytesPerVocabEntry = 128;
inline constexpr uint64_t kHostBytesPerMerge = 80;
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

// Buffers for one forward pass of `tokens` tokens T (the ubatch, at most ctx * parallel), as the
// CPU engine allocates them (ForwardScratch: every buffer at once, f32 unless said), plus the
// 8-bit activations the matmul kernels quantize into, and one row of logits per sequence.
struct ComputeFigures {
  uint64_t hidden = 0;     // 4·T·4·model_dim: residual, normed, projected, ffn output
  uint64_t attention = 0;  // 4·T·(H·dk + Hkv·dk + Hkv·dv + H·dv) (q, k, v, output) + 4·T·H·kAttentionChunk
                           //   scores (MLA: Hkv = H, plus 4·T·(kv_lora_rank + rope_dims)) + the
                           //   per-thread attention workspaces

  uint64_t ffn = 0;        // SwiGluMany's scratch: 3·4·Hn (gate, up, quantized hidden) + 4·T·model_dim
                           //   (quantized input) + kFfnJobBytes per job, Hn = hidden elements of one
                           //   call = max(T·ffn_dim dense, T·A·expert_ffn_dim + T·shared_expert_ffn_dim)
  uint64_t moe = 0;        // router 4·T·n_experts, expert outputs 4·T·A·model_dim, shared expert output
                           //   4·T·model_dim, routing 4·(4·T·A + 4·n_experts + 1), expert views
                           //   kExpertViewBytes·n_experts; A = active experts
  uint64_t quantized = 0;  // 2·T·max(inner widths): 8-bit activations with block scales
  uint64_t logits = 0;     // 4·vocab·parallel: one row of logits per sequence

  uint64_t Layers() const;       // hidden + attention + ffn + moe + quantized
  uint64_t ExpertsOnly() const;  // hidden + ffn + moe + quantized: a device computing routed experts only
};
// Bytes the engine keeps per routed expert for the views of its three matrices in a batch.
inline constexpr uint64_t kExpertViewBytes = 256;
// Bytes of one FfnJob (three matrix views, a row list, a count, an output) in the job list.
inline constexpr uint64_t kFfnJobBytes = 256;
// `threads`: the CPU threads that run attention, each with its own workspace (the flash
// kernel's scores, accumulators and value rows for up to 4 queries x the heads of one KV head).
ComputeFigures ComputeSizes(const ModelShape& shape, int64_t tokens, int64_t parallel, int threads);
// Bytes of one thread's attention workspace (an upper bound of the kernels' own layout).
uint64_t AttentionWorkspacePerThread(const ModelShape& shape);

// Host process overhead for this model: base + tokenizer tables (vocabulary and merges).
uint64_t HostOverhead(const ModelShape& shape);

// The host's per-cell KV bookkeeping (free list and sequence lists: two int32 per cell; the
// count of sequences sharing the cell: one uint16), beside the K and V bytes of KvBytesPerCell.
inline constexpr uint64_t kKvBookkeepingPerCell = 2 * sizeof(int32_t) + sizeof(uint16_t);

}  // namespace moefit
