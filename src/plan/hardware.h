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
  uint64_t available_bytes = 0;  // MemAvailable: free + what the kernel can reclaim (page cache)
  uint64_t free_bytes = 0;       // MemFree: unused right now
};
// Parses /proc/meminfo text ("MemTotal:  24567892 kB"); throws moefit::Error without MemTotal.
MeminfoFigures ParseMeminfo(std::string_view text);

// Parses a cgroup v2 memory.max ("max" or a byte count); nullopt when unlimited or malformed.
std::optional<uint64_t> ParseCgroupLimit(std::string_view text);

// This machine: /proc/meminfo (bounded by the cgroup memory limit when lower), the CPUs this
// process may run on, ISA flags. GPUs: none for now (the CUDA runtime fills them later).
MachineSpec ProbeMachine();

// ISA flags of this CPU, for reports, as the kernels' dispatch (kernels/cpu/dispatch.cpp, the only
// cpuid reader) detected them; this list is never used to choose code.
std::vector<std::string> ProbeIsaForReport();

// What doctor reports about this machine beyond what the planner needs.
struct MachineReport {
  MachineSpec spec;                // what the planner sees (probed now)
  uint64_t ram_free_bytes = 0;     // MemFree (spec.ram_available_bytes also counts reclaimable cache)
  std::string kernel_isa;          // the level the CPU kernels dispatch to: "scalar", "avx2", "avx512"
  std::string kernel_isa_error;    // MOEFIT_ISA asks for a level this machine cannot run ("" when fine)
  std::string huge_pages;          // transparent huge pages: "always", "madvise", "never", "" unknown
  std::string gpu_runtime;         // the GPU runtime built in; "" : none (this build runs on the CPU only)
  std::string gpu_driver;          // "NVIDIA 550.54.15" when a GPU driver is loaded, "" when none is seen
};
// Probes this machine now: ProbeMachine, MemFree, the kernels' ISA level (honouring MOEFIT_ISA),
// the transparent huge page mode, a loaded GPU driver.
MachineReport ProbeMachineReport();

// "always [madvise] never" (/sys/kernel/mm/transparent_hugepage/enabled) -> "madvise"; "" when
// no mode is bracketed.
std::string ParseHugePageMode(std::string_view text);
// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ..." (/proc/driver/nvidia/version)
// -> "550.54.15"; "" when the text has no version.
std::string ParseNvidiaDriverVersion(std::string_view text);

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
