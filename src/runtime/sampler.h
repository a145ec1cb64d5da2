// SPDX-License-Identifier: MIT
// Sampler: picks the next token from logits (greedy, temperature, top-k, top-p, min-p,
// repetition / presence / frequency penalties), reproducibly for a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

namespace moefit {

struct SamplerOptions {
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repetition_penalty = 1.0f;  // 1: off (divides positive logits, multiplies negative ones)
  float presence_penalty = 0.0f;    // subtracted once from every token already seen
  float frequency_penalty = 0.0f;   // subtracted per occurrence
  int penalty_window = 64;          // last N tokens the penalties look at (<= 0: all)
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  // Picks a token; `logits` is copied, not changed.
  int32_t Sample(std::span<const float> logits);
  // Tells the sampler a token is now part of the text (prompt or generated) for the penalties.
  void Accept(int32_t token);
  void Reset();
  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
  std::vector<std::pair<float, int32_t>> candidates_;
  std::unordered_map<int32_t, int> counts_;
};

}  // namespace moefit
