// SPDX-License-Identifier: MIT
// `moefit tokenize -m FILE [--special] [--decode] [--jsonl] [--add-special]`: text on stdin ->
// token ids on stdout, or the reverse; --jsonl maps {"text": ...} lines to {"ids": [...]} lines.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/gguf_vocabulary.h"

namespace moefit {
namespace {

struct TokenizeOptions {
  std::string model_path;
  bool special = false;      // encode: parse control-token text; decode: keep control tokens
  bool decode = false;
  bool jsonl = false;
  bool add_special = false;  // encode: BOS/EOS as the vocabulary asks
};

std::string ReadAll(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "1 2 3", "1,2,3" or "[1, 2, 3]" -> ids.
std::vector<TokenId> ParseIds(const std::string& text) {
  std::vector<TokenId> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']') {
      ++pos;
      continue;
    }
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(text.substr(pos, 24), &used);
    } catch (const std::exception&) {
      const size_t end = text.find_first_of(" \t\r\n,[]", pos);
      Fail("stdin: expected token ids, found '{}' at byte {}", text.substr(pos, std::min<size_t>(end - pos, 16)), pos);
    }
    if (value < 0 || value > std::numeric_limits<TokenId>::max()) {
      Fail("stdin: token id {} is out of range", value);
    }
    ids.push_back(static_cast<TokenId>(value));
    pos += used;
  }
  return ids;
}

std::string IdsText(const std::vector<TokenId>& ids) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += (i ? " " : "") + std::to_string(ids[i]);
  return text;
}

void RunJsonl(const Tokenizer& tokenizer, const TokenizeOptions& options) {
  const EncodeOptions encode{.parse_special = options.special, .add_special = options.add_special};
  const DecodeOptions decode{.skip_special = !options.special};
  std::string line;
  for (size_t number = 1; std::getline(std::cin, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json out;
    try {
      const nlohmann::json in = nlohmann::json::parse(line);
      if (options.decode) {
        out["text"] = tokenizer.Decode(in.at("ids").get<std::vector<TokenId>>(), decode);
      } else {
        out["ids"] = tokenizer.Encode(in.at("text").get<std::string>(), encode);
      }
    } catch (const nlohmann::json::exception& error) {
      Fail("stdin line {}: {} (expected {})", number, error.what(),
           options.decode ? "{\"ids\": [...]}" : "{\"text\": \"...\"}");
    }
    std::fputs((out.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
}

void Run(const TokenizeOptions& options) {
  const GgufFile file = GgufFile::Open(options.model_path);
  const Tokenizer tokenizer = LoadTokenizer(file);
  if (options.jsonl) return RunJsonl(tokenizer, options);
  const std::string input = ReadAll(std::cin);
  if (options.decode) {
    const std::string text = tokenizer.Decode(ParseIds(input), {.skip_special = !options.special});
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    const std::vector<TokenId> ids =
        tokenizer.Encode(input, {.parse_special = options.special, .add_special = options.add_special});
    std::puts(IdsText(ids).c_str());
  }
}

}  // namespace

void RegisterTokenizeCommand(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command =
      app.add_subcommand("tokenize", "Text on stdin -> token ids (or ids -> text with --decode)");
  command->add_option("-m,--model", options->model_path, "GGUF file with the vocabulary")->required();
  command->add_flag("--special", options->special,
                    "Encode: read control-token text such as <|im_start|> as that token; "
                    "decode: print control tokens (hidden otherwise)");
  command->add_flag("--decode", options->decode, "Read token ids (spaces or commas), print text");
  command->add_flag("--jsonl", options->jsonl,
                    "One JSON object per line: {\"text\": ...} -> {\"ids\": [...]} (reversed with --decode)");
  command->add_flag("--add-special", options->add_special, "Encode: add BOS/EOS as the vocabulary asks");
  command->callback([options] { Run(*options); });
}

}  // namespace moefit
