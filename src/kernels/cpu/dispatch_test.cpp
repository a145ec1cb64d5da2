// SPDX-License-Identifier: MIT
// ISA detection and selection: MOEFIT_ISA parsing and refusal, table contents per level.
#include "kernels/cpu/dispatch.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.h"

namespace moefit {
namespace {

CpuFeatures Avx2Machine() {
  CpuFeatures f;
  f.avx2 = f.fma = f.f16c = f.bmi2 = f.os_saves_ymm = true;
  return f;
}

CpuFeatures Avx512Machine() {
  CpuFeatures f = Avx2Machine();
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = f.os_saves_zmm = true;
  return f;
}

TEST(Dispatch, IsaNamesRoundTrip) {
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    EXPECT_EQ(ParseIsa(IsaName(isa)), isa);
  }
  EXPECT_EQ(ParseIsa("AVX2"), CpuIsa::kAvx2);
  EXPECT_FALSE(ParseIsa("sse4"));
}

TEST(Dispatch, LevelsNeedCpuAndOsSupport) {
  EXPECT_EQ(BestIsa(CpuFeatures{}), CpuIsa::kScalar);
  EXPECT_EQ(BestIsa(Avx2Machine()), CpuIsa::kAvx2);
  EXPECT_EQ(BestIsa(Avx512Machine()), CpuIsa::kAvx512);
  CpuFeatures no_zmm_state = Avx512Machine();
  no_zmm_state.os_saves_zmm = false;  // e.g. an OS or hypervisor that does not enable AVX-512 state
  EXPECT_EQ(BestIsa(no_zmm_state), CpuIsa::kAvx2);
  CpuFeatures no_vnni = Avx512Machine();
  no_vnni.avx512vnni = false;  // Skylake-X
  EXPECT_EQ(BestIsa(no_vnni), CpuIsa::kAvx2);
  CpuFeatures no_ymm_state = Avx2Machine();
  no_ymm_state.os_saves_ymm = false;
  EXPECT_EQ(BestIsa(no_ymm_state), CpuIsa::kScalar);
}

TEST(Dispatch, ResolvesRequestsAndRefusesMissingLevels) {
  EXPECT_EQ(ResolveIsa("", Avx2Machine()), CpuIsa::kAvx2);
  EXPECT_EQ(ResolveIsa("auto", Avx512Machine()), CpuIsa::kAvx512);
  EXPECT_EQ(ResolveIsa("scalar", Avx512Machine()), CpuIsa::kScalar);
  EXPECT_EQ(ResolveIsa("avx2", Avx512Machine()), CpuIsa::kAvx2);
  try {
    ResolveIsa("avx512", Avx2Machine());
    ADD_FAILURE() << "avx512 accepted on an AVX2 machine";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot run"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("AVX-512"), std::string::npos) << error.what();
  }
  EXPECT_THROW(ResolveIsa("neon", Avx2Machine()), Error);
}

TEST(Dispatch, ScalarTableIsTheReference) {
  const KernelTable table = BuildKernelTable(CpuIsa::kScalar);
  EXPECT_EQ(table.isa, CpuIsa::kScalar);
  for (const DTypeTraits& traits : AllDTypeTraits()) {
    const DotKernel& dot = table.Dot(traits.type);
    EXPECT_EQ(dot.row, traits.dot_row) << DTypeName(traits.type);
    EXPECT_EQ(dot.tile, nullptr);
    EXPECT_EQ(dot.isa, CpuIsa::kScalar);
    if (traits.Has(kDTypeActivation) && traits.quantize_row != nullptr) {
      EXPECT_EQ(table.Quantize(traits.type).row, traits.quantize_row) << DTypeName(traits.type);
    }
  }
}

TEST(Dispatch, BestTableUsesSimdWhereAvailable) {
  const CpuIsa best = BestIsa(DetectCpuFeatures());
  const KernelTable table = BuildKernelTable(best);
  const std::string description = DescribeKernelTable(table);
  EXPECT_NE(description.find(std::string(IsaName(best))), std::string::npos) << description;
  if (best == CpuIsa::kScalar) GTEST_SKIP() << "no SIMD level on this CPU";
  EXPECT_EQ(table.Dot(DType::kQ4_K).isa, best);
  EXPECT_EQ(table.Quantize(DType::kQ8_K).isa, best);
  EXPECT_NE(description.find("dot Q4_K x Q8_K"), std::string::npos) << description;
  EXPECT_NE(description.find("swiglu F32 -> F32: " + std::string(IsaName(best))), std::string::npos) << description;
  EXPECT_NE(description.find("rmsnorm F32 -> F32: " + std::string(IsaName(best))), std::string::npos) << description;
  // Types without a SIMD kernel keep the reference.
  EXPECT_EQ(table.Dot(DType::kQ2_K).row, Traits(DType::kQ2_K).dot_row);
  EXPECT_FALSE(ListKernelChoices(table).empty());
}

TEST(Dispatch, RefusesToBuildALevelThisCpuLacks) {
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (!IsaSupported(isa, DetectCpuFeatures())) {
      EXPECT_THROW(BuildKernelTable(isa), Error);
    }
}

// Run by ctest again with MOEFIT_ISA=scalar and with MOEFIT_ISA=bogus (see CMakeLists.txt).
TEST(DispatchEnvironment, ProcessTableFollowsMoefitIsa) {
  const char* request = std::getenv("MOEFIT_ISA");
  const CpuFeatures& features = DetectCpuFeatures();
  CpuIsa expected = BestIsa(features);
  bool refused = false;
  try {
    expected = ResolveIsa(request != nullptr ? request : "", features);
  } catch (const Error&) {
    refused = true;
  }
  if (refused) {
    // Start-up hears about it; a first use from inside a kernel logs it and takes the best level.
    EXPECT_THROW(InitCpuKernels(), Error);
    EXPECT_EQ(CpuKernels().isa, BestIsa(features));
  } else {
    EXPECT_EQ(InitCpuKernels().isa, expected);
    EXPECT_EQ(CpuKernels().isa, expected);
  }
  if (const char* must_be = std::getenv("MOEFIT_EXPECT_ISA")) {
    EXPECT_EQ(IsaName(CpuKernels().isa), must_be);
    if (CpuKernels().isa == CpuIsa::kScalar) {
      EXPECT_EQ(CpuKernels().Dot(DType::kQ4_K).row, Traits(DType::kQ4_K).dot_row);
    }
  }
}

}  // namespace
}  // namespace moefit
