// SPDX-License-Identifier: MIT
// Test helper: small byte-level vocabularies built in code.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocabulary.h"

namespace moefit::testing {

// The 256 byte tokens (ids 0..255, in byte order), then `words` (byte strings, stored in the
// byte-level alphabet) with a merge for each, made left to right from single bytes, so that
// "abc" adds the merges "a b" and "ab c" (and the token "ab"). Then `added` tokens of `type`.
struct TestVocabulary {
  VocabularyData data;

  explicit TestVocabulary(std::string pre_tokenizer = "qwen2") {
    data.pre_tokenizer = std::move(pre_tokenizer);
    for (int byte = 0; byte < 256; ++byte) {
      std::string text;
      AppendUtf8(ByteLevelCharOf(static_cast<uint8_t>(byte)), text);
      AddToken(text, TokenType::kNormal);
    }
  }
  TokenId AddToken(const std::string& text, TokenType type) {
    data.tokens.push_back(text);
    data.token_types.push_back(type);
    return static_cast<TokenId>(data.tokens.size() - 1);
  }
  TokenId Id(const std::string& bytes) const {
    const std::string text = ByteLevelEncode(bytes);
    for (size_t id = 0; id < data.tokens.size(); ++id) {
      if (data.tokens[id] == text) return static_cast<TokenId>(id);
    }
    return kNoToken;
  }
  // Adds the word and the merges that build it from its bytes, left to right.
  TestVocabulary& Word(const std::string& bytes) {
    std::string left = ByteLevelEncode(bytes.substr(0, 1));
    for (size_t end = 1; end < bytes.size(); ++end) {
      const std::string right = ByteLevelEncode(bytes.substr(end, 1));
      const std::string merged = left + right;
      if (Id(bytes.substr(0, end + 1)) == kNoToken) AddToken(merged, TokenType::kNormal);
      data.merges.push_back(left + " " + right);
      left = merged;
    }
    return *this;
  }
  TestVocabulary& Merge(const std::string& left_bytes, const std::string& right_bytes) {
    const std::string left = ByteLevelEncode(left_bytes);
    const std::string right = ByteLevelEncode(right_bytes);
    if (Id(left_bytes + right_bytes) == kNoToken) AddToken(left + right, TokenType::kNormal);
    data.merges.push_back(left + " " + right);
    return *this;
  }
  TestVocabulary& Added(const std::string& text, TokenType type) {
    AddToken(text, type);
    return *this;
  }
  Vocabulary Build() const { return Vocabulary::Build(data); }
};

}  // namespace moefit::testing
