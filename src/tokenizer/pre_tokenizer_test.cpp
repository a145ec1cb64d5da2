// SPDX-License-Identifier: MIT
// Tests for the pre-tokenizers: every supported pattern compiles, and known splits.
#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

namespace moefit {
namespace {

std::vector<std::string> Split(std::string_view name, std::string_view text) {
  const PreTokenizerConfig* config = FindPreTokenizerConfig(name);
  EXPECT_NE(config, nullptr) << name;
  if (config == nullptr) return {};
  const PreTokenizer pre_tokenizer(*config);
  PreTokenizer::Scratch scratch;
  std::vector<std::string_view> pieces;
  pre_tokenizer.Split(text, scratch, pieces);
  std::string joined;
  for (std::string_view piece : pieces) joined += piece;
  EXPECT_EQ(joined, text) << "pieces must cover the text in order";
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, EverySupportedPatternCompiles) {
  for (const char* name : {"qwen2", "llama-bpe", "deepseek-v3", "deepseek-llm", "gpt-4o"}) {
    const PreTokenizerConfig* config = FindPreTokenizerConfig(name);
    ASSERT_NE(config, nullptr) << name;
    EXPECT_NO_THROW(PreTokenizer{*config}) << name;
  }
  EXPECT_EQ(FindPreTokenizerConfig("no-such-thing"), nullptr);
  EXPECT_EQ(PreTokenizerNames(), "qwen2, llama-bpe, deepseek-v3, deepseek-llm, gpt-4o");
}

TEST(PreTokenizer, Qwen2SplitsSingleDigits) {
  EXPECT_EQ(Split("qwen2", "Hello world's 12345 !!\n\n  x"),
            (Pieces{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " !!\n\n", " ", " x"}));
  EXPECT_EQ(Split("qwen2", "I'LL go"), (Pieces{"I", "'LL", " go"}));
  EXPECT_EQ(Split("qwen2", ""), Pieces{});
}

TEST(PreTokenizer, Llama3GroupsDigitsInThrees) {
  EXPECT_EQ(Split("llama-bpe", "1234567 x"), (Pieces{"123", "456", "7", " x"}));
  EXPECT_EQ(Split("llama-bpe", "a\r\n\r\nb"), (Pieces{"a", "\r\n\r\n", "b"}));
}

TEST(PreTokenizer, DeepSeekV3IsolatesDigitsAndCjkFirst) {
  EXPECT_EQ(Split("deepseek-v3", "abc 12345 \xE4\xBD\xA0\xE5\xA5\xBDok"),
            (Pieces{"abc", " ", "123", "45", " ", "\xE4\xBD\xA0\xE5\xA5\xBD", "ok"}));
  EXPECT_EQ(Split("deepseek-v3", "x.Net"), (Pieces{"x", ".Net"}));
}

TEST(PreTokenizer, DeepSeekLlm) {
  EXPECT_EQ(Split("deepseek-llm", "Hi there!\n2024"), (Pieces{"Hi", " there", "!", "\n", "2024"}));
}

TEST(PreTokenizer, Gpt4oSplitsAtCaseChanges) {
  EXPECT_EQ(Split("gpt-4o", "camelCase HTTPServer don't"),
            (Pieces{"camel", "Case", " HTTPServer", " don't"}));
}

}  // namespace
}  // namespace moefit
