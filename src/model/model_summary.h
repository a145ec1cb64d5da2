// SPDX-License-Identifier: MIT
// What a GGUF model is, in the figures that matter: hyper-parameters, tokenizer, parameters and
// bytes by role, type mix, total and active parameters. Pure: computed from the file's directory.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_file.h"
#include "model/tensor_role.h"

namespace moefit {

struct RoleTotals {
  TensorRole role = TensorRole::kOther;
  int tensors = 0;
  int64_t params = 0;
  uint64_t bytes = 0;
};

struct TypeShare {
  DType type = DType::kF32;
  int64_t params = 0;
  uint64_t bytes = 0;
};

struct TokenizerSummary {
  bool present = false;
  std::string model;          // tokenizer.ggml.model: gpt2, llama, ...
  std::string pre_tokenizer;  // tokenizer.ggml.pre
  int64_t vocab_size = 0;
  int64_t merges = 0;
  std::vector<std::pair<std::string, std::string>> special_tokens;  // ("bos", "151643 '<|endoftext|>'")
  bool chat_template = false;
};

struct ModelSummary {
  std::string architecture;
  std::string name;  // general.name when present
  std::vector<std::pair<std::string, std::string>> hyperparameters;  // display name, value
  int64_t n_experts = 0;
  int64_t n_active_experts = 0;
  TokenizerSummary tokenizer;
  std::array<RoleTotals, kTensorRoleCount> roles{};  // indexed by TensorRole
  std::vector<TypeShare> type_mix;                    // largest share of bytes first
  int64_t total_params = 0;
  int64_t active_params = 0;  // per token: everything but the routed experts not chosen
  uint64_t total_bytes = 0;
  int tensor_count = 0;
};

ModelSummary SummarizeModel(const GgufFile& file);

}  // namespace moefit
