// SPDX-License-Identifier: MIT
// CPU kernel dispatch: the instruction sets this machine has (read once, here and nowhere else)
// and the KernelTable of the fastest tested kernel per op x dtype. Scalar references fill every
// entry that has no SIMD variant.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/dot_tile.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {

// Kernel levels, each a superset of the one before. kAvx2 needs AVX2 + FMA + F16C (and the OS
// saving YMM state); kAvx512 adds AVX-512 F/BW/VL/DQ/VNNI (and the OS saving ZMM state).
enum class CpuIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

std::string_view IsaName(CpuIsa isa);                   // "scalar", "avx2", "avx512"
std::optional<CpuIsa> ParseIsa(std::string_view name);  // the inverse, case-insensitive

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool os_saves_ymm = false;  // XCR0 has the SSE and AVX state bits
  bool os_saves_zmm = false;  // XCR0 also has the opmask and ZMM state bits
};

// This machine's features (cpuid + xgetbv), read on first use.
const CpuFeatures& DetectCpuFeatures();
// Whether a level's kernels may run on a machine with these features.
bool IsaSupported(CpuIsa isa, const CpuFeatures& features);
CpuIsa BestIsa(const CpuFeatures& features);
// "avx2 fma f16c ..." for what is present, for doctor / bench output.
std::string DescribeCpuFeatures(const CpuFeatures& features);

// The level to use: `request` ("scalar", "avx2", "avx512", "auto" or empty) or else the best one.
// Throws moefit::Error for an unknown name or a level these features lack.
CpuIsa ResolveIsa(std::string_view request, const CpuFeatures& features);

struct DotKernel {
  DType activation_type = DType::kF32;  // what `row` and `tile` expect the activations in
  DotRowFn row = nullptr;               // weights row . one activation row -> float
  DotTileFn tile = nullptr;             // rows x tokens at once; nullptr: loop `row`
  // Rows x tokens of repacked row groups (quant/repack.h); nullptr: weights of this type are
  // not repacked for this table (the loader asks RepackedKernelFor before repacking).
  DotTileFn repacked_tile = nullptr;
  CpuIsa isa = CpuIsa::kScalar;         // where `row` / `tile` come from
};

struct QuantizeKernel {
  QuantizeRowFn row = nullptr;  // floats -> activation blocks, bit-exact with the reference
  CpuIsa isa = CpuIsa::kScalar;
};

// gate[i] = silu(gate[i]) * up[i] for i < n (the feed-forward's SwiGLU), close to the reference
// (Silu in kernels/ops.h); an element's result never depends on its position or on n.
using SwiGluRowFn = void (*)(float* gate, const float* up, int64_t n);
void SwiGluRowReference(float* gate, const float* up, int64_t n);  // Silu element by element (cpu/ops.cpp)
struct SwiGluKernel {
  SwiGluRowFn row = nullptr;
  CpuIsa isa = CpuIsa::kScalar;
};

// y = x * (1 / sqrt(mean(x^2) + eps)) * weight for n elements: the sum of squares in eight double
// lanes (element e in lane e % 8, the tail alone, then the lanes in order), so every level gives
// the reference's bits (RmsNormReference, cpu/ops.cpp; kernels/ops.h RmsNorm calls the table's).
using RmsNormFn = void (*)(const float* x, const float* weight, int64_t n, float eps, float* y);
void RmsNormReference(const float* x, const float* weight, int64_t n, float eps, float* y);
struct RmsNormKernel {
  RmsNormFn row = nullptr;
  CpuIsa isa = CpuIsa::kScalar;
};

// out[i] = 0 + weights[0] * rows[0][i] + weights[1] * rows[1][i] + ... for i < n, added in k order,
// each product rounded to a float before its add (never a fused multiply-add), so every level
// gives the reference's bits (WeightedSumReference, cpu/ops.cpp): a token's sum of its experts'
// rows in the MoE layer (kernels/ops.h WeightedSum calls the table's).
using WeightedSumFn = void (*)(const float* const* rows, const float* weights, int count, int64_t n, float* out);
void WeightedSumReference(const float* const* rows, const float* weights, int count, int64_t n, float* out);
struct WeightedSumKernel {
  WeightedSumFn row = nullptr;
  CpuIsa isa = CpuIsa::kScalar;
};

struct AttentionKernel {
  AttentionFn tile = nullptr;  // the flash kernel of one KV type (see attention_tile.h)
  CpuIsa isa = CpuIsa::kScalar;
};

struct KernelTable {
  CpuIsa isa = CpuIsa::kScalar;                           // the level it was built for
  std::array<DotKernel, kDTypeIdLimit> dot{};             // by weight type id
  std::array<QuantizeKernel, kDTypeIdLimit> quantize{};   // by activation type id (Q8_0, Q8_K, ...)
  std::array<AttentionKernel, kDTypeIdLimit> attention{};  // by KV cache type id (F16, BF16, Q8_0, Q4_0)
  SwiGluKernel swiglu;
  RmsNormKernel rms_norm;
  WeightedSumKernel weighted_sum;

  const DotKernel& Dot(DType weight_type) const { return dot[static_cast<uint32_t>(weight_type)]; }
  const QuantizeKernel& Quantize(DType activation_type) const {
    return quantize[static_cast<uint32_t>(activation_type)];
  }
  const AttentionKernel& AttentionFor(DType kv_type) const { return attention[static_cast<uint32_t>(kv_type)]; }
};

// The table of one level: scalar references overlaid with that level's kernels (and those of
// the levels below it). Throws moefit::Error when this machine cannot run the level.
KernelTable BuildKernelTable(CpuIsa isa);

// The process-wide table, built on first use for ResolveIsa(MOEFIT_ISA, this machine). Call
// InitCpuKernels() at start-up to hear about a bad MOEFIT_ISA as a moefit::Error; a later first
// use (from inside a kernel) logs the error and falls back to the best level instead.
const KernelTable& InitCpuKernels();
const KernelTable& CpuKernels();

// The scalar flash-attention kernel of a KV type (nullptr for other types): cpu/attention.cpp.
AttentionFn ScalarAttentionKernel(DType kv_type);
// Attention's fast path with `table`'s kernels (Attention(args, kFast) uses CpuKernels()); the
// tests run it for every level.
void AttentionWithTable(const KernelTable& table, const AttentionArgs& args);

// What was chosen, one entry per op x dtype with a kernel, for `moefit doctor` / `bench`.
struct KernelChoice {
  std::string op;  // "dot", "quantize", "attention", "swiglu", "rmsnorm" or "weighted sum"
  DType type;      // weight type (dot), activation type (quantize), KV type (attention); F32 (the element-wise ops)
  DType activation_type;
  CpuIsa isa;
  bool multi_row;  // has a rows x tokens tile kernel
};
std::vector<KernelChoice> ListKernelChoices(const KernelTable& table);
// One line per SIMD choice, e.g. "dot Q4_K x Q8_K: avx2 (multi-row)", "quantize F32 -> Q8_K: avx2".
std::string DescribeKernelTable(const KernelTable& table);

}  // namespace moefit
