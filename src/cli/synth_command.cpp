// SPDX-License-Identifier: MIT
// `moefit synth`: writes a random-weight GGUF model of any supported architecture and shape.
#include <chrono>
#include <cstdio>
#include <memory>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/format.h"
#include "model/synth.h"

namespace moefit {
namespace {

struct SynthCommandOptions {
  std::string preset = "tiny";
  std::string output;
  SynthOptions shape;  // overrides, applied on top of the preset when given
  std::string file_type;
  int64_t seed = -1;
  std::string vocab;
  int layers = 0, dim = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, experts = -1, active = 0, expert_ffn = 0,
      shared_ffn = -1, vocab_size = 0;
  std::string arch;
  bool tied = false;
};

}  // namespace

void RegisterSynthCommand(CLI::App& app) {
  auto o = std::make_shared<SynthCommandOptions>();
  CLI::App* command = app.add_subcommand("synth", "Write a random-weight GGUF model (for tests and benchmarks)");
  std::string presets;
  for (const std::string& name : SynthPresetNames()) presets += (presets.empty() ? "" : ", ") + name;
  command->add_option("--preset", o->preset, "Shape preset: " + presets)->capture_default_str();
  command->add_option("-o,--output", o->output, "Output GGUF file")->required();
  command->add_option("--type", o->file_type, "Weight type: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q4_k, q6_k, iq4_xs, ...");
  command->add_option("--arch", o->arch, "Architecture: qwen3moe, qwen2moe, llama, olmoe, qwen3, qwen2");
  command->add_option("--layers", o->layers, "Layers");
  command->add_option("--dim", o->dim, "model_dim");
  command->add_option("--heads", o->heads, "Query heads");
  command->add_option("--kv-heads", o->kv_heads, "KV heads");
  command->add_option("--head-dim", o->head_dim, "Head size");
  command->add_option("--ffn", o->ffn, "Dense ffn_dim");
  command->add_option("--experts", o->experts, "Experts (0: dense)");
  command->add_option("--active", o->active, "Active experts per token");
  command->add_option("--expert-ffn", o->expert_ffn, "expert_ffn_dim");
  command->add_option("--shared-ffn", o->shared_ffn, "Shared expert ffn (0: none)");
  command->add_option("--vocab-size", o->vocab_size, "Vocabulary size (built-in vocabulary padded to it)");
  command->add_flag("--tied", o->tied, "No output.weight: the embeddings are the LM head");
  command->add_option("--seed", o->seed, "Random seed");
  command->add_option("--vocab", o->vocab, "Take the tokenizer and chat template from this GGUF");
  command->callback([o] {
    SynthOptions options = SynthPreset(o->preset);
    auto set = [](int value, int& field, int unset = 0) {
      if (value != unset) field = value;
    };
    if (!o->arch.empty()) options.architecture = o->arch;
    set(o->layers, options.n_layers);
    set(o->dim, options.model_dim);
    set(o->heads, options.n_heads);
    set(o->kv_heads, options.n_kv_heads);
    set(o->head_dim, options.head_dim);
    set(o->ffn, options.ffn_dim);
    set(o->experts, options.n_experts, -1);
    set(o->active, options.n_active_experts);
    set(o->expert_ffn, options.expert_ffn_dim);
    set(o->shared_ffn, options.shared_expert_ffn_dim, -1);
    set(o->vocab_size, options.vocab_size);
    if (o->tied) options.tied_output = true;
    if (!o->file_type.empty()) options.file_type = o->file_type;
    if (o->seed >= 0) options.seed = static_cast<uint64_t>(o->seed);
    options.vocab_path = o->vocab;
    const auto start = std::chrono::steady_clock::now();
    int last_percent = -1;
    SynthesizeModel(options, o->output, [&](const SynthProgress& progress) {
      const int percent = progress.bytes_total ? static_cast<int>(100 * progress.bytes_done / progress.bytes_total) : 100;
      // On a terminal: one line redrawn; otherwise a line per 10%.
      const bool terminal = ::isatty(2) != 0;
      if (percent == last_percent || (!terminal && percent / 10 == last_percent / 10)) return;
      last_percent = percent;
      std::fprintf(stderr, terminal ? "\rsynth: %3d%%  %s of %s  %-40s" : "synth: %3d%%  %s of %s  %s\n", percent, FormatBytes(progress.bytes_done).c_str(),
                   FormatBytes(progress.bytes_total).c_str(), progress.tensor.c_str());
      std::fflush(stderr);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\n");
    std::printf("wrote %s (%s, %s, %d layers, random weights) in %.1f s\n", o->output.c_str(),
                options.architecture.c_str(), options.file_type.c_str(), options.n_layers, seconds);
  });
}

}  // namespace moefit
