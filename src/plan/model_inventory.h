// SPDX-License-Identifier: MIT
// What the planner needs to know about a model: its shape and every tensor with its bytes.
// From a GGUF file, or synthesized from a catalog entry before the file is downloaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"
#include "model/tensor_role.h"

namespace moefit {

// Hyper-parameters that decide memory, in the glossary's names.
struct ModelShape {
  std::string name;
  std::string architecture;      // GGUF architecture string
  int64_t n_layers = 0;          // blocks that run and hold KV
  int64_t n_unused_layers = 0;   // blocks stored after them but never run (multi-token prediction)
  int64_t model_dim = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t key_length = 0;        // per head (MLA: nope + rope dims of a query head)
  int64_t value_length = 0;      // per head
  AttentionKind attention = AttentionKind::kGqa;  // GQA caches K and V per KV head; MLA the latent + rope key
  int64_t q_lora_rank = 0;       // MLA, 0 when queries are not compressed
  int64_t kv_lora_rank = 0;      // MLA: latent width cached per token and layer
  int64_t rope_dims = 0;         // MLA: rope part of the key, cached beside the latent
  int64_t sliding_window = 0;    // tokens; 0 = every layer attends to the whole context
  int64_t sliding_window_period = 0;  // layer slides when layer % period < period - 1 (0: all layers)
  int64_t ffn_dim = 0;           // dense FFN width (dense models, leading dense layers)
  int64_t leading_dense_layers = 0;
  int64_t n_experts = 0;         // routed experts per MoE layer (0: dense model)
  int64_t n_active_experts = 0;
  int64_t expert_ffn_dim = 0;
  int64_t n_shared_experts = 0;
  int64_t shared_expert_ffn_dim = 0;  // total width of the shared experts of a layer
  int64_t vocab_size = 0;
  int64_t n_merges = 0;          // BPE merges of the tokenizer (host tables); catalog: vocab_size, an estimate
  int64_t context_length = 0;    // trained context (0 when unknown)
  bool tied_embeddings = false;  // no output tensor: the LM head reuses token_embd

  bool is_moe() const { return n_experts > 1; }
  bool LayerSlides(int64_t layer) const;
};

struct TensorEntry {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the row length
  DType type = DType::kF32;
  uint64_t bytes = 0;
  TensorRole role = TensorRole::kOther;
  int layer = -1;  // block index, -1 outside blocks

  int64_t elements() const;
};

struct ModelInventory {
  ModelShape shape;
  std::vector<TensorEntry> tensors;
  uint64_t file_bytes = 0;  // the whole file (tensor data + metadata)
  std::string source;       // the file path, or "catalog"
  std::string file_type;    // "Q4_K_M", or "" when the file does not say

  uint64_t tensor_bytes() const;
  int64_t params() const;
};

// Reads the shape from `<arch>.*` metadata and the tensor directory. Throws moefit::Error for a
// file without tensors or without the keys every model has (block_count, embedding_length).
ModelInventory InventoryFromGguf(const GgufFile& file);

// Bytes of a tensor of `dims` in `type`; throws when the row length does not fit the block size.
uint64_t TensorBytes(DType type, const std::vector<int64_t>& dims);

}  // namespace moefit
