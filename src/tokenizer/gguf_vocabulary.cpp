// SPDX-License-Identifier: MIT
// Reads the tokenizer.ggml.* metadata of a GGUF file (see gguf_vocabulary.h).
#include "tokenizer/gguf_vocabulary.h"

#include <limits>

#include "core/error.h"

namespace moefit {
namespace {

constexpr int32_t kLastTokenType = static_cast<int32_t>(TokenType::kByte);

TokenId ReadTokenId(const GgufFile& file, std::string_view key, size_t vocabulary_size) {
  const int64_t value = file.GetInt(key, kNoToken);
  if (value != kNoToken && (value < 0 || static_cast<uint64_t>(value) >= vocabulary_size)) {
    Fail("{}: {} = {} is out of range: the vocabulary has {} tokens", file.path(), key, value,
         vocabulary_size);
  }
  return static_cast<TokenId>(value);
}

}  // namespace

VocabularyData ReadVocabularyData(const GgufFile& file) {
  VocabularyData data;
  data.model = std::string(file.GetString("tokenizer.ggml.model"));
  if (data.model != "gpt2") {
    Fail("{}: unsupported tokenizer model '{}' (tokenizer.ggml.model): only byte-level BPE "
         "('gpt2') is supported",
         file.path(), data.model);
  }
  data.pre_tokenizer = std::string(file.GetString("tokenizer.ggml.pre"));

  const std::vector<std::string_view>& tokens = file.GetStringArray("tokenizer.ggml.tokens");
  data.tokens.assign(tokens.begin(), tokens.end());
  if (file.Has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = file.GetIntArray("tokenizer.ggml.token_type");
    data.token_types.reserve(types.size());
    for (size_t id = 0; id < types.size(); ++id) {
      if (types[id] < 0 || types[id] > kLastTokenType) {
        Fail("{}: token {} has unknown type {} (tokenizer.ggml.token_type)", file.path(), id,
             types[id]);
      }
      data.token_types.push_back(static_cast<TokenType>(types[id]));
    }
  }
  const std::vector<std::string_view>& merges = file.GetStringArray("tokenizer.ggml.merges");
  data.merges.assign(merges.begin(), merges.end());

  data.bos_id = ReadTokenId(file, "tokenizer.ggml.bos_token_id", tokens.size());
  data.eos_id = ReadTokenId(file, "tokenizer.ggml.eos_token_id", tokens.size());
  data.pad_id = ReadTokenId(file, "tokenizer.ggml.padding_token_id", tokens.size());
  data.unknown_id = ReadTokenId(file, "tokenizer.ggml.unknown_token_id", tokens.size());
  data.add_bos = file.GetBool("tokenizer.ggml.add_bos_token", false);
  data.add_eos = file.GetBool("tokenizer.ggml.add_eos_token", false);
  return data;
}

Vocabulary LoadVocabulary(const GgufFile& file) {
  const VocabularyData data = ReadVocabularyData(file);
  try {
    return Vocabulary::Build(data);
  } catch (const Error& error) {
    Fail("{}: {}", file.path(), error.what());
  }
}

Tokenizer LoadTokenizer(const GgufFile& file) { return Tokenizer(LoadVocabulary(file)); }

}  // namespace moefit
