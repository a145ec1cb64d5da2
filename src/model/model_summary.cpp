// SPDX-License-Identifier: MIT
// SummarizeModel: reads hyper-parameters by their GGUF keys and totals the tensor directory.
#include "model/model_summary.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace moefit {
namespace {

// "<arch>.<suffix>" keys shown by inspect, with the glossary's names.
constexpr std::pair<const char*, const char*> kHyperParameterKeys[] = {
    {"block_count", "layers"},
    {"embedding_length", "model_dim"},
    {"attention.head_count", "n_heads"},
    {"attention.head_count_kv", "n_kv_heads"},
    {"attention.key_length", "head_dim"},
    {"attention.value_length", "value_head_dim"},
    {"feed_forward_length", "ffn_dim"},
    {"expert_count", "n_experts"},
    {"expert_used_count", "n_active_experts"},
    {"expert_feed_forward_length", "expert_ffn_dim"},
    {"expert_shared_count", "n_shared_experts"},
    {"expert_shared_feed_forward_length", "shared_expert_ffn_dim"},
    {"leading_dense_block_count", "leading_dense_layers"},
    {"attention.q_lora_rank", "q_lora_rank"},
    {"attention.kv_lora_rank", "kv_lora_rank"},
    {"context_length", "context_length"},
    {"rope.dimension_count", "rope_dims"},
    {"rope.freq_base", "rope_base"},
    {"rope.scaling.type", "rope_scaling"},
    {"rope.scaling.factor", "rope_scaling_factor"},
    {"rope.scaling.original_context_length", "rope_original_context"},
    {"attention.layer_norm_rms_epsilon", "rms_eps"},
    {"vocab_size", "vocab_size"},
};

std::string TokenText(const GgufFile& file, int64_t id) {
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->element_type != GgufType::kString || id < 0 ||
      static_cast<uint64_t>(id) >= tokens->strings.size())
    return fmt::format("{}", id);
  return fmt::format("{} '{}'", id, tokens->strings[static_cast<size_t>(id)]);
}

TokenizerSummary SummarizeTokenizer(const GgufFile& file) {
  TokenizerSummary summary;
  const GgufValue* model = file.Find("tokenizer.ggml.model");
  if (model == nullptr) return summary;
  summary.present = true;
  summary.model = std::string(file.GetString("tokenizer.ggml.model"));
  summary.pre_tokenizer = std::string(file.GetString("tokenizer.ggml.pre", ""));
  if (const GgufValue* tokens = file.Find("tokenizer.ggml.tokens")) summary.vocab_size = static_cast<int64_t>(tokens->count);
  if (const GgufValue* merges = file.Find("tokenizer.ggml.merges")) summary.merges = static_cast<int64_t>(merges->count);
  for (const char* special : {"bos", "eos", "eot", "pad", "unknown", "sep"}) {
    const std::string key = fmt::format("tokenizer.ggml.{}_token_id", special);
    if (const GgufValue* id = file.Find(key); id != nullptr && id->IsInteger())
      summary.special_tokens.emplace_back(special, TokenText(file, id->AsInt()));
  }
  summary.chat_template = file.Has("tokenizer.chat_template");
  return summary;
}

}  // namespace

ModelSummary SummarizeModel(const GgufFile& file) {
  ModelSummary summary;
  summary.architecture = std::string(file.architecture());
  summary.name = std::string(file.GetString("general.name", ""));
  const std::string prefix = summary.architecture + ".";
  for (const auto& [suffix, display] : kHyperParameterKeys) {
    if (const GgufValue* value = file.Find(prefix + suffix)) summary.hyperparameters.emplace_back(display, value->ToString());
  }
  const GgufValue* experts = file.Find(prefix + "expert_count");
  const GgufValue* used = file.Find(prefix + "expert_used_count");
  if (experts != nullptr && experts->IsInteger()) summary.n_experts = experts->AsInt();
  if (used != nullptr && used->IsInteger()) summary.n_active_experts = used->AsInt();
  summary.tokenizer = SummarizeTokenizer(file);

  for (int role = 0; role < kTensorRoleCount; ++role) summary.roles[role].role = static_cast<TensorRole>(role);
  std::map<DType, TypeShare> by_type;
  for (const GgufTensorInfo& tensor : file.tensors()) {
    RoleTotals& totals = summary.roles[static_cast<int>(ClassifyTensor(tensor.name))];
    ++totals.tensors;
    totals.params += tensor.elements;
    totals.bytes += tensor.bytes;
    TypeShare& share = by_type[tensor.type];
    share.type = tensor.type;
    share.params += tensor.elements;
    share.bytes += tensor.bytes;
    summary.total_params += tensor.elements;
    summary.total_bytes += tensor.bytes;
    ++summary.tensor_count;
  }
  for (const auto& [type, share] : by_type) summary.type_mix.push_back(share);
  std::sort(summary.type_mix.begin(), summary.type_mix.end(),
            [](const TypeShare& a, const TypeShare& b) { return a.bytes > b.bytes; });

  summary.active_params = summary.total_params;
  const int64_t routed = summary.roles[static_cast<int>(TensorRole::kRoutedExperts)].params;
  if (summary.n_experts > 0 && summary.n_active_experts > 0 && summary.n_active_experts <= summary.n_experts)
    summary.active_params = summary.total_params - routed + routed / summary.n_experts * summary.n_active_experts;
  return summary;
}

}  // namespace moefit
