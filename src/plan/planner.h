// SPDX-License-Identifier: MIT
// The planner: a pure function from (model, machine, budgets, context) to a Plan saying where
// every tensor lives and how many bytes each device holds. It allocates nothing, never returns a
// plan above a cap, and throws moefit::Error only for invalid input; a model that does not fit
// gives fits = false with what would fit instead.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/tensor_role.h"
#include "plan/byte_size.h"
#include "plan/hardware.h"
#include "plan/model_inventory.h"

namespace moefit {

struct PlanPolicy {
  bool use_gpu = true;           // false: plan for the CPU alone even when a GPU is present
  bool stream_experts = true;    // routed experts may stream from disk through a RAM cache
  int64_t min_cached_experts = 0;  // RAM cache slots per layer when streaming; 0: n_active_experts
};

struct PlanInput {
  ModelInventory model;
  MachineSpec machine;
  BudgetSpec ram;      // host cap; not given: the RAM available now (probed) or all of it (given machine)
  BudgetSpec gpu_mem;  // cap of each GPU; not given: its free memory
  int64_t ctx = 4096;     // context per sequence, tokens
  int64_t parallel = 1;   // sequences decoded together (the KV pool holds ctx * parallel cells)
  int64_t ubatch = 512;   // tokens per forward pass
  DType kv_type = DType::kF16;
  PlanPolicy policy;
};

// Where a tensor's bytes live.
enum class Residence {
  kGpu,      // gpu0 (computed there)
  kHost,     // host RAM (computed by the CPU)
  kExperts,  // a routed-expert tensor whose experts are split across tiers: see ExpertLayerPlan
  kUnused,   // stored in the file, never loaded (multi-token-prediction layers)
};
std::string_view ResidenceName(Residence residence);

struct DeviceUsage {
  std::string name;        // "gpu0", "host", "disk"
  uint64_t cap_bytes = 0;  // disk: the file's size
  std::array<uint64_t, kTensorRoleCount> weights{};  // resident weights by role (disk: streamed)
  uint64_t expert_cache = 0;  // host: RAM cache slots for experts streamed from disk
  uint64_t kv_cache = 0;
  uint64_t compute = 0;       // activations and scratch of one pass, logits
  uint64_t staging = 0;       // pinned upload buffers
  uint64_t overhead = 0;      // fixed runtime cost (process, tokenizer, GPU context)

  uint64_t weight_bytes() const;
  uint64_t total() const;
};

// The routed experts of one MoE layer across the tiers. An expert is a whole slice of the layer's
// expert tensors (gate + up + down, + biases). Tiers are exclusive: an expert lives on gpu0, or
// in RAM, or (streamed) in the file and then in a RAM cache slot while used.
struct ExpertLayerPlan {
  int layer = 0;
  int64_t n_experts = 0;
  uint64_t expert_bytes = 0;
  int64_t gpu_slots = 0;   // experts resident on gpu0
  int64_t host_slots = 0;  // experts resident in RAM, or RAM cache slots when streamed
  bool streamed = false;   // gpu_slots + host_slots < n_experts: the rest are read from disk
};

struct TensorPlacement {
  std::string name;
  TensorRole role = TensorRole::kOther;
  int layer = -1;
  DType type = DType::kF32;
  uint64_t bytes = 0;
  Residence residence = Residence::kHost;
};

// A change of settings that makes the plan fit, as an option a user can pass.
struct Suggestion {
  std::string change;  // "ctx", "kv_type", "file_type", "parallel", "ram"
  std::string value;   // "8192", "q8_0", "Q3_K_M", "1", "21.5G"
  std::string text;    // one sentence
};

// A device whose cap is below what the requested settings need.
struct Shortfall {
  std::string device;
  uint64_t cap_bytes = 0;
  uint64_t needed_bytes = 0;
  std::string reason;
};

struct Plan {
  bool fits = false;
  std::string verdict;
  std::vector<Suggestion> suggestions;   // when it does not fit: settings that would
  std::vector<std::string> notes;        // caveats worth reading even when it fits

  int64_t ctx = 0, parallel = 0, ubatch = 0;
  DType kv_type = DType::kF16;
  uint64_t kv_bytes_per_token = 0;  // one token of one sequence, all full-attention layers
  int64_t max_ctx = 0;              // largest context per sequence that fits; ctx + 1 would not
  bool max_ctx_is_model_limit = false;  // max_ctx is the model's trained context, not memory
  int64_t max_ctx_resident = 0;     // the same without streaming experts from disk (<= max_ctx)

  std::vector<DeviceUsage> devices;  // gpu0, gpu1..., host, disk; every total <= cap
  std::vector<Shortfall> shortfalls;  // empty when it fits
  int n_gpu_layers = 0;               // blocks with attention, always-active weights and KV on gpu0
  bool output_on_gpu = false;
  std::vector<ExpertLayerPlan> expert_layers;  // MoE layers, in order
  std::vector<TensorPlacement> tensors;        // every tensor of the model (empty when it does not fit)

  const DeviceUsage* Device(std::string_view name) const;
  uint64_t streamed_expert_bytes() const;  // experts read from disk on demand
};

Plan MakePlan(const PlanInput& input);

// Just the verdict for other settings: used for max_ctx and suggestions, and by tests.
bool PlanFits(const PlanInput& input);

}  // namespace moefit
