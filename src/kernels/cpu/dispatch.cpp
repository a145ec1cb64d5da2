// SPDX-License-Identifier: MIT
// The one place that reads cpuid: detects the instruction sets, resolves MOEFIT_ISA, and fills
// the KernelTable from the scalar references and the ISA variant files.
#include "kernels/cpu/dispatch.h"

#include <cpuid.h>

#include <cstdlib>
#include <span>

#include "core/error.h"
#include "core/log.h"
#include "kernels/cpu/isa_kernels.h"

namespace moefit {
namespace {

// ---- Detection ------------------------------------------------------------------------------

struct CpuidRegisters {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegisters Cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegisters r;
  if (__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx) == 0) return {};
  return r;
}

// XCR0: which register states the OS saves on a context switch. Only valid with OSXSAVE.
uint64_t ReadXcr0() {
  uint32_t low, high;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return static_cast<uint64_t>(high) << 32 | low;
}

bool Bit(unsigned value, int bit) { return (value >> bit & 1u) != 0; }

CpuFeatures Detect() {
  CpuFeatures f;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  const CpuidRegisters leaf1 = Cpuid(1, 0);
  const bool osxsave = Bit(leaf1.ecx, 27), avx = Bit(leaf1.ecx, 28);
  f.fma = Bit(leaf1.ecx, 12);
  f.f16c = Bit(leaf1.ecx, 29);
  if (osxsave) {
    const uint64_t xcr0 = ReadXcr0();
    f.os_saves_ymm = avx && (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    f.os_saves_zmm = f.os_saves_ymm && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  }
  if (max_leaf >= 7) {
    const CpuidRegisters leaf7 = Cpuid(7, 0);
    f.avx2 = Bit(leaf7.ebx, 5);
    f.bmi2 = Bit(leaf7.ebx, 8);
    f.avx512f = Bit(leaf7.ebx, 16);
    f.avx512dq = Bit(leaf7.ebx, 17);
    f.avx512bw = Bit(leaf7.ebx, 30);
    f.avx512vl = Bit(leaf7.ebx, 31);
    f.avx512vnni = Bit(leaf7.ecx, 11);
    if (leaf7.eax >= 1) f.avx512bf16 = Bit(Cpuid(7, 1).eax, 5);
  }
  return f;
}

// ---- The kernels of each level --------------------------------------------------------------

struct IsaDot {
  DType weight_type;
  DotRowFn row;
  DotTileFn tile;
  DotTileFn repacked_tile = nullptr;
};
struct IsaQuantize {
  DType activation_type;
  QuantizeRowFn row;
};
struct IsaAttention {
  DType kv_type;
  AttentionFn tile;
};

// Registered only once they match the scalar reference in kernels_test (every dtype here is in
// that test's list).
constexpr IsaDot kAvx2Dots[] = {
    {DType::kF32, avx2::DotRowF32, avx2::DotTileF32},       {DType::kF16, avx2::DotRowF16, avx2::DotTileF16},
    {DType::kBF16, avx2::DotRowBF16, avx2::DotTileBF16},    {DType::kQ4_0, avx2::DotRowQ4_0, avx2::DotTileQ4_0},
    {DType::kQ8_0, avx2::DotRowQ8_0, avx2::DotTileQ8_0},    {DType::kIQ4_NL, avx2::DotRowIQ4_NL, avx2::DotTileIQ4_NL},
    {DType::kQ4_K, avx2::DotRowQ4_K, avx2::DotTileQ4_K, avx2::DotTileRepackedQ4_K},    {DType::kQ5_K, avx2::DotRowQ5_K, avx2::DotTileQ5_K, avx2::DotTileRepackedQ5_K},
    {DType::kQ6_K, avx2::DotRowQ6_K, avx2::DotTileQ6_K, avx2::DotTileRepackedQ6_K},    {DType::kIQ4_XS, avx2::DotRowIQ4_XS, avx2::DotTileIQ4_XS, avx2::DotTileRepackedIQ4_XS},
};
constexpr IsaQuantize kAvx2Quantizers[] = {
    {DType::kQ8_0, avx2::QuantizeRowQ8_0},
    {DType::kQ8_K, avx2::QuantizeRowQ8_K},
};

constexpr IsaAttention kAvx2Attention[] = {
    {DType::kF16, avx2::AttentionF16},
    {DType::kBF16, avx2::AttentionBF16},
    {DType::kQ8_0, avx2::AttentionQ8_0},
    {DType::kQ4_0, avx2::AttentionQ4_0},
};

constexpr IsaDot kAvx512Dots[] = {
    {DType::kF32, avx512::DotRowF32, avx512::DotTileF32},    {DType::kF16, avx512::DotRowF16, avx512::DotTileF16},
    {DType::kBF16, avx512::DotRowBF16, avx512::DotTileBF16}, {DType::kQ4_0, avx512::DotRowQ4_0, avx512::DotTileQ4_0},
    {DType::kQ8_0, avx512::DotRowQ8_0, avx512::DotTileQ8_0}, {DType::kIQ4_NL, avx512::DotRowIQ4_NL, avx512::DotTileIQ4_NL},
    {DType::kQ4_K, avx512::DotRowQ4_K, avx512::DotTileQ4_K, avx512::DotTileRepackedQ4_K}, {DType::kQ5_K, avx512::DotRowQ5_K, avx512::DotTileQ5_K, avx512::DotTileRepackedQ5_K},
    {DType::kQ6_K, avx512::DotRowQ6_K, avx512::DotTileQ6_K, avx512::DotTileRepackedQ6_K}, {DType::kIQ4_XS, avx512::DotRowIQ4_XS, avx512::DotTileIQ4_XS, avx512::DotTileRepackedIQ4_XS},
};
constexpr IsaAttention kAvx512Attention[] = {
    {DType::kF16, avx512::AttentionF16},
    {DType::kBF16, avx512::AttentionBF16},
    {DType::kQ8_0, avx512::AttentionQ8_0},
    {DType::kQ4_0, avx512::AttentionQ4_0},
};
constexpr IsaQuantize kAvx512Quantizers[] = {
    {DType::kQ8_0, avx512::QuantizeRowQ8_0},
    {DType::kQ8_K, avx512::QuantizeRowQ8_K},
};

void Overlay(KernelTable& table, CpuIsa isa, std::span<const IsaDot> dots, std::span<const IsaQuantize> quantizers,
             std::span<const IsaAttention> attention = {}) {
  for (const IsaDot& entry : dots) {
    DotKernel& kernel = table.dot[static_cast<uint32_t>(entry.weight_type)];
    MOEFIT_CHECK(kernel.row != nullptr);  // a SIMD kernel needs a reference to be tested against
    kernel.row = entry.row;
    kernel.tile = entry.tile;
    if (entry.repacked_tile != nullptr) kernel.repacked_tile = entry.repacked_tile;
    kernel.isa = isa;
  }
  for (const IsaQuantize& entry : quantizers) {
    QuantizeKernel& kernel = table.quantize[static_cast<uint32_t>(entry.activation_type)];
    MOEFIT_CHECK(kernel.row != nullptr);
    kernel.row = entry.row;
    kernel.isa = isa;
  }
  for (const IsaAttention& entry : attention) {
    AttentionKernel& kernel = table.attention[static_cast<uint32_t>(entry.kv_type)];
    MOEFIT_CHECK(kernel.tile != nullptr);
    kernel.tile = entry.tile;
    kernel.isa = isa;
  }
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::string_view MissingFor(CpuIsa isa) {
  return isa == CpuIsa::kAvx512 ? "AVX-512 F/BW/VL/DQ/VNNI with OS support for ZMM state"
                                : "AVX2, FMA and F16C with OS support for YMM state";
}

const KernelTable& SelectedTable(bool throw_on_bad_request) {
  static const KernelTable table = [throw_on_bad_request] {
    const char* request = std::getenv("MOEFIT_ISA");
    const CpuFeatures& features = DetectCpuFeatures();
    CpuIsa isa = BestIsa(features);
    try {
      isa = ResolveIsa(request != nullptr ? request : "", features);
    } catch (const Error& error) {
      if (throw_on_bad_request) throw;
      Log(LogLevel::kError, "{}; using {}", error.what(), IsaName(isa));
    }
    Log(LogLevel::kDebug, "CPU kernels: {} (cpu: {})", IsaName(isa), DescribeCpuFeatures(features));
    return BuildKernelTable(isa);
  }();
  return table;
}

}  // namespace

std::string_view IsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<CpuIsa> ParseIsa(std::string_view name) {
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (EqualsIgnoringCase(name, IsaName(isa))) return isa;
  return std::nullopt;
}

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

bool IsaSupported(CpuIsa isa, const CpuFeatures& f) {
  const bool avx2 = f.avx2 && f.fma && f.f16c && f.os_saves_ymm;
  switch (isa) {
    case CpuIsa::kScalar: return true;
    case CpuIsa::kAvx2: return avx2;
    case CpuIsa::kAvx512:
      // BF16 is not required: the kernels do not use it (F32 activations stay F32).
      return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.os_saves_zmm;
  }
  return false;
}

CpuIsa BestIsa(const CpuFeatures& features) {
  if (IsaSupported(CpuIsa::kAvx512, features)) return CpuIsa::kAvx512;
  if (IsaSupported(CpuIsa::kAvx2, features)) return CpuIsa::kAvx2;
  return CpuIsa::kScalar;
}

std::string DescribeCpuFeatures(const CpuFeatures& f) {
  const std::pair<bool, const char*> flags[] = {
      {f.avx2, "avx2"},         {f.fma, "fma"},           {f.f16c, "f16c"},         {f.bmi2, "bmi2"},
      {f.avx512f, "avx512f"},   {f.avx512bw, "avx512bw"}, {f.avx512vl, "avx512vl"}, {f.avx512dq, "avx512dq"},
      {f.avx512vnni, "avx512vnni"}, {f.avx512bf16, "avx512bf16"}, {f.os_saves_ymm, "os-ymm"},
      {f.os_saves_zmm, "os-zmm"},
  };
  std::string text;
  for (const auto& [present, name] : flags) {
    if (!present) continue;
    if (!text.empty()) text += ' ';
    text += name;
  }
  return text.empty() ? "baseline x86-64" : text;
}

CpuIsa ResolveIsa(std::string_view request, const CpuFeatures& features) {
  if (request.empty() || EqualsIgnoringCase(request, "auto")) return BestIsa(features);
  const std::optional<CpuIsa> isa = ParseIsa(request);
  if (!isa) Fail("MOEFIT_ISA={}: unknown level (use scalar, avx2, avx512 or auto)", request);
  if (!IsaSupported(*isa, features))
    Fail("MOEFIT_ISA={}: this CPU cannot run it: it needs {}; this CPU has: {} (best level here: {})", request,
         MissingFor(*isa), DescribeCpuFeatures(features), IsaName(BestIsa(features)));
  return *isa;
}

KernelTable BuildKernelTable(CpuIsa isa) {
  if (!IsaSupported(isa, DetectCpuFeatures()))
    Fail("CPU kernels for {}: this CPU lacks {}", IsaName(isa), MissingFor(isa));
  KernelTable table;
  table.isa = isa;
  for (const DTypeTraits& traits : AllDTypeTraits()) {
    const auto id = static_cast<uint32_t>(traits.type);
    if (traits.dot_row != nullptr) table.dot[id] = {.activation_type = traits.dot_type, .row = traits.dot_row};
    if (traits.Has(kDTypeActivation) && traits.quantize_row != nullptr) table.quantize[id] = {.row = traits.quantize_row};
    if (const AttentionFn attention = ScalarAttentionKernel(traits.type)) table.attention[id] = {.tile = attention};
  }
  table.swiglu = {.row = SwiGluRowReference};
  table.rms_norm = {.row = RmsNormReference};
  table.weighted_sum = {.row = WeightedSumReference};
  if (isa >= CpuIsa::kAvx2) {
    Overlay(table, CpuIsa::kAvx2, kAvx2Dots, kAvx2Quantizers, kAvx2Attention);
    table.swiglu = {.row = avx2::SwiGluRow, .isa = CpuIsa::kAvx2};
    table.rms_norm = {.row = avx2::RmsNorm, .isa = CpuIsa::kAvx2};
    table.weighted_sum = {.row = avx2::WeightedSum, .isa = CpuIsa::kAvx2};
  }
  if (isa >= CpuIsa::kAvx512) {
    Overlay(table, CpuIsa::kAvx512, kAvx512Dots, kAvx512Quantizers, kAvx512Attention);
    table.swiglu = {.row = avx512::SwiGluRow, .isa = CpuIsa::kAvx512};
    table.rms_norm = {.row = avx512::RmsNorm, .isa = CpuIsa::kAvx512};
    table.weighted_sum = {.row = avx512::WeightedSum, .isa = CpuIsa::kAvx512};
  }
  return table;
}

const KernelTable& InitCpuKernels() { return SelectedTable(/*throw_on_bad_request=*/true); }
const KernelTable& CpuKernels() { return SelectedTable(/*throw_on_bad_request=*/false); }

std::vector<KernelChoice> ListKernelChoices(const KernelTable& table) {
  std::vector<KernelChoice> choices;
  for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
    const std::optional<DTypeLayout> layout = FindDTypeLayout(id);
    if (!layout) continue;
    const DotKernel& dot = table.dot[id];
    if (dot.row != nullptr)
      choices.push_back({.op = "dot", .type = layout->type, .activation_type = dot.activation_type, .isa = dot.isa,
                         .multi_row = dot.tile != nullptr});
    const QuantizeKernel& quantize = table.quantize[id];
    if (quantize.row != nullptr)
      choices.push_back({.op = "quantize", .type = DType::kF32, .activation_type = layout->type, .isa = quantize.isa,
                         .multi_row = false});
    const AttentionKernel& attention = table.attention[id];
    if (attention.tile != nullptr)
      choices.push_back({.op = "attention", .type = layout->type,
                         .activation_type = layout->quantized ? DType::kQ8_0 : DType::kF32, .isa = attention.isa,
                         .multi_row = false});
  }
  if (table.swiglu.row != nullptr)
    choices.push_back({.op = "swiglu", .type = DType::kF32, .activation_type = DType::kF32, .isa = table.swiglu.isa,
                       .multi_row = false});
  if (table.rms_norm.row != nullptr)
    choices.push_back({.op = "rmsnorm", .type = DType::kF32, .activation_type = DType::kF32, .isa = table.rms_norm.isa,
                       .multi_row = false});
  if (table.weighted_sum.row != nullptr)
    choices.push_back({.op = "weighted sum", .type = DType::kF32, .activation_type = DType::kF32,
                       .isa = table.weighted_sum.isa, .multi_row = false});
  return choices;
}

std::string DescribeKernelTable(const KernelTable& table) {
  std::string text = fmt::format("CPU kernels: {} ({})\n", IsaName(table.isa), DescribeCpuFeatures(DetectCpuFeatures()));
  int scalar = 0;
  for (const KernelChoice& choice : ListKernelChoices(table)) {
    if (choice.isa == CpuIsa::kScalar) {
      ++scalar;
      continue;
    }
    const bool dot = choice.op == "dot";
    text += fmt::format("  {} {} {} {}: {}{}\n", choice.op, DTypeName(choice.type), dot ? "x" : "->",
                        DTypeName(choice.activation_type), IsaName(choice.isa), choice.multi_row ? " (multi-row)" : "");
  }
  text += fmt::format("  {} other entries: scalar reference\n", scalar);
  return text;
}

}  // namespace moefit
