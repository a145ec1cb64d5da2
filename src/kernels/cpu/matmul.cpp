// SPDX-License-Identifier: MIT
// MatMul on the CPU: the reference path (dequantize + double accumulation) and the fast path
// (activations quantized once to the weight's dot type, then the type's dot product).
#include <omp.h>

#include <vector>

#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

void MatMulReference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
  const DTypeTraits& traits = Traits(w.type);
#pragma omp parallel
  {
    std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      traits.dequantize_row(w.row(r), row.data(), cols);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * cols;
        double sum = 0.0;
        for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(row[c]) * xt[c];
        y[t * rows + r] = static_cast<float>(sum);
      }
    }
  }
}

void MatMulFast(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
  const DTypeTraits& traits = Traits(w.type);
  if (traits.dot_row == nullptr) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < n_tokens; ++t) y[t * rows + r] = traits.dot_row_float(w.row(r), x + t * cols, cols);
    return;
  }
  // Activations in the dot type, once per call. Reused buffer: no allocation once warm.
  thread_local std::vector<uint8_t> quantized;
  const int64_t act_row_bytes = RowBytes(traits.dot_type, cols);
  const uint8_t* activations = reinterpret_cast<const uint8_t*>(x);
  if (traits.dot_type != DType::kF32) {
    quantized.resize(static_cast<size_t>(act_row_bytes * n_tokens));
    const QuantizeRowFn quantize = Traits(traits.dot_type).quantize_row;
    for (int64_t t = 0; t < n_tokens; ++t) quantize(x + t * cols, quantized.data() + t * act_row_bytes, cols);
    activations = quantized.data();
  }
  const DotRowFn dot = traits.dot_row;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const void* row = w.row(r);
    for (int64_t t = 0; t < n_tokens; ++t) y[t * rows + r] = dot(row, activations + t * act_row_bytes, cols);
  }
}

}  // namespace

void MatMul(const TensorView& w, const float* x, int64_t n_tokens, float* y, MatMulPath path) {
  if (path == MatMulPath::kReference) {
    MatMulReference(w, x, n_tokens, y);
  } else {
    MatMulFast(w, x, n_tokens, y);
  }
}

}  // namespace moefit
