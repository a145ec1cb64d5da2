// SPDX-License-Identifier: MIT
// ExpertStore: resident views, or a per-layer cache of expert slots filled from the file.
#include "runtime/expert_store.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"

namespace moefit {
namespace {

uint64_t RoundUp64(uint64_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace

ExpertStoreStats& ExpertStoreStats::operator+=(const ExpertStoreStats& other) {
  hits += other.hits;
  misses += other.misses;
  bytes_read += other.bytes_read;
  read_seconds += other.read_seconds;
  return *this;
}

const GgufTensorInfo* TensorAt(const GgufFile& file, const void* data) {
  for (const GgufTensorInfo& tensor : file.tensors())
    if (tensor.data == data) return &tensor;
  return nullptr;
}

ExpertStore::ExpertStore(const GgufFile* file, const ModelSpec& spec, std::span<const LayerWeights> layers,
                         const ExpertStoreOptions& options, Budget& budget)
    : spec_(spec), options_(options) {
  MOEFIT_CHECK(static_cast<int>(layers.size()) == spec.n_layers);
  if (options_.aging_period < 1) Fail("expert cache aging period must be at least 1 batch");
  layers_.resize(layers.size());
  uint64_t total = 0;
  int64_t total_slots = 0;
  for (int index = 0; index < spec.n_layers; ++index) {
    Layer& layer = layers_[static_cast<size_t>(index)];
    const LayerWeights& weights = layers[static_cast<size_t>(index)];
    layer.weights = &weights;
    const int64_t slots = static_cast<size_t>(index) < options_.cache_slots.size() ? options_.cache_slots[static_cast<size_t>(index)] : 0;
    if (slots <= 0) continue;
    if (!spec.LayerIsMoe(index)) Fail("layer {} has no routed experts to stream", index);
    if (slots < spec.n_active_experts)
      Fail("layer {}: an expert cache of {} slots is too small: one token uses {} experts", index, slots, spec.n_active_experts);
    if (file == nullptr) Fail("layer {}: streaming experts needs the model's file", index);
    const GgufTensorInfo* gate = TensorAt(*file, weights.ffn_gate_exps.data);
    const GgufTensorInfo* up = TensorAt(*file, weights.ffn_up_exps.data);
    const GgufTensorInfo* down = TensorAt(*file, weights.ffn_down_exps.data);
    if (gate == nullptr || up == nullptr || down == nullptr)
      Fail("layer {}: the routed experts are not views of {}, so they cannot be streamed from it", index, file->path());
    if (!reader_) reader_.emplace(file->path());
    layer.streamed = true;
    layer.gate_offset = FileOffsetOf(*file, *gate);
    layer.up_offset = FileOffsetOf(*file, *up);
    layer.down_offset = FileOffsetOf(*file, *down);
    layer.gate_bytes = static_cast<uint64_t>(weights.ffn_gate_exps.matrix_bytes());
    layer.up_bytes = static_cast<uint64_t>(weights.ffn_up_exps.matrix_bytes());
    layer.down_bytes = static_cast<uint64_t>(weights.ffn_down_exps.matrix_bytes());
    layer.slot_stride = RoundUp64(layer.gate_bytes) + RoundUp64(layer.up_bytes) + RoundUp64(layer.down_bytes);
    const int64_t n_slots = std::min<int64_t>(slots, spec.n_experts);
    layer.slot_expert.assign(static_cast<size_t>(n_slots), -1);
    layer.slot_pinned.assign(static_cast<size_t>(n_slots), 0);
    layer.slot_last_use.assign(static_cast<size_t>(n_slots), 0);
    layer.expert_slot.assign(static_cast<size_t>(spec.n_experts), -1);
    layer.frequency.assign(static_cast<size_t>(spec.n_experts), 0);
    total += static_cast<uint64_t>(n_slots) * layer.slot_stride;
    total_slots += n_slots;
    ++streamed_layers_;
  }
  if (total == 0) return;
  reservation_ = BudgetReservation(budget, HostBuffer::Footprint(total),
                                   fmt::format("expert cache ({} slots in {} layers)", total_slots, streamed_layers_));
  arena_ = HostBuffer(total, "expert cache", /*commit=*/true);  // held from the start, as planned
  uint8_t* at = arena_.data();
  for (Layer& layer : layers_) {
    if (!layer.streamed) continue;
    layer.slots = at;
    at += layer.slot_expert.size() * layer.slot_stride;
  }
  reads_.reserve(static_cast<size_t>(spec.n_experts));
}

int64_t ExpertStore::Capacity(int layer) const {
  const Layer& l = layers_[static_cast<size_t>(layer)];
  return l.streamed ? static_cast<int64_t>(l.slot_expert.size()) : spec_.n_experts;
}

int64_t ExpertStore::cache_slots(int layer) const {
  const Layer& l = layers_[static_cast<size_t>(layer)];
  return l.streamed ? static_cast<int64_t>(l.slot_expert.size()) : 0;
}

const ExpertStoreStats& ExpertStore::layer_stats(int layer) const { return layers_[static_cast<size_t>(layer)].stats; }

std::span<const int32_t> ExpertStore::slot_experts(int layer) const { return layers_[static_cast<size_t>(layer)].slot_expert; }

ExpertStoreStats ExpertStore::stats() const {
  ExpertStoreStats total;
  for (const Layer& layer : layers_) total += layer.stats;
  return total;
}

// Cached experts first (so a group never evicts an expert a later group of the batch finds),
// each part still ascending. Also the once-per-batch bookkeeping: counts and their aging.
void ExpertStore::Order(int layer, std::span<int32_t> experts, std::span<int32_t> uses) {
  Layer& l = layers_[static_cast<size_t>(layer)];
  if (!l.streamed) return;
  if (++l.batches % static_cast<uint64_t>(options_.aging_period) == 0)
    for (uint32_t& count : l.frequency) count /= 2;
  for (int32_t expert : experts) ++l.frequency[static_cast<size_t>(expert)];
  size_t cached = 0;
  for (size_t i = 0; i < experts.size(); ++i) {
    if (l.expert_slot[static_cast<size_t>(experts[i])] < 0) continue;
    // Rotate the cached expert down to position `cached`, keeping both parts in order.
    std::rotate(experts.begin() + static_cast<std::ptrdiff_t>(cached), experts.begin() + static_cast<std::ptrdiff_t>(i),
                experts.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    std::rotate(uses.begin() + static_cast<std::ptrdiff_t>(cached), uses.begin() + static_cast<std::ptrdiff_t>(i),
                uses.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ++cached;
  }
}

ExpertMatrices ExpertStore::SlotMatrices(const Layer& layer, int32_t slot) const {
  const uint8_t* base = layer.slots + static_cast<uint64_t>(slot) * layer.slot_stride;
  ExpertMatrices matrices{layer.weights->ffn_gate_exps.matrix(0), layer.weights->ffn_up_exps.matrix(0),
                          layer.weights->ffn_down_exps.matrix(0)};
  matrices.gate.data = base;
  matrices.up.data = base + RoundUp64(layer.gate_bytes);
  matrices.down.data = base + RoundUp64(layer.gate_bytes) + RoundUp64(layer.up_bytes);
  return matrices;
}

// An empty slot, else the unpinned slot whose expert is chosen least often (ties: least recently used).
int32_t ExpertStore::PickVictim(const Layer& layer) const {
  int32_t victim = -1;
  uint32_t victim_count = std::numeric_limits<uint32_t>::max();
  uint64_t victim_use = std::numeric_limits<uint64_t>::max();
  for (size_t slot = 0; slot < layer.slot_expert.size(); ++slot) {
    if (layer.slot_pinned[slot]) continue;
    const int32_t expert = layer.slot_expert[slot];
    if (expert < 0) return static_cast<int32_t>(slot);
    const uint32_t count = layer.frequency[static_cast<size_t>(expert)];
    const uint64_t use = layer.slot_last_use[slot];
    if (count < victim_count || (count == victim_count && use < victim_use)) {
      victim = static_cast<int32_t>(slot);
      victim_count = count;
      victim_use = use;
    }
  }
  return victim;
}

void ExpertStore::Acquire(int layer, std::span<const int32_t> experts, std::span<const int32_t>,
                          std::span<ExpertMatrices> out) {
  Layer& l = layers_[static_cast<size_t>(layer)];
  MOEFIT_CHECK(out.size() == experts.size());
  if (!l.streamed) {
    const LayerWeights& w = *l.weights;
    for (size_t i = 0; i < experts.size(); ++i)
      out[i] = {w.ffn_gate_exps.matrix(experts[i]), w.ffn_up_exps.matrix(experts[i]), w.ffn_down_exps.matrix(experts[i])};
    return;
  }
  MOEFIT_CHECK(experts.size() <= l.slot_expert.size());
  // Hits first: pin them so that no miss of this group evicts them.
  for (size_t i = 0; i < experts.size(); ++i) {
    const int32_t slot = l.expert_slot[static_cast<size_t>(experts[i])];
    if (slot < 0) continue;
    MOEFIT_CHECK(!l.slot_pinned[static_cast<size_t>(slot)]);  // each expert once per group
    l.slot_pinned[static_cast<size_t>(slot)] = 1;
    l.slot_last_use[static_cast<size_t>(slot)] = ++tick_;
    out[i] = SlotMatrices(l, slot);
    ++l.stats.hits;
  }
  reads_.clear();
  for (size_t i = 0; i < experts.size(); ++i) {
    const int32_t expert = experts[i];
    if (l.expert_slot[static_cast<size_t>(expert)] >= 0) continue;
    const int32_t slot = PickVictim(l);
    MOEFIT_CHECK(slot >= 0);
    if (const int32_t old = l.slot_expert[static_cast<size_t>(slot)]; old >= 0) l.expert_slot[static_cast<size_t>(old)] = -1;
    l.slot_expert[static_cast<size_t>(slot)] = expert;
    l.expert_slot[static_cast<size_t>(expert)] = slot;
    l.slot_pinned[static_cast<size_t>(slot)] = 1;
    l.slot_last_use[static_cast<size_t>(slot)] = ++tick_;
    out[i] = SlotMatrices(l, slot);
    reads_.emplace_back(slot, expert);
    ++l.stats.misses;
  }
  if (reads_.empty()) return;
  try {
    ReadExperts(l, reads_);
  } catch (...) {
    for (const auto& [slot, expert] : reads_) {
      l.slot_expert[static_cast<size_t>(slot)] = -1;
      l.expert_slot[static_cast<size_t>(expert)] = -1;
    }
    Release(layer);
    throw;
  }
}

void ExpertStore::Prefill(const LoadProgressFn& progress) {
  LoadProgress state;
  state.tensor = "expert cache";
  for (const Layer& layer : layers_)
    if (layer.streamed)
      for (int32_t expert : layer.slot_expert)
        if (expert < 0) state.bytes_total += layer.gate_bytes + layer.up_bytes + layer.down_bytes;
  std::mutex mutex;
  for (Layer& layer : layers_) {
    if (!layer.streamed) continue;
    std::vector<std::pair<int32_t, int32_t>> reads;
    int32_t next_expert = 0;
    for (size_t slot = 0; slot < layer.slot_expert.size(); ++slot) {
      if (layer.slot_expert[slot] >= 0) continue;
      while (layer.expert_slot[static_cast<size_t>(next_expert)] >= 0) ++next_expert;
      reads.emplace_back(static_cast<int32_t>(slot), next_expert);
      layer.slot_expert[slot] = next_expert;
      layer.expert_slot[static_cast<size_t>(next_expert)] = static_cast<int32_t>(slot);
    }
    const ExpertStoreStats before = layer.stats;
    try {
      ReadExperts(layer, reads, [&](uint64_t bytes) {
        const std::lock_guard lock(mutex);
        state.bytes_done += bytes;
        if (progress) progress(state);
      });
    } catch (...) {
      for (const auto& [slot, expert] : reads) {
        layer.slot_expert[static_cast<size_t>(slot)] = -1;
        layer.expert_slot[static_cast<size_t>(expert)] = -1;
      }
      throw;
    }
    prefill_bytes_ += layer.stats.bytes_read - before.bytes_read;
    layer.stats = before;  // a warm start is neither a hit nor a miss
  }
}

void ExpertStore::ReadExperts(Layer& layer, std::span<const std::pair<int32_t, int32_t>> reads,
                              const std::function<void(uint64_t)>& on_chunk) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  const int64_t count = static_cast<int64_t>(reads.size());
  // Several reads in flight: a fast disk serves them in parallel.
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
  for (int64_t i = 0; i < count; ++i) {
    const auto [slot, expert] = reads[static_cast<size_t>(i)];
    const ExpertMatrices m = SlotMatrices(layer, slot);
    const uint64_t e = static_cast<uint64_t>(expert);
    try {
      reader_->Read(layer.gate_offset + e * layer.gate_bytes, const_cast<void*>(m.gate.data), layer.gate_bytes, on_chunk);
      reader_->Read(layer.up_offset + e * layer.up_bytes, const_cast<void*>(m.up.data), layer.up_bytes, on_chunk);
      reader_->Read(layer.down_offset + e * layer.down_bytes, const_cast<void*>(m.down.data), layer.down_bytes, on_chunk);
    } catch (const std::exception& failure) {
#pragma omp critical(moefit_expert_read_error)
      if (error.empty()) error = failure.what();
    }
  }
  if (!error.empty()) throw Error(fmt::format("reading streamed experts: {}", error));
  layer.stats.bytes_read += static_cast<uint64_t>(count) * (layer.gate_bytes + layer.up_bytes + layer.down_bytes);
  layer.stats.read_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void ExpertStore::Release(int layer) {
  Layer& l = layers_[static_cast<size_t>(layer)];
  std::fill(l.slot_pinned.begin(), l.slot_pinned.end(), uint8_t{0});
}

}  // namespace moefit
