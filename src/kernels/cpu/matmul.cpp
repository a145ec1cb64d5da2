// SPDX-License-Identifier: MIT
// MatMul on the CPU: the reference path (dequantize + double accumulation) and the fast path
// (activations quantized once to the weight's dot type, then the dispatched ISA kernels).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

// Below this many multiply-adds a matmul runs on the calling thread: waking the team costs more
// than it saves, and on a busy machine a barrier can cost milliseconds.
constexpr int64_t kParallelThreshold = 1 << 16;
bool Parallel(const TensorView& w, int64_t n_tokens) { return w.rows() * w.row_length() * n_tokens >= kParallelThreshold; }

// Row r of w in plain order: in place, or copied into `plain` (row_bytes) when interleaved.
const void* PlainRow(const TensorView& w, int64_t r, std::vector<uint8_t>& plain) {
  if (!w.interleaved()) return w.row(r);
  CopyRow(w, r, plain.data());
  return plain.data();
}

void MatMulReference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
  const DTypeTraits& traits = Traits(w.type);
#pragma omp parallel if (Parallel(w, n_tokens))
  {
    std::vector<float> row(static_cast<size_t>(cols));
    std::vector<uint8_t> plain(w.interleaved() ? static_cast<size_t>(w.row_bytes()) : 0);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      traits.dequantize_row(PlainRow(w, r, plain), row.data(), cols);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * cols;
        double sum = 0.0;
        for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(row[c]) * xt[c];
        y[t * rows + r] = static_cast<float>(sum);
      }
    }
  }
}

// Activation rows handled per pass of the weights: a pass keeps this many quantized rows in L1/L2
// while each thread streams its share of the weight rows (which stay in its L2 across passes
// when they fit). Decode is one token: one pass.
constexpr int64_t kActivationChunkBytes = 64 * 1024;
// Below this many weight bytes a matrix is done on the calling thread alone.
constexpr int64_t kParallelMinBytes = 32 * 1024;

// W rows [begin, end) against tokens [t0, t1) with the table's kernel (tile, or row by row).
void DotRange(const DotKernel& dot, const TensorView& w, const uint8_t* activations, int64_t act_row_bytes,
              int64_t begin, int64_t end, int64_t t0, int64_t t1, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
  if (begin >= end) return;
  if (dot.tile != nullptr) {
    dot.tile({.weights = static_cast<const uint8_t*>(w.row(begin)),
              .weight_row_bytes = w.row_bytes(),
              .rows = end - begin,
              .row_group = w.row_group,
              .activations = activations + t0 * act_row_bytes,
              .activation_row_bytes = act_row_bytes,
              .tokens = t1 - t0,
              .elements = cols,
              .out = y + t0 * rows + begin,
              .out_token_stride = rows});
    return;
  }
  thread_local std::vector<uint8_t> plain;
  if (w.interleaved()) plain.resize(static_cast<size_t>(w.row_bytes()));
  for (int64_t r = begin; r < end; ++r) {
    const void* row = PlainRow(w, r, plain);
    for (int64_t t = t0; t < t1; ++t) y[t * rows + r] = dot.row(row, activations + t * act_row_bytes, cols);
  }
}

void MatMulFast(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
  const KernelTable& kernels = CpuKernels();
  const DotKernel& dot = kernels.Dot(w.type);
  if (dot.row == nullptr) {
    const DTypeTraits& traits = Traits(w.type);
#pragma omp parallel
    {
      std::vector<uint8_t> plain(w.interleaved() ? static_cast<size_t>(w.row_bytes()) : 0);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const void* row = PlainRow(w, r, plain);
        for (int64_t t = 0; t < n_tokens; ++t) y[t * rows + r] = traits.dot_row_float(row, x + t * cols, cols);
      }
    }
    return;
  }
  // Activations in the dot type, once per call. Reused buffer: no allocation once warm.
  thread_local std::vector<uint8_t> quantized;
  const DType act_type = dot.activation_type;
  const int64_t act_row_bytes = RowBytes(act_type, cols);
  const bool quantize = act_type != DType::kF32;
  QuantizeRowFn quantize_row = nullptr;
  const uint8_t* activations = reinterpret_cast<const uint8_t*>(x);
  if (quantize) {
    quantize_row = kernels.Quantize(act_type).row;
    if (quantize_row == nullptr) quantize_row = Traits(act_type).quantize_row;
    quantized.resize(static_cast<size_t>(act_row_bytes * n_tokens));
    activations = quantized.data();
  }
  uint8_t* quantized_data = quantized.data();
  const int64_t chunk_tokens = std::max<int64_t>(1, kActivationChunkBytes / act_row_bytes);
  const bool parallel = w.matrix_bytes() >= kParallelMinBytes;

#pragma omp parallel if (parallel)
  {
    if (quantize) {
#pragma omp for schedule(static)
      for (int64_t t = 0; t < n_tokens; ++t) quantize_row(x + t * cols, quantized_data + t * act_row_bytes, cols);
    }
    // Contiguous row ranges in groups of 4 (the kernels' row group), one per thread.
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t groups = (rows + 3) / 4;
    const int64_t begin = std::min(rows, groups * thread / threads * 4);
    const int64_t end = std::min(rows, groups * (thread + 1) / threads * 4);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk_tokens)
      DotRange(dot, w, activations, act_row_bytes, begin, end, t0, std::min(n_tokens, t0 + chunk_tokens), y);
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
