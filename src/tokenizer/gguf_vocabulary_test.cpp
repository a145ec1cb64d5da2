// SPDX-License-Identifier: MIT
// Tests for reading tokenizer metadata from GGUF: a good file loads, malformed ones fail clearly.
#include "tokenizer/gguf_vocabulary.h"

#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/test_vocabulary.h"

namespace moefit {
namespace {

using testing::TestVocabulary;

// Writes a vocabulary-only GGUF file. `edit` may add keys first; the key named `omit` is left out.
std::string WriteVocabulary(const std::string& name, const VocabularyData& data,
                            const std::function<void(GgufWriter&)>& edit = {},
                            std::string_view omit = {}) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / (name + ".gguf")).string();
  GgufWriter writer(path);
  writer.SetString("general.architecture", "qwen3moe");
  if (edit) edit(writer);
  if (omit != "tokenizer.ggml.model") writer.SetString("tokenizer.ggml.model", data.model);
  if (omit != "tokenizer.ggml.pre") writer.SetString("tokenizer.ggml.pre", data.pre_tokenizer);
  if (omit != "tokenizer.ggml.tokens") writer.SetStringArray("tokenizer.ggml.tokens", data.tokens);
  std::vector<int32_t> types;
  for (TokenType type : data.token_types) types.push_back(static_cast<int32_t>(type));
  if (omit != "tokenizer.ggml.token_type") writer.SetInt32Array("tokenizer.ggml.token_type", types);
  if (omit != "tokenizer.ggml.merges") writer.SetStringArray("tokenizer.ggml.merges", data.merges);
  writer.Finish();
  return path;
}

void ExpectLoadError(const std::string& path, const std::string& fragment) {
  try {
    const GgufFile file = GgufFile::Open(path);
    LoadVocabulary(file);
    ADD_FAILURE() << "no error; expected one mentioning: " << fragment;
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << "the message should name the file: " << message;
  }
}

TEST(GgufVocabulary, LoadsAWellFormedFile) {
  TestVocabulary test;
  test.Word("hello");
  const TokenId end = test.AddToken("<|end|>", TokenType::kControl);
  const std::string path = WriteVocabulary("good", test.data, [&](GgufWriter& writer) {
    writer.SetUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(end));
    writer.SetBool("tokenizer.ggml.add_eos_token", true);
  });
  const GgufFile file = GgufFile::Open(path);
  const Tokenizer tokenizer = LoadTokenizer(file);
  EXPECT_EQ(tokenizer.vocabulary().eos_id(), end);
  EXPECT_TRUE(tokenizer.vocabulary().add_eos());
  EXPECT_EQ(tokenizer.vocabulary().bos_id(), kNoToken);
  EXPECT_EQ(tokenizer.Encode("hello", {.add_special = true}), (std::vector<TokenId>{test.Id("hello"), end}));
}

TEST(GgufVocabulary, MissingKeys) {
  TestVocabulary test;
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
                          "tokenizer.ggml.merges"}) {
    ExpectLoadError(WriteVocabulary("missing", test.data, {}, key),
                    fmt::format("required metadata key '{}' is missing", key));
  }
  // Token types are optional: every token is then normal.
  const GgufFile file = GgufFile::Open(WriteVocabulary("no_types", test.data, {}, "tokenizer.ggml.token_type"));
  EXPECT_EQ(LoadVocabulary(file).size(), 256);
}

TEST(GgufVocabulary, WrongTypes) {
  TestVocabulary test;
  const std::string path = WriteVocabulary("typed", test.data, [](GgufWriter& writer) {
    const int32_t values[] = {1, 2, 3};
    writer.SetInt32Array("tokenizer.ggml.tokens", values);
  }, "tokenizer.ggml.tokens");
  ExpectLoadError(path, "'tokenizer.ggml.tokens' is array of");
}

TEST(GgufVocabulary, MalformedContent) {
  TestVocabulary unknown_merge;
  unknown_merge.data.merges = {"a nope"};
  ExpectLoadError(WriteVocabulary("bad_merge", unknown_merge.data),
                  "merge 0 ('a nope') names unknown token 'nope'");

  TestVocabulary out_of_range;
  ExpectLoadError(WriteVocabulary("bad_bos", out_of_range.data,
                                  [](GgufWriter& writer) { writer.SetUint32("tokenizer.ggml.bos_token_id", 999999); }),
                  "tokenizer.ggml.bos_token_id = 999999 is out of range");

  TestVocabulary bad_type;
  bad_type.data.token_types[5] = static_cast<TokenType>(9);
  ExpectLoadError(WriteVocabulary("bad_type", bad_type.data), "token 5 has unknown type 9");

  TestVocabulary pre("mystery-pre");
  ExpectLoadError(WriteVocabulary("bad_pre", pre.data), "unknown pre-tokenizer 'mystery-pre'");

  TestVocabulary model;
  model.data.model = "llama";
  ExpectLoadError(WriteVocabulary("bad_model", model.data), "unsupported tokenizer model 'llama'");
}

}  // namespace
}  // namespace moefit
