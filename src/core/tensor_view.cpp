// SPDX-License-Identifier: MIT
// Row layouts of TensorView: reading a row out of interleaved groups, interleaving in place.
#include "core/tensor_view.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace moefit {

bool CanInterleave(DType type) {
  const DTypeLayout& layout = Layout(type);
  return layout.quantized && layout.block_elements > 1;
}

void CopyRow(const TensorView& view, int64_t r, void* dst) {
  MOEFIT_CHECK(!view.repacked);
  const int64_t row_bytes = view.row_bytes();
  if (!view.interleaved()) {
    std::memcpy(dst, view.row(r), static_cast<size_t>(row_bytes));
    return;
  }
  const int64_t group = view.row_group, rows = view.rows();
  const int64_t block_bytes = Layout(view.type).block_bytes, blocks = row_bytes / block_bytes;
  const int64_t first = r / group * group, size = std::min(group, rows - first), index = r - first;
  const uint8_t* base = view.bytes() + first * row_bytes;
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < blocks; ++b)
    std::memcpy(out + b * block_bytes, base + (b * size + index) * block_bytes, static_cast<size_t>(block_bytes));
}

void InterleaveRows(void* data, DType type, int64_t row_length, int64_t rows, int64_t matrices, int group) {
  MOEFIT_CHECK(CanInterleave(type) && group >= 1 && rows >= 0 && matrices >= 0);
  if (group == 1) return;
  const int64_t row_bytes = RowBytes(type, row_length);
  const int64_t block_bytes = Layout(type).block_bytes, blocks = row_bytes / block_bytes;
  std::vector<uint8_t> scratch(static_cast<size_t>(group * row_bytes));
  uint8_t* bytes = static_cast<uint8_t*>(data);
  for (int64_t m = 0; m < matrices; ++m) {
    for (int64_t first = 0; first < rows; first += group) {
      const int64_t size = std::min<int64_t>(group, rows - first);
      uint8_t* base = bytes + (m * rows + first) * row_bytes;
      std::memcpy(scratch.data(), base, static_cast<size_t>(size * row_bytes));
      for (int64_t i = 0; i < size; ++i)
        for (int64_t b = 0; b < blocks; ++b)
          std::memcpy(base + (b * size + i) * block_bytes, scratch.data() + i * row_bytes + b * block_bytes,
                      static_cast<size_t>(block_bytes));
    }
  }
}

}  // namespace moefit
