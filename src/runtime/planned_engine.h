// SPDX-License-Identifier: MIT
// Carrying out a Plan on the host: the Budget at the plan's cap with the process's own planned
// overhead charged up front, the EngineOptions the plan implies, and a one-line summary.
#pragma once

#include <string>

#include "core/budget.h"
#include "gguf/gguf_file.h"
#include "plan/planner.h"
#include "runtime/engine.h"

namespace moefit {

// The host RAM budget of a run: capped at the plan's host cap, with the plan's fixed overhead
// (the process itself, tokenizer tables) already charged, so that what the engine may charge
// is exactly what the plan gives it.
class HostMemory {
 public:
  explicit HostMemory(const Plan& plan);
  Budget& budget() { return budget_; }
  const Budget& budget() const { return budget_; }

 private:
  Budget budget_;
  BudgetReservation overhead_;
};

// Engine options for `plan` (which must fit): KV cells ctx * parallel in the plan's KV type,
// passes of ubatch tokens,
// one row of logits per sequence, every host weight read into owned RAM, and the routed experts
// of streamed layers read from `file` through the plan's cache slots. Throws moefit::Error for a
// plan that does not fit or that puts work on a GPU (no GPU runtime yet).
EngineOptions EngineOptionsFromPlan(const Plan& plan, const GgufFile& file, Budget& host_budget);

// "host 1.23 GiB of 18.00 GiB: weights ..., KV ..., compute ...; routed experts in RAM".
std::string PlanSummaryLine(const Plan& plan);

// The process's peak resident set (VmHWM of /proc/self/status) in bytes; 0 when unknown.
uint64_t PeakResidentBytes();

}  // namespace moefit
