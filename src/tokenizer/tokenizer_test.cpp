// SPDX-License-Identifier: MIT
// Tests for Tokenizer and StreamDecoder on small vocabularies built in code.
#include "tokenizer/tokenizer.h"

#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/test_vocabulary.h"
#include "tokenizer/utf8.h"

namespace moefit {
namespace {

using testing::TestVocabulary;
using Ids = std::vector<TokenId>;

TEST(Tokenizer, MergesByRankThenLeftmost) {
  TestVocabulary low_bc;
  low_bc.Merge("b", "c").Merge("a", "b");
  const Tokenizer first(low_bc.Build());
  EXPECT_EQ(first.Encode("abc"), (Ids{low_bc.Id("a"), low_bc.Id("bc")}));

  TestVocabulary low_ab;
  low_ab.Merge("a", "b").Merge("b", "c");
  const Tokenizer second(low_ab.Build());
  EXPECT_EQ(second.Encode("abc"), (Ids{low_ab.Id("ab"), low_ab.Id("c")}));

  TestVocabulary repeat;
  repeat.Merge("a", "a");
  const Tokenizer third(repeat.Build());
  EXPECT_EQ(third.Encode("aaa"), (Ids{repeat.Id("aa"), repeat.Id("a")}));
  EXPECT_EQ(third.Encode("aaaa"), (Ids{repeat.Id("aa"), repeat.Id("aa")}));
}

TEST(Tokenizer, WordsAndPieces) {
  TestVocabulary test;
  test.Word("hello").Word(" world").Word("!");
  const Tokenizer tokenizer(test.Build());
  const Ids expected{test.Id("hello"), test.Id(" world"), test.Id("!")};
  EXPECT_EQ(tokenizer.Encode("hello world!"), expected);
  EXPECT_EQ(tokenizer.Encode("hello world!"), expected);  // again, from the word cache
  EXPECT_EQ(tokenizer.Encode(""), Ids{});
  EXPECT_EQ(tokenizer.Decode(expected), "hello world!");
}

TEST(Tokenizer, IgnoreMergesTakesWholeTokens) {
  // "abc" is a token no merge reaches; Llama 3 takes it whole, Qwen builds it from merges.
  TestVocabulary llama("llama-bpe");
  llama.Merge("a", "b");
  llama.AddToken("abc", TokenType::kNormal);
  EXPECT_EQ(Tokenizer(llama.Build()).Encode("abc"), (Ids{llama.Id("abc")}));
  TestVocabulary qwen("qwen2");
  qwen.Merge("a", "b");
  qwen.AddToken("abc", TokenType::kNormal);
  EXPECT_EQ(Tokenizer(qwen.Build()).Encode("abc"), (Ids{qwen.Id("ab"), qwen.Id("c")}));
}

TEST(Tokenizer, AddedTokensLongestMatchWins) {
  TestVocabulary test;
  test.Word("hi");
  const TokenId start = test.AddToken("<|im_start|>", TokenType::kControl);
  const TokenId tool = test.AddToken("<tool>", TokenType::kUserDefined);
  const TokenId tool_call = test.AddToken("<tool_call>", TokenType::kUserDefined);
  const Tokenizer tokenizer(test.Build());
  const EncodeOptions special{.parse_special = true};
  EXPECT_EQ(tokenizer.Encode("<|im_start|>hi<tool_call>", special),
            (Ids{start, test.Id("hi"), tool_call}));
  EXPECT_EQ(tokenizer.Encode("<tool>hi", special), (Ids{tool, test.Id("hi")}));
  // Without special parsing control text is plain text; user-defined tokens still match.
  const Ids plain = tokenizer.Encode("<|im_start|><tool>");
  ASSERT_EQ(plain.size(), 13u);
  EXPECT_EQ(plain.back(), tool);
  EXPECT_EQ(tokenizer.Decode(plain), "<|im_start|><tool>");
}

TEST(Tokenizer, AddSpecialAndSkipSpecial) {
  TestVocabulary test;
  test.Word("hi");
  const TokenId bos = test.AddToken("<s>", TokenType::kControl);
  const TokenId eos = test.AddToken("</s>", TokenType::kControl);
  const TokenId think = test.AddToken("<think>", TokenType::kUserDefined);
  test.data.bos_id = bos;
  test.data.eos_id = eos;
  test.data.add_bos = true;
  const Tokenizer tokenizer(test.Build());
  EXPECT_EQ(tokenizer.Encode("hi", {.add_special = true}), (Ids{bos, test.Id("hi")}));
  EXPECT_EQ(tokenizer.Encode("hi"), (Ids{test.Id("hi")}));
  const Ids ids{bos, think, test.Id("hi"), eos};
  EXPECT_EQ(tokenizer.Decode(ids), "<s><think>hi</s>");
  EXPECT_EQ(tokenizer.Decode(ids, {.skip_special = true}), "<think>hi");
  EXPECT_THROW(tokenizer.Decode(Ids{100000}), Error);
  EXPECT_THROW(tokenizer.Decode(Ids{-1}), Error);
}

TEST(Tokenizer, IllFormedInputBecomesReplacementCharacters) {
  TestVocabulary test;
  const Tokenizer tokenizer(test.Build());
  const std::string input = "a\xFF" "b";
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(input)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(tokenizer.Normalize(input), "a\xEF\xBF\xBD" "b");
}

TEST(Tokenizer, NormalizesToNfcForQwen) {
  TestVocabulary qwen("qwen2");
  const Tokenizer tokenizer(qwen.Build());
  const std::string decomposed = "e\xCC\x81";  // e + combining acute
  const std::string composed = "\xC3\xA9";     // é
  EXPECT_EQ(tokenizer.Normalize(decomposed), composed);
  EXPECT_EQ(tokenizer.Encode(decomposed), tokenizer.Encode(composed));
  TestVocabulary llama("llama-bpe");
  EXPECT_EQ(Tokenizer(llama.Build()).Normalize(decomposed), decomposed);
}

TEST(StreamDecoder, HoldsBackUnfinishedCharacters) {
  TestVocabulary test;  // bytes only: every multi-byte character spans several tokens
  const Tokenizer tokenizer(test.Build());
  const std::string text = "a\xE4\xBD\xA0\xF0\x9F\x9A\x80!";  // a你🚀!
  const Ids ids = tokenizer.Encode(text);
  ASSERT_EQ(ids.size(), text.size());
  StreamDecoder stream(tokenizer);
  std::vector<std::string> pushed;
  for (TokenId id : ids) pushed.push_back(stream.Push(id));
  EXPECT_EQ(pushed, (std::vector<std::string>{"a", "", "", "\xE4\xBD\xA0", "", "", "",
                                               "\xF0\x9F\x9A\x80", "!"}));
  EXPECT_EQ(stream.Finish(), "");
}

TEST(StreamDecoder, MatchesDecodeOnBrokenSequences) {
  TestVocabulary test;
  const TokenId end = test.AddToken("<|end|>", TokenType::kControl);
  const Tokenizer tokenizer(test.Build());
  const auto byte = [&](uint8_t b) { return tokenizer.vocabulary().ByteToken(b); };
  const std::vector<Ids> cases = {
      {byte(0xE4), byte('A')},               // truncated, then ASCII
      {byte(0xE4), byte(0xBD), end, byte(0xA0)},
      {byte(0xF0), byte(0x9F)},              // truncated at the very end
      {byte(0x80), byte(0xFF), byte(0xE4), byte(0xE4), byte(0xBD), byte(0xA0)},
  };
  for (const bool skip : {false, true}) {
    for (const Ids& ids : cases) {
      StreamDecoder stream(tokenizer, {.skip_special = skip});
      std::string streamed;
      for (TokenId id : ids) {
        const std::string piece = stream.Push(id);
        EXPECT_TRUE(IsValidUtf8(piece));
        streamed += piece;
      }
      streamed += stream.Finish();
      EXPECT_EQ(streamed, tokenizer.Decode(ids, {.skip_special = skip}));
    }
  }
}

TEST(Tokenizer, ConcurrentEncodesAgree) {
  TestVocabulary test;
  test.Word("hello").Word(" world");
  const Tokenizer tokenizer(test.Build());
  std::string text;
  for (int i = 0; i < 200; ++i) text += "hello world " + std::to_string(i) + " ";
  const Ids expected = tokenizer.Encode(text);
  std::vector<std::thread> threads;
  std::vector<int> matches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) matches[static_cast<size_t>(t)] += tokenizer.Encode(text) == expected;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(matches, (std::vector<int>{20, 20, 20, 20}));
}

}  // namespace
}  // namespace moefit
