// SPDX-License-Identifier: MIT
// ServedModel::Load: tokenizer, template, end tokens and output formats from the GGUF metadata.
#include "server/served_model.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/gguf_vocabulary.h"

namespace moefit {
namespace {

std::string ReadTextFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read the {} '{}'", what, path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Tokens that end a turn: EOS and the control tokens the common templates end turns with.
std::vector<TokenId> EndOfTurnTokens(const Vocabulary& vocab, const GgufFile& file) {
  std::vector<TokenId> ends;
  auto add = [&](TokenId id) {
    if (vocab.Contains(id) && std::find(ends.begin(), ends.end(), id) == ends.end()) ends.push_back(id);
  };
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (file.Has(key)) add(static_cast<TokenId>(file.GetInt(key)));
  for (const char* text : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<end_of_turn>",
                           "<｜end▁of▁sentence｜>"}) {
    const TokenId id = vocab.Find(text);
    if (id != kNoToken && vocab.Type(id) == TokenType::kControl) add(id);
  }
  return ends;
}

std::string TokenTextOr(const Vocabulary& vocab, TokenId id) {
  return vocab.Contains(id) ? std::string(vocab.TokenText(id)) : std::string();
}

bool Has(const Vocabulary& vocab, const char* text) { return vocab.Find(text) != kNoToken; }

}  // namespace

ServedModel ServedModel::Load(const GgufFile& file, const ServedModelOptions& options) {
  ServedModel served{.tokenizer = LoadTokenizer(file)};
  const Vocabulary& vocab = served.tokenizer.vocabulary();
  served.id = options.id.empty() ? std::filesystem::path(file.path()).stem().string() : options.id;
  served.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  served.file_bytes = file.file_size();
  served.bos_token = TokenTextOr(vocab, vocab.bos_id());
  served.eos_token = TokenTextOr(vocab, vocab.eos_id());
  served.end_tokens = EndOfTurnTokens(vocab, file);

  std::string template_source;
  if (!options.chat_template_file.empty())
    template_source = ReadTextFile(options.chat_template_file, "chat template file");
  else if (file.Has("tokenizer.chat_template"))
    template_source = std::string(file.GetString("tokenizer.chat_template"));
  if (!template_source.empty()) served.chat_template.emplace(template_source);

  // Output formats follow the vocabulary's own tokens (never guessed from template text).
  if (options.tool_call_format == "auto") {
    if (Has(vocab, "<tool_call>") && Has(vocab, "</tool_call>")) served.tool_call_format = ToolCallFormat::kHermes;
    else if (Has(vocab, "<｜tool▁calls▁begin｜>")) served.tool_call_format = ToolCallFormat::kDeepSeekV3;
    else if (Has(vocab, "<|python_tag|>")) served.tool_call_format = ToolCallFormat::kLlama3Json;
  } else if (std::optional<ToolCallFormat> format = ToolCallFormatFromName(options.tool_call_format)) {
    served.tool_call_format = *format;
  } else {
    Fail("unknown tool-call format '{}' (auto, none, hermes, llama3, deepseek-v3)", options.tool_call_format);
  }
  if (options.reasoning == "auto") served.reasoning = Has(vocab, "<think>") && Has(vocab, "</think>");
  else if (options.reasoning == "on" || options.reasoning == "off") served.reasoning = options.reasoning == "on";
  else Fail("unknown reasoning setting '{}' (auto, on, off)", options.reasoning);

  for (const char* marker : {"<think>", "</think>", "<tool_call>", "</tool_call>", "<|python_tag|>", "<｜tool▁calls▁begin｜>",
                             "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"}) {
    const TokenId id = vocab.Find(marker);
    if (id != kNoToken && vocab.IsSpecial(id)) served.marker_tokens.push_back(id);
  }
  std::sort(served.marker_tokens.begin(), served.marker_tokens.end());

  if (!options.scripted_replies_file.empty()) {
    const nlohmann::json replies = nlohmann::json::parse(ReadTextFile(options.scripted_replies_file, "scripted replies file"),
                                                         nullptr, false);
    if (!replies.is_object()) Fail("the scripted replies file '{}' must hold a JSON object", options.scripted_replies_file);
    for (const auto& [message, reply] : replies.items()) {
      if (!reply.is_string()) Fail("scripted reply for '{}' must be a string", message);
      served.scripted_replies[message] = reply.get<std::string>();
    }
  }
  return served;
}

}  // namespace moefit
