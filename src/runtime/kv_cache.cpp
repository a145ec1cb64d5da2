// SPDX-License-Identifier: MIT
// KvCache cell bookkeeping.
#include "runtime/kv_cache.h"

#include "core/error.h"

namespace moefit {

uint64_t KvCache::BytesPerCell(const ModelSpec& spec) {
  return static_cast<uint64_t>(spec.n_layers) * spec.n_kv_heads * (spec.head_dim + spec.value_head_dim) * sizeof(uint16_t);
}

KvCache::KvCache(const ModelSpec& spec, int64_t n_cells) : n_cells_(n_cells) {
  if (n_cells <= 0 || n_cells > (int64_t{1} << 30)) Fail("KV cache of {} cells is not possible", n_cells);
  const int64_t k_dim = int64_t{spec.n_kv_heads} * spec.head_dim;
  const int64_t v_dim = int64_t{spec.n_kv_heads} * spec.value_head_dim;
  storage_.assign(static_cast<size_t>(spec.n_layers * n_cells * (k_dim + v_dim)), 0);
  uint16_t* at = storage_.data();
  for (int layer = 0; layer < spec.n_layers; ++layer) {
    KvLayerView view;
    view.k = at;
    at += n_cells * k_dim;
    view.v = at;
    at += n_cells * v_dim;
    layers_.push_back(view);
  }
  free_.reserve(static_cast<size_t>(n_cells));
  for (int64_t cell = n_cells - 1; cell >= 0; --cell) free_.push_back(static_cast<int32_t>(cell));
}

std::span<const int32_t> KvCache::Append(int32_t seq, int64_t count) {
  if (count > free_cells())
    Fail("KV cache full: sequence {} needs {} more cells, {} of {} are free", seq, count, free_cells(), n_cells_);
  std::vector<int32_t>& cells = sequences_[seq];
  const size_t start = cells.size();
  for (int64_t i = 0; i < count; ++i) {
    cells.push_back(free_.back());
    free_.pop_back();
  }
  return std::span<const int32_t>(cells).subspan(start);
}

std::span<const int32_t> KvCache::Cells(int32_t seq) const {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) return {};
  return it->second;
}

void KvCache::Truncate(int32_t seq, int64_t length) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) return;
  std::vector<int32_t>& cells = it->second;
  while (static_cast<int64_t>(cells.size()) > length) {
    free_.push_back(cells.back());
    cells.pop_back();
  }
  if (cells.empty()) sequences_.erase(it);
}

}  // namespace moefit
