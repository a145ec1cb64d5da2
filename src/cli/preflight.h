// SPDX-License-Identifier: MIT
// Preflight: gathers what the checklist needs (the machine now, the file opened and its tensors
// checked by the model loader, the plan `run` / `serve` would make) and prints it, for
// `moefit doctor` and the start of `run` and `serve`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/run_memory.h"
#include "plan/hardware.h"
#include "plan/planner.h"
#include "plan/preflight.h"

namespace moefit {

struct PreflightRequest {
  std::string file;           // -m FILE; empty: a catalog model, or the machine alone
  std::string catalog_model;  // --model NAME (doctor only)
  std::string catalog_type;   // --type for it ("q4_k_m" when empty)
  MemoryFlags memory;         // --ram, --mmap, ... as run / serve take them
  std::string gpu_mem;        // --gpu-mem
  int64_t ctx = 0;            // per sequence; 0: the model's trained context, at most 4096 (serve's default)
  int64_t ubatch = 512;       // tokens per forward pass
  int64_t parallel = 1;       // sequences
  int threads = 0;            // 0: all cores
};

struct PreflightReport {
  MachineReport machine;
  std::optional<PlanInput> input;  // when a model was given and its shape could be read
  std::optional<Plan> plan;        // when it could be planned (not with --mmap)
  std::vector<PreflightCheck> checks;

  bool ok() const { return AllPassOrWarn(checks); }
};

// Never throws for what it checks (a broken file, a plan that does not fit: FAIL lines); throws
// moefit::Error only for flags that make no sense (both -m and --model, a malformed --ram).
PreflightReport RunPreflight(const PreflightRequest& request);

// machine, plan (as `moefit plan` prints it), checks, and a result line.
std::string FormatPreflightText(const PreflightReport& report);
// {"machine": {...}, "plan": {as `moefit plan --json`} | null, "checks": [{"name", "status",
// "detail", "hints"}], "ok": bool}
nlohmann::ordered_json PreflightToJson(const PreflightReport& report);

// The start of `run` and `serve`: the checks run before anything is loaded; each warning is
// printed to stderr as one line, each failure with what would fit instead; throws moefit::Error
// naming the failed checks when any failed.
void PreflightOrRefuse(const PreflightRequest& request, std::string_view command);

}  // namespace moefit
