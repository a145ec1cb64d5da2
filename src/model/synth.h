// SPDX-License-Identifier: MIT
// Synthesizes random-weight GGUF models of any supported architecture, shape and weight type,
// deterministic for a seed, streamed to disk (never the whole model in memory).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace moefit {

struct SynthOptions {
  std::string architecture = "qwen3moe";
  std::string name = "moefit-synthetic";
  int n_layers = 2;
  int model_dim = 64;
  int n_heads = 4;
  int n_kv_heads = 2;
  int head_dim = 16;
  int ffn_dim = 128;        // dense layers (and dense architectures)
  int n_experts = 8;        // 0: a dense model
  int n_active_experts = 2;
  int expert_ffn_dim = 64;
  int shared_expert_ffn_dim = 0;  // > 0: a shared expert (gated for qwen2moe)
  int vocab_size = 0;             // 0: the vocabulary's own size
  int context_length = 4096;
  float rope_base = 1000000.0f;
  float rms_eps = 1e-6f;
  bool tied_output = false;
  std::string file_type = "q8_0";  // f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q4_k, q5_k, q6_k, iq4_xs, ...
  uint64_t seed = 1;
  std::string vocab_path;  // take tokenizer + chat template from this GGUF; empty: built-in
};

// A named shape: "tiny", "qwen3-30b-a3b", "qwen1.5-moe-a2.7b". Throws for an unknown name.
SynthOptions SynthPreset(const std::string& name);
std::vector<std::string> SynthPresetNames();

struct SynthProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string tensor;
};

// Writes the model to `path` (atomically: a partial file is never left under that name).
void SynthesizeModel(const SynthOptions& options, const std::string& path,
                     const std::function<void(const SynthProgress&)>& progress = {});

// The built-in byte-level vocabulary's chat template (ChatML).
extern const char* const kBuiltinChatTemplate;

}  // namespace moefit
