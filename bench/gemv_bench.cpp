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

// rows x cols weights . one activation row, rows split over `threads` in groups of 4 (as MatMul).
void Gemv(const DotKernel& kernel, const uint8_t* weights, int64_t row_bytes, int64_t rows, const uint8_t* activations,
          int64_t cols, float* y, int threads, int row_group) {
#pragma omp parallel num_threads(threads)
  {
    const int64_t n = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t groups = (rows + 3) / 4;
    const int64_t begin = std::min(rows, groups * id / n * 4), end = std::min(rows, groups * (id + 1) / n * 4);
    if (end > begin) {
      if (kernel.tile != nullptr) {
        kernel.tile({.weights = weights + begin * row_bytes, .weight_row_bytes = row_bytes, .rows = end - begin,
                     .row_group = row_group, .activations = activations, .activation_row_bytes = 0, .tokens = 1, .elements = cols,
                     .out = y + begin, .out_token_stride = rows});
      } else {
        for (int64_t r = begin; r < end; ++r) y[r] = kernel.row(weights + r * row_bytes, activations, cols);
      }
    }
  }
}

// interleaved: the matrices' rows interleaved by block in groups of 4, as weights are loaded.
void BM_Gemv(benchmark::State& state, CpuIsa isa, Shape shape, int threads, bool cold, bool interleaved = false) {
  const KernelTable table = BuildKernelTable(isa);
  const DotKernel& kernel = table.Dot(shape.type);
  const int64_t row_bytes = RowBytes(shape.type, shape.cols), matrix_bytes = row_bytes * shape.rows;
  const int64_t matrices = cold ? std::max<int64_t>(1, kColdBytes / matrix_bytes) : 1;
  HugeBuffer weights(matrices * matrix_bytes);
  std::mt19937 rng(1);
  // Random contents for up to 8 matrices, copied over the rest (DRAM does not care).
  const int64_t distinct = std::min<int64_t>(matrices, 8);
  FillWeights(shape.type, weights.data, distinct * matrix_bytes, rng);
  for (int64_t m = distinct; m < matrices; ++m)
    std::memcpy(weights.data + m * matrix_bytes, weights.data + (m % distinct) * matrix_bytes, static_cast<size_t>(matrix_bytes));
  const int row_group = interleaved && CanInterleave(shape.type) && kernel.tile != nullptr ? kInterleavedRowGroup : 1;
  if (row_group > 1) InterleaveRows(weights.data, shape.type, shape.cols, shape.rows, matrices);
  std::vector<float> x(static_cast<size_t>(shape.cols));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> activations(static_cast<size_t>(RowBytes(kernel.activation_type, shape.cols)));
  if (kernel.activation_type == DType::kF32) {
    std::memcpy(activations.data(), x.data(), activations.size());
  } else {
    table.Quantize(kernel.activation_type).row(x.data(), activations.data(), shape.cols);
  }
  std::vector<float> y(static_cast<size_t>(shape.rows));
  int64_t next = 0;
  for (auto _ : state) {
    Gemv(kernel, weights.data + next * matrix_bytes, row_bytes, shape.rows, activations.data(), shape.cols, y.data(),
         threads, row_group);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    next = next + 1 == matrices ? 0 : next + 1;
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(matrix_bytes) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.SetLabel(std::string(IsaName(kernel.isa)) + (kernel.tile != nullptr ? " tile" : " row") +
                 (row_group > 1 ? " interleaved" : ""));
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

void RegisterAll() {
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
  for (const Shape& shape : expert_shapes)
    for (bool cold : {false, true})
      for (CpuIsa isa : isas)
        for (int threads = 1; threads <= max_threads; ++threads) {
          const std::string name = std::string("BM_Gemv/") + shape.name + "/" + std::string(IsaName(isa)) + "/threads:" +
                                   std::to_string(threads) + (cold ? "/cold" : "/hot");
          benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, isa, shape, threads, cold, false)->UseRealTime()->MinTime(0.3);
          if (cold && isa != CpuIsa::kScalar)  // the layout weights are loaded in
            benchmark::RegisterBenchmark((name + "_interleaved").c_str(), BM_Gemv, isa, shape, threads, true, true)
                ->UseRealTime()
                ->MinTime(0.3);
        }
  for (const Shape& shape : other_shapes)
    for (CpuIsa isa : isas) {
      const std::string name = std::string("BM_Gemv/") + shape.name + "/" + std::string(IsaName(isa)) + "/threads:" +
                               std::to_string(max_threads) + "/cold";
      benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, isa, shape, max_threads, true, false)->UseRealTime()->MinTime(0.3);
    }
  // Kernel compute speed: 128 x 2048 (128-280 KB) stays in any L2; one thread.
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS, DType::kQ8_0, DType::kQ4_0})
    for (CpuIsa isa : isas) {
      const std::string name = "BM_Gemv/l2_" + std::string(DTypeName(type)) + "_128x2048/" + std::string(IsaName(isa)) +
                               "/threads:1/hot";
      benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, isa, Shape{"l2", type, 128, 2048}, 1, false, false)
          ->UseRealTime()
          ->MinTime(0.3);
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
