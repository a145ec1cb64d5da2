// SPDX-License-Identifier: MIT
// The model's chat template for CLI commands: from the GGUF, or a file that replaces it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"

namespace moefit {

// tokenizer.chat_template, or the contents of `override_path` when given; throws when neither.
std::string ChatTemplateSource(const GgufFile& file, const std::string& override_path);

// Adds what Hugging Face passes to every render and the context lacks: bos_token, eos_token
// (their texts from the vocabulary), add_generation_prompt = false.
void AddDefaultTemplateVariables(const GgufFile& file, nlohmann::ordered_json& context);

}  // namespace moefit
