// SPDX-License-Identifier: MIT
// Sampler: penalties, then greedy or the filtered, temperature-scaled distribution.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace moefit {

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

void Sampler::Reset() {
  rng_.seed(options_.seed);
  history_.clear();
}

void Sampler::Accept(int32_t token) { history_.push_back(token); }

int32_t Sampler::Sample(std::span<const float> logits) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  candidates_.resize(logits.size());
  for (int32_t i = 0; i < vocab; ++i) candidates_[static_cast<size_t>(i)] = {logits[static_cast<size_t>(i)], i};

  const bool penalties = options_.repetition_penalty != 1.0f || options_.presence_penalty != 0.0f ||
                         options_.frequency_penalty != 0.0f;
  if (penalties && !history_.empty()) {
    counts_.clear();
    const size_t window = options_.penalty_window > 0 ? static_cast<size_t>(options_.penalty_window) : history_.size();
    for (size_t i = history_.size() - std::min(window, history_.size()); i < history_.size(); ++i) ++counts_[history_[i]];
    for (const auto& [token, count] : counts_) {
      if (token < 0 || token >= vocab) continue;
      float& logit = candidates_[static_cast<size_t>(token)].first;
      logit = logit > 0 ? logit / options_.repetition_penalty : logit * options_.repetition_penalty;
      logit -= options_.presence_penalty + options_.frequency_penalty * static_cast<float>(count);
    }
  }
  if (options_.temperature <= 0.0f) {
    // Greedy: the largest logit, lowest id on ties.
    return std::max_element(candidates_.begin(), candidates_.end(),
                            [](const auto& a, const auto& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); })
        ->second;
  }
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) {
    keep = static_cast<size_t>(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);
  // Probabilities at temperature 1 for the filters, as the ecosystem's samplers apply them.
  const float max_logit = candidates_.front().first;
  std::vector<double> probs(keep);
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp(static_cast<double>(candidates_[i].first - max_logit));
  for (double& p : probs) p /= sum;
  if (options_.min_p > 0.0f) {
    const double threshold = probs.front() * options_.min_p;
    size_t n = 1;
    while (n < keep && probs[n] >= threshold) ++n;
    keep = n;
  }
  if (options_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t n = 0;
    while (n < keep) {
      cumulative += probs[n++];
      if (cumulative >= options_.top_p) break;
    }
    keep = std::max<size_t>(n, 1);
  }
  // Temperature on what is left, then draw.
  std::vector<double> weights(keep);
  for (size_t i = 0; i < keep; ++i)
    weights[i] = std::exp(static_cast<double>(candidates_[i].first - max_logit) / options_.temperature);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  return candidates_[pick(rng_)].second;
}

}  // namespace moefit
