// SPDX-License-Identifier: MIT
// Tests for BpeEncodePiece against a naive reference, on random merges and pieces of every
// length (short pieces take the array path, long ones the heap).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "tokenizer/test_vocabulary.h"

namespace moefit {
namespace {

using testing::TestVocabulary;

// Textbook BPE: repeatedly merge the leftmost adjacent pair with the lowest rank.
std::vector<std::string> NaiveBpe(const std::map<std::pair<std::string, std::string>, int>& ranks,
                                  const std::string& piece) {
  std::vector<std::string> symbols;
  for (char c : piece) symbols.emplace_back(1, c);
  while (symbols.size() > 1) {
    int best_rank = -1;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto found = ranks.find({symbols[i], symbols[i + 1]});
      if (found != ranks.end() && (best_rank < 0 || found->second < best_rank)) {
        best_rank = found->second;
        best = i;
      }
    }
    if (best_rank < 0) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  return symbols;
}

TEST(Bpe, MatchesNaiveReferenceOnRandomMerges) {
  std::mt19937 random(11);
  for (int round = 0; round < 20; ++round) {
    TestVocabulary test;
    std::vector<std::string> tokens = {"a", "b", "c"};
    std::map<std::pair<std::string, std::string>, int> ranks;
    for (int rule = 0; rule < 40; ++rule) {
      const std::string left = tokens[random() % tokens.size()];
      const std::string right = tokens[random() % tokens.size()];
      if (ranks.count({left, right}) != 0 || left.size() + right.size() > 8) continue;
      ranks[{left, right}] = static_cast<int>(test.data.merges.size());
      test.Merge(left, right);
      if (test.Id(left + right) >= static_cast<TokenId>(256) &&
          std::find(tokens.begin(), tokens.end(), left + right) == tokens.end()) {
        tokens.push_back(left + right);
      }
    }
    const Vocabulary vocabulary = test.Build();
    BpeScratch scratch;
    for (int trial = 0; trial < 200; ++trial) {
      std::string piece;
      const size_t length = 1 + random() % 70;
      for (size_t i = 0; i < length; ++i) piece.push_back(static_cast<char>('a' + random() % 3));
      std::vector<TokenId> expected;
      for (const std::string& symbol : NaiveBpe(ranks, piece)) expected.push_back(test.Id(symbol));
      std::vector<TokenId> actual;
      BpeEncodePiece(vocabulary, piece, scratch, actual);
      ASSERT_EQ(actual, expected) << "piece " << piece;
    }
  }
}

}  // namespace
}  // namespace moefit
