// SPDX-License-Identifier: MIT
// Sampler: greedy, filters, penalties, reproducibility.
#include "runtime/sampler.h"

#include <map>

#include <gtest/gtest.h>

namespace moefit {
namespace {

TEST(Sampler, GreedyPicksTheLargestLowestIdOnTies) {
  Sampler sampler({.temperature = 0.0f});
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sampler.Sample(logits), 1);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDiffers) {
  const std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f, 1.0f};
  SamplerOptions options{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 42};
  Sampler a(options), b(options);
  options.seed = 43;
  Sampler c(options);
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 64; ++i) {
    ta.push_back(a.Sample(logits));
    tb.push_back(b.Sample(logits));
    tc.push_back(c.Sample(logits));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(Sampler, TopKTopPMinPRestrictTheChoice) {
  const std::vector<float> logits = {5.0f, 4.0f, 0.0f, -1.0f, 3.0f};
  {
    Sampler sampler({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .min_p = 0.0f});
    for (int i = 0; i < 200; ++i) {
      const int32_t token = sampler.Sample(logits);
      EXPECT_TRUE(token == 0 || token == 1) << token;
    }
  }
  {
    // p(0) = 0.66, p(1) = 0.24: top_p 0.5 keeps only the first.
    Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 0.5f, .min_p = 0.0f});
    for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.Sample(logits), 0);
  }
  {
    // min_p 0.2 of p(0): keeps 0 (0.66), 1 (0.24), 4 (0.09 < 0.13 dropped).
    Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f});
    std::map<int32_t, int> seen;
    for (int i = 0; i < 400; ++i) ++seen[sampler.Sample(logits)];
    EXPECT_EQ(seen.size(), 2u);
    EXPECT_GT(seen[1], 40);
  }
}

TEST(Sampler, HighTemperatureFlattensLowSharpens) {
  const std::vector<float> logits = {1.0f, 0.0f};
  auto share_of_best = [&](float temperature) {
    Sampler sampler({.temperature = temperature, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 7});
    int best = 0;
    for (int i = 0; i < 4000; ++i) best += sampler.Sample(logits) == 0;
    return best / 4000.0;
  };
  EXPECT_NEAR(share_of_best(1.0f), 0.731, 0.03);
  EXPECT_GT(share_of_best(0.2f), 0.98);
  EXPECT_NEAR(share_of_best(100.0f), 0.5, 0.04);
}

TEST(Sampler, PenaltiesPushSeenTokensDown) {
  const std::vector<float> logits = {2.0f, 1.9f, 0.0f};
  Sampler repetition({.temperature = 0.0f, .repetition_penalty = 1.2f});
  repetition.Accept(0);
  EXPECT_EQ(repetition.Sample(logits), 1);  // 2.0 / 1.2 < 1.9
  Sampler presence({.temperature = 0.0f, .presence_penalty = 0.5f});
  presence.Accept(0);
  EXPECT_EQ(presence.Sample(logits), 1);
  Sampler frequency({.temperature = 0.0f, .frequency_penalty = 0.06f});
  frequency.Accept(0);
  EXPECT_EQ(frequency.Sample(logits), 0);  // 2.0 - 0.06 > 1.9
  frequency.Accept(0);
  EXPECT_EQ(frequency.Sample(logits), 1);  // 2.0 - 0.12 < 1.9
  Sampler windowed({.temperature = 0.0f, .presence_penalty = 0.5f, .penalty_window = 1});
  windowed.Accept(0);
  windowed.Accept(2);
  EXPECT_EQ(windowed.Sample(logits), 0);  // token 0 is outside the window
}

}  // namespace
}  // namespace moefit
