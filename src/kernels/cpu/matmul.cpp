// SPDX-License-Identifier: MIT
// MatMul on the CPU: the reference path (dequantize + double accumulation) and the fast path
// (activations quantized once to the weight's dot type, then the dispatched ISA kernels).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/dot_tile.h"
#include "kernels/cpu/work_claims.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"
#include "quant/repack.h"

namespace moefit {
namespace {

// Below this many multiply-adds a matmul runs on the calling thread: waking the team costs more
// than it saves, and on a busy machine a barrier can cost milliseconds.
constexpr int64_t kParallelThreshold = 1 << 16;
bool Parallel(const TensorView& w, int64_t n_tokens) { return w.rows() * w.row_length() * n_tokens >= kParallelThreshold; }

// Row r of w in plain order: in place, or copied into `plain` (row_bytes) when interleaved.
const void* PlainRow(const TensorView& w, int64_t r, std::vector<uint8_t>& plain) {
  if (!w.interleaved()) return w.row(r);
  CopyPlainRow(w, r, plain.data());
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

// Activation rows handled per pass of the weights: a pass keeps this many quantized rows in L2
// while each thread streams its share of the weight rows, each group of 4 rows staying in L1
// while the tokens go by. 256 KiB is ~110 Q8_K rows of 2048: an expert's tokens at pp512 (~32)
// and attention's 512 prompt rows take 1 and 5 passes over the weights (64 KiB took 2 and 19).
// Decode is one token: one pass.
constexpr int64_t kActivationChunkBytes = 256 * 1024;
// Below this many weight bytes a matrix is done on the calling thread alone.
constexpr int64_t kParallelMinBytes = 32 * 1024;

// W rows [begin, end) against tokens [t0, t1) with the table's kernel (tile, or row by row).
// Token t's activations are row act_rows[t] (or t) of `activations`.
void DotRange(const DotKernel& dot, const TensorView& w, const uint8_t* activations, int64_t act_row_bytes,
              int64_t begin, int64_t end, int64_t t0, int64_t t1, float* y, const int32_t* act_rows = nullptr) {
  const int64_t rows = w.rows(), cols = w.row_length();
  if (begin >= end) return;
  const DotTileFn tile = w.repacked ? dot.repacked_tile : dot.tile;
  if (tile != nullptr) {
    tile({.weights = static_cast<const uint8_t*>(w.row(begin)),
              .weight_row_bytes = w.row_bytes(),
              .rows = end - begin,
              .row_group = w.row_group,
              .activations = act_rows != nullptr ? activations : activations + t0 * act_row_bytes,
              .activation_row_bytes = act_row_bytes,
              .tokens = t1 - t0,
              .activation_rows = act_rows != nullptr ? act_rows + t0 : nullptr,
              .elements = cols,
              .out = y + t0 * rows + begin,
              .out_token_stride = rows});
    return;
  }
  thread_local std::vector<uint8_t> plain;
  if (w.interleaved()) plain.resize(static_cast<size_t>(w.row_bytes()));
  for (int64_t r = begin; r < end; ++r) {
    const void* row = PlainRow(w, r, plain);
    for (int64_t t = t0; t < t1; ++t)
      y[t * rows + r] = dot.row(row, activations + (act_rows != nullptr ? act_rows[t] : t) * act_row_bytes, cols);
  }
}

// ---- SwiGluMany -------------------------------------------------------------------------------

uint64_t QuantizedBytes(int64_t rows, int64_t elements) { return static_cast<uint64_t>(rows * elements) * 4; }

QuantizeRowFn QuantizerFor(const KernelTable& kernels, DType act_type) {
  QuantizeRowFn quantize = kernels.Quantize(act_type).row;
  return quantize != nullptr ? quantize : Traits(act_type).quantize_row;
}

// The work of a parallel phase: the jobs' row groups (4 rows each) laid end to end with a cost
// each (weight bytes x tokens). The threads claim ranges of cost (work_claims.h), and a group
// belongs to the range holding its first unit of cost.
struct CostSplit {
  int64_t* start;      // cost before each job
  int64_t* per_group;  // cost of each of a job's groups of 4 rows
  int64_t total = 0;
};

// Matrix(j): job j's matrix; Tokens(j): the tokens it multiplies.
template <typename Matrix, typename Tokens>
void PlanSplit(size_t n_jobs, Matrix matrix, Tokens tokens, CostSplit& split) {
  split.total = 0;
  for (size_t j = 0; j < n_jobs; ++j) {
    const TensorView& w = matrix(j);
    split.start[j] = split.total;
    split.per_group[j] = std::max<int64_t>(1, 4 * w.row_bytes() * tokens(j));
    split.total += split.per_group[j] * ((w.rows() + 3) / 4);
  }
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Rows of job j in the cost range [lo, hi): [first, last).
std::pair<int64_t, int64_t> RangeRows(const CostSplit& split, size_t j, int64_t rows, int64_t lo, int64_t hi) {
  const int64_t groups = (rows + 3) / 4;
  const int64_t g0 = std::clamp<int64_t>(CeilDiv(std::max<int64_t>(0, lo - split.start[j]), split.per_group[j]), 0, groups);
  const int64_t g1 = std::clamp<int64_t>(CeilDiv(std::max<int64_t>(0, hi - split.start[j]), split.per_group[j]), 0, groups);
  return {std::min(rows, g0 * 4), std::min(rows, g1 * 4)};
}

// Pieces below this cost (weight bytes x tokens) are not made smaller: 16 KiB of weights is ~1 us
// of one thread's streaming, against ~0.1 us per claim. A thread's last piece is what the other
// may wait for at the barrier: decode's gate/up phases ended 10.4 us apart at the median with 64
// KiB, 2.6 us with 16 KiB (a trace of 3900 phases), and steps were 0.3-0.5% shorter (medians and
// means of two runs, the two alternating step by step).
constexpr int64_t kMinClaimCost = 16 * 1024;

// A thread's share of a phase goes in pieces of half what is left of it (work_claims.h). Against
// the shared counter it replaced (first claims 1 / threads of the phase in decode, 1 / (2 x
// threads) in prefill), the two taking turns step by step or prompt by prompt in one process:
// decode steps of the 30B preset 0.3-1.7% shorter (medians of three runs; 2.4% with another
// process busy 40% of the time), pp512 0.2-5.6% faster in four prompt pairs (pieces of a quarter
// of what is left: the same as the counter).
constexpr int64_t kSharePieceParts = 2;

// Before a phase's parallel region: how its threads will share split.total.
void StartClaims(cpu_detail::WorkClaims& claims, const CostSplit& split, bool parallel) {
  claims.Start(split.total, parallel ? omp_get_max_threads() : 1, kMinClaimCost, kSharePieceParts);
}

// Claims ranges of `split` until none is left, calling piece(j, first, last) for the rows of every
// job in each (jobs ascending). rows(j): the rows of job j's matrix.
template <typename Rows, typename Piece>
void RunClaims(const CostSplit& split, size_t n_jobs, Rows rows, cpu_detail::WorkClaims& claims, Piece piece) {
  const int self = omp_get_thread_num();
  for (;;) {
    const auto [lo, hi] = claims.Next(self);
    if (lo >= hi) return;
    for (size_t j = 0; j < n_jobs && split.start[j] < hi; ++j) {
      const auto [first, last] = RangeRows(split, j, rows(j), lo, hi);
      if (first < last) piece(j, first, last);
    }
  }
}

// Matrices of one activation type with dot kernels, against the same input: the input quantized
// once, the rows of all of them split over the threads by bytes, one parallel region.
void MatMulJobsFast(std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens) {
  const KernelTable& kernels = CpuKernels();
  const int64_t cols = jobs[0].w.row_length();
  const DType act_type = kernels.Dot(jobs[0].w.type).activation_type;
  // Activations in the dot type, once per call. Reused buffer: no allocation once warm.
  thread_local std::vector<uint8_t> quantized;
  const int64_t act_row_bytes = RowBytes(act_type, cols);
  const bool quantize = act_type != DType::kF32;
  const QuantizeRowFn quantize_row = quantize ? QuantizerFor(kernels, act_type) : nullptr;
  if (quantize) quantized.resize(static_cast<size_t>(act_row_bytes * n_tokens));
  const uint8_t* activations = quantize ? quantized.data() : reinterpret_cast<const uint8_t*>(x);
  uint8_t* quantized_data = quantized.data();
  const int64_t chunk_tokens = std::max<int64_t>(1, kActivationChunkBytes / act_row_bytes);
  int64_t split_at[kMaxMatMulJobs], split_cost[kMaxMatMulJobs];
  CostSplit split{.start = split_at, .per_group = split_cost};
  PlanSplit(
      jobs.size(), [&](size_t j) { return jobs[j].w; }, [&](size_t) { return n_tokens; }, split);
  int64_t bytes = 0;
  for (const MatMulJob& job : jobs) bytes += job.w.matrix_bytes();
  cpu_detail::WorkClaims claims;
  StartClaims(claims, split, bytes >= kParallelMinBytes);

#pragma omp parallel if (bytes >= kParallelMinBytes)
  {
    if (quantize) {
#pragma omp for schedule(static)
      for (int64_t t = 0; t < n_tokens; ++t) quantize_row(x + t * cols, quantized_data + t * act_row_bytes, cols);
    }
    RunClaims(
        split, jobs.size(), [&](size_t j) { return jobs[j].w.rows(); }, claims,
        [&](size_t j, int64_t begin, int64_t end) {
          const TensorView& w = jobs[j].w;
          for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk_tokens)
            DotRange(kernels.Dot(w.type), w, activations, act_row_bytes, begin, end, t0,
                     std::min(n_tokens, t0 + chunk_tokens), jobs[j].y);
        });
  }
}

// Types without a dot kernel: float dots row by row.
void MatMulFloatDots(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t rows = w.rows(), cols = w.row_length();
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
}

// Job after job, matrix by matrix (the reference path, or unusual type mixes).
void SwiGluJobByJob(const float* x, int64_t dim, std::span<const FfnJob> jobs, FfnScratch& s, MatMulPath path) {
  for (const FfnJob& job : jobs) {
    const int64_t n = job.n_tokens, ffn = job.gate.rows();
    s.gathered.resize(static_cast<size_t>(n * dim));
    for (int64_t t = 0; t < n; ++t)
      std::copy_n(x + (job.rows != nullptr ? job.rows[t] : t) * dim, dim, s.gathered.data() + t * dim);
    s.gate.resize(std::max(s.gate.size(), static_cast<size_t>(n * ffn)));
    s.up.resize(std::max(s.up.size(), static_cast<size_t>(n * ffn)));
    MatMul(job.gate, s.gathered.data(), n, s.gate.data(), path);
    MatMul(job.up, s.gathered.data(), n, s.up.data(), path);
    for (int64_t i = 0; i < n * ffn; ++i) s.gate[i] = Silu(s.gate[i]) * s.up[i];
    MatMul(job.down, s.gate.data(), n, job.out, path);
  }
}

}  // namespace

void FfnScratch::Reserve(int64_t x_rows, int64_t dim, int64_t hidden_elements) {
  x_quantized.resize(static_cast<size_t>(QuantizedBytes(x_rows, dim)));
  hidden_quantized.resize(static_cast<size_t>(QuantizedBytes(1, hidden_elements)));
  gate.resize(static_cast<size_t>(hidden_elements));
  up.resize(static_cast<size_t>(hidden_elements));
}

uint64_t FfnScratch::Bytes(int64_t x_rows, int64_t dim, int64_t hidden_elements) {
  return QuantizedBytes(x_rows, dim) + QuantizedBytes(1, hidden_elements) +
         2 * static_cast<uint64_t>(hidden_elements) * sizeof(float);
}

void SwiGluMany(const float* x, int64_t x_rows, int64_t dim, std::span<const FfnJob> jobs, MatMulPath path,
                FfnScratch& s) {
  if (jobs.empty()) return;
  const KernelTable& kernels = CpuKernels();
  bool fast = path == MatMulPath::kFast;
  for (const FfnJob& job : jobs) {
    MOEFIT_CHECK(job.gate.row_length() == dim && job.up.row_length() == dim && job.up.rows() == job.gate.rows() &&
                 job.down.row_length() == job.gate.rows() && job.down.rows() == dim);
    // One activation type for every gate and up (and kernels for all three): else job by job.
    fast = fast && kernels.Dot(job.gate.type).row != nullptr && kernels.Dot(job.up.type).row != nullptr &&
           kernels.Dot(job.down.type).row != nullptr &&
           kernels.Dot(job.gate.type).activation_type == kernels.Dot(jobs[0].gate.type).activation_type &&
           kernels.Dot(job.up.type).activation_type == kernels.Dot(jobs[0].gate.type).activation_type;
  }
  if (!fast) {  // the reference path, or unusual type mixes: matrix by matrix
    SwiGluJobByJob(x, dim, jobs, s, path);
    return;
  }

  // Input rows in the gate/up activation type, once for all jobs.
  const DType x_type = kernels.Dot(jobs[0].gate.type).activation_type;
  const int64_t x_row_bytes = RowBytes(x_type, dim);
  const bool quantize_x = x_type != DType::kF32;
  const QuantizeRowFn quantize_x_row = quantize_x ? QuantizerFor(kernels, x_type) : nullptr;
  if (quantize_x && s.x_quantized.size() < static_cast<size_t>(x_row_bytes * x_rows))
    s.x_quantized.resize(static_cast<size_t>(x_row_bytes * x_rows));
  const uint8_t* x_act = quantize_x ? s.x_quantized.data() : reinterpret_cast<const uint8_t*>(x);

  // Hidden rows per job: floats (gate, up) and quantized for down; the splits of the rows. All
  // in the scratch (shared by the threads, no allocation once warm).
  const size_t n_jobs = jobs.size();
  s.layout.resize(7 * n_jobs + 2);
  int64_t* const hidden_at = s.layout.data();               // n_jobs + 1
  int64_t* const hidden_q_at = hidden_at + n_jobs + 1;      // n_jobs + 1
  int64_t* const hidden_q_row_bytes = hidden_q_at + n_jobs + 1;
  CostSplit up_split{.start = hidden_q_row_bytes + n_jobs, .per_group = hidden_q_row_bytes + 2 * n_jobs};
  CostSplit down_split{.start = hidden_q_row_bytes + 3 * n_jobs, .per_group = hidden_q_row_bytes + 4 * n_jobs};
  hidden_at[0] = hidden_q_at[0] = 0;
  int64_t hidden_rows = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const int64_t ffn = jobs[j].gate.rows();
    hidden_q_row_bytes[j] = RowBytes(kernels.Dot(jobs[j].down.type).activation_type, ffn);
    hidden_at[j + 1] = hidden_at[j] + jobs[j].n_tokens * ffn;
    hidden_q_at[j + 1] = hidden_q_at[j] + jobs[j].n_tokens * hidden_q_row_bytes[j];
    hidden_rows += jobs[j].n_tokens;
  }
  const size_t hidden_floats = static_cast<size_t>(hidden_at[n_jobs]);
  if (s.gate.size() < hidden_floats) s.gate.resize(hidden_floats);
  if (s.up.size() < hidden_floats) s.up.resize(hidden_floats);
  if (s.hidden_quantized.size() < static_cast<size_t>(hidden_q_at[n_jobs]))
    s.hidden_quantized.resize(static_cast<size_t>(hidden_q_at[n_jobs]));
  const auto tokens = [&](size_t j) { return jobs[j].n_tokens; };
  PlanSplit(jobs.size(), [&](size_t j) -> const TensorView& { return jobs[j].gate; }, tokens, up_split);
  PlanSplit(jobs.size(), [&](size_t j) -> const TensorView& { return jobs[j].down; }, tokens, down_split);
  // gate + up cost twice the gate's; the split only needs proportions, and gate and up share rows.
  const bool parallel = 3 * up_split.total >= 4 * kParallelMinBytes;
  float* gate = s.gate.data();
  float* up = s.up.data();
  uint8_t* hidden_q = s.hidden_quantized.data();
  uint8_t* x_q = s.x_quantized.data();
  cpu_detail::WorkClaims up_claims, down_claims;
  StartClaims(up_claims, up_split, parallel);
  StartClaims(down_claims, down_split, parallel);

#pragma omp parallel if (parallel)
  {
    if (quantize_x) {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < x_rows; ++r) quantize_x_row(x + r * dim, x_q + r * x_row_bytes, dim);
    }
    // Gate and up rows, SiLU·mul fused.
    RunClaims(
        up_split, jobs.size(), [&](size_t j) { return jobs[j].gate.rows(); }, up_claims,
        [&](size_t j, int64_t first, int64_t last) {
          const FfnJob& job = jobs[j];
          const int64_t ffn = job.gate.rows();
          float* g = gate + hidden_at[j];
          float* u = up + hidden_at[j];
          const DotKernel& gate_dot = kernels.Dot(job.gate.type);
          const DotKernel& up_dot = kernels.Dot(job.up.type);
          const int64_t chunk = std::max<int64_t>(1, kActivationChunkBytes / x_row_bytes);
          for (int64_t t0 = 0; t0 < job.n_tokens; t0 += chunk) {
            const int64_t t1 = std::min(job.n_tokens, t0 + chunk);
            DotRange(gate_dot, job.gate, x_act, x_row_bytes, first, last, t0, t1, g, job.rows);
            DotRange(up_dot, job.up, x_act, x_row_bytes, first, last, t0, t1, u, job.rows);
          }
          for (int64_t t = 0; t < job.n_tokens; ++t) kernels.swiglu.row(g + t * ffn + first, u + t * ffn + first, last - first);
        });
#pragma omp barrier
    // Hidden rows into the down activation type, (job, token) rows spread over the threads.
#pragma omp for schedule(static)
    for (int64_t row = 0; row < hidden_rows; ++row) {
      size_t j = 0;
      int64_t t = row;
      while (t >= jobs[j].n_tokens) t -= jobs[j++].n_tokens;
      const int64_t ffn = jobs[j].gate.rows();
      const DType type = kernels.Dot(jobs[j].down.type).activation_type;
      const float* h = gate + hidden_at[j] + t * ffn;
      uint8_t* q = hidden_q + hidden_q_at[j] + t * hidden_q_row_bytes[j];
      if (type == DType::kF32) {
        std::memcpy(q, h, static_cast<size_t>(ffn) * sizeof(float));
      } else {
        QuantizerFor(kernels, type)(h, q, ffn);
      }
    }
    RunClaims(  // down rows
        down_split, jobs.size(), [&](size_t) { return dim; }, down_claims,
        [&](size_t j, int64_t first, int64_t last) {
          const FfnJob& job = jobs[j];
          const int64_t row_bytes = hidden_q_row_bytes[j];
          const int64_t chunk = std::max<int64_t>(1, kActivationChunkBytes / row_bytes);
          for (int64_t t0 = 0; t0 < job.n_tokens; t0 += chunk)
            DotRange(kernels.Dot(job.down.type), job.down, hidden_q + hidden_q_at[j], row_bytes, first, last, t0,
                     std::min(job.n_tokens, t0 + chunk), job.out);
        });
  }
}

void MatMul(const TensorView& w, const float* x, int64_t n_tokens, float* y, MatMulPath path) {
  const MatMulJob job{.w = w, .y = y};
  MatMulMany(std::span<const MatMulJob>(&job, 1), x, n_tokens, path);
}

void MatMulMany(std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens, MatMulPath path) {
  if (jobs.empty()) return;
  const KernelTable& kernels = CpuKernels();
  const DotKernel& first = kernels.Dot(jobs[0].w.type);
  bool together = path == MatMulPath::kFast && jobs.size() <= static_cast<size_t>(kMaxMatMulJobs);
  for (const MatMulJob& job : jobs) {
    MOEFIT_CHECK(job.w.row_length() == jobs[0].w.row_length());
    const DotKernel& dot = kernels.Dot(job.w.type);
    together = together && dot.row != nullptr && first.row != nullptr && dot.activation_type == first.activation_type;
  }
  if (together) {
    MatMulJobsFast(jobs, x, n_tokens);
    return;
  }
  for (const MatMulJob& job : jobs) {
    if (path == MatMulPath::kReference) {
      MatMulReference(job.w, x, n_tokens, job.y);
    } else if (kernels.Dot(job.w.type).row == nullptr) {
      MatMulFloatDots(job.w, x, n_tokens, job.y);
    } else {
      MatMulJobsFast(std::span<const MatMulJob>(&job, 1), x, n_tokens);
    }
  }
}

}  // namespace moefit
