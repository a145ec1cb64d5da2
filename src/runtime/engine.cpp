// SPDX-License-Identifier: MIT
// Engine: builds the ForwardBatch (positions, cache cells, attention spans) and runs Forward.
#include "runtime/engine.h"

#include <omp.h>

#include <map>

#include "core/error.h"

namespace moefit {

Engine::Engine(const Model& model, const EngineOptions& options)
    : model_(model), options_(options), kv_(model.spec(), options.kv_cells) {
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
}

std::span<const float> Engine::Evaluate(std::span<const BatchItem> items) {
  const int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) return {};
  const int vocab = spec().vocab_size;
  // Count per sequence first, so a full cache refuses the batch before touching anything.
  std::map<int32_t, int64_t> per_sequence;
  for (const BatchItem& item : items) {
    if (item.token < 0 || item.token >= vocab) Fail("token id {} is outside the vocabulary (0..{})", item.token, vocab - 1);
    ++per_sequence[item.seq];
  }
  int64_t needed = 0;
  for (const auto& [seq, count] : per_sequence) needed += count;
  if (needed > kv_.free_cells())
    Fail("KV cache full: the batch needs {} cells, {} of {} are free", needed, kv_.free_cells(), kv_.capacity());
  std::map<int32_t, int64_t> next_position;
  for (const auto& [seq, count] : per_sequence) {
    next_position[seq] = kv_.Length(seq);
    kv_.Append(seq, count);
  }
  tokens_.resize(static_cast<size_t>(n));
  positions_.resize(static_cast<size_t>(n));
  cells_.resize(static_cast<size_t>(n));
  attend_.resize(static_cast<size_t>(n));
  logit_tokens_.clear();
  for (int64_t i = 0; i < n; ++i) {
    const BatchItem& item = items[static_cast<size_t>(i)];
    const int64_t position = next_position[item.seq]++;
    const std::span<const int32_t> cells = kv_.Cells(item.seq);
    tokens_[i] = item.token;
    positions_[i] = static_cast<int32_t>(position);
    cells_[i] = cells[static_cast<size_t>(position)];
    attend_[i] = cells.first(static_cast<size_t>(position + 1));
    if (item.want_logits) logit_tokens_.push_back(static_cast<int32_t>(i));
  }
  logits_.resize(logit_tokens_.size() * static_cast<size_t>(vocab));
  const ForwardBatch batch{.tokens = tokens_,
                           .positions = positions_,
                           .cells = cells_,
                           .attend = attend_,
                           .logit_tokens = logit_tokens_};
  Forward(model_, batch, kv_.layers(), options_.path, scratch_, logits_.data());
  return logits_;
}

std::span<const float> Engine::EvaluateSequence(int32_t seq, std::span<const int32_t> tokens) {
  std::vector<BatchItem> items;
  items.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) items.push_back({seq, tokens[i], i + 1 == tokens.size()});
  return Evaluate(items);
}

}  // namespace moefit
