// SPDX-License-Identifier: MIT
// GEMV throughput of the dispatched CPU dot kernels, per ISA level, on Qwen3-30B-A3B expert
// shapes (768 x 2048 gate/up, 2048 x 768 down), against the machine's read bandwidth.
//   hot:  one matrix, re-read from cache: what the kernel can compute (l2_*: small enough for
//         any L2, the kernel's compute speed alone)
//   cold: a rotation through 1 GiB of matrices (like experts), so every call reads DRAM: the
//         regime of decode, to be compared with BM_ReadBandwidth at the same thread count.
// GB/s counts weight bytes read per second (1 GB = 1e9 B); wall time (threads inside).
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"
#include "quant/repack.h"

namespace moefit {
namespace {

// Cold set: well past any L3 (32 MiB on the 2-core reference machine, 300 MiB on some servers).
constexpr int64_t kColdBytes = 1ll << 30;

// Anonymous memory aligned to 2 MiB and advised into transparent huge pages.
struct HugeBuffer {
  explicit HugeBuffer(int64_t bytes) : size(static_cast<size_t>((bytes + (2 << 20) - 1) & ~((2ll << 20) - 1))) {
    data = static_cast<uint8_t*>(std::aligned_alloc(2 << 20, size));
    madvise(data, size, MADV_HUGEPAGE);
  }
  ~HugeBuffer() { std::free(data); }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  uint8_t* data;
  size_t size;
};

// Offsets of the F16 scales in a block, set to sane values so no NaN / denormal slows the FPU.
std::vector<int> ScaleOffsets(DType type) {
  switch (type) {
    case DType::kQ4_0: case DType::kQ8_0: case DType::kIQ4_NL: case DType::kIQ4_XS: return {0};
    case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

void FillWeights(DType type, uint8_t* bytes, int64_t size, std::mt19937& rng) {
  const DTypeLayout& layout = Layout(type);
  if (!layout.quantized) {  // F16 / BF16 / F32: small normal numbers
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i + layout.block_bytes <= size; i += layout.block_bytes) {
      const float v = uniform(rng);
      if (type == DType::kF32) {
        std::memcpy(bytes + i, &v, 4);
      } else {
        const uint16_t bits = type == DType::kF16 ? FloatToFp16(v) : FloatToBf16(v);
        std::memcpy(bytes + i, &bits, 2);
      }
    }
    return;
  }
  for (int64_t i = 0; i + 4 <= size; i += 4) {
    const uint32_t word = static_cast<uint32_t>(rng());
    std::memcpy(bytes + i, &word, 4);
  }
  const uint16_t scale = FloatToFp16(0.01f);
  for (int64_t block = 0; block < size / layout.block_bytes; ++block)
    for (int offset : ScaleOffsets(type)) std::memcpy(bytes + block * layout.block_bytes + offset, &scale, 2);
}

struct Shape {
  const char* name;
  DType type;
  int64_t rows, cols;
};

enum class Layout { kPlain, kInterleaved, kRepacked };

// rows x cols weights . `tokens` activation rows, rows split over `threads` in groups of 4 (as MatMul).
void Gemv(const DotKernel& kernel, const uint8_t* weights, int64_t row_bytes, int64_t rows, const uint8_t* activations,
          int64_t activation_row_bytes, int64_t tokens, int64_t cols, float* y, int threads, Layout layout) {
#pragma omp parallel num_threads(threads)
  {
    const int64_t n = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t groups = (rows + 3) / 4;
    const int64_t begin = std::min(rows, groups * id / n * 4), end = std::min(rows, groups * (id + 1) / n * 4);
    const DotTileFn tile = layout == Layout::kRepacked ? kernel.repacked_tile : kernel.tile;
    if (end > begin) {
      if (tile != nullptr) {
        tile({.weights = weights + begin * row_bytes, .weight_row_bytes = row_bytes, .rows = end - begin,
              .row_group = layout == Layout::kPlain ? 1 : kInterleavedRowGroup, .activations = activations,
              .activation_row_bytes = activation_row_bytes, .tokens = tokens, .elements = cols, .out = y + begin,
              .out_token_stride = rows});
      } else {
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t r = begin; r < end; ++r)
            y[t * rows + r] = kernel.row(weights + r * row_bytes, activations + t * activation_row_bytes, cols);
      }
    }
  }
}

struct GemvCase {
  CpuIsa isa;
  Shape shape;
  int threads = 1;
  bool cold = false;  // a new matrix each iteration, from a buffer far larger than the caches
  Layout layout = Layout::kPlain;  // interleaved / repacked: as weights are loaded
  int64_t tokens = 1;              // more than 1: a prefill tile (GEMM)
};

void BM_Gemv(benchmark::State& state, GemvCase c) {
  const Shape& shape = c.shape;
  const KernelTable table = BuildKernelTable(c.isa);
  const DotKernel& kernel = table.Dot(shape.type);
  const int64_t row_bytes = RowBytes(shape.type, shape.cols), matrix_bytes = row_bytes * shape.rows;
  const int64_t matrices = c.cold ? std::max<int64_t>(1, kColdBytes / matrix_bytes) : 1;
  HugeBuffer weights(matrices * matrix_bytes);
  std::mt19937 rng(1);
  // Random contents for up to 8 matrices, copied over the rest (DRAM does not care).
  const int64_t distinct = std::min<int64_t>(matrices, 8);
  FillWeights(shape.type, weights.data, distinct * matrix_bytes, rng);
  for (int64_t m = distinct; m < matrices; ++m)
    std::memcpy(weights.data + m * matrix_bytes, weights.data + (m % distinct) * matrix_bytes, static_cast<size_t>(matrix_bytes));
  Layout layout = c.layout;
  if (layout == Layout::kRepacked && (!CanRepack(shape.type) || kernel.repacked_tile == nullptr)) {
    state.SkipWithError("no repacked kernel for this type and level");
    return;
  }
  if (layout != Layout::kPlain && (!CanInterleave(shape.type) || kernel.tile == nullptr)) layout = Layout::kPlain;
  if (layout != Layout::kPlain) InterleaveRows(weights.data, shape.type, shape.cols, shape.rows, matrices);
  if (layout == Layout::kRepacked) RepackRows(weights.data, shape.type, shape.cols, shape.rows, matrices);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t act_row_bytes = RowBytes(kernel.activation_type, shape.cols);
  std::vector<uint8_t> activations(static_cast<size_t>(act_row_bytes * c.tokens));
  for (int64_t t = 0; t < c.tokens; ++t) {
    std::vector<float> x(static_cast<size_t>(shape.cols));
    for (float& v : x) v = normal(rng);
    if (kernel.activation_type == DType::kF32) {
      std::memcpy(activations.data() + t * act_row_bytes, x.data(), static_cast<size_t>(act_row_bytes));
    } else {
      table.Quantize(kernel.activation_type).row(x.data(), activations.data() + t * act_row_bytes, shape.cols);
    }
  }
  std::vector<float> y(static_cast<size_t>(shape.rows * c.tokens));
  int64_t next = 0;
  for (auto _ : state) {
    Gemv(kernel, weights.data + next * matrix_bytes, row_bytes, shape.rows, activations.data(), act_row_bytes, c.tokens,
         shape.cols, y.data(), c.threads, layout);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    next = next + 1 == matrices ? 0 : next + 1;
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(matrix_bytes) * iterations / 1e9, benchmark::Counter::kIsRate);
  if (c.tokens > 1)  // multiply-adds of weights x tokens, 2 ops each
    state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(shape.rows * shape.cols * c.tokens) * iterations / 1e9,
                                                 benchmark::Counter::kIsRate);
  const char* layout_name[] = {"", " interleaved", " repacked"};
  state.SetLabel(std::string(IsaName(kernel.isa)) + (kernel.tile != nullptr ? " tile" : " row") +
                 layout_name[static_cast<int>(layout)]);
}

// Read bandwidth: each thread sums its share of a 1 GiB huge-page buffer as 4 streams read in
// lockstep (as a 4-row kernel does), software prefetch 1 KiB ahead; baseline x86-64 code.
void BM_ReadBandwidth(benchmark::State& state, int threads) {
  const int64_t bytes = 1ll << 30;
  static HugeBuffer buffer(bytes);
  static bool filled = false;
  if (!filled) {
    std::memset(buffer.data, 1, static_cast<size_t>(bytes));
    filled = true;
  }
  uint64_t total = 0;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int64_t n = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t begin = bytes * id / n / 256 * 256, end = bytes * (id + 1) / n / 256 * 256;
      total += StreamRead(buffer.data + begin, end - begin);
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_QuantizeActivations(benchmark::State& state, CpuIsa isa, DType type) {
  const KernelTable table = BuildKernelTable(isa);
  const int64_t cols = 2048;
  std::vector<float> x(cols);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> out(static_cast<size_t>(RowBytes(type, cols)));
  for (auto _ : state) {
    table.Quantize(type).row(x.data(), out.data(), cols);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * cols);
  state.SetLabel(std::string(IsaName(table.Quantize(type).isa)));
}

// Repacking at load (quant/repack.h), one thread: bytes of weights re-encoded per second.
void BM_Repack(benchmark::State& state, DType type) {
  const int64_t rows = 768, cols = 2048, matrices = 16;
  const int64_t bytes = RowBytes(type, cols) * rows * matrices;
  HugeBuffer weights(bytes);
  std::mt19937 rng(5);
  FillWeights(type, weights.data, bytes, rng);
  InterleaveRows(weights.data, type, cols, rows, matrices);
  for (auto _ : state) {
    RepackRows(weights.data, type, cols, rows, matrices);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void RegisterAll() {
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS})
    benchmark::RegisterBenchmark(("BM_Repack/" + std::string(DTypeName(type))).c_str(), BM_Repack, type)->UseRealTime();
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (IsaSupported(isa, DetectCpuFeatures())) isas.push_back(isa);
  const int max_threads = std::min(2, omp_get_max_threads());
  for (int threads = 1; threads <= max_threads; ++threads)
    benchmark::RegisterBenchmark(("BM_ReadBandwidth/threads:" + std::to_string(threads)).c_str(), BM_ReadBandwidth, threads)
        ->UseRealTime()
        ->MinTime(1.0);
  // The expert shapes, every level, 1 and 2 threads, hot and cold.
  const Shape expert_shapes[] = {{"gate_up_Q4_K_768x2048", DType::kQ4_K, 768, 2048},
                                 {"down_Q6_K_2048x768", DType::kQ6_K, 2048, 768},
                                 {"down_Q4_K_2048x768", DType::kQ4_K, 2048, 768}};
  // The other dispatched types on the gate/up shape: cold, all threads.
  const Shape other_shapes[] = {{"Q5_K_768x2048", DType::kQ5_K, 768, 2048},   {"IQ4_XS_768x2048", DType::kIQ4_XS, 768, 2048},
                                {"Q8_0_768x2048", DType::kQ8_0, 768, 2048},   {"Q4_0_768x2048", DType::kQ4_0, 768, 2048},
                                {"IQ4_NL_768x2048", DType::kIQ4_NL, 768, 2048}, {"F16_768x2048", DType::kF16, 768, 2048},
                                {"BF16_768x2048", DType::kBF16, 768, 2048}};
  const auto add = [](const std::string& name, const GemvCase& c) {
    benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, c)->UseRealTime()->MinTime(0.3);
  };
  for (const Shape& shape : expert_shapes)
    for (bool cold : {false, true})
      for (CpuIsa isa : isas)
        for (int threads = 1; threads <= max_threads; ++threads) {
          const std::string name = std::string("BM_Gemv/") + shape.name + "/" + std::string(IsaName(isa)) + "/threads:" +
                                   std::to_string(threads) + (cold ? "/cold" : "/hot");
          const GemvCase c{.isa = isa, .shape = shape, .threads = threads, .cold = cold};
          add(name, c);
          if (isa == CpuIsa::kScalar) continue;
          if (cold) add(name + "_interleaved", {.isa = isa, .shape = shape, .threads = threads, .cold = true, .layout = Layout::kInterleaved});
          if (CanRepack(shape.type))  // the layout repackable weights are loaded in
            add(name + "_repacked", {.isa = isa, .shape = shape, .threads = threads, .cold = cold, .layout = Layout::kRepacked});
        }
  for (const Shape& shape : other_shapes)
    for (CpuIsa isa : isas) {
      const std::string name =
          std::string("BM_Gemv/") + shape.name + "/" + std::string(IsaName(isa)) + "/threads:" + std::to_string(max_threads) + "/cold";
      add(name, {.isa = isa, .shape = shape, .threads = max_threads, .cold = true});
      if (isa != CpuIsa::kScalar && CanRepack(shape.type))
        add(name + "_repacked", {.isa = isa, .shape = shape, .threads = max_threads, .cold = true, .layout = Layout::kRepacked});
    }
  // Kernel compute speed: 128 x 2048 (128-280 KB) stays in any L2; one thread.
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS, DType::kQ8_0, DType::kQ4_0})
    for (CpuIsa isa : isas) {
      const std::string name = "BM_Gemv/l2_" + std::string(DTypeName(type)) + "_128x2048/" + std::string(IsaName(isa)) +
                               "/threads:1/hot";
      const GemvCase c{.isa = isa, .shape = Shape{"l2", type, 128, 2048}, .threads = 1};
      add(name, c);
      if (CanRepack(type) && isa != CpuIsa::kScalar) add(name + "_repacked", {.isa = isa, .shape = c.shape, .threads = 1, .layout = Layout::kRepacked});
    }
  // Prefill tiles (GEMM): an expert's gate/up matrix against 8, 17 and 32 tokens (17: passes of
  // uneven sizes, kEvenPasses), one thread, hot; and its down matrix (Q6_K, or Q4_K in the
  // layers Q4_K_M leaves at Q4_K): the two types on the same shape.
  for (const Shape& shape : {Shape{"Q4_K_768x2048", DType::kQ4_K, 768, 2048}, Shape{"Q5_K_768x2048", DType::kQ5_K, 768, 2048},
                             Shape{"Q6_K_2048x768", DType::kQ6_K, 2048, 768}, Shape{"Q4_K_2048x768", DType::kQ4_K, 2048, 768},
                             Shape{"IQ4_XS_768x2048", DType::kIQ4_XS, 768, 2048}})
    for (CpuIsa isa : isas)
      for (int64_t tokens : {8, 17, 32})
        for (Layout layout : {Layout::kInterleaved, Layout::kRepacked}) {
          if (isa == CpuIsa::kScalar || (layout == Layout::kRepacked && !CanRepack(shape.type))) continue;
          add("BM_Gemm/" + std::string(shape.name) + "/" + std::string(IsaName(isa)) + "/tokens:" + std::to_string(tokens) +
                  (layout == Layout::kRepacked ? "/repacked" : "/interleaved"),
              {.isa = isa, .shape = shape, .threads = 1, .layout = layout, .tokens = tokens});
        }
  // Prefill tiles of the plain-row kernels (tile_runner.h): the router of the Qwen3-30B-A3B shape
  // (F32, 128 x 2048) against a pass of MatMul's activations (32 F32 rows of 2048), and Q8_0,
  // Q4_0, IQ4_NL and F16 matrices as a model of those types meets them; one thread, hot.
  for (const Shape& shape : {Shape{"F32_128x2048", DType::kF32, 128, 2048}, Shape{"Q8_0_768x2048", DType::kQ8_0, 768, 2048},
                             Shape{"Q4_0_768x2048", DType::kQ4_0, 768, 2048}, Shape{"IQ4_NL_768x2048", DType::kIQ4_NL, 768, 2048},
                             Shape{"F16_768x2048", DType::kF16, 768, 2048}})
    for (CpuIsa isa : isas) {
      if (isa == CpuIsa::kScalar) continue;
      add("BM_Gemm/" + std::string(shape.name) + "/" + std::string(IsaName(isa)) + "/tokens:32/plain",
          {.isa = isa, .shape = shape, .threads = 1, .layout = Layout::kPlain, .tokens = 32});
    }
  // Batched decode (a few sequences' tokens against weights from DRAM), and a prefill expert's
  // tile as the model meets it (32 tokens, weights from DRAM): cold, all threads.
  for (const Shape& shape : {Shape{"Q4_K_768x2048", DType::kQ4_K, 768, 2048}, Shape{"Q6_K_2048x768", DType::kQ6_K, 2048, 768}})
    for (CpuIsa isa : isas)
      for (int64_t tokens : {1, 2, 4, 5, 8, 32}) {
        if (isa == CpuIsa::kScalar || !CanRepack(shape.type)) continue;
        add("BM_Gemm/" + std::string(shape.name) + "/" + std::string(IsaName(isa)) + "/tokens:" + std::to_string(tokens) +
                "/threads:" + std::to_string(max_threads) + "/cold_repacked",
            {.isa = isa, .shape = shape, .threads = max_threads, .cold = true, .layout = Layout::kRepacked, .tokens = tokens});
        if (tokens == 32 && max_threads > 1)
          add("BM_Gemm/" + std::string(shape.name) + "/" + std::string(IsaName(isa)) + "/tokens:32/threads:1/cold_repacked",
              {.isa = isa, .shape = shape, .threads = 1, .cold = true, .layout = Layout::kRepacked, .tokens = tokens});
      }
  for (CpuIsa isa : isas)
    for (DType type : {DType::kQ8_K, DType::kQ8_0})
      benchmark::RegisterBenchmark(
          ("BM_QuantizeActivations/" + std::string(DTypeName(type)) + "_2048/" + std::string(IsaName(isa))).c_str(),
          BM_QuantizeActivations, isa, type);
}

}  // namespace
}  // namespace moefit

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::fputs(moefit::DescribeKernelTable(moefit::BuildKernelTable(moefit::BestIsa(moefit::DetectCpuFeatures()))).c_str(),
             stderr);
  moefit::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
