// SPDX-License-Identifier: MIT
// The model catalog (figures from each model's config.json on Hugging Face) and the synthesis
// of a GGUF tensor directory from a shape.
#include "plan/catalog.h"

#include <cctype>

#include <fmt/format.h>

#include "core/error.h"

namespace moefit {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Designated initialisers keep each entry readable next to its config.json.
ModelShape Gqa(ModelShape shape) {
  shape.attention = AttentionKind::kGqa;
  if (shape.value_length == 0) shape.value_length = shape.key_length;
  return shape;
}

std::vector<CatalogModel> BuildCatalog() {
  std::vector<CatalogModel> models;
  // Qwen/Qwen3-30B-A3B config.json (max_position_embeddings 40960; 2507 releases: 262144).
  models.push_back({"qwen3-30b-a3b", "", "Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B config.json", 30.5,
                    Gqa({.name = "Qwen3-30B-A3B", .architecture = "qwen3moe", .n_layers = 48, .model_dim = 2048,
                         .n_heads = 32, .n_kv_heads = 4, .key_length = 128, .ffn_dim = 6144, .n_experts = 128,
                         .n_active_experts = 8, .expert_ffn_dim = 768, .vocab_size = 151936, .context_length = 40960}),
                    {.qk_norm = QkNorm::kPerHead}});
  models.push_back({"qwen3-235b-a22b", "", "Qwen3-235B-A22B", "Qwen/Qwen3-235B-A22B config.json", 235.0,
                    Gqa({.name = "Qwen3-235B-A22B", .architecture = "qwen3moe", .n_layers = 94, .model_dim = 4096,
                         .n_heads = 64, .n_kv_heads = 4, .key_length = 128, .ffn_dim = 12288, .n_experts = 128,
                         .n_active_experts = 8, .expert_ffn_dim = 1536, .vocab_size = 151936, .context_length = 40960}),
                    {.qk_norm = QkNorm::kPerHead}});
  models.push_back({"qwen1.5-moe-a2.7b", "", "Qwen1.5-MoE-A2.7B", "Qwen/Qwen1.5-MoE-A2.7B config.json", 14.3,
                    Gqa({.name = "Qwen1.5-MoE-A2.7B", .architecture = "qwen2moe", .n_layers = 24, .model_dim = 2048,
                         .n_heads = 16, .n_kv_heads = 16, .key_length = 128, .ffn_dim = 5632, .n_experts = 60,
                         .n_active_experts = 4, .expert_ffn_dim = 1408, .n_shared_experts = 1,
                         .shared_expert_ffn_dim = 5632, .vocab_size = 151936, .context_length = 8192}),
                    {.qkv_bias = true, .shared_expert_gate = true}});
  models.push_back({"qwen2-57b-a14b", "", "Qwen2-57B-A14B", "Qwen/Qwen2-57B-A14B-Instruct config.json", 57.4,
                    Gqa({.name = "Qwen2-57B-A14B", .architecture = "qwen2moe", .n_layers = 28, .model_dim = 3584,
                         .n_heads = 28, .n_kv_heads = 4, .key_length = 128, .ffn_dim = 18944, .n_experts = 64,
                         .n_active_experts = 8, .expert_ffn_dim = 2560, .n_shared_experts = 1,
                         .shared_expert_ffn_dim = 20480, .vocab_size = 151936, .context_length = 32768}),
                    {.qkv_bias = true, .shared_expert_gate = true}});
  // MLA: the cache holds kv_lora_rank + qk_rope_head_dim per token and layer; query heads are
  // qk_nope_head_dim (128) + qk_rope_head_dim (64) wide, value heads v_head_dim (128).
  models.push_back({"deepseek-v2-lite", "", "DeepSeek-V2-Lite", "deepseek-ai/DeepSeek-V2-Lite config.json", 15.7,
                    {.name = "DeepSeek-V2-Lite", .architecture = "deepseek2", .n_layers = 27, .model_dim = 2048,
                     .n_heads = 16, .n_kv_heads = 16, .key_length = 192, .value_length = 128,
                     .attention = AttentionKind::kMla, .q_lora_rank = 0, .kv_lora_rank = 512, .rope_dims = 64,
                     .ffn_dim = 10944, .leading_dense_layers = 1, .n_experts = 64, .n_active_experts = 6,
                     .expert_ffn_dim = 1408, .n_shared_experts = 2, .shared_expert_ffn_dim = 2816,
                     .vocab_size = 102400, .context_length = 163840},
                    {}});
  // The multi-token-prediction layer (61) is not converted to GGUF.
  models.push_back({"deepseek-v3", "deepseek-r1", "DeepSeek-V3 / R1", "deepseek-ai/DeepSeek-V3 config.json", 671.0,
                    {.name = "DeepSeek-V3", .architecture = "deepseek2", .n_layers = 61, .model_dim = 7168,
                     .n_heads = 128, .n_kv_heads = 128, .key_length = 192, .value_length = 128,
                     .attention = AttentionKind::kMla, .q_lora_rank = 1536, .kv_lora_rank = 512, .rope_dims = 64,
                     .ffn_dim = 18432, .leading_dense_layers = 3, .n_experts = 256, .n_active_experts = 8,
                     .expert_ffn_dim = 2048, .n_shared_experts = 1, .shared_expert_ffn_dim = 2048,
                     .vocab_size = 129280, .context_length = 163840},
                    {.expert_score_bias = true}});
  // 46 layers + 1 multi-token-prediction layer that GGUF files carry (block_count 47) and
  // inference does not run.
  models.push_back({"glm-4.5-air", "", "GLM-4.5-Air", "zai-org/GLM-4.5-Air config.json", 106.0,
                    Gqa({.name = "GLM-4.5-Air", .architecture = "glm4moe", .n_layers = 46, .n_unused_layers = 1,
                         .model_dim = 4096, .n_heads = 96, .n_kv_heads = 8, .key_length = 128, .ffn_dim = 10944,
                         .leading_dense_layers = 1, .n_experts = 128, .n_active_experts = 8, .expert_ffn_dim = 1408,
                         .n_shared_experts = 1, .shared_expert_ffn_dim = 1408, .vocab_size = 151552,
                         .context_length = 131072}),
                    {.qkv_bias = true, .expert_score_bias = true}});
  // Alternating sliding-window (128) and full attention layers, attention sinks, biases everywhere.
  const CatalogLayout gpt_oss{.qkv_bias = true, .output_bias = true, .attention_sinks = true, .router_bias = true,
                              .expert_biases = true, .experts_in_mxfp4 = true};
  models.push_back({"gpt-oss-20b", "", "gpt-oss-20b", "openai/gpt-oss-20b config.json", 20.9,
                    Gqa({.name = "gpt-oss-20b", .architecture = "gpt-oss", .n_layers = 24, .model_dim = 2880,
                         .n_heads = 64, .n_kv_heads = 8, .key_length = 64, .sliding_window = 128,
                         .sliding_window_period = 2, .ffn_dim = 2880, .n_experts = 32, .n_active_experts = 4,
                         .expert_ffn_dim = 2880, .vocab_size = 201088, .context_length = 131072}),
                    gpt_oss});
  models.push_back({"gpt-oss-120b", "", "gpt-oss-120b", "openai/gpt-oss-120b config.json", 116.8,
                    Gqa({.name = "gpt-oss-120b", .architecture = "gpt-oss", .n_layers = 36, .model_dim = 2880,
                         .n_heads = 64, .n_kv_heads = 8, .key_length = 64, .sliding_window = 128,
                         .sliding_window_period = 2, .ffn_dim = 2880, .n_experts = 128, .n_active_experts = 4,
                         .expert_ffn_dim = 2880, .vocab_size = 201088, .context_length = 131072}),
                    gpt_oss});
  // GGUF files of Mixtral use the llama architecture with expert tensors.
  models.push_back({"mixtral-8x7b", "", "Mixtral-8x7B", "mistralai/Mixtral-8x7B-v0.1 config.json", 46.7,
                    Gqa({.name = "Mixtral-8x7B", .architecture = "llama", .n_layers = 32, .model_dim = 4096,
                         .n_heads = 32, .n_kv_heads = 8, .key_length = 128, .ffn_dim = 14336, .n_experts = 8,
                         .n_active_experts = 2, .expert_ffn_dim = 14336, .vocab_size = 32000, .context_length = 32768}),
                    {}});
  models.push_back({"mixtral-8x22b", "", "Mixtral-8x22B", "mistralai/Mixtral-8x22B-Instruct-v0.1 config.json", 141.0,
                    Gqa({.name = "Mixtral-8x22B", .architecture = "llama", .n_layers = 56, .model_dim = 6144,
                         .n_heads = 48, .n_kv_heads = 8, .key_length = 128, .ffn_dim = 16384, .n_experts = 8,
                         .n_active_experts = 2, .expert_ffn_dim = 16384, .vocab_size = 32768, .context_length = 65536}),
                    {}});
  models.push_back({"olmoe-1b-7b", "", "OLMoE-1B-7B", "allenai/OLMoE-1B-7B-0924 config.json", 6.9,
                    Gqa({.name = "OLMoE-1B-7B", .architecture = "olmoe", .n_layers = 16, .model_dim = 2048,
                         .n_heads = 16, .n_kv_heads = 16, .key_length = 128, .ffn_dim = 1024, .n_experts = 64,
                         .n_active_experts = 8, .expert_ffn_dim = 1024, .vocab_size = 50304, .context_length = 4096}),
                    {.qk_norm = QkNorm::kFull}});
  // One dense model, for comparison and for the dense placement policy.
  models.push_back({"qwen3-8b", "", "Qwen3-8B (dense)", "Qwen/Qwen3-8B config.json", 8.2,
                    Gqa({.name = "Qwen3-8B", .architecture = "qwen3", .n_layers = 36, .model_dim = 4096,
                         .n_heads = 32, .n_kv_heads = 8, .key_length = 128, .ffn_dim = 12288, .vocab_size = 151936,
                         .context_length = 40960}),
                    {.qk_norm = QkNorm::kPerHead}});
  return models;
}

class TensorList {
 public:
  explicit TensorList(std::vector<TensorEntry>& out) : out_(out) {}
  // Vectors (and routers) are F32 in converted files; larger weights start as BF16.
  void Add(std::string name, std::vector<int64_t> dims, DType weight_type = DType::kBF16) {
    TensorEntry tensor;
    tensor.role = ClassifyTensor(name);
    tensor.layer = TensorLayer(name).value_or(-1);
    tensor.name = std::move(name);
    tensor.dims = std::move(dims);
    const bool vector_or_router =
        tensor.dims.size() < 2 || !tensor.name.ends_with(".weight") || tensor.name.find("ffn_gate_inp") != std::string::npos;
    tensor.type = vector_or_router ? DType::kF32 : weight_type;
    tensor.bytes = TensorBytes(tensor.type, tensor.dims);
    out_.push_back(std::move(tensor));
  }

 private:
  std::vector<TensorEntry>& out_;
};

void AddAttention(TensorList& list, const std::string& blk, const ModelShape& shape, const CatalogLayout& layout) {
  const int64_t d = shape.model_dim, heads = shape.n_heads, kv_heads = shape.n_kv_heads;
  const int64_t dk = shape.key_length, dv = shape.value_length;
  if (shape.attention == AttentionKind::kMla) {
    if (shape.q_lora_rank > 0) {
      list.Add(blk + "attn_q_a.weight", {d, shape.q_lora_rank});
      list.Add(blk + "attn_q_a_norm.weight", {shape.q_lora_rank});
      list.Add(blk + "attn_q_b.weight", {shape.q_lora_rank, heads * dk});
    } else {
      list.Add(blk + "attn_q.weight", {d, heads * dk});
    }
    list.Add(blk + "attn_kv_a_mqa.weight", {d, shape.kv_lora_rank + shape.rope_dims});
    list.Add(blk + "attn_kv_a_norm.weight", {shape.kv_lora_rank});
    list.Add(blk + "attn_kv_b.weight", {shape.kv_lora_rank, heads * (dk - shape.rope_dims + dv)});
    list.Add(blk + "attn_output.weight", {heads * dv, d});
    return;
  }
  list.Add(blk + "attn_q.weight", {d, heads * dk});
  list.Add(blk + "attn_k.weight", {d, kv_heads * dk});
  list.Add(blk + "attn_v.weight", {d, kv_heads * dv});
  list.Add(blk + "attn_output.weight", {heads * dv, d});
  if (layout.qkv_bias) {
    list.Add(blk + "attn_q.bias", {heads * dk});
    list.Add(blk + "attn_k.bias", {kv_heads * dk});
    list.Add(blk + "attn_v.bias", {kv_heads * dv});
  }
  if (layout.output_bias) list.Add(blk + "attn_output.bias", {d});
  if (layout.qk_norm == QkNorm::kPerHead) {
    list.Add(blk + "attn_q_norm.weight", {dk});
    list.Add(blk + "attn_k_norm.weight", {dk});
  } else if (layout.qk_norm == QkNorm::kFull) {
    list.Add(blk + "attn_q_norm.weight", {heads * dk});
    list.Add(blk + "attn_k_norm.weight", {kv_heads * dk});
  }
  if (layout.attention_sinks) list.Add(blk + "attn_sinks.weight", {heads});
}

void AddFfn(TensorList& list, const std::string& blk, int64_t layer, const ModelShape& shape, const CatalogLayout& layout) {
  const int64_t d = shape.model_dim;
  if (!shape.is_moe() || layer < shape.leading_dense_layers) {
    list.Add(blk + "ffn_gate.weight", {d, shape.ffn_dim});
    list.Add(blk + "ffn_up.weight", {d, shape.ffn_dim});
    list.Add(blk + "ffn_down.weight", {shape.ffn_dim, d});
    return;
  }
  const int64_t experts = shape.n_experts, width = shape.expert_ffn_dim;
  list.Add(blk + "ffn_gate_inp.weight", {d, experts});
  if (layout.router_bias) list.Add(blk + "ffn_gate_inp.bias", {experts});
  if (layout.expert_score_bias) list.Add(blk + "exp_probs_b.bias", {experts});
  const DType expert_type = layout.experts_in_mxfp4 ? DType::kMXFP4 : DType::kBF16;
  list.Add(blk + "ffn_gate_exps.weight", {d, width, experts}, expert_type);
  list.Add(blk + "ffn_up_exps.weight", {d, width, experts}, expert_type);
  list.Add(blk + "ffn_down_exps.weight", {width, d, experts}, expert_type);
  if (layout.expert_biases) {
    list.Add(blk + "ffn_gate_exps.bias", {width, experts});
    list.Add(blk + "ffn_up_exps.bias", {width, experts});
    list.Add(blk + "ffn_down_exps.bias", {d, experts});
  }
  if (shape.shared_expert_ffn_dim > 0) {
    list.Add(blk + "ffn_gate_shexp.weight", {d, shape.shared_expert_ffn_dim});
    list.Add(blk + "ffn_up_shexp.weight", {d, shape.shared_expert_ffn_dim});
    list.Add(blk + "ffn_down_shexp.weight", {shape.shared_expert_ffn_dim, d});
    if (layout.shared_expert_gate) list.Add(blk + "ffn_gate_inp_shexp.weight", {d});
  }
}

}  // namespace

const std::vector<CatalogModel>& Catalog() {
  static const std::vector<CatalogModel> catalog = BuildCatalog();
  return catalog;
}

const CatalogModel* FindCatalogModel(std::string_view name) {
  for (const CatalogModel& model : Catalog()) {
    if (EqualsIgnoringCase(model.id, name) || EqualsIgnoringCase(model.display, name) ||
        (!model.alias.empty() && EqualsIgnoringCase(model.alias, name)) || EqualsIgnoringCase(model.shape.name, name))
      return &model;
  }
  return nullptr;
}

std::vector<TensorEntry> CatalogTensors(const ModelShape& shape, const CatalogLayout& layout) {
  std::vector<TensorEntry> tensors;
  TensorList list(tensors);
  const int64_t d = shape.model_dim;
  list.Add("token_embd.weight", {d, shape.vocab_size});
  list.Add("output_norm.weight", {d});
  if (!shape.tied_embeddings) list.Add("output.weight", {d, shape.vocab_size});
  for (int64_t layer = 0; layer < shape.n_layers + shape.n_unused_layers; ++layer) {
    const std::string blk = fmt::format("blk.{}.", layer);
    list.Add(blk + "attn_norm.weight", {d});
    AddAttention(list, blk, shape, layout);
    list.Add(blk + "ffn_norm.weight", {d});
    AddFfn(list, blk, layer, shape, layout);
    if (layer >= shape.n_layers) {  // multi-token-prediction extras
      list.Add(blk + "nextn.eh_proj.weight", {2 * d, d});
      list.Add(blk + "nextn.enorm.weight", {d});
      list.Add(blk + "nextn.hnorm.weight", {d});
      list.Add(blk + "nextn.shared_head_norm.weight", {d});
    }
  }
  return tensors;
}

ModelInventory InventoryFromShape(const ModelShape& shape, const CatalogLayout& layout, FileType type) {
  ModelInventory inventory;
  inventory.shape = shape;
  // BPE vocabularies have about one merge per token (Qwen3: 151,387 for 151,936 tokens).
  if (inventory.shape.n_merges == 0) inventory.shape.n_merges = shape.vocab_size;
  inventory.source = "catalog";
  inventory.file_type = std::string(Info(type).display);
  inventory.tensors = CatalogTensors(shape, layout);
  ApplyFileType(type, shape, inventory.tensors);
  // Metadata: mostly the vocabulary (tokens, scores, types, merges), ~48 bytes a token.
  inventory.file_bytes = inventory.tensor_bytes() + static_cast<uint64_t>(shape.vocab_size) * 48 + (1u << 20);
  return inventory;
}

ModelInventory InventoryFromCatalog(const CatalogModel& model, FileType type) {
  return InventoryFromShape(model.shape, model.layout, type);
}

}  // namespace moefit
