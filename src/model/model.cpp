// SPDX-License-Identifier: MIT
// Model loading: metadata -> ModelSpec through the architecture descriptor, tensors -> views.
#include "model/model.h"

#include <fmt/format.h>

#include "core/error.h"
#include "model/arch/arch_descriptor.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

int ReadDim(const GgufFile& file, const std::string& key) {
  const int64_t value = file.GetInt(key);
  if (value <= 0 || value > (1 << 30)) Fail("{}: metadata key '{}' has an invalid value {}", file.path(), key, value);
  return static_cast<int>(value);
}

int ReadOptionalDim(const GgufFile& file, const std::string& key, int fallback) {
  return file.Has(key) ? ReadDim(file, key) : fallback;
}

// Some files give per-layer arrays for head counts; all our architectures use one value.
int ReadHeadCount(const GgufFile& file, const std::string& key, int fallback) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) {
    if (fallback > 0) return fallback;
    Fail("{}: required metadata key '{}' is missing", file.path(), key);
  }
  if (value->type == GgufType::kArray) {
    const std::vector<int64_t> counts = file.GetIntArray(key);
    if (counts.empty()) Fail("{}: metadata key '{}' is an empty array", file.path(), key);
    for (int64_t count : counts)
      if (count != counts[0]) Fail("{}: per-layer head counts in '{}' are not supported", file.path(), key);
    return static_cast<int>(counts[0]);
  }
  return ReadDim(file, key);
}

}  // namespace

ModelSpec ReadModelSpec(const GgufFile& file) {
  ModelSpec spec;
  spec.architecture = std::string(file.architecture());
  if (spec.architecture.empty()) Fail("{}: no general.architecture: not a model file", file.path());
  const ArchDescriptor* arch = FindArch(spec.architecture);
  if (arch == nullptr) {
    std::string known;
    for (const ArchDescriptor* a : AllArchs()) known += (known.empty() ? "" : ", ") + std::string(a->name);
    Fail("{}: architecture '{}' is not supported (supported: {})", file.path(), spec.architecture, known);
  }
  const std::string p = spec.architecture + ".";
  spec.n_layers = ReadDim(file, p + "block_count");
  spec.model_dim = ReadDim(file, p + "embedding_length");
  spec.n_heads = ReadHeadCount(file, p + "attention.head_count", 0);
  spec.n_kv_heads = ReadHeadCount(file, p + "attention.head_count_kv", spec.n_heads);
  if (spec.n_heads % spec.n_kv_heads != 0)
    Fail("{}: {} query heads cannot share {} KV heads evenly", file.path(), spec.n_heads, spec.n_kv_heads);
  spec.head_dim = ReadOptionalDim(file, p + "attention.key_length", spec.model_dim / spec.n_heads);
  spec.value_head_dim = ReadOptionalDim(file, p + "attention.value_length", spec.head_dim);
  spec.context_length = ReadOptionalDim(file, p + "context_length", 4096);
  spec.rms_eps = static_cast<float>(file.GetFloat(p + "attention.layer_norm_rms_epsilon", arch->default_rms_eps));
  if (!(spec.rms_eps > 0.0f && spec.rms_eps < 1.0f)) Fail("{}: rms epsilon {} is out of range", file.path(), spec.rms_eps);

  RopeSpec& rope = spec.rope;
  rope.style = arch->rope_style;
  rope.dims = ReadOptionalDim(file, p + "rope.dimension_count", spec.head_dim);
  if (rope.dims > spec.head_dim || rope.dims % 2 != 0)
    Fail("{}: RoPE dimension count {} does not fit head_dim {}", file.path(), rope.dims, spec.head_dim);
  rope.base = static_cast<float>(file.GetFloat(p + "rope.freq_base", 10000.0));
  const std::string scaling(file.GetString(p + "rope.scaling.type", "none"));
  double factor = file.GetFloat(p + "rope.scaling.factor", 0.0);
  if (file.Has(p + "rope.scale_linear")) {
    factor = file.GetFloat(p + "rope.scale_linear");
    if (scaling == "none" && factor > 0 && factor != 1.0) rope.scaling = RopeScaling::kLinear;
  }
  rope.original_context = ReadOptionalDim(file, p + "rope.scaling.original_context_length", spec.context_length);
  if (scaling == "linear") {
    rope.scaling = RopeScaling::kLinear;
  } else if (scaling == "yarn") {
    rope.scaling = RopeScaling::kYarn;
    rope.ext_factor = 1.0f;
    rope.beta_fast = static_cast<float>(file.GetFloat(p + "rope.scaling.yarn_beta_fast", 32.0));
    rope.beta_slow = static_cast<float>(file.GetFloat(p + "rope.scaling.yarn_beta_slow", 1.0));
    rope.attn_factor = static_cast<float>(file.GetFloat(p + "rope.scaling.attn_factor", 1.0));
  } else if (scaling != "none") {
    Fail("{}: RoPE scaling '{}' is not supported", file.path(), scaling);
  }
  if (rope.scaling != RopeScaling::kNone) {
    if (!(factor > 0)) Fail("{}: RoPE scaling '{}' without a positive factor", file.path(), scaling);
    rope.freq_scale = static_cast<float>(1.0 / factor);
  }

  spec.ffn_dim = ReadOptionalDim(file, p + "feed_forward_length", 0);
  spec.n_experts = file.Has(p + "expert_count") ? static_cast<int>(file.GetInt(p + "expert_count")) : 0;
  if (spec.n_experts < 0 || spec.n_experts > 4096) Fail("{}: expert count {} is out of range", file.path(), spec.n_experts);
  if (spec.n_experts > 0) {
    spec.n_active_experts = ReadDim(file, p + "expert_used_count");
    if (spec.n_active_experts > spec.n_experts)
      Fail("{}: {} active experts out of {}", file.path(), spec.n_active_experts, spec.n_experts);
    spec.expert_ffn_dim = ReadOptionalDim(file, p + "expert_feed_forward_length", spec.ffn_dim);
    spec.n_shared_experts = ReadOptionalDim(file, p + "expert_shared_count", 0);
    spec.shared_expert_ffn_dim = ReadOptionalDim(file, p + "expert_shared_feed_forward_length", 0);
    spec.leading_dense_layers = ReadOptionalDim(file, p + "leading_dense_block_count", 0);
  } else if (arch->moe_required) {
    Fail("{}: architecture '{}' needs {}expert_count", file.path(), spec.architecture, p);
  }
  spec.qk_norm = arch->qk_norm;
  spec.qkv_bias = arch->qkv_bias;
  spec.gating = arch->gating;
  spec.norm_topk = file.GetBool(p + "expert_weights_norm", arch->norm_topk);
  spec.shared_expert_gate = arch->shared_expert_gate;
  spec.attention = arch->attention;
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  spec.vocab_size = tokens != nullptr ? static_cast<int>(tokens->count) : 0;
  return spec;
}

FloatVector Model::CopyVector(const GgufTensorInfo& tensor) {
  std::vector<float>& storage = vector_storage_.emplace_back(static_cast<size_t>(tensor.elements));
  DequantizeRow(tensor.type, tensor.data, storage.data(), tensor.elements);
  return {storage.data(), tensor.elements};
}

namespace {

struct Binder {
  const GgufFile& file;

  const GgufTensorInfo* Find(const std::string& name) const { return file.FindTensor(name); }

  // Checks that the tensor has exactly `expected` dims (GGUF order) and reference math.
  const GgufTensorInfo& Check(const GgufTensorInfo& tensor, std::vector<int64_t> expected) const {
    if (tensor.dims != expected) {
      std::string want, got;
      for (int64_t d : expected) want += (want.empty() ? "" : ", ") + std::to_string(d);
      for (int64_t d : tensor.dims) got += (got.empty() ? "" : ", ") + std::to_string(d);
      Fail("{}: tensor '{}' has shape [{}] where the metadata implies [{}]", file.path(), tensor.name, got, want);
    }
    if (!CanDequantize(tensor.type))
      Fail("{}: tensor '{}' has type {}, which moefit cannot compute with yet", file.path(), tensor.name,
           DTypeName(tensor.type));
    return tensor;
  }

  TensorView Matrix(const std::string& name, std::vector<int64_t> expected, bool required = true) const {
    const GgufTensorInfo* tensor = Find(name);
    if (tensor == nullptr) {
      if (required) Fail("{}: required tensor '{}' is missing", file.path(), name);
      return {};
    }
    Check(*tensor, expected);
    TensorView view;
    view.data = tensor->data;
    view.type = tensor->type;
    view.n_dims = static_cast<int>(tensor->dims.size());
    for (size_t i = 0; i < tensor->dims.size(); ++i) view.dims[i] = tensor->dims[i];
    return view;
  }
};

}  // namespace

Model Model::Load(const GgufFile& file) {
  Model model;
  model.spec_ = ReadModelSpec(file);
  ModelSpec& spec = model.spec_;
  const Binder bind{file};
  auto vector = [&](const std::string& name, int64_t size, bool required) -> FloatVector {
    const GgufTensorInfo* tensor = bind.Find(name);
    if (tensor == nullptr) {
      if (required) Fail("{}: required tensor '{}' is missing", file.path(), name);
      return {};
    }
    return model.CopyVector(bind.Check(*tensor, {size}));
  };

  const GgufTensorInfo& embedding = file.GetTensor("token_embd.weight");
  if (embedding.dims.size() != 2 || embedding.dims[0] != spec.model_dim)
    Fail("{}: tensor 'token_embd.weight' does not have rows of model_dim {}", file.path(), spec.model_dim);
  if (spec.vocab_size == 0) spec.vocab_size = static_cast<int>(embedding.dims[1]);
  const int64_t dim = spec.model_dim, vocab = spec.vocab_size;
  ModelWeights& w = model.weights_;
  w.token_embd = bind.Matrix("token_embd.weight", {dim, vocab});
  w.output_norm = vector("output_norm.weight", dim, true);
  w.output = bind.Matrix("output.weight", {dim, vocab}, false);
  spec.tied_output = !w.output;
  if (spec.tied_output) w.output = w.token_embd;

  const int64_t q_rows = int64_t{spec.n_heads} * spec.head_dim;
  const int64_t k_rows = int64_t{spec.n_kv_heads} * spec.head_dim;
  const int64_t v_rows = int64_t{spec.n_kv_heads} * spec.value_head_dim;
  const int64_t attn_out_cols = int64_t{spec.n_heads} * spec.value_head_dim;
  w.layers.resize(static_cast<size_t>(spec.n_layers));
  for (int layer = 0; layer < spec.n_layers; ++layer) {
    LayerWeights& l = w.layers[static_cast<size_t>(layer)];
    auto name = [layer](const char* suffix) { return fmt::format("blk.{}.{}", layer, suffix); };
    l.attn_norm = vector(name("attn_norm.weight"), dim, true);
    l.attn_q = bind.Matrix(name("attn_q.weight"), {dim, q_rows});
    l.attn_k = bind.Matrix(name("attn_k.weight"), {dim, k_rows});
    l.attn_v = bind.Matrix(name("attn_v.weight"), {dim, v_rows});
    l.attn_output = bind.Matrix(name("attn_output.weight"), {attn_out_cols, dim});
    l.attn_q_bias = vector(name("attn_q.bias"), q_rows, spec.qkv_bias);
    l.attn_k_bias = vector(name("attn_k.bias"), k_rows, spec.qkv_bias);
    l.attn_v_bias = vector(name("attn_v.bias"), v_rows, spec.qkv_bias);
    if (spec.qk_norm == QkNorm::kPerHead) {
      l.attn_q_norm = vector(name("attn_q_norm.weight"), spec.head_dim, true);
      l.attn_k_norm = vector(name("attn_k_norm.weight"), spec.head_dim, true);
    } else if (spec.qk_norm == QkNorm::kFull) {
      l.attn_q_norm = vector(name("attn_q_norm.weight"), q_rows, true);
      l.attn_k_norm = vector(name("attn_k_norm.weight"), k_rows, true);
    }
    l.ffn_norm = vector(name("ffn_norm.weight"), dim, true);
    if (spec.LayerIsMoe(layer)) {
      const int64_t experts = spec.n_experts, ffn = spec.expert_ffn_dim;
      l.ffn_gate_inp = bind.Matrix(name("ffn_gate_inp.weight"), {dim, experts});
      l.ffn_gate_exps = bind.Matrix(name("ffn_gate_exps.weight"), {dim, ffn, experts});
      l.ffn_up_exps = bind.Matrix(name("ffn_up_exps.weight"), {dim, ffn, experts});
      l.ffn_down_exps = bind.Matrix(name("ffn_down_exps.weight"), {ffn, dim, experts});
      if (bind.Find(name("ffn_up_shexp.weight")) != nullptr) {
        const GgufTensorInfo& up = file.GetTensor(name("ffn_up_shexp.weight"));
        const int64_t shared_ffn = up.dims.size() == 2 ? up.dims[1] : 0;
        if (spec.shared_expert_ffn_dim == 0) spec.shared_expert_ffn_dim = static_cast<int>(shared_ffn);
        const int64_t sffn = spec.shared_expert_ffn_dim;
        l.ffn_gate_shexp = bind.Matrix(name("ffn_gate_shexp.weight"), {dim, sffn});
        l.ffn_up_shexp = bind.Matrix(name("ffn_up_shexp.weight"), {dim, sffn});
        l.ffn_down_shexp = bind.Matrix(name("ffn_down_shexp.weight"), {sffn, dim});
        if (spec.shared_expert_gate) l.ffn_gate_inp_shexp = vector(name("ffn_gate_inp_shexp.weight"), dim, true);
      }
    } else {
      if (spec.ffn_dim == 0) Fail("{}: dense layer {} but no feed_forward_length", file.path(), layer);
      const int64_t ffn = spec.ffn_dim;
      l.ffn_gate = bind.Matrix(name("ffn_gate.weight"), {dim, ffn});
      l.ffn_up = bind.Matrix(name("ffn_up.weight"), {dim, ffn});
      l.ffn_down = bind.Matrix(name("ffn_down.weight"), {ffn, dim});
    }
  }
  return model;
}

}  // namespace moefit
