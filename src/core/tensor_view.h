// SPDX-License-Identifier: MIT
// TensorView: a non-owning view of tensor bytes (pointer, dtype, shape, device).
#pragma once

#include <array>
#include <cstdint>

#include "core/dtype.h"

namespace moefit {

enum class Device { kHost, kGpu };

// Row layouts. Plain (row_group 1): each row's blocks in order, row after row, as in the file.
// Interleaved (row_group 4, block-quantized types only): in each matrix, the rows go in groups
// [4g, 4g + k) (k = 4, or fewer for the last group), and a group's bytes, the same bytes its k
// plain rows take, hold block 0 of each of its rows, then block 1 of each, and so on: a kernel
// computing k rows at once reads one sequential stream. Same size, same block encoding; only
// the order of whole blocks differs, so every row's dot product is bit-for-bit the same.
inline constexpr int kInterleavedRowGroup = 4;

struct TensorView {
  const void* data = nullptr;
  DType type = DType::kF32;
  // GGUF order: dims[0] is the row length (fastest), then rows, then matrices (e.g. experts).
  std::array<int64_t, 4> dims = {1, 1, 1, 1};
  int n_dims = 0;
  Device device = Device::kHost;
  int row_group = 1;  // 1: plain rows; kInterleavedRowGroup: rows interleaved by block
  // With row_group kInterleavedRowGroup: each group's blocks are re-encoded for the CPU kernels
  // (quant/repack.h). Same bytes; read rows with CopyPlainRow (quant/repack.h).
  bool repacked = false;

  explicit operator bool() const { return data != nullptr; }
  int64_t row_length() const { return dims[0]; }
  int64_t rows() const { return dims[1]; }        // rows of one matrix
  int64_t matrices() const { return dims[2] * dims[3]; }
  int64_t elements() const { return dims[0] * dims[1] * dims[2] * dims[3]; }
  int64_t row_bytes() const { return RowBytes(type, dims[0]); }
  int64_t matrix_bytes() const { return row_bytes() * dims[1]; }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(data); }
  bool interleaved() const { return row_group > 1; }
  // Row r's bytes, contiguous: plain rows only (interleaved rows: CopyRow).
  const void* row(int64_t r) const { return bytes() + r * row_bytes(); }
  // The index-th matrix of a 3-D tensor, as a 2-D view (an expert's weights).
  TensorView matrix(int64_t index) const {
    TensorView view = *this;
    view.data = bytes() + index * matrix_bytes();
    view.dims = {dims[0], dims[1], 1, 1};
    view.n_dims = 2;
    return view;
  }
};

// Row r (of a 2-D view, or of the first matrix) in plain order into dst (row_bytes() bytes).
// Not for repacked views (CopyPlainRow in quant/repack.h reads those too).
void CopyRow(const TensorView& view, int64_t r, void* dst);

// Reorders `matrices` matrices of `rows` rows (plain, `row_length` elements of block type
// `type`) at `data` into the interleaved layout, in place (a scratch of group * row bytes).
void InterleaveRows(void* data, DType type, int64_t row_length, int64_t rows, int64_t matrices,
                    int group = kInterleavedRowGroup);
// Whether InterleaveRows applies to a type (block-quantized, block of more than one element).
bool CanInterleave(DType type);

}  // namespace moefit
