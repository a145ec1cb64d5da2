// SPDX-License-Identifier: MIT
// Tests for Vocabulary: tables built from plain data, and clear errors for malformed data.
#include "tokenizer/vocabulary.h"

#include <functional>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/test_vocabulary.h"

namespace moefit {
namespace {

using testing::TestVocabulary;

// Expects Build to throw moefit::Error whose message contains `fragment`.
void ExpectBuildError(const VocabularyData& data, const std::string& fragment) {
  try {
    Vocabulary::Build(data);
    ADD_FAILURE() << "no error; expected one mentioning: " << fragment;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
        << "message: " << error.what() << "\nexpected to mention: " << fragment;
  }
}

TEST(Vocabulary, BuildsTables) {
  TestVocabulary test;
  test.Word("hello").Added("<|end|>", TokenType::kControl).Added("<think>", TokenType::kUserDefined);
  test.data.eos_id = test.Id("hello");
  const Vocabulary vocabulary = test.Build();
  EXPECT_EQ(vocabulary.size(), static_cast<int32_t>(test.data.tokens.size()));
  EXPECT_EQ(vocabulary.TokenBytes(test.Id(" ")), " ");
  EXPECT_EQ(vocabulary.TokenText(test.Id(" ")), "\xC4\xA0");
  EXPECT_EQ(vocabulary.ByteToken(' '), test.Id(" "));
  EXPECT_EQ(vocabulary.Find("hello"), test.Id("hello"));
  EXPECT_EQ(vocabulary.FindNormalByBytes("hell"), test.Id("hell"));
  const TokenId end = vocabulary.Find("<|end|>");
  const TokenId think = vocabulary.Find("<think>");
  EXPECT_EQ(vocabulary.TokenBytes(end), "<|end|>");
  EXPECT_TRUE(vocabulary.IsSpecial(end));
  EXPECT_FALSE(vocabulary.IsSpecial(think));
  EXPECT_EQ(vocabulary.FindNormalByBytes("<|end|>"), kNoToken);  // not a normal token
  EXPECT_EQ(vocabulary.added_tokens(), (std::vector<TokenId>{end, think}));
  EXPECT_EQ(vocabulary.merges().size(), 4u);
  const MergeTable::Entry* rule = vocabulary.merges().Find(test.Id("he"), test.Id("l"));
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->rank, 1);
  EXPECT_EQ(rule->merged, test.Id("hel"));
  EXPECT_EQ(vocabulary.merges().Find(test.Id("l"), test.Id("he")), nullptr);
  EXPECT_EQ(vocabulary.eos_id(), test.Id("hello"));
  EXPECT_EQ(vocabulary.bos_id(), kNoToken);
}

TEST(Vocabulary, ByteTokens) {
  TestVocabulary test;
  test.Added("<0x0A>", TokenType::kByte);
  const Vocabulary vocabulary = test.Build();
  EXPECT_EQ(vocabulary.TokenBytes(vocabulary.Find("<0x0A>")), "\n");
}

TEST(Vocabulary, MergeTableGrowsAndReplaces) {
  MergeTable table;
  for (int i = 0; i < 1000; ++i) table.Insert(i, i + 1, i, 5000 + i);
  table.Insert(7, 8, 99999, 1);  // a later rule for the same pair replaces the earlier one
  EXPECT_EQ(table.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const MergeTable::Entry* entry = table.Find(i, i + 1);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->merged, i == 7 ? 1 : 5000 + i);
  }
  EXPECT_EQ(table.Find(1, 0), nullptr);
}

TEST(Vocabulary, RejectsUnsupportedModelAndPreTokenizer) {
  TestVocabulary test;
  test.data.model = "llama";
  ExpectBuildError(test.data, "unsupported tokenizer model 'llama'");
  TestVocabulary unknown("klingon");
  ExpectBuildError(unknown.data, "unknown pre-tokenizer 'klingon'");
  ExpectBuildError(unknown.data, "qwen2");  // the message lists what is supported
}

TEST(Vocabulary, RejectsEmptyOrMismatchedTokens) {
  VocabularyData empty;
  empty.pre_tokenizer = "qwen2";
  ExpectBuildError(empty, "no tokens");
  TestVocabulary test;
  test.data.token_types.pop_back();
  ExpectBuildError(test.data, "token_type has 255 entries but tokenizer.ggml.tokens has 256");
  TestVocabulary bad_type;
  bad_type.data.token_types[36] = static_cast<TokenType>(42);
  ExpectBuildError(bad_type.data, "token 36 ('$') has unknown type 42");
  TestVocabulary bad_utf8;
  bad_utf8.AddToken("\xFF", TokenType::kControl);
  ExpectBuildError(bad_utf8.data, "token 256 is not valid UTF-8");
}

TEST(Vocabulary, RejectsMissingByteToken) {
  TestVocabulary test;
  test.data.tokens[' '].assign(1, 'x');  // ' ' (as 'Ġ') now has no token
  ExpectBuildError(test.data, "no token for byte 0x20");
}

TEST(Vocabulary, RejectsBadMerges) {
  TestVocabulary unknown;
  unknown.data.merges = {"a b", "a zz"};
  ExpectBuildError(unknown.data, "merge 0 ('a b') makes 'ab', which is not in the vocabulary");
  unknown.AddToken("ab", TokenType::kNormal);
  ExpectBuildError(unknown.data, "merge 1 ('a zz') names unknown token 'zz'");
  TestVocabulary malformed;
  malformed.data.merges = {"ab"};
  ExpectBuildError(malformed.data, "merge 0 ('ab') is not two tokens separated by a space");
  malformed.data.merges = {"a "};
  ExpectBuildError(malformed.data, "merge 0 ('a ') is not two tokens");
}

TEST(Vocabulary, RejectsSpecialIdsOutOfRange) {
  TestVocabulary test;
  test.data.eos_id = 256;
  ExpectBuildError(test.data, "tokenizer.ggml.eos_token_id = 256 is out of range");
  test.data.eos_id = -7;
  ExpectBuildError(test.data, "eos_token_id = -7 is out of range");
  test.data.eos_id = kNoToken;
  test.data.add_bos = true;
  ExpectBuildError(test.data, "add_bos_token is set but there is no");
  test.data.bos_id = 5;
  EXPECT_NO_THROW(Vocabulary::Build(test.data));
}

}  // namespace
}  // namespace moefit
