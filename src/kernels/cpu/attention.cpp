// SPDX-License-Identifier: MIT
// Attention over the KV cache in any KV type: the reference (dequantized rows, double, full
// softmax), the scalar flash kernel (the fast path's own reference), the driver that splits a
// call into per-KV-head tiles for the dispatched kernels, and the KV row quantizer.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

constexpr uint64_t kAlign = 64;

uint64_t AlignUp(uint64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The workspace, section by section (each 64-byte aligned).
struct WorkspaceLayout {
  // Flash path.
  uint64_t scores = 0, acc = 0, running_max = 0, running_sum = 0, row = 0, values = 0;
  // Reference path.
  uint64_t key = 0, value = 0, acc_double = 0;
  uint64_t flash_bytes = 0, reference_bytes = 0;
};

WorkspaceLayout Layout(const AttentionShape& shape) {
  const uint64_t rows = static_cast<uint64_t>(AttentionTileQueries(shape)) *
                        static_cast<uint64_t>(shape.n_heads / std::max(shape.n_kv_heads, 1));
  const uint64_t dk = static_cast<uint64_t>(shape.head_dim), dv = static_cast<uint64_t>(shape.value_head_dim);
  WorkspaceLayout layout;
  uint64_t at = 0;
  auto take = [&at](uint64_t bytes) {
    const uint64_t offset = at;
    at += AlignUp(bytes);
    return offset;
  };
  layout.scores = take(rows * static_cast<uint64_t>(kAttentionChunkCells) * sizeof(float));
  layout.acc = take(rows * dv * sizeof(float));
  layout.running_max = take(rows * sizeof(float));
  layout.running_sum = take(rows * sizeof(float));
  layout.row = take(std::max(dk, dv) * sizeof(float));
  layout.values = take(std::max(static_cast<uint64_t>(kAttentionValueCells) * dv, static_cast<uint64_t>(kAttentionKeyCells) * dk) *
                       sizeof(float));
  layout.flash_bytes = at;
  at = 0;
  layout.key = take(dk * sizeof(float));
  layout.value = take(dv * sizeof(float));
  layout.acc_double = take(dv * sizeof(double));
  layout.reference_bytes = at;
  return layout;
}

// ---- Reference ------------------------------------------------------------------------------

void AttentionReference(const AttentionArgs& a) {
  MOEFIT_DCHECK(a.n_queries >= 1 && a.n_queries <= AttentionTileQueries(a.shape));
  const AttentionShape& shape = a.shape;
  const int group = shape.n_heads / shape.n_kv_heads;
  const WorkspaceLayout layout = Layout(shape);
  uint8_t* work = static_cast<uint8_t*>(a.workspace);
  float* key = reinterpret_cast<float*>(work + layout.key);
  float* value = reinterpret_cast<float*>(work + layout.value);
  double* acc = reinterpret_cast<double*>(work + layout.acc_double);
  const DTypeTraits& traits = Traits(a.kv_type);
  for (int i = 0; i < a.n_queries; ++i) {
    const int64_t length = a.lengths[i];
    for (int h = a.kv_head_begin * group; h < a.kv_head_end * group; ++h) {
      const int kv_head = h / group;
      const float* q = a.q + (int64_t{i} * shape.n_heads + h) * shape.head_dim;
      auto score = [&](int64_t c) {
        traits.dequantize_row(a.k_cache + kv_head * a.k_head_stride + a.cells[c] * a.k_row_bytes, key, shape.head_dim);
        double dot = 0;
        for (int d = 0; d < shape.head_dim; ++d) dot += static_cast<double>(q[d]) * key[d];
        return dot * a.scale;
      };
      double max_score = -INFINITY;
      for (int64_t c = 0; c < length; ++c) max_score = std::max(max_score, score(c));
      double sum = 0;
      std::fill(acc, acc + shape.value_head_dim, 0.0);
      for (int64_t c = 0; c < length; ++c) {
        const double weight = std::exp(score(c) - max_score);
        sum += weight;
        traits.dequantize_row(a.v_cache + kv_head * a.v_head_stride + a.cells[c] * a.v_row_bytes, value, shape.value_head_dim);
        for (int d = 0; d < shape.value_head_dim; ++d) acc[d] += weight * value[d];
      }
      float* out = a.out + (int64_t{i} * shape.n_heads + h) * shape.value_head_dim;
      for (int d = 0; d < shape.value_head_dim; ++d) out[d] = static_cast<float>(acc[d] / sum);
    }
  }
}

// ---- Scalar flash kernel (the fast path's reference) -----------------------------------------

// Rescales a row by exp(old max - new max) and turns its n chunk scores into weights.
void SoftmaxStep(float* scores, int64_t n, float& running_max, float& running_sum, float* acc, int value_head_dim) {
  float chunk_max = -INFINITY;
  for (int64_t j = 0; j < n; ++j) chunk_max = std::max(chunk_max, scores[j]);
  const float new_max = std::max(running_max, chunk_max);
  const float factor = std::exp(running_max - new_max);
  if (factor != 1.0f) {
    running_sum *= factor;
    for (int d = 0; d < value_head_dim; ++d) acc[d] *= factor;
  }
  running_max = new_max;
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - new_max);
    sum += scores[j];
  }
  running_sum += sum;
}

template <DType kType>
void FlashScalar(const AttentionTile& t) {
  const DTypeTraits& traits = Traits(kType);
  const int rows = t.n_queries * t.group;
  int64_t n_cells = 0;
  for (int i = 0; i < t.n_queries; ++i) n_cells = std::max<int64_t>(n_cells, t.lengths[i]);
  for (int r = 0; r < rows; ++r) {
    t.running_max[r] = -INFINITY;
    t.running_sum[r] = 0;
    std::fill(t.acc + int64_t{r} * t.value_head_dim, t.acc + int64_t{r + 1} * t.value_head_dim, 0.0f);
  }
  for (int64_t c0 = 0; c0 < n_cells; c0 += t.chunk_cells) {
    const int64_t c1 = std::min(c0 + t.chunk_cells, n_cells);
    for (int64_t c = c0; c < c1; ++c) {
      traits.dequantize_row(t.k + t.cells[c] * t.k_row_bytes, t.row, t.head_dim);
      for (int i = 0; i < t.n_queries; ++i) {
        if (c >= t.lengths[i]) continue;
        for (int g = 0; g < t.group; ++g) {
          const float* q = t.q + i * t.q_stride + int64_t{g} * t.head_dim;
          float dot = 0;
          for (int d = 0; d < t.head_dim; ++d) dot += q[d] * t.row[d];
          t.scores[(i * t.group + g) * t.chunk_cells + (c - c0)] = dot * t.scale;
        }
      }
    }
    for (int i = 0; i < t.n_queries; ++i) {
      const int64_t n = std::min<int64_t>(c1, t.lengths[i]) - c0;
      if (n <= 0) continue;
      for (int g = 0; g < t.group; ++g) {
        const int r = i * t.group + g;
        SoftmaxStep(t.scores + r * t.chunk_cells, n, t.running_max[r], t.running_sum[r], t.acc + int64_t{r} * t.value_head_dim,
                    t.value_head_dim);
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      traits.dequantize_row(t.v + t.cells[c] * t.v_row_bytes, t.row, t.value_head_dim);
      for (int i = 0; i < t.n_queries; ++i) {
        if (c >= t.lengths[i]) continue;
        for (int g = 0; g < t.group; ++g) {
          const int r = i * t.group + g;
          const float weight = t.scores[r * t.chunk_cells + (c - c0)];
          float* acc = t.acc + int64_t{r} * t.value_head_dim;
          for (int d = 0; d < t.value_head_dim; ++d) acc[d] += weight * t.row[d];
        }
      }
    }
  }
  for (int i = 0; i < t.n_queries; ++i) {
    for (int g = 0; g < t.group; ++g) {
      const int r = i * t.group + g;
      const float inverse = 1.0f / t.running_sum[r];
      const float* acc = t.acc + int64_t{r} * t.value_head_dim;
      float* out = t.out + i * t.out_stride + int64_t{g} * t.value_head_dim;
      for (int d = 0; d < t.value_head_dim; ++d) out[d] = acc[d] * inverse;
    }
  }
}

}  // namespace

bool IsKvType(DType type) {
  return type == DType::kF16 || type == DType::kBF16 || type == DType::kQ8_0 || type == DType::kQ4_0;
}

void QuantizeKvRow(DType kv_type, const float* x, void* row, int64_t elements) {
  const QuantizeKernel& fast = CpuKernels().Quantize(kv_type);
  const QuantizeRowFn quantize = fast.row != nullptr ? fast.row : Traits(kv_type).quantize_row;
  quantize(x, row, elements);
}

uint64_t AttentionWorkspaceBytes(const AttentionShape& shape) {
  const WorkspaceLayout layout = Layout(shape);
  return std::max(layout.flash_bytes, layout.reference_bytes);
}

AttentionFn ScalarAttentionKernel(DType kv_type) {
  switch (kv_type) {
    case DType::kF16: return FlashScalar<DType::kF16>;
    case DType::kBF16: return FlashScalar<DType::kBF16>;
    case DType::kQ8_0: return FlashScalar<DType::kQ8_0>;
    case DType::kQ4_0: return FlashScalar<DType::kQ4_0>;
    default: return nullptr;
  }
}

void AttentionWithTable(const KernelTable& table, const AttentionArgs& a) {
  MOEFIT_DCHECK(a.n_queries >= 1 && a.n_queries <= AttentionTileQueries(a.shape));
  const AttentionShape& shape = a.shape;
  const int group = shape.n_heads / shape.n_kv_heads;
  const WorkspaceLayout layout = Layout(shape);
  uint8_t* work = static_cast<uint8_t*>(a.workspace);
  const AttentionFn kernel = table.AttentionFor(a.kv_type).tile;
  const int64_t q_stride = int64_t{shape.n_heads} * shape.head_dim;
  for (int kv_head = a.kv_head_begin; kv_head < a.kv_head_end; ++kv_head) {
    kernel({.q = a.q + int64_t{kv_head} * group * shape.head_dim,
            .q_stride = q_stride,
            .n_queries = a.n_queries,
            .group = group,
            .lengths = a.lengths,
            .cells = a.cells.data(),
            .k = a.k_cache + kv_head * a.k_head_stride,
            .k_row_bytes = a.k_row_bytes,
            .v = a.v_cache + kv_head * a.v_head_stride,
            .v_row_bytes = a.v_row_bytes,
            .head_dim = shape.head_dim,
            .value_head_dim = shape.value_head_dim,
            .scale = a.scale,
            .chunk_cells = kAttentionChunkCells,
            .scores = reinterpret_cast<float*>(work + layout.scores),
            .acc = reinterpret_cast<float*>(work + layout.acc),
            .running_max = reinterpret_cast<float*>(work + layout.running_max),
            .running_sum = reinterpret_cast<float*>(work + layout.running_sum),
            .row = reinterpret_cast<float*>(work + layout.row),
            .values = reinterpret_cast<float*>(work + layout.values),
            .out = a.out + int64_t{kv_head} * group * shape.value_head_dim,
            .out_stride = int64_t{shape.n_heads} * shape.value_head_dim});
  }
}

void Attention(const AttentionArgs& args, MatMulPath path) {
  if (path == MatMulPath::kReference) {
    AttentionReference(args);
  } else {
    AttentionWithTable(CpuKernels(), args);
  }
}

}  // namespace moefit
