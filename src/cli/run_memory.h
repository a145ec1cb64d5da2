// SPDX-License-Identifier: MIT
// Memory settings shared by `run`, `logits` and `serve`: --ram, --kv-type and friends, the plan
// they lead to, and the engine configured from it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "gguf/gguf_file.h"
#include "plan/planner.h"
#include "runtime/engine.h"
#include "runtime/planned_engine.h"

namespace moefit {

struct MemoryFlags {
  std::string ram;             // --ram: "18G", or a fraction of the RAM ("0.5"); empty: free RAM
  bool mmap = false;           // --mmap: compute from the file mapping, no plan and no cap
  bool no_streaming = false;   // --no-streaming: never stream experts from disk
  int64_t min_cached_experts = 0;  // --expert-cache-min: RAM cache slots per layer when streaming
  std::string kv_type = "f16";     // --kv-type: f16, bf16, q8_0 or q4_0 (planned and allocated)
  bool quiet = false;          // no plan line, no progress
};
void AddMemoryFlags(CLI::App& command, MemoryFlags& flags);
// --kv-type alone (bench, plan): the same option text everywhere; ParseKvType reads it.
void AddKvTypeFlag(CLI::App& command, std::string& kv_type);

// What a run needs for memory: the plan, the budget at its cap, and the engine's options.
struct RunMemory {
  PlanInput input;
  Plan plan;
  std::unique_ptr<HostMemory> host;  // null with --mmap
  EngineOptions options;             // kv_type set; kv_cells etc. still to be set by the caller with --mmap
};

// The plan input of a run of `model` on this machine (probed now) under the flags' cap: what
// PlanRun plans, and what the preflight checks (`moefit doctor`, the start of run/serve) check.
// Throws moefit::Error for flags that do not go together or a malformed --ram.
PlanInput RunPlanInput(ModelInventory model, const MemoryFlags& flags, int64_t ctx, int64_t ubatch, int64_t parallel);

// Plans a run of `file` (context per sequence `ctx`, passes of `ubatch` tokens, `parallel`
// sequences) on this machine under the flags' cap, prints the plan's one-line summary to stderr,
// and throws moefit::Error with the plan's verdict and suggestions when it does not fit.
RunMemory PlanRun(const GgufFile& file, const MemoryFlags& flags, int64_t ctx, int64_t ubatch, int64_t parallel = 1);

// "memory: peak RSS ... · budget peak ... of cap ... · plan ...; experts: hit rate ..." (stderr).
void PrintMemoryReport(const RunMemory& memory, const Engine& engine);

}  // namespace moefit
