// SPDX-License-Identifier: MIT
// For the kernel tests: the ISA levels this CPU can run, scalar first (each test covers all).
#pragma once

#include <vector>

#include "kernels/cpu/dispatch.h"

namespace moefit {

inline std::vector<CpuIsa> AvailableIsas() {
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (IsaSupported(isa, DetectCpuFeatures())) isas.push_back(isa);
  return isas;
}

}  // namespace moefit
