// SPDX-License-Identifier: MIT
// Chat template source and default variables for the CLI.
#include "cli/chat_prompt.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace moefit {

std::string ChatTemplateSource(const GgufFile& file, const std::string& override_path) {
  if (!override_path.empty()) {
    std::ifstream in(override_path);
    if (!in) Fail("cannot read chat template file '{}'", override_path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  if (!file.Has("tokenizer.chat_template"))
    Fail("{}: the model has no chat template (tokenizer.chat_template); give one with --chat-template-file", file.path());
  return std::string(file.GetString("tokenizer.chat_template"));
}

void AddDefaultTemplateVariables(const GgufFile& file, nlohmann::ordered_json& context) {
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  auto token_text = [&](const char* key) -> std::string {
    if (tokens == nullptr || !file.Has(key)) return "";
    const int64_t id = file.GetInt(key);
    if (id < 0 || static_cast<uint64_t>(id) >= tokens->strings.size()) return "";
    return std::string(tokens->strings[static_cast<size_t>(id)]);
  };
  if (!context.contains("bos_token")) context["bos_token"] = token_text("tokenizer.ggml.bos_token_id");
  if (!context.contains("eos_token")) context["eos_token"] = token_text("tokenizer.ggml.eos_token_id");
  if (!context.contains("add_generation_prompt")) context["add_generation_prompt"] = false;
}

}  // namespace moefit
