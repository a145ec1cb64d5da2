// SPDX-License-Identifier: MIT
// ModelInventory from a GGUF file: `<arch>.*` keys to ModelShape, the directory to TensorEntry.
#include "plan/model_inventory.h"

#include <algorithm>
#include <string_view>

#include "core/error.h"
#include "model/model_summary.h"
#include "plan/file_type.h"

namespace moefit {
namespace {

// Some models give per-layer arrays (head counts, FFN widths); memory follows the largest.
int64_t IntOrMax(const GgufFile& file, const std::string& key, int64_t fallback) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) return fallback;
  if (value->type != GgufType::kArray) return value->AsInt();
  int64_t largest = fallback;
  for (uint64_t i = 0; i < value->count; ++i) largest = i == 0 ? value->IntAt(i) : std::max(largest, value->IntAt(i));
  return largest;
}

// Which layers of a sliding-window model slide, where the file does not say: one full-attention
// layer every `period` layers. TODO(arch): move into the architecture descriptors of model/arch.
int64_t SlidingWindowPeriod(std::string_view architecture) {
  if (architecture == "gpt-oss") return 2;
  if (architecture == "gemma3") return 6;
  return 0;
}

}  // namespace

bool ModelShape::LayerSlides(int64_t layer) const {
  if (sliding_window <= 0) return false;
  if (sliding_window_period <= 0) return true;
  return layer % sliding_window_period < sliding_window_period - 1;
}

int64_t TensorEntry::elements() const {
  int64_t count = 1;
  for (const int64_t dim : dims) count *= dim;
  return count;
}

uint64_t ModelInventory::tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorEntry& tensor : tensors) total += tensor.bytes;
  return total;
}

int64_t ModelInventory::params() const {
  int64_t total = 0;
  for (const TensorEntry& tensor : tensors) total += tensor.elements();
  return total;
}

uint64_t TensorBytes(DType type, const std::vector<int64_t>& dims) {
  const DTypeLayout& layout = Layout(type);
  const int64_t row = dims.empty() ? 1 : dims[0];
  if (row % layout.block_elements != 0)
    Fail("a row of {} elements does not fit {} blocks of {}", row, layout.name, layout.block_elements);
  int64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  return static_cast<uint64_t>(RowBytes(layout, row)) * static_cast<uint64_t>(rows);
}

ModelInventory InventoryFromGguf(const GgufFile& file) {
  ModelInventory inventory;
  inventory.source = file.path();
  inventory.file_bytes = file.file_size();
  const ModelSummary summary = SummarizeModel(file);
  if (file.tensors().empty()) Fail("{}: the file holds no tensors (a vocabulary-only file?)", file.path());
  if (summary.architecture.empty()) Fail("{}: general.architecture is missing", file.path());

  ModelShape& shape = inventory.shape;
  shape.architecture = summary.architecture;
  shape.name = summary.name.empty() ? summary.architecture : summary.name;
  const std::string prefix = shape.architecture + ".";
  const int64_t blocks = file.GetInt(prefix + "block_count");
  shape.n_unused_layers = std::clamp<int64_t>(file.GetInt(prefix + "nextn_predict_layers", 0), 0, blocks);
  shape.n_layers = blocks - shape.n_unused_layers;
  shape.model_dim = file.GetInt(prefix + "embedding_length");
  shape.n_heads = IntOrMax(file, prefix + "attention.head_count", 0);
  shape.n_kv_heads = IntOrMax(file, prefix + "attention.head_count_kv", shape.n_heads);
  if (shape.n_layers <= 0 || shape.model_dim <= 0 || shape.n_heads <= 0 || shape.n_kv_heads <= 0)
    Fail("{}: implausible shape: {} layers, model_dim {}, {} heads, {} KV heads", file.path(), shape.n_layers,
         shape.model_dim, shape.n_heads, shape.n_kv_heads);
  shape.key_length = file.GetInt(prefix + "attention.key_length", shape.model_dim / shape.n_heads);
  shape.value_length = file.GetInt(prefix + "attention.value_length", shape.key_length);
  shape.kv_lora_rank = file.GetInt(prefix + "attention.kv_lora_rank", 0);
  if (shape.kv_lora_rank > 0) {
    shape.attention = AttentionKind::kMla;
    shape.q_lora_rank = file.GetInt(prefix + "attention.q_lora_rank", 0);
    shape.rope_dims = file.GetInt(prefix + "rope.dimension_count", 0);
    // Files with absorbed MLA weights give the latent widths as key/value lengths and the
    // per-head query widths under *_mla.
    shape.key_length = file.GetInt(prefix + "attention.key_length_mla", shape.key_length);
    shape.value_length = file.GetInt(prefix + "attention.value_length_mla", shape.value_length);
  }
  shape.sliding_window = file.GetInt(prefix + "attention.sliding_window", 0);
  shape.sliding_window_period = SlidingWindowPeriod(shape.architecture);
  if (shape.sliding_window > 0 && shape.sliding_window_period == 0) shape.sliding_window = 0;  // unknown: full
  shape.ffn_dim = IntOrMax(file, prefix + "feed_forward_length", 0);
  shape.leading_dense_layers = file.GetInt(prefix + "leading_dense_block_count", 0);
  shape.n_experts = summary.n_experts;
  shape.n_active_experts = summary.n_active_experts;
  shape.expert_ffn_dim = file.GetInt(prefix + "expert_feed_forward_length", 0);
  shape.n_shared_experts = file.GetInt(prefix + "expert_shared_count", 0);
  shape.shared_expert_ffn_dim = file.GetInt(prefix + "expert_shared_feed_forward_length", 0);
  if (shape.shared_expert_ffn_dim == 0) shape.shared_expert_ffn_dim = shape.n_shared_experts * shape.expert_ffn_dim;
  shape.context_length = file.GetInt(prefix + "context_length", 0);

  bool has_output = false;
  for (const GgufTensorInfo& info : file.tensors()) {
    TensorEntry tensor;
    tensor.name = std::string(info.name);
    tensor.dims = info.dims;
    tensor.type = info.type;
    tensor.bytes = info.bytes;
    tensor.role = ClassifyTensor(info.name);
    tensor.layer = TensorLayer(info.name).value_or(-1);
    has_output = has_output || tensor.role == TensorRole::kOutput;
    if (tensor.name == "token_embd.weight" && tensor.dims.size() == 2) shape.vocab_size = tensor.dims[1];
    // Routed expert tensors without expert_ffn_dim in the metadata: (model_dim, ffn, experts).
    if (shape.expert_ffn_dim == 0 && tensor.name.find("ffn_up_exps.weight") != std::string::npos && tensor.dims.size() == 3)
      shape.expert_ffn_dim = tensor.dims[1];
    inventory.tensors.push_back(std::move(tensor));
  }
  shape.tied_embeddings = !has_output;
  shape.vocab_size = file.GetInt(prefix + "vocab_size", shape.vocab_size);
  if (shape.vocab_size == 0) shape.vocab_size = summary.tokenizer.vocab_size;
  shape.n_merges = summary.tokenizer.merges;

  if (const GgufValue* type = file.Find("general.file_type"); type != nullptr && type->IsInteger()) {
    if (const std::optional<FileType> file_type = FileTypeFromGgufId(type->AsInt()))
      inventory.file_type = std::string(Info(*file_type).display);
  }
  return inventory;
}

}  // namespace moefit
