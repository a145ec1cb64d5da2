// SPDX-License-Identifier: MIT
// TensorView: a non-owning view of tensor bytes (pointer, dtype, shape, device).
#pragma once

#include <array>
#include <cstdint>

#include "core/dtype.h"

namespace moefit {

enum class Device { kHost, kGpu };

struct TensorView {
  const void* data = nullptr;
  DType type = DType::kF32;
  // GGUF order: dims[0] is the row length (fastest), then rows, then matrices (e.g. experts).
  std::array<int64_t, 4> dims = {1, 1, 1, 1};
  int n_dims = 0;
  Device device = Device::kHost;

  explicit operator bool() const { return data != nullptr; }
  int64_t row_length() const { return dims[0]; }
  int64_t rows() const { return dims[1]; }        // rows of one matrix
  int64_t matrices() const { return dims[2] * dims[3]; }
  int64_t elements() const { return dims[0] * dims[1] * dims[2] * dims[3]; }
  int64_t row_bytes() const { return RowBytes(type, dims[0]); }
  int64_t matrix_bytes() const { return row_bytes() * dims[1]; }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(data); }
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

}  // namespace moefit
