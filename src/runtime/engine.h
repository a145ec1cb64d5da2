// SPDX-License-Identifier: MIT
// Engine: carries a loaded model, its KV cache and scratch; evaluates batches of tokens from any
// number of sequences, each continuing where its cache ends.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/forward.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace moefit {

struct EngineOptions {
  int64_t kv_cells = 4096;  // total positions cached across all sequences
  MatMulPath path = MatMulPath::kFast;
  int threads = 0;  // 0: all cores
};

// One token of a batch: it goes at the end of its sequence.
struct BatchItem {
  int32_t seq = 0;
  int32_t token = 0;
  bool want_logits = false;
};

class Engine {
 public:
  Engine(const Model& model, const EngineOptions& options);

  const Model& model() const { return model_; }
  const ModelSpec& spec() const { return model_.spec(); }
  KvCache& kv_cache() { return kv_; }

  // Evaluates the items as one batch. Returns logits (vocab_size floats per item that wanted
  // them, in item order); the span stays valid until the next call.
  std::span<const float> Evaluate(std::span<const BatchItem> items);
  // Convenience: appends `tokens` to `seq`, returns the logits of the last one.
  std::span<const float> EvaluateSequence(int32_t seq, std::span<const int32_t> tokens);
  void RemoveSequence(int32_t seq) { kv_.Remove(seq); }

 private:
  const Model& model_;
  EngineOptions options_;
  KvCache kv_;
  ForwardScratch scratch_;
  std::vector<int32_t> tokens_, positions_, cells_, logit_tokens_;
  std::vector<std::span<const int32_t>> attend_;
  std::vector<float> logits_;
};

}  // namespace moefit
