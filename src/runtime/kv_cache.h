// SPDX-License-Identifier: MIT
// KvCache: a pool of cells (one token's K and V in every layer, F16) shared by all sequences.
// Each sequence owns an ordered list of cells, one per position; removing a sequence frees its
// cells for others at once.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "model/forward.h"
#include "model/model_spec.h"

namespace moefit {

class KvCache {
 public:
  KvCache(const ModelSpec& spec, int64_t n_cells);

  int64_t capacity() const { return n_cells_; }
  int64_t free_cells() const { return static_cast<int64_t>(free_.size()); }
  uint64_t bytes() const { return storage_.size() * sizeof(uint16_t); }
  static uint64_t BytesPerCell(const ModelSpec& spec);

  // Assigns cells to the next `count` positions of `seq`; throws moefit::Error when the cache is full.
  std::span<const int32_t> Append(int32_t seq, int64_t count);
  // The sequence's cells in position order (empty for an unknown sequence).
  std::span<const int32_t> Cells(int32_t seq) const;
  int64_t Length(int32_t seq) const { return static_cast<int64_t>(Cells(seq).size()); }
  // Drops positions >= length (e.g. to reuse a common prefix); frees their cells.
  void Truncate(int32_t seq, int64_t length);
  void Remove(int32_t seq) { Truncate(seq, 0); }
  std::span<const KvLayerView> layers() const { return layers_; }

 private:
  int64_t n_cells_;
  std::vector<uint16_t> storage_;
  std::vector<KvLayerView> layers_;
  std::vector<int32_t> free_;  // stack of free cells
  std::map<int32_t, std::vector<int32_t>> sequences_;
};

}  // namespace moefit
