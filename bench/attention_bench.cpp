// SPDX-License-Identifier: MIT
// Attention over the KV cache per ISA level and KV type, on the Qwen3-30B-A3B attention shape
// (32 query heads, 4 KV heads, head_dim 128), one thread, one layer:
//   decode:  one query attending to `context` cells (all 4 KV heads);
//   decode over 48 layers: the same, once per layer of a model's caches (from DRAM);
//   prefill: the last 512 positions of a `context`-token prompt, in the tiles the forward pass
//            uses (AttentionTileQueries consecutive queries share each K/V read).
// Counters: K/V bytes a decode query reads per second (GB/s, 1 GB = 1e9 B) and query-cell
// pairs per second over all heads (Gpairs/s). The KV cache is one sequence's contiguous cells,
// head-major as the engine's (KvLayerView: each KV head's cells side by side).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

constexpr AttentionShape kQwen3Moe = {.n_heads = 32, .n_kv_heads = 4, .head_dim = 128, .value_head_dim = 128};
constexpr int64_t kPrefillTokens = 512;

struct alignas(64) CacheLine {
  uint8_t bytes[64];
};

struct Cache {
  int64_t k_row_bytes, v_row_bytes;  // one cell of one KV head
  int64_t context;
  std::vector<uint8_t> k, v;
  std::vector<int32_t> cells;
  std::vector<float> q;  // (kPrefillTokens, n_heads, head_dim)
  std::vector<float> out;
  std::vector<CacheLine> workspace;

  Cache(DType type, int64_t context) {
    const int64_t k_dim = int64_t{kQwen3Moe.n_kv_heads} * kQwen3Moe.head_dim;
    const int64_t v_dim = int64_t{kQwen3Moe.n_kv_heads} * kQwen3Moe.value_head_dim;
    k_row_bytes = RowBytes(type, kQwen3Moe.head_dim);
    v_row_bytes = RowBytes(type, kQwen3Moe.value_head_dim);
    this->context = context;
    k.resize(static_cast<size_t>(context * RowBytes(type, k_dim)));
    v.resize(static_cast<size_t>(context * RowBytes(type, v_dim)));
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(std::max(k_dim, v_dim)));
    for (int64_t c = 0; c < context; ++c) {
      for (float& x : row) x = normal(rng);
      for (int h = 0; h < kQwen3Moe.n_kv_heads; ++h) {
        QuantizeKvRow(type, row.data() + h * kQwen3Moe.head_dim, k.data() + (h * context + c) * k_row_bytes, kQwen3Moe.head_dim);
        QuantizeKvRow(type, row.data() + h * kQwen3Moe.value_head_dim, v.data() + (h * context + c) * v_row_bytes,
                      kQwen3Moe.value_head_dim);
      }
      cells.push_back(static_cast<int32_t>(c));
    }
    q.resize(static_cast<size_t>(kPrefillTokens * kQwen3Moe.n_heads * kQwen3Moe.head_dim));
    for (float& x : q) x = normal(rng);
    out.resize(static_cast<size_t>(kPrefillTokens * kQwen3Moe.n_heads * kQwen3Moe.value_head_dim));
    workspace.resize(AttentionWorkspaceBytes(kQwen3Moe) / 64 + 1);
  }

  AttentionArgs Args(DType type, int64_t first_query, int n_queries, const int32_t* lengths) {
    return {.q = q.data() + first_query * kQwen3Moe.n_heads * kQwen3Moe.head_dim,
            .n_queries = n_queries,
            .lengths = lengths,
            .cells = std::span<const int32_t>(cells).first(static_cast<size_t>(lengths[n_queries - 1])),
            .kv_type = type,
            .k_cache = k.data(),
            .v_cache = v.data(),
            .k_row_bytes = k_row_bytes,
            .v_row_bytes = v_row_bytes,
            .k_head_stride = context * k_row_bytes,
            .v_head_stride = context * v_row_bytes,
            .shape = kQwen3Moe,
            .kv_head_begin = 0,
            .kv_head_end = kQwen3Moe.n_kv_heads,
            .scale = 1.0f / std::sqrt(static_cast<float>(kQwen3Moe.head_dim)),
            .workspace = workspace.data(),
            .out = out.data() + first_query * kQwen3Moe.n_heads * kQwen3Moe.value_head_dim};
  }
};

void BM_Decode(benchmark::State& state, CpuIsa isa, DType type, int64_t context) {
  const KernelTable table = BuildKernelTable(isa);
  Cache cache(type, context);
  const int32_t length = static_cast<int32_t>(context);
  for (auto _ : state) {
    AttentionWithTable(table, cache.Args(type, 0, 1, &length));
    benchmark::DoNotOptimize(cache.out.data());
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(cache.k.size() + cache.v.size()) * iterations / 1e9, benchmark::Counter::kIsRate);
  state.counters["Gpairs/s"] =
      benchmark::Counter(static_cast<double>(context * kQwen3Moe.n_heads) * iterations / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(IsaName(table.AttentionFor(type).isa)));
}

// One decoding query per layer of a 48-layer model's caches at `context` cells: each layer's K/V
// (copies of one layer's, at their own addresses: ~400 MB at 4096 cells in F16) read once per
// token, as in the forward pass, so they come from DRAM and not from the caches.
void BM_DecodeLayers(benchmark::State& state, CpuIsa isa, DType type, int64_t context) {
  constexpr int kLayers = 48;
  const KernelTable table = BuildKernelTable(isa);
  Cache cache(type, context);
  std::vector<std::vector<uint8_t>> k(kLayers, cache.k), v(kLayers, cache.v);
  const int32_t length = static_cast<int32_t>(context);
  for (auto _ : state) {
    for (int layer = 0; layer < kLayers; ++layer) {
      AttentionArgs args = cache.Args(type, 0, 1, &length);
      args.k_cache = k[static_cast<size_t>(layer)].data();
      args.v_cache = v[static_cast<size_t>(layer)].data();
      AttentionWithTable(table, args);
      benchmark::DoNotOptimize(cache.out.data());
    }
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(cache.k.size() + cache.v.size()) * kLayers * iterations / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(IsaName(table.AttentionFor(type).isa)));
}

void BM_Prefill(benchmark::State& state, CpuIsa isa, DType type, int64_t context) {
  const KernelTable table = BuildKernelTable(isa);
  Cache cache(type, context);
  std::vector<int32_t> lengths(static_cast<size_t>(kPrefillTokens));
  for (int64_t i = 0; i < kPrefillTokens; ++i) lengths[static_cast<size_t>(i)] = static_cast<int32_t>(context - kPrefillTokens + 1 + i);
  int64_t pairs = 0;
  for (int32_t length : lengths) pairs += length;
  for (auto _ : state) {
    constexpr int kTile = AttentionTileQueries(kQwen3Moe);
    for (int64_t first = 0; first < kPrefillTokens; first += kTile)
      AttentionWithTable(table, cache.Args(type, first, kTile, lengths.data() + first));
    benchmark::DoNotOptimize(cache.out.data());
  }
  state.counters["Gpairs/s"] = benchmark::Counter(static_cast<double>(pairs * kQwen3Moe.n_heads) *
                                                      static_cast<double>(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
  state.SetLabel(std::string(IsaName(table.AttentionFor(type).isa)));
}

void RegisterAll() {
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (!IsaSupported(isa, DetectCpuFeatures())) continue;
    for (DType type : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
      const std::string suffix = std::string(IsaName(isa)) + "/" + std::string(DTypeName(type));
      for (int64_t context : {int64_t{4096}, int64_t{32768}})
        benchmark::RegisterBenchmark(("BM_Decode/ctx" + std::to_string(context) + "/" + suffix).c_str(), BM_Decode, isa,
                                     type, context)
            ->Unit(benchmark::kMicrosecond);
      if (isa == CpuIsa::kScalar) continue;  // seconds per iteration
      benchmark::RegisterBenchmark(("BM_DecodeLayers48/ctx4096/" + suffix).c_str(), BM_DecodeLayers, isa, type, int64_t{4096})
          ->Unit(benchmark::kMillisecond);
      for (int64_t context : {int64_t{4096}, int64_t{16384}})
        benchmark::RegisterBenchmark(("BM_Prefill512/ctx" + std::to_string(context) + "/" + suffix).c_str(), BM_Prefill, isa,
                                     type, context)
            ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace moefit

int main(int argc, char** argv) {
  moefit::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
