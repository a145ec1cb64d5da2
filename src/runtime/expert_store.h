// SPDX-License-Identifier: MIT
// ExpertStore: the engine's source of routed experts. A layer's experts are resident (views of
// weights in RAM) or streamed: read on demand from the GGUF file into a bounded cache of slots
// (one slot = one expert's gate, up and down matrices of one layer), evicting the least
// frequently chosen expert (counts halved every few batches, so the cache follows the text).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/budget.h"
#include "gguf/gguf_file.h"
#include "model/forward.h"
#include "model/model.h"
#include "runtime/host_buffer.h"
#include "runtime/weight_loader.h"

namespace moefit {

struct ExpertStoreStats {
  uint64_t hits = 0;        // streamed experts found in the cache when acquired
  uint64_t misses = 0;      // streamed experts read from disk
  uint64_t bytes_read = 0;
  double read_seconds = 0;  // wall time spent reading

  uint64_t acquisitions() const { return hits + misses; }
  double hit_rate() const { return acquisitions() == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(acquisitions()); }
  ExpertStoreStats& operator+=(const ExpertStoreStats& other);
};

struct ExpertStoreOptions {
  // Per layer: 0 keeps the layer's experts resident (served from the layer weights); n > 0
  // streams them through n cache slots (at least n_active_experts; n_experts or more is
  // treated as resident by the caller, not here).
  std::vector<int64_t> cache_slots;
  int64_t aging_period = 128;  // batches of a layer between halvings of its experts' counts
};

class ExpertStore final : public ExpertSource {
 public:
  // `layers` are the engine's weights: resident layers are served from their views; streamed
  // layers' expert views must point into `file`'s mapping (their bytes are never touched there,
  // only their type, shape and file offset are used; `file` may be null when nothing streams).
  // The cache is charged to `budget` before it is allocated. Throws moefit::Error for a bad
  // configuration or a refused budget.
  ExpertStore(const GgufFile* file, const ModelSpec& spec, std::span<const LayerWeights> layers,
              const ExpertStoreOptions& options, Budget& budget);

  int64_t Capacity(int layer) const override;
  void Order(int layer, std::span<int32_t> experts, std::span<int32_t> uses) override;
  void Acquire(int layer, std::span<const int32_t> experts, std::span<const int32_t> uses,
               std::span<ExpertMatrices> out) override;
  void Release(int layer) override;

  // Warm start: fills each streamed layer's empty slots with its first experts (0, 1, ...),
  // reading the file in order. Not counted as misses; reported as prefill_bytes().
  void Prefill(const LoadProgressFn& progress = {});
  uint64_t prefill_bytes() const { return prefill_bytes_; }

  bool streams() const { return streamed_layers_ > 0; }
  int streamed_layers() const { return streamed_layers_; }
  uint64_t cache_bytes() const { return arena_.size(); }
  int64_t cache_slots(int layer) const;  // 0 for a resident layer
  ExpertStoreStats stats() const;        // all streamed layers
  const ExpertStoreStats& layer_stats(int layer) const;
  // Which expert each slot of a streamed layer holds (-1: empty), for tests.
  std::span<const int32_t> slot_experts(int layer) const;

 private:
  struct Layer {
    bool streamed = false;
    const LayerWeights* weights = nullptr;
    // Streamed: where expert 0's matrices start in the file, and each matrix's bytes.
    uint64_t gate_offset = 0, up_offset = 0, down_offset = 0;
    uint64_t gate_bytes = 0, up_bytes = 0, down_bytes = 0;
    uint64_t slot_stride = 0;  // bytes between slots (each matrix 64-byte aligned)
    uint8_t* slots = nullptr;
    std::vector<int32_t> slot_expert;   // -1: empty
    std::vector<int32_t> expert_slot;   // -1: not cached
    std::vector<uint8_t> slot_pinned;
    std::vector<uint64_t> slot_last_use;
    std::vector<uint32_t> frequency;    // per expert, halved every aging_period batches
    uint64_t batches = 0;
    ExpertStoreStats stats;
  };

  ExpertMatrices SlotMatrices(const Layer& layer, int32_t slot) const;
  int32_t PickVictim(const Layer& layer) const;
  // Reads (slot, expert) pairs into their slots; `on_chunk` hears the bytes as they land.
  void ReadExperts(Layer& layer, std::span<const std::pair<int32_t, int32_t>> reads,
                   const std::function<void(uint64_t)>& on_chunk = {});

  ModelSpec spec_;
  ExpertStoreOptions options_;
  std::optional<FileReader> reader_;  // when a layer streams
  std::vector<Layer> layers_;
  int streamed_layers_ = 0;
  uint64_t tick_ = 0;
  uint64_t prefill_bytes_ = 0;
  BudgetReservation reservation_;
  HostBuffer arena_;
  std::vector<std::pair<int32_t, int32_t>> reads_;  // reused per Acquire
};

// The tensor whose data `data` points at in `file`'s mapping, or null.
const GgufTensorInfo* TensorAt(const GgufFile& file, const void* data);

}  // namespace moefit
