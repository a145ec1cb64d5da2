// SPDX-License-Identifier: MIT
// Planner internals shared by planner.cpp (placement) and plan_advice.cpp (suggestions, notes).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "plan/planner.h"

namespace moefit::plan_detail {

using RoleBytes = std::array<uint64_t, kTensorRoleCount>;

struct LayerFigures {
  RoleBytes fixed{};          // always-active weights: everything but the routed experts
  uint64_t fixed_total = 0;
  int64_t n_experts = 0;      // routed experts (0: no MoE block in this layer)
  uint64_t expert_bytes = 0;  // one expert's slice of the layer's routed tensors
};

struct Caps {
  uint64_t host = 0;
  std::vector<uint64_t> gpus;  // 0 for a GPU the plan must not use
  uint64_t disk = 0;
};

// The model reduced to what placement needs, computed once per input (independent of ctx).
struct Prepared {
  const PlanInput* input = nullptr;
  std::vector<LayerFigures> layers;  // the blocks that run
  RoleBytes host_only{};             // token embeddings: looked up by the CPU
  RoleBytes head{};                  // LM head, final norm, other tensors outside blocks
  uint64_t tied_head_copy = 0;       // tied embeddings: gpu0 needs its own copy to run the head
  uint64_t unused_bytes = 0;         // blocks that never run
  uint64_t kv_bytes_per_cell = 0;    // one token, one layer
  int64_t min_cached_experts = 0;
  bool stream_experts = true;        // the policy, or false to find what fits without streaming
  Caps caps;
};

// One placement for one context: what each device holds, or the first device that overflows.
struct Arrangement {
  bool fits = false;
  DeviceUsage gpu, host, disk;
  int n_gpu_layers = 0;
  bool output_on_gpu = false;
  bool streaming = false;
  std::vector<int64_t> gpu_slots, host_slots;  // per layer
  Shortfall shortfall;
};

// Validates the input (throws moefit::Error) and aggregates the model.
Prepared Prepare(const PlanInput& input);
Arrangement Arrange(const Prepared& prepared, int64_t ctx);
// Largest ctx in [1, limit] whose arrangement fits (ctx + 1 does not), 0 when none.
int64_t MaxContext(const Prepared& prepared, int64_t limit);
int64_t ContextLimit(const ModelShape& shape);  // the trained context, or a large bound

// What would make a plan that does not fit fit, cheapest change first.
std::vector<Suggestion> Suggest(const PlanInput& input, const Prepared& prepared, const Plan& plan);
// Caveats about the caps, the machine and the placement.
std::vector<std::string> Notes(const PlanInput& input, const Prepared& prepared, const Plan& plan);

}  // namespace moefit::plan_detail
