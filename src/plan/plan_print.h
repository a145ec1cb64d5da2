// SPDX-License-Identifier: MIT
// A Plan as a table people read at a glance, and as JSON that tools can rely on.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "plan/planner.h"

namespace moefit {

struct PlanPrintOptions {
  bool list_tensors = false;  // text: one line per tensor with where it lives
};

std::string FormatPlanText(const PlanInput& input, const Plan& plan, const PlanPrintOptions& options = {});

// Stable keys: {"model", "machine", "request", "fits", "verdict", "max_ctx", "max_ctx_limit",
// "kv_bytes_per_token", "devices": [{"name", "cap_bytes", "total_bytes", "breakdown": {...}}],
// "layers", "experts", "shortfalls", "suggestions", "notes", "tensors"}. Sizes are bytes.
nlohmann::ordered_json PlanToJson(const PlanInput& input, const Plan& plan);

// JSON names of the breakdown entries, in order.
std::string_view BreakdownKey(TensorRole role);

}  // namespace moefit
