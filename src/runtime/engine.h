// SPDX-License-Identifier: MIT
// Engine: carries a loaded model, its KV cache, scratch and expert store; evaluates batches of
// tokens from any number of sequences, each continuing where its cache ends. Every byte it
// allocates is charged to a host Budget first, so a cap is refused up front, never crossed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/budget.h"
#include "gguf/gguf_file.h"
#include "model/forward.h"
#include "model/model.h"
#include "runtime/expert_store.h"
#include "runtime/kv_cache.h"
#include "runtime/weight_loader.h"

namespace moefit {

// Where the weights the CPU computes with live.
enum class WeightResidence {
  kMapped,  // views into the file mapping: the page cache holds them, nothing is charged for them
  kLoaded,  // read into owned RAM (charged): what the budget counts is what the machine pays
};

struct EngineOptions {
  int64_t kv_cells = 4096;  // total positions cached across all sequences
  DType kv_type = DType::kF16;  // KV cache type: f16, bf16, q8_0 or q4_0 (see KvCache)
  MatMulPath path = MatMulPath::kFast;
  int threads = 0;  // 0: all cores
  // Memory. Every allocation (KV cache, scratch, logits, owned weights, expert cache) is
  // charged to `host_budget` before it is made; null: an uncapped budget of the engine's own.
  Budget* host_budget = nullptr;
  int64_t max_batch_tokens = 512;  // scratch is sized for passes of this many tokens; larger batches take several
  int64_t logit_rows = 1;          // rows of logits allocated up front; a batch wanting more grows them (charged)
  WeightResidence weights = WeightResidence::kMapped;
  const GgufFile* file = nullptr;  // the model's file: needed to load weights or stream experts
  // Per layer: n in [n_active_experts, n_experts) streams that layer's routed experts from
  // `file` through n cache slots; 0 (or a missing entry) keeps them with the other weights.
  std::vector<int64_t> expert_cache_slots;
  bool prefill_expert_cache = false;  // fill the cache with each layer's first experts at start
  LoadProgressFn progress;  // hears the loading of owned weights
  // Loaded block-quantized matrices are stored with rows interleaved by block in groups of 4
  // (core/tensor_view.h), the layout the 4-row kernels stream: same bytes, same bits of every
  // result. false keeps the file's layout.
  bool interleave_weights = true;
  // Interleaved Q4_K groups are also re-encoded for the kernels (quant/repack.h) where the CPU
  // kernel table has a kernel for that: same bytes, results equal up to float rounding.
  bool repack_weights = true;
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
  // them, in item order); the span stays valid until the next call. Throws moefit::Error (and
  // leaves every sequence as it was) for a bad token, a full KV cache, logits past the budget,
  // or a failed expert read.
  std::span<const float> Evaluate(std::span<const BatchItem> items);
  // Convenience: appends `tokens` to `seq`, returns the logits of the last one.
  std::span<const float> EvaluateSequence(int32_t seq, std::span<const int32_t> tokens);
  void RemoveSequence(int32_t seq) { kv_.Remove(seq); }
  // Keeps the first `length` tokens of `seq` (later ones are forgotten; the next token's position is `length`).
  void TruncateSequence(int32_t seq, int64_t length) { kv_.Truncate(seq, length); }
  // `to` (empty) starts with the first `length` positions of `from`, sharing their KV cells:
  // its next token's position is `length`, and it gets the logits `from` got (KvCache::SharePrefix).
  void SharePrefix(int32_t from, int32_t to, int64_t length) { kv_.SharePrefix(from, to, length); }

  const Budget& host_budget() const { return *budget_; }
  uint64_t kv_charged_bytes() const { return kv_reservation_.bytes(); }  // KvCache::Bytes of the cache
  uint64_t owned_weight_bytes() const;     // weights read into owned RAM
  uint64_t repacked_weight_bytes() const;  // of those, re-encoded for the kernels (quant/repack.h)
  const ExpertStore& expert_store() const { return *experts_; }
  ExpertStoreStats expert_stats() const { return experts_->stats(); }
  // Forward passes from now on add their phase timings to `profile` (null: none). For benchmarks.
  void SetProfile(ForwardProfile* profile) { profile_ = profile; }

 private:
  void LoadWeights();
  void RunPasses(int64_t n_tokens);

  const Model& model_;
  EngineOptions options_;
  std::unique_ptr<Budget> own_budget_;  // when no budget was given
  Budget* budget_;
  BudgetReservation vectors_reservation_, kv_reservation_, scratch_reservation_, logits_reservation_;
  KvCache kv_;
  ForwardScratch scratch_;
  ModelWeights weights_;  // what the forward pass reads: the model's views, or owned copies
  std::vector<OwnedTensor> owned_;
  std::unique_ptr<ExpertStore> experts_;
  std::vector<BudgetReservation> extra_logits_;  // rows beyond logit_rows, charged as batches asked
  std::vector<int32_t> tokens_, positions_, cells_, logit_tokens_, pass_logit_tokens_;
  std::vector<std::span<const int32_t>> attend_;
  std::vector<float> logits_;
  ForwardProfile* profile_ = nullptr;
};

}  // namespace moefit
