// SPDX-License-Identifier: MIT
// KvCache: storage per KV type, cell bookkeeping.
#include "runtime/kv_cache.h"

#include <cctype>
#include <optional>

#include "core/error.h"
#include "kernels/ops.h"
#include "plan/memory_model.h"

namespace moefit {

namespace {

void CheckCells(int64_t n_cells) {
  if (n_cells <= 0 || n_cells > (int64_t{1} << 30)) Fail("KV cache of {} cells is not possible", n_cells);
}

// Bytes of one layer's K row and V row of a cell.
struct RowBytesPair {
  int64_t k = 0, v = 0;
};

RowBytesPair CellRowBytes(const ModelSpec& spec, DType type) {
  if (!IsKvType(type)) Fail("KV cache type {} is not supported: use f16, bf16, q8_0 or q4_0", KvTypeName(type));
  const DTypeLayout& layout = Layout(type);
  const int64_t block = layout.block_elements;
  if (spec.head_dim % block != 0 || spec.value_head_dim % block != 0)
    Fail("KV cache type {} stores blocks of {} values, but this model's {} heads have {} (head_dim {}, value_head_dim {}): "
         "use --kv-type f16 or bf16",
         KvTypeName(type), block, spec.head_dim % block != 0 ? "key" : "value",
         spec.head_dim % block != 0 ? spec.head_dim : spec.value_head_dim, spec.head_dim, spec.value_head_dim);
  return {RowBytes(type, int64_t{spec.n_kv_heads} * spec.head_dim), RowBytes(type, int64_t{spec.n_kv_heads} * spec.value_head_dim)};
}

}  // namespace

DType ParseKvType(std::string_view name) {
  const std::optional<DType> type = ParseDType(name);
  if (!type || !IsKvType(*type)) Fail("KV cache type '{}' is not supported: use f16, bf16, q8_0 or q4_0", name);
  return *type;
}

std::string KvTypeName(DType type) {
  std::string name(DTypeName(type));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

uint64_t KvCache::BytesPerCell(const ModelSpec& spec, DType type) {
  const RowBytesPair rows = CellRowBytes(spec, type);
  return static_cast<uint64_t>(spec.n_layers) * static_cast<uint64_t>(rows.k + rows.v);
}

uint64_t KvCache::Bytes(const ModelSpec& spec, DType type, int64_t n_cells) {
  CheckCells(n_cells);
  return static_cast<uint64_t>(n_cells) * (BytesPerCell(spec, type) + kKvBookkeepingPerCell);
}

KvCache::KvCache(const ModelSpec& spec, int64_t n_cells, DType type) : type_(type), n_cells_(n_cells) {
  CheckCells(n_cells);
  const RowBytesPair rows = CellRowBytes(spec, type);
  storage_ = HostBuffer(static_cast<size_t>(n_cells * BytesPerCell(spec, type)), "the KV cache", /*commit=*/true);
  uint8_t* at = storage_.data();
  for (int layer = 0; layer < spec.n_layers; ++layer) {
    // Head-major (KvLayerView): rows.k bytes of a cell are n_kv_heads rows of k_row_bytes.
    const int64_t k_row = RowBytes(type, spec.head_dim), v_row = RowBytes(type, spec.value_head_dim);
    KvLayerView view{.type = type,
                     .k = at,
                     .v = at + n_cells * rows.k,
                     .k_row_bytes = k_row,
                     .v_row_bytes = v_row,
                     .k_head_stride = n_cells * k_row,
                     .v_head_stride = n_cells * v_row};
    at += n_cells * (rows.k + rows.v);
    layers_.push_back(view);
  }
  holders_.assign(static_cast<size_t>(n_cells), 0);
  SetSequenceRegions(0);
}

size_t KvCache::FreeListOf(int32_t cell) const {
  if (region_cells_ == 0) return 0;
  const int64_t region = cell / region_cells_;
  return region < static_cast<int64_t>(free_lists_.size()) - 1 ? static_cast<size_t>(region) + 1 : 0;
}

void KvCache::SetSequenceRegions(int64_t cells_per_sequence) {
  if (cells_per_sequence < 0) Fail("KV cache: a region of {} cells per sequence", cells_per_sequence);
  const int64_t regions = cells_per_sequence > 0 ? n_cells_ / cells_per_sequence : 0;
  region_cells_ = regions > 0 ? cells_per_sequence : 0;
  free_lists_.assign(static_cast<size_t>(regions) + 1, {});
  free_lists_[0].reserve(static_cast<size_t>(n_cells_ - regions * region_cells_));
  for (size_t list = 1; list < free_lists_.size(); ++list) free_lists_[list].reserve(static_cast<size_t>(region_cells_));
  free_count_ = 0;
  for (int64_t cell = n_cells_ - 1; cell >= 0; --cell) {
    if (holders_[static_cast<size_t>(cell)] != 0) continue;
    free_lists_[FreeListOf(static_cast<int32_t>(cell))].push_back(static_cast<int32_t>(cell));
    ++free_count_;
  }
}

std::span<const int32_t> KvCache::Append(int32_t seq, int64_t count) {
  if (count > free_cells())
    Fail("KV cache full: sequence {} needs {} more cells, {} of {} are free", seq, count, free_cells(), n_cells_);
  std::vector<int32_t>& cells = sequences_[seq];
  const size_t start = cells.size();
  const size_t own = seq >= 0 && static_cast<size_t>(seq) + 1 < free_lists_.size() ? static_cast<size_t>(seq) + 1 : 0;
  for (int64_t i = 0; i < count; ++i) {
    size_t list = own;
    if (free_lists_[list].empty()) list = 0;
    if (free_lists_[list].empty())
      for (size_t other = 1; other < free_lists_.size(); ++other)
        if (free_lists_[other].size() > free_lists_[list].size()) list = other;
    std::vector<int32_t>& free = free_lists_[list];
    cells.push_back(free.back());
    holders_[static_cast<size_t>(free.back())] = 1;
    free.pop_back();
    --free_count_;
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
    if (--holders_[static_cast<size_t>(cells.back())] == 0) {
      free_lists_[FreeListOf(cells.back())].push_back(cells.back());
      ++free_count_;
    }
    cells.pop_back();
  }
  if (cells.empty()) sequences_.erase(it);
}

void KvCache::SharePrefix(int32_t from, int32_t to, int64_t length) {
  if (length <= 0) return;
  if (from == to) Fail("KV cache: sequence {} cannot share its own cells", from);
  if (Length(to) != 0) Fail("KV cache: sequence {} already holds {} cells; a shared prefix must come first", to, Length(to));
  const std::span<const int32_t> source = Cells(from);
  if (static_cast<int64_t>(source.size()) < length)
    Fail("KV cache: sequence {} holds {} cells, fewer than the {} to share", from, source.size(), length);
  for (int64_t i = 0; i < length; ++i)
    if (holders_[static_cast<size_t>(source[static_cast<size_t>(i)])] == UINT16_MAX)
      Fail("KV cache: cell {} is already shared by {} sequences", source[static_cast<size_t>(i)], UINT16_MAX);
  std::vector<int32_t>& cells = sequences_[to];
  cells.assign(source.begin(), source.begin() + length);  // `source` stays valid: `to` was not in the map
  for (int32_t cell : cells) ++holders_[static_cast<size_t>(cell)];
}

}  // namespace moefit
