// SPDX-License-Identifier: MIT
// The real Qwen3 and Llama 3 vocabularies against ids from the Hugging Face tokenizer
// (../shared/fixtures/tokenizer): exact ids, round trips, and streaming decode.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/utf8.h"

namespace moefit {
namespace {

struct GoldenCase {
  std::string text;
  std::vector<TokenId> ids;
};

const std::filesystem::path kFixtures = std::filesystem::path(MOEFIT_FIXTURES_DIR) / "tokenizer";

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto vocab = kFixtures / ("vocab-" + GetParam() + ".gguf");
    const auto golden = kFixtures / (GetParam() + ".golden.jsonl");
    if (!std::filesystem::exists(vocab) || !std::filesystem::exists(golden)) {
      GTEST_SKIP() << "fixtures not found: " << vocab << " / " << golden;
    }
    const GgufFile file = GgufFile::Open(vocab.string());
    tokenizer_ = std::make_unique<Tokenizer>(LoadTokenizer(file));
    std::ifstream lines(golden);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      const nlohmann::json json = nlohmann::json::parse(line);
      cases_.push_back({json.at("text").get<std::string>(), json.at("ids").get<std::vector<TokenId>>()});
    }
    ASSERT_FALSE(cases_.empty());
  }

  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<GoldenCase> cases_;
};

std::string Shorten(const std::string& text) {
  return text.size() <= 80 ? text : text.substr(0, 80) + "...";
}

TEST_P(GoldenTest, EncodesExactlyLikeTheReference) {
  size_t passed = 0;
  for (size_t index = 0; index < cases_.size(); ++index) {
    const GoldenCase& golden = cases_[index];
    const std::vector<TokenId> ids = tokenizer_->Encode(golden.text, {.parse_special = true});
    if (ids == golden.ids) {
      ++passed;
      continue;
    }
    ADD_FAILURE() << GetParam() << " case " << index << " " << ::testing::PrintToString(Shorten(golden.text))
                  << "\n  expected " << ::testing::PrintToString(golden.ids)
                  << "\n  actual   " << ::testing::PrintToString(ids);
  }
  std::printf("%s: %zu / %zu golden cases exact\n", GetParam().c_str(), passed, cases_.size());
}

TEST_P(GoldenTest, DecodeRoundTripsAndStreams) {
  for (size_t index = 0; index < cases_.size(); ++index) {
    const GoldenCase& golden = cases_[index];
    const std::string expected = tokenizer_->Normalize(golden.text);
    EXPECT_EQ(tokenizer_->Decode(golden.ids), expected) << "case " << index;
    StreamDecoder stream(*tokenizer_);
    std::string streamed;
    for (TokenId id : golden.ids) {
      const std::string piece = stream.Push(id);
      EXPECT_TRUE(IsValidUtf8(piece)) << "case " << index << " emitted invalid UTF-8";
      streamed += piece;
    }
    streamed += stream.Finish();
    EXPECT_EQ(streamed, expected) << "case " << index;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::Values("qwen3", "llama3"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace moefit
