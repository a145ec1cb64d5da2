// SPDX-License-Identifier: MIT
// The preflight checklist (`moefit doctor`, and the start of `run` / `serve`): a pure function
// from what was found (the machine now, the file, the plan) to one pass / warn / fail line per
// check. Gathering the facts (probing, opening the file) is the caller's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plan/hardware.h"
#include "plan/planner.h"

namespace moefit {

enum class CheckStatus { kPass, kWarn, kFail };
std::string_view CheckStatusName(CheckStatus status);  // "pass", "warn", "fail"

struct PreflightCheck {
  std::string name;    // stable: "file", "tensors", "plan", "free_memory", "budgets", "context", ...
  CheckStatus status = CheckStatus::kPass;
  std::string detail;  // one sentence
  std::vector<std::string> hints;  // what would fit instead (a plan that does not fit)
};

// The model's context as trained, and as its RoPE scaling (from the file) stretches it.
struct ContextFacts {
  int64_t trained = 0;       // n_ctx_train (<arch>.context_length); 0 when unknown
  std::string rope_scaling;  // "" none, else "linear" or "yarn"
  int64_t scaled = 0;        // original context x scaling factor; 0 without scaling
};

struct PreflightFacts {
  const MachineReport* machine = nullptr;  // never null

  // The model; all empty / null when only the machine is checked.
  bool has_model = false;
  bool from_file = false;        // false: a catalog model (no file to check)
  std::string file_summary;      // "3.20 MiB, 27 tensors" when the file opened
  std::string file_error;        // GgufFile::Open's error: size, tensor directory, every tensor inside the file
  std::string tensors_summary;   // "qwen3moe: 2 layers, every expected tensor"
  std::string tensors_error;     // the model loader's error: expected tensors missing or of the wrong shape
  std::string plan_error;        // the planner refused the input (an invalid KV type, --ctx out of range)
  const PlanInput* input = nullptr;  // set with plan
  const Plan* plan = nullptr;
  ContextFacts context;
  bool mmap = false;             // --mmap: no plan, no cap (the page cache holds the weights)

  // The request.
  std::string ram;             // --ram as given; "" when not
  bool gpu_mem_given = false;  // --gpu-mem
  int64_t ctx = 0;             // per sequence
  int threads = 0;             // 0: all cores
};

// The checklist, in a fixed order: file, tensors, plan, free_memory, budgets, context, kv_type
// (those that concern a model only when one is given), then threads, isa, huge_pages, gpu.
std::vector<PreflightCheck> PreflightChecks(const PreflightFacts& facts);

bool AllPassOrWarn(const std::vector<PreflightCheck>& checks);

}  // namespace moefit
