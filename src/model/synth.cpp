// SPDX-License-Identifier: MIT
// Model synthesis: metadata in the architecture's GGUF keys, tensors in the names and shapes the
// loader expects, weights N(0, 1/fan_in) so activations stay in a realistic range.
#include "model/synth.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/half.h"
#include "core/log.h"
#include "gguf/gguf_writer.h"
#include "model/arch/arch_descriptor.h"
#include "quant/dtype_traits.h"

namespace moefit {

const char* const kBuiltinChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

namespace {

// splitmix64: seeds and cheap per-row streams.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t HashName(const std::string& name) {
  uint64_t hash = 1469598103934665603ull;
  for (char c : name) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return hash;
}

// xorshift-based generator of approximately normal values (sum of 4 uniforms, unit variance).
struct Random {
  uint64_t state;
  explicit Random(uint64_t seed) : state(Mix(seed) | 1) {}
  uint64_t Next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  float Normal() {
    const float sum = Uniform() + Uniform() + Uniform() + Uniform();
    return (sum - 2.0f) * 1.7320508f;  // variance of the sum is 4/12
  }
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order
  DType type;
  float scale;   // standard deviation of the values
  float offset;  // added to every value (1 for norm weights)
};

bool UseMoreBits(int layer, int n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// The type a tensor gets in a file of `file_type`, as the reference quantizer's mixes do.
DType ChooseType(const std::string& file_type, const std::string& name, int64_t row_length, int layer, int n_layers) {
  const bool vector = name.find("_norm") != std::string::npos || name.find(".bias") != std::string::npos ||
                      name.find("ffn_gate_inp") != std::string::npos;
  if (vector) return DType::kF32;
  DType type;
  if (file_type == "q4_k_m" || file_type == "q5_k_m") {
    const DType base = file_type == "q4_k_m" ? DType::kQ4_K : DType::kQ5_K;
    const bool more_bits = name.find("attn_v") != std::string::npos || name.find("ffn_down") != std::string::npos;
    type = name == "output.weight" || (more_bits && UseMoreBits(layer, n_layers)) ? DType::kQ6_K : base;
  } else {
    const std::optional<DType> parsed = ParseDType(file_type);
    if (!parsed || !CanQuantize(*parsed) || Layout(*parsed).type == DType::kQ8_K)
      Fail("weight type '{}' cannot be synthesized (try f16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k, iq4_xs)", file_type);
    type = *parsed;
  }
  // Rows too short for the block: fall back like the reference quantizer does.
  if (row_length % Layout(type).block_elements != 0) type = row_length % 32 == 0 ? DType::kQ8_0 : DType::kF16;
  return type;
}

struct Vocabulary {
  std::unique_ptr<GgufFile> source;  // when taken from a file
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
};

// 256 byte tokens (in the byte-to-unicode alphabet of byte-level BPE) and the ChatML specials.
void BuiltinVocabulary(Vocabulary& vocab, int vocab_size) {
  auto byte_char = [](int b) -> std::string {
    // Printable bytes map to themselves; the rest to U+0100 onwards, in byte order.
    static int mapped[256];
    static bool ready = false;
    if (!ready) {
      int next = 256;
      for (int i = 0; i < 256; ++i) {
        const bool printable = (i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF);
        mapped[i] = printable ? i : next++;
      }
      ready = true;
    }
    const int cp = mapped[b];
    std::string out;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
  };
  for (int b = 0; b < 256; ++b) {
    vocab.tokens.push_back(byte_char(b));
    vocab.types.push_back(1);
  }
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    vocab.tokens.emplace_back(special);
    vocab.types.push_back(3);
  }
  for (int i = static_cast<int>(vocab.tokens.size()); i < vocab_size; ++i) {
    vocab.tokens.push_back(fmt::format("<|unused_{}|>", i));
    vocab.types.push_back(5);
  }
}

void WriteTokenizer(GgufWriter& writer, const Vocabulary& vocab) {
  if (vocab.source) {
    for (const auto& [key, value] : vocab.source->metadata())
      if (key.starts_with("tokenizer.")) writer.SetValue(key, value);
    return;
  }
  writer.SetString("tokenizer.ggml.model", "gpt2");
  writer.SetString("tokenizer.ggml.pre", "qwen2");
  writer.SetStringArray("tokenizer.ggml.tokens", vocab.tokens);
  writer.SetInt32Array("tokenizer.ggml.token_type", vocab.types);
  writer.SetStringArray("tokenizer.ggml.merges", std::vector<std::string>{});
  writer.SetUint32("tokenizer.ggml.bos_token_id", 256);
  writer.SetUint32("tokenizer.ggml.eos_token_id", 258);
  writer.SetUint32("tokenizer.ggml.padding_token_id", 256);
  writer.SetBool("tokenizer.ggml.add_bos_token", false);
  writer.SetString("tokenizer.chat_template", kBuiltinChatTemplate);
}

std::vector<TensorPlan> PlanTensors(const SynthOptions& o, const ArchDescriptor& arch, int64_t vocab) {
  std::vector<TensorPlan> plan;
  const int64_t dim = o.model_dim, q = int64_t{o.n_heads} * o.head_dim, kv = int64_t{o.n_kv_heads} * o.head_dim;
  auto add = [&](std::string name, std::vector<int64_t> dims, int layer) {
    const bool is_vector = dims.size() == 1;
    const float fan_in = static_cast<float>(dims[0]);
    const DType type = ChooseType(o.file_type, name, dims[0], layer, o.n_layers);
    const bool norm = name.find("_norm") != std::string::npos;
    const float scale = norm ? 0.1f : is_vector ? 0.02f : name == "token_embd.weight" ? 1.0f : 1.0f / std::sqrt(fan_in);
    plan.push_back({std::move(name), std::move(dims), type, scale, norm ? 1.0f : 0.0f});
  };
  add("token_embd.weight", {dim, vocab}, 0);
  for (int layer = 0; layer < o.n_layers; ++layer) {
    auto n = [layer](const char* suffix) { return fmt::format("blk.{}.{}", layer, suffix); };
    add(n("attn_norm.weight"), {dim}, layer);
    add(n("attn_q.weight"), {dim, q}, layer);
    add(n("attn_k.weight"), {dim, kv}, layer);
    add(n("attn_v.weight"), {dim, kv}, layer);
    if (arch.qkv_bias) {
      add(n("attn_q.bias"), {q}, layer);
      add(n("attn_k.bias"), {kv}, layer);
      add(n("attn_v.bias"), {kv}, layer);
    }
    if (arch.qk_norm == QkNorm::kPerHead) {
      add(n("attn_q_norm.weight"), {o.head_dim}, layer);
      add(n("attn_k_norm.weight"), {o.head_dim}, layer);
    } else if (arch.qk_norm == QkNorm::kFull) {
      add(n("attn_q_norm.weight"), {q}, layer);
      add(n("attn_k_norm.weight"), {kv}, layer);
    }
    add(n("attn_output.weight"), {q, dim}, layer);
    add(n("ffn_norm.weight"), {dim}, layer);
    if (o.n_experts > 0) {
      const int64_t experts = o.n_experts, ffn = o.expert_ffn_dim;
      add(n("ffn_gate_inp.weight"), {dim, experts}, layer);
      add(n("ffn_gate_exps.weight"), {dim, ffn, experts}, layer);
      add(n("ffn_up_exps.weight"), {dim, ffn, experts}, layer);
      add(n("ffn_down_exps.weight"), {ffn, dim, experts}, layer);
      if (o.shared_expert_ffn_dim > 0) {
        const int64_t shared = o.shared_expert_ffn_dim;
        if (arch.shared_expert_gate) add(n("ffn_gate_inp_shexp.weight"), {dim}, layer);
        add(n("ffn_gate_shexp.weight"), {dim, shared}, layer);
        add(n("ffn_up_shexp.weight"), {dim, shared}, layer);
        add(n("ffn_down_shexp.weight"), {shared, dim}, layer);
      }
    } else {
      add(n("ffn_gate.weight"), {dim, o.ffn_dim}, layer);
      add(n("ffn_up.weight"), {dim, o.ffn_dim}, layer);
      add(n("ffn_down.weight"), {o.ffn_dim, dim}, layer);
    }
  }
  add("output_norm.weight", {dim}, o.n_layers);
  if (!o.tied_output) add("output.weight", {dim, vocab}, o.n_layers);
  return plan;
}

void WriteMetadata(GgufWriter& writer, const SynthOptions& o, const ArchDescriptor& arch) {
  const std::string p = o.architecture + ".";
  writer.SetString("general.architecture", o.architecture);
  writer.SetString("general.name", o.name);
  writer.SetString("general.description", "random weights made by moefit synth: for tests and benchmarks only");
  writer.SetUint32(p + "block_count", static_cast<uint32_t>(o.n_layers));
  writer.SetUint32(p + "context_length", static_cast<uint32_t>(o.context_length));
  writer.SetUint32(p + "embedding_length", static_cast<uint32_t>(o.model_dim));
  writer.SetUint32(p + "feed_forward_length", static_cast<uint32_t>(o.ffn_dim));
  writer.SetUint32(p + "attention.head_count", static_cast<uint32_t>(o.n_heads));
  writer.SetUint32(p + "attention.head_count_kv", static_cast<uint32_t>(o.n_kv_heads));
  writer.SetUint32(p + "attention.key_length", static_cast<uint32_t>(o.head_dim));
  writer.SetUint32(p + "attention.value_length", static_cast<uint32_t>(o.head_dim));
  writer.SetUint32(p + "rope.dimension_count", static_cast<uint32_t>(o.head_dim));
  writer.SetFloat32(p + "rope.freq_base", o.rope_base);
  writer.SetFloat32(p + "attention.layer_norm_rms_epsilon", o.rms_eps);
  if (o.n_experts > 0) {
    writer.SetUint32(p + "expert_count", static_cast<uint32_t>(o.n_experts));
    writer.SetUint32(p + "expert_used_count", static_cast<uint32_t>(o.n_active_experts));
    writer.SetUint32(p + "expert_feed_forward_length", static_cast<uint32_t>(o.expert_ffn_dim));
    if (o.shared_expert_ffn_dim > 0)
      writer.SetUint32(p + "expert_shared_feed_forward_length", static_cast<uint32_t>(o.shared_expert_ffn_dim));
  }
  (void)arch;
}

// Fills `rows` rows of a tensor, starting at `first_row`, into `out` (their bytes).
void GenerateRows(const TensorPlan& tensor, uint64_t seed, int64_t first_row, int64_t rows, uint8_t* out,
                  const std::vector<uint8_t>& pool) {
  const int64_t cols = tensor.dims[0];
  const int64_t row_bytes = RowBytes(tensor.type, cols);
  const DTypeLayout& layout = Layout(tensor.type);
#pragma omp parallel
  {
    std::vector<float> values(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      Random random(seed ^ Mix(static_cast<uint64_t>(first_row + r)));
      uint8_t* target = out + r * row_bytes;
      if (!pool.empty()) {
        // Large tensors: rows assembled from random pre-quantized blocks (fast, still varied).
        const int64_t pool_blocks = static_cast<int64_t>(pool.size()) / layout.block_bytes;
        for (int64_t b = 0; b < cols / layout.block_elements; ++b) {
          const int64_t pick = static_cast<int64_t>(random.Next() % static_cast<uint64_t>(pool_blocks));
          std::copy_n(pool.data() + pick * layout.block_bytes, layout.block_bytes, target + b * layout.block_bytes);
        }
        continue;
      }
      for (float& v : values) v = tensor.offset + tensor.scale * random.Normal();
      Traits(tensor.type).quantize_row(values.data(), target, cols);
    }
  }
}

}  // namespace

std::vector<std::string> SynthPresetNames() { return {"tiny", "qwen3-30b-a3b", "qwen1.5-moe-a2.7b"}; }

SynthOptions SynthPreset(const std::string& name) {
  SynthOptions o;
  if (name == "tiny") return o;
  if (name == "qwen3-30b-a3b") {
    o.architecture = "qwen3moe";
    o.name = "synthetic Qwen3-30B-A3B shape";
    o.n_layers = 48;
    o.model_dim = 2048;
    o.n_heads = 32;
    o.n_kv_heads = 4;
    o.head_dim = 128;
    o.ffn_dim = 6144;
    o.n_experts = 128;
    o.n_active_experts = 8;
    o.expert_ffn_dim = 768;
    o.vocab_size = 151936;
    o.context_length = 40960;
    o.rope_base = 1000000.0f;
    o.file_type = "q4_k_m";
    return o;
  }
  if (name == "qwen1.5-moe-a2.7b") {
    o.architecture = "qwen2moe";
    o.name = "synthetic Qwen1.5-MoE-A2.7B shape";
    o.n_layers = 24;
    o.model_dim = 2048;
    o.n_heads = 16;
    o.n_kv_heads = 16;
    o.head_dim = 128;
    o.ffn_dim = 5632;
    o.n_experts = 60;
    o.n_active_experts = 4;
    o.expert_ffn_dim = 1408;
    o.shared_expert_ffn_dim = 5632;
    o.vocab_size = 151936;
    o.context_length = 8192;
    o.rope_base = 1000000.0f;
    o.file_type = "q4_k_m";
    return o;
  }
  std::string known;
  for (const std::string& n : SynthPresetNames()) known += (known.empty() ? "" : ", ") + n;
  Fail("unknown synth preset '{}' (known: {})", name, known);
}

void SynthesizeModel(const SynthOptions& o, const std::string& path,
                     const std::function<void(const SynthProgress&)>& progress) {
  const ArchDescriptor* arch = FindArch(o.architecture);
  if (arch == nullptr) Fail("cannot synthesize architecture '{}': not supported", o.architecture);
  if (arch->moe_required && o.n_experts == 0) Fail("architecture '{}' needs experts (n_experts > 0)", o.architecture);
  if (o.n_layers <= 0 || o.model_dim <= 0 || o.n_heads <= 0 || o.n_kv_heads <= 0 || o.head_dim <= 0 ||
      o.n_heads % o.n_kv_heads != 0 || o.head_dim % 2 != 0)
    Fail("invalid synth shape: layers {}, model_dim {}, heads {}/{} of {}", o.n_layers, o.model_dim, o.n_heads,
         o.n_kv_heads, o.head_dim);
  if (o.n_experts > 0 && (o.n_active_experts <= 0 || o.n_active_experts > o.n_experts || o.expert_ffn_dim <= 0))
    Fail("invalid experts: {} active of {}, expert_ffn_dim {}", o.n_active_experts, o.n_experts, o.expert_ffn_dim);

  Vocabulary vocab;
  if (!o.vocab_path.empty()) {
    vocab.source = std::make_unique<GgufFile>(GgufFile::Open(o.vocab_path));
    const GgufValue* tokens = vocab.source->Find("tokenizer.ggml.tokens");
    if (tokens == nullptr) Fail("{}: no tokenizer.ggml.tokens: not a vocabulary", o.vocab_path);
    if (o.vocab_size != 0 && static_cast<uint64_t>(o.vocab_size) != tokens->count)
      Log(LogLevel::kInfo, "vocabulary from {} has {} tokens (preset said {})", o.vocab_path, tokens->count, o.vocab_size);
    vocab.tokens.resize(tokens->count);  // only the count is used
  } else {
    BuiltinVocabulary(vocab, std::max(o.vocab_size, 259));
  }
  const int64_t vocab_size = static_cast<int64_t>(vocab.tokens.size());
  const std::vector<TensorPlan> tensors = PlanTensors(o, *arch, vocab_size);

  GgufWriter writer(path);
  WriteMetadata(writer, o, *arch);
  WriteTokenizer(writer, vocab);
  uint64_t total = 0;
  for (const TensorPlan& t : tensors) {
    writer.AddTensor(t.name, t.type, t.dims);
    int64_t rows = 1;
    for (size_t d = 1; d < t.dims.size(); ++d) rows *= t.dims[d];
    total += static_cast<uint64_t>(RowBytes(t.type, t.dims[0]) * rows);
  }
  constexpr int64_t kChunkBytes = 64ll << 20;
  constexpr int64_t kPoolThreshold = 4ll << 20;  // elements
  std::vector<uint8_t> chunk, pool;
  uint64_t done = 0;
  for (const TensorPlan& t : tensors) {
    const uint64_t seed = Mix(o.seed) ^ HashName(t.name);
    int64_t rows = 1;
    for (size_t d = 1; d < t.dims.size(); ++d) rows *= t.dims[d];
    const int64_t row_bytes = RowBytes(t.type, t.dims[0]);
    pool.clear();
    if (rows * t.dims[0] > kPoolThreshold && Layout(t.type).quantized) {
      const int64_t block_elements = Layout(t.type).block_elements;
      std::vector<float> values(static_cast<size_t>(block_elements * 4096));
      Random random(seed ^ 0x5eed);
      for (float& v : values) v = t.offset + t.scale * random.Normal();
      pool.resize(static_cast<size_t>(RowBytes(t.type, block_elements * 4096)));
      Traits(t.type).quantize_row(values.data(), pool.data(), block_elements * 4096);
    }
    const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkBytes / row_bytes);
    for (int64_t first = 0; first < rows; first += rows_per_chunk) {
      const int64_t count = std::min(rows_per_chunk, rows - first);
      chunk.resize(static_cast<size_t>(count * row_bytes));
      GenerateRows(t, seed, first, count, chunk.data(), pool);
      writer.WriteTensorData(chunk.data(), chunk.size());
      done += chunk.size();
      if (progress) progress({done, total, t.name});
    }
  }
  writer.Finish();
}

}  // namespace moefit
