// SPDX-License-Identifier: MIT
// KvCache: a pool of cells (one token's K and V in every layer, in the cache's type: f16, bf16,
// q8_0 or q4_0) shared by all sequences. Each sequence holds an ordered list of cells, one per
// position; sequences may share the cells of a common prefix (SharePrefix: a cell is written
// once, when appended, so a shared prefix never changes). A cell is free again when no
// sequence holds it; removing a sequence frees the cells only it held at once.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "model/forward.h"
#include "model/model_spec.h"
#include "runtime/host_buffer.h"

namespace moefit {

// "f16", "bf16", "q8_0", "q4_0" (any case) -> the KV type; throws moefit::Error otherwise.
DType ParseKvType(std::string_view name);
// The lower-case name ParseKvType reads ("q8_0").
std::string KvTypeName(DType type);

class KvCache {
 public:
  // Throws moefit::Error for a type that is not a KV type, a block type (q8_0, q4_0) whose
  // blocks of 32 do not tile the model's key or value heads, or an impossible cell count.
  KvCache(const ModelSpec& spec, int64_t n_cells, DType type = DType::kF16);

  DType type() const { return type_; }
  int64_t capacity() const { return n_cells_; }
  int64_t free_cells() const { return free_count_; }
  uint64_t bytes() const { return storage_.size(); }  // K/V storage: capacity() * BytesPerCell

  // K and V bytes of one cell in every layer: n_layers * (RowBytes(type, n_kv_heads * head_dim)
  // + RowBytes(type, n_kv_heads * value_head_dim)), the planner's KvBytesPerCell per layer.
  // Throws as the constructor does.
  static uint64_t BytesPerCell(const ModelSpec& spec, DType type = DType::kF16);
  // What a cache of n_cells allocates: the storage, plus the free list, the sequences' cell
  // lists (one int32 per cell each at most) and the count of holders per cell
  // (kKvBookkeepingPerCell). What the engine charges to its budget.
  static uint64_t Bytes(const ModelSpec& spec, DType type, int64_t n_cells);

  // Assigns cells to the next `count` positions of `seq`; throws moefit::Error when the cache is full.
  std::span<const int32_t> Append(int32_t seq, int64_t count);
  // Where free cells come from: sequence s in [0, capacity / cells_per_sequence) takes the
  // lowest free cells of its own region [s x cells_per_sequence, (s + 1) x cells_per_sequence)
  // first, then cells outside every region, then another region's (the one with the most free),
  // so sequences that grow a token at a time side by side each keep contiguous cells (read from
  // DRAM, attention over interleaved cells ran 1.25-1.35x slower). Only which free cell is taken
  // changes: capacity, results and errors do not. 0 (the default): one pool, lowest first.
  void SetSequenceRegions(int64_t cells_per_sequence);
  // The sequence's cells in position order (empty for an unknown sequence).
  std::span<const int32_t> Cells(int32_t seq) const;
  int64_t Length(int32_t seq) const { return static_cast<int64_t>(Cells(seq).size()); }
  // Drops positions >= length (e.g. to reuse a common prefix); frees the cells no other
  // sequence holds.
  void Truncate(int32_t seq, int64_t length);
  // `to` (which must hold no cells) starts with the first `length` cells of `from`: the same
  // cells, not copies, so its tokens at those positions have exactly from's K and V. Throws
  // moefit::Error when `to` is not empty or `from` is shorter than `length`.
  void SharePrefix(int32_t from, int32_t to, int64_t length);
  void Remove(int32_t seq) { Truncate(seq, 0); }
  std::span<const KvLayerView> layers() const { return layers_; }

 private:
  DType type_;
  int64_t n_cells_;
  HostBuffer storage_;  // 2 MiB aligned and huge-page advised when large (rows on cache lines, fewer TLB misses)
  std::vector<KvLayerView> layers_;
  // Free cells: list 0 those outside every region, list 1 + s region s's; each a stack with its
  // lowest cell on top (about: cells come back in the order sequences let them go).
  std::vector<std::vector<int32_t>> free_lists_;
  int64_t free_count_ = 0;
  int64_t region_cells_ = 0;  // cells per sequence region (0: none)
  size_t FreeListOf(int32_t cell) const;
  std::vector<uint16_t> holders_;  // per cell: the sequences that hold it
  std::map<int32_t, std::vector<int32_t>> sequences_;
};

}  // namespace moefit
