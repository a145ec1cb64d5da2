// SPDX-License-Identifier: MIT
// ServedModel: what the HTTP side knows about the model it serves (tokenizer, chat template,
// end-of-turn tokens, output formats). It holds no engine: generation goes through the scheduler.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/tool_calls.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace moefit {

struct ServedModelOptions {
  std::string id;                  // the name clients use; empty: the file name without .gguf
  std::string chat_template_file;  // replaces the GGUF template when set
  std::string tool_call_format = "auto";  // auto (from the vocabulary), none, hermes, llama3, deepseek-v3
  std::string reasoning = "auto";         // auto (when the vocabulary has <think> and </think>), on, off
  // Testing hook: a JSON file {"<last message>": "<reply text>", ...}. A chat request whose last
  // message (user or tool) has a key's text gets that reply (tokenized, fed through the model and every
  // parser) instead of sampled text, so protocol tests can script tool calls and reasoning.
  std::string scripted_replies_file;
};

struct ServedModel {
  std::string id;
  int64_t created = 0;  // unix time the server loaded it
  Tokenizer tokenizer;
  std::optional<ChatTemplate> chat_template;  // absent: /v1/chat/completions answers 400
  std::string bos_token, eos_token;           // template variables
  std::vector<TokenId> end_tokens;            // end a generation (never shown)
  std::vector<TokenId> marker_tokens;         // special tokens the output parsers must see as text
  ToolCallFormat tool_call_format = ToolCallFormat::kNone;
  bool reasoning = false;
  uint64_t file_bytes = 0;
  std::map<std::string, std::string> scripted_replies;

  // Reads everything from the open GGUF file; throws moefit::Error naming what is wrong
  // (an unparsable template file, an unknown format name, a bad scripted-replies file).
  static ServedModel Load(const GgufFile& file, const ServedModelOptions& options);
};

}  // namespace moefit
