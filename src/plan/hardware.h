// SPDX-License-Identifier: MIT
// What a machine has for the planner: RAM, cores, ISA (for reports), GPUs. Probed or given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moefit {

struct GpuSpec {
  std::string name;         // "NVIDIA GeForce RTX 4080" when probed; "gpu0" when given
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // what the driver reports free now (= total when given)
};

struct MachineSpec {
  uint64_t ram_total_bytes = 0;
  uint64_t ram_available_bytes = 0;  // MemAvailable (and the cgroup limit), = total when given
  int cores = 0;
  std::vector<std::string> isa;  // "avx2", "fma", "f16c", "avx512f", ... (reporting only)
  std::vector<GpuSpec> gpus;     // empty until a GPU runtime is built in
  bool probed = false;           // false: described on the command line (planning for another machine)
};

// Figures of /proc/meminfo, in bytes.
struct MeminfoFigures {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};
// Parses /proc/meminfo text ("MemTotal:  24567892 kB"); throws moefit::Error without MemTotal.
MeminfoFigures ParseMeminfo(std::string_view text);

// Parses a cgroup v2 memory.max ("max" or a byte count); nullopt when unlimited or malformed.
std::optional<uint64_t> ParseCgroupLimit(std::string_view text);

// This machine: /proc/meminfo (bounded by the cgroup memory limit when lower), the CPUs this
// process may run on, ISA flags. GPUs: none for now (the CUDA runtime fills them later).
MachineSpec ProbeMachine();

// ISA flags of this CPU, for reports. Kernel selection reads cpuid in kernels/cpu/dispatch.cpp
// only; this list is never used to choose code.
std::vector<std::string> ProbeIsaForReport();

// Overrides for planning another machine (`--machine-ram 32G --machine-gpu 16G,8G`): fields
// given replace the probed ones.
struct MachineOverrides {
  std::optional<uint64_t> ram_bytes;
  std::optional<int> cores;
  std::optional<std::vector<uint64_t>> gpu_bytes;
};
MachineSpec ApplyOverrides(MachineSpec machine, const MachineOverrides& overrides);

std::string DescribeMachine(const MachineSpec& machine);  // "24.00 GiB RAM (18.20 GiB free), 2 cores, avx2 fma"

}  // namespace moefit
