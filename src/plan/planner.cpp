// SPDX-License-Identifier: MIT
// Placement. gpu0 takes fixed costs, the LM head, then whole layers (always-active weights and
// their KV) in order while they fit, then spare bytes as expert slots. The host takes the rest:
// token embeddings, layers not on gpu0, and every routed expert gpu0 does not hold; when those do
// not fit under the RAM cap, experts stream from disk through a RAM cache of what is left.
#include "plan/planner.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/memory_model.h"
#include "plan/planner_internal.h"

namespace moefit {
namespace plan_detail {
namespace {

constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxParallel = 1024;
constexpr int64_t kMaxUbatch = 65536;

uint64_t Sum(const RoleBytes& bytes) { return std::accumulate(bytes.begin(), bytes.end(), uint64_t{0}); }

void Add(RoleBytes& to, const RoleBytes& from) {
  for (size_t i = 0; i < to.size(); ++i) to[i] += from[i];
}

uint64_t& Role(RoleBytes& bytes, TensorRole role) { return bytes[static_cast<size_t>(role)]; }

uint64_t LayerKv(const Prepared& prepared, int64_t layer, int64_t ctx) {
  const PlanInput& input = *prepared.input;
  const int64_t cells = KvCells(input.model.shape, layer, ctx, input.parallel, input.ubatch);
  return static_cast<uint64_t>(cells) * prepared.kv_bytes_per_cell;
}

// Gives each layer up to `wanted[l]` expert slots from `budget`: whole rounds of one more expert
// in every layer that wants one, then single experts layer by layer while they fit.
std::vector<int64_t> FillSlots(uint64_t& budget, const std::vector<int64_t>& wanted, const std::vector<LayerFigures>& layers) {
  std::vector<int64_t> slots(wanted.size(), 0);
  while (true) {
    uint64_t round = 0;
    for (size_t l = 0; l < wanted.size(); ++l)
      if (slots[l] < wanted[l]) round += layers[l].expert_bytes;
    if (round == 0 || round > budget) break;
    budget -= round;
    for (size_t l = 0; l < wanted.size(); ++l)
      if (slots[l] < wanted[l]) ++slots[l];
  }
  for (size_t l = 0; l < wanted.size(); ++l) {
    if (slots[l] < wanted[l] && layers[l].expert_bytes <= budget) {
      ++slots[l];
      budget -= layers[l].expert_bytes;
    }
  }
  return slots;
}

uint64_t SlotBytes(const std::vector<int64_t>& slots, const std::vector<LayerFigures>& layers) {
  uint64_t total = 0;
  for (size_t l = 0; l < slots.size(); ++l) total += static_cast<uint64_t>(slots[l]) * layers[l].expert_bytes;
  return total;
}

void Validate(const PlanInput& input) {
  const ModelShape& shape = input.model.shape;
  if (input.ctx < 1 || input.ctx > kMaxContext) Fail("--ctx {} is out of range: give 1 to {} tokens", input.ctx, kMaxContext);
  if (input.parallel < 1 || input.parallel > kMaxParallel)
    Fail("--parallel {} is out of range: give 1 to {} sequences", input.parallel, kMaxParallel);
  if (input.ubatch < 1 || input.ubatch > kMaxUbatch) Fail("--ubatch {} is out of range: give 1 to {}", input.ubatch, kMaxUbatch);
  if (input.model.tensors.empty()) Fail("the model has no tensors");
  if (shape.n_layers < 1 || shape.model_dim < 1 || shape.n_heads < 1 || shape.n_kv_heads < 1 || shape.vocab_size < 1)
    Fail("the model's shape is incomplete ({} layers, model_dim {}, {} heads, {} KV heads, vocabulary {})", shape.n_layers,
         shape.model_dim, shape.n_heads, shape.n_kv_heads, shape.vocab_size);
  if (shape.is_moe() && (shape.n_active_experts < 1 || shape.n_active_experts > shape.n_experts))
    Fail("the model routes to {} of {} experts", shape.n_active_experts, shape.n_experts);
  if (input.policy.min_cached_experts < 0) Fail("the minimum expert cache cannot be negative");
}

Caps ResolveCaps(const PlanInput& input, const PlanPolicy& policy) {
  const MachineSpec& machine = input.machine;
  Caps caps;
  // Not given: what is free now (a described machine is all free).
  caps.host = std::min(input.ram.given() ? input.ram.Resolve(machine.ram_total_bytes) : machine.ram_available_bytes,
                       machine.ram_total_bytes);
  for (const GpuSpec& gpu : machine.gpus) {
    const uint64_t cap = input.gpu_mem.given() ? input.gpu_mem.Resolve(gpu.total_bytes) : gpu.free_bytes;
    caps.gpus.push_back(policy.use_gpu ? std::min(cap, gpu.total_bytes) : 0);
  }
  caps.disk = input.model.file_bytes;
  return caps;
}

}  // namespace

int64_t ContextLimit(const ModelShape& shape) {
  return shape.context_length > 0 ? std::min(shape.context_length, kMaxContext) : kMaxContext;
}

Prepared Prepare(const PlanInput& input) {
  Validate(input);
  const ModelShape& shape = input.model.shape;
  Prepared prepared;
  prepared.input = &input;
  prepared.kv_bytes_per_cell = KvBytesPerCell(shape, input.kv_type);
  prepared.min_cached_experts =
      std::min(input.policy.min_cached_experts > 0 ? input.policy.min_cached_experts : shape.n_active_experts, shape.n_experts);
  prepared.stream_experts = input.policy.stream_experts;
  prepared.caps = ResolveCaps(input, input.policy);
  prepared.layers.resize(static_cast<size_t>(shape.n_layers));
  for (const TensorEntry& tensor : input.model.tensors) {
    if (tensor.layer >= shape.n_layers) {
      prepared.unused_bytes += tensor.bytes;
      continue;
    }
    if (tensor.layer < 0) {
      if (tensor.role == TensorRole::kEmbedding) {
        Role(prepared.host_only, tensor.role) += tensor.bytes;
        if (shape.tied_embeddings) prepared.tied_head_copy += tensor.bytes;
      } else {
        Role(prepared.head, tensor.role) += tensor.bytes;
      }
      continue;
    }
    LayerFigures& layer = prepared.layers[static_cast<size_t>(tensor.layer)];
    if (tensor.role != TensorRole::kRoutedExperts || !shape.is_moe()) {
      Role(layer.fixed, tensor.role) += tensor.bytes;
      layer.fixed_total += tensor.bytes;
      continue;
    }
    const int64_t experts = tensor.dims.empty() ? 0 : tensor.dims.back();
    if (experts != shape.n_experts || tensor.bytes % static_cast<uint64_t>(experts) != 0)
      Fail("tensor {} does not split into {} experts (dims end in {}, {} bytes)", tensor.name, shape.n_experts, experts,
           tensor.bytes);
    layer.n_experts = experts;
    layer.expert_bytes += tensor.bytes / static_cast<uint64_t>(experts);
  }
  return prepared;
}

Arrangement Arrange(const Prepared& prepared, int64_t ctx) {
  const PlanInput& input = *prepared.input;
  const ModelShape& shape = input.model.shape;
  const std::vector<LayerFigures>& layers = prepared.layers;
  const int n_layers = static_cast<int>(layers.size());
  const ComputeFigures compute = ComputeSizes(shape, std::min(input.ubatch, ctx * input.parallel), input.parallel,
                                              std::max(1, input.machine.cores));

  Arrangement arrangement;
  arrangement.gpu.name = "gpu0";
  arrangement.gpu.cap_bytes = prepared.caps.gpus.empty() ? 0 : prepared.caps.gpus[0];
  arrangement.host.name = "host";
  arrangement.host.cap_bytes = prepared.caps.host;
  arrangement.disk.name = "disk";
  arrangement.disk.cap_bytes = prepared.caps.disk;
  arrangement.gpu_slots.assign(layers.size(), 0);
  arrangement.host_slots.assign(layers.size(), 0);

  // gpu0.
  if (const uint64_t cap = arrangement.gpu.cap_bytes; cap > 0) {
    uint64_t used = kGpuContextOverhead + compute.Layers();
    bool output = false;
    int gpu_layers = 0;
    if (used <= cap) {
      const uint64_t head = Sum(prepared.head) + prepared.tied_head_copy + compute.logits;
      if (head <= cap - used) {
        output = true;
        used += head;
      }
      for (; gpu_layers < n_layers; ++gpu_layers) {
        const uint64_t need = layers[gpu_layers].fixed_total + LayerKv(prepared, gpu_layers, ctx);
        if (need > cap - used) break;
        used += need;
      }
    }
    if (output || gpu_layers > 0) {
      DeviceUsage& gpu = arrangement.gpu;
      arrangement.output_on_gpu = output;
      arrangement.n_gpu_layers = gpu_layers;
      gpu.overhead = kGpuContextOverhead;
      gpu.compute = compute.Layers() + (output ? compute.logits : 0);
      if (output) {
        Add(gpu.weights, prepared.head);
        Role(gpu.weights, TensorRole::kOutput) += prepared.tied_head_copy;
      }
      std::vector<int64_t> wanted(layers.size(), 0);
      for (int l = 0; l < gpu_layers; ++l) {
        Add(gpu.weights, layers[l].fixed);
        gpu.kv_cache += LayerKv(prepared, l, ctx);
        wanted[l] = layers[l].n_experts;
      }
      uint64_t spare = cap - gpu.total();
      arrangement.gpu_slots = FillSlots(spare, wanted, layers);
      Role(gpu.weights, TensorRole::kRoutedExperts) += SlotBytes(arrangement.gpu_slots, layers);
    }
  }
  const bool gpu_used = arrangement.n_gpu_layers > 0 || arrangement.output_on_gpu;

  // Host.
  DeviceUsage& host = arrangement.host;
  host.overhead = HostOverhead(shape) + (gpu_used ? kHostGpuRuntimeOverhead : 0);
  host.staging = gpu_used ? kGpuUploadStaging : 0;
  host.compute = compute.logits + (arrangement.n_gpu_layers < n_layers ? compute.Layers()
                                   : shape.is_moe()                    ? compute.ExpertsOnly()
                                                                       : compute.hidden);
  Add(host.weights, prepared.host_only);
  if (!arrangement.output_on_gpu) Add(host.weights, prepared.head);
  std::vector<int64_t> remaining(layers.size(), 0), minimum(layers.size(), 0);
  for (int l = 0; l < n_layers; ++l) {
    if (l >= arrangement.n_gpu_layers) {
      Add(host.weights, layers[l].fixed);
      host.kv_cache += LayerKv(prepared, l, ctx);
    }
    remaining[l] = layers[l].n_experts - arrangement.gpu_slots[l];
    minimum[l] = std::min(prepared.min_cached_experts, remaining[l]);
  }
  // Which cells belong to which sequence is kept on the host, wherever the cells live.
  host.kv_cache += static_cast<uint64_t>(ctx * input.parallel) * kKvBookkeepingPerCell;
  const uint64_t cap = host.cap_bytes, fixed = host.total();
  const uint64_t all_experts = SlotBytes(remaining, layers), fewest_experts = SlotBytes(minimum, layers);
  const bool may_stream = shape.is_moe() && prepared.stream_experts;
  if (fixed <= cap && all_experts <= cap - fixed) {
    arrangement.host_slots = remaining;
    Role(host.weights, TensorRole::kRoutedExperts) += all_experts;
    arrangement.fits = true;
  } else if (may_stream && fixed <= cap && fewest_experts <= cap - fixed) {
    uint64_t budget = cap - fixed;
    arrangement.host_slots = FillSlots(budget, remaining, layers);
    arrangement.streaming = true;
    host.expert_cache = SlotBytes(arrangement.host_slots, layers);
    Role(arrangement.disk.weights, TensorRole::kRoutedExperts) = all_experts - host.expert_cache;
    arrangement.fits = true;
  } else {
    arrangement.shortfall.device = "host";
    arrangement.shortfall.cap_bytes = cap;
    arrangement.shortfall.needed_bytes = fixed + (may_stream ? fewest_experts : all_experts);
    arrangement.shortfall.reason =
        may_stream ? fmt::format("with a RAM cache of {} experts per layer, the rest streamed from disk", prepared.min_cached_experts)
        : shape.is_moe() ? "with every routed expert resident"
                         : "with every layer not on a GPU resident in RAM";
  }
  if (arrangement.fits) {
    MOEFIT_CHECK(arrangement.gpu.total() <= arrangement.gpu.cap_bytes);
    MOEFIT_CHECK(arrangement.host.total() <= arrangement.host.cap_bytes);
  }
  return arrangement;
}

int64_t MaxContext(const Prepared& prepared, int64_t limit) {
  if (limit < 1 || !Arrange(prepared, 1).fits) return 0;
  if (Arrange(prepared, limit).fits) return limit;
  int64_t fits = 1, fails = limit;  // invariant: Arrange(fits) fits, Arrange(fails) does not
  while (fails - fits > 1) {
    const int64_t middle = fits + (fails - fits) / 2;
    (Arrange(prepared, middle).fits ? fits : fails) = middle;
  }
  return fits;
}

}  // namespace plan_detail

namespace {

using namespace plan_detail;

std::string ExpertSpan(const std::vector<ExpertLayerPlan>& layers, int64_t ExpertLayerPlan::*slots) {
  int64_t low = INT64_MAX, high = 0;
  for (const ExpertLayerPlan& layer : layers) {
    low = std::min(low, layer.*slots);
    high = std::max(high, layer.*slots);
  }
  if (layers.empty()) return "0";
  return low == high ? fmt::format("{}", low) : fmt::format("{}-{}", low, high);
}

std::string FitVerdict(const Plan& plan, int64_t n_layers, int64_t n_experts) {
  std::string verdict = "fits";
  if (plan.n_gpu_layers > 0 || plan.output_on_gpu) {
    verdict += plan.n_gpu_layers == n_layers ? fmt::format(": gpu0 runs all {} layers", n_layers)
                                              : fmt::format(": gpu0 runs {} of {} layers", plan.n_gpu_layers, n_layers);
    verdict += plan.output_on_gpu ? " and the LM head" : ", the CPU the LM head";
  } else {
    verdict += ": the CPU runs every layer";
  }
  if (plan.expert_layers.empty()) return verdict;
  const bool streamed = plan.streamed_expert_bytes() > 0;
  if (plan.n_gpu_layers > 0)
    verdict += fmt::format("; gpu0 holds {} of {} experts per layer", ExpertSpan(plan.expert_layers, &ExpertLayerPlan::gpu_slots), n_experts);
  if (streamed) {
    verdict += fmt::format("; routed experts stream from disk ({}) through a RAM cache of {} per layer: expect disk-bound decoding",
                           FormatByteSize(plan.streamed_expert_bytes()), ExpertSpan(plan.expert_layers, &ExpertLayerPlan::host_slots));
  } else if (plan.n_gpu_layers > 0) {
    verdict += ", RAM the rest";
  }
  return verdict;
}

std::vector<TensorPlacement> PlaceTensors(const PlanInput& input, const Plan& plan) {
  std::vector<TensorPlacement> placements;
  const ModelShape& shape = input.model.shape;
  for (const TensorEntry& tensor : input.model.tensors) {
    TensorPlacement placement{tensor.name, tensor.role, tensor.layer, tensor.type, tensor.bytes, Residence::kHost};
    if (tensor.layer >= shape.n_layers) {
      placement.residence = Residence::kUnused;
    } else if (tensor.layer < 0) {
      placement.residence = tensor.role != TensorRole::kEmbedding && plan.output_on_gpu ? Residence::kGpu : Residence::kHost;
    } else if (tensor.role == TensorRole::kRoutedExperts && shape.is_moe()) {
      const ExpertLayerPlan* experts = nullptr;
      for (const ExpertLayerPlan& layer : plan.expert_layers)
        if (layer.layer == tensor.layer) experts = &layer;
      MOEFIT_CHECK(experts != nullptr);
      placement.residence = experts->gpu_slots == experts->n_experts                             ? Residence::kGpu
                            : experts->host_slots == experts->n_experts && !experts->streamed ? Residence::kHost
                                                                                                : Residence::kExperts;
    } else {
      placement.residence = tensor.layer < plan.n_gpu_layers ? Residence::kGpu : Residence::kHost;
    }
    placements.push_back(std::move(placement));
  }
  return placements;
}

}  // namespace

std::string_view ResidenceName(Residence residence) {
  switch (residence) {
    case Residence::kGpu: return "gpu0";
    case Residence::kHost: return "host";
    case Residence::kExperts: return "experts";
    case Residence::kUnused: return "unused";
  }
  return "host";
}

uint64_t DeviceUsage::weight_bytes() const { return std::accumulate(weights.begin(), weights.end(), uint64_t{0}); }

uint64_t DeviceUsage::total() const { return weight_bytes() + expert_cache + kv_cache + compute + staging + overhead; }

const DeviceUsage* Plan::Device(std::string_view name) const {
  for (const DeviceUsage& device : devices)
    if (device.name == name) return &device;
  return nullptr;
}

uint64_t Plan::streamed_expert_bytes() const {
  const DeviceUsage* disk = Device("disk");
  return disk == nullptr ? 0 : disk->total();
}

bool PlanFits(const PlanInput& input) {
  const Prepared prepared = Prepare(input);
  return Arrange(prepared, input.ctx).fits;
}

Plan MakePlan(const PlanInput& input) {
  const Prepared prepared = Prepare(input);
  const ModelShape& shape = input.model.shape;
  Plan plan;
  plan.ctx = input.ctx;
  plan.parallel = input.parallel;
  plan.ubatch = input.ubatch;
  plan.kv_type = input.kv_type;
  for (int64_t layer = 0; layer < shape.n_layers; ++layer)
    if (!shape.LayerSlides(layer)) plan.kv_bytes_per_token += prepared.kv_bytes_per_cell;
  const int64_t limit = ContextLimit(shape);
  plan.max_ctx = MaxContext(prepared, limit);
  plan.max_ctx_is_model_limit = plan.max_ctx == limit && shape.context_length > 0;
  plan.max_ctx_resident = plan.max_ctx;
  if (prepared.stream_experts && shape.is_moe()) {
    Prepared resident = prepared;
    resident.stream_experts = false;
    plan.max_ctx_resident = MaxContext(resident, plan.max_ctx);
  }

  Arrangement arrangement = Arrange(prepared, input.ctx);
  plan.fits = arrangement.fits;
  for (size_t i = 0; i < prepared.caps.gpus.size(); ++i) {
    DeviceUsage gpu;
    if (i == 0 && plan.fits) gpu = arrangement.gpu;
    gpu.name = fmt::format("gpu{}", i);
    gpu.cap_bytes = prepared.caps.gpus[i];
    plan.devices.push_back(gpu);
  }
  if (plan.fits) {
    plan.devices.push_back(arrangement.host);
    plan.devices.push_back(arrangement.disk);
    plan.n_gpu_layers = arrangement.n_gpu_layers;
    plan.output_on_gpu = arrangement.output_on_gpu;
    for (size_t l = 0; l < prepared.layers.size(); ++l) {
      const LayerFigures& layer = prepared.layers[l];
      if (layer.n_experts == 0) continue;
      const int64_t gpu = arrangement.gpu_slots[l], host = arrangement.host_slots[l];
      plan.expert_layers.push_back({static_cast<int>(l), layer.n_experts, layer.expert_bytes, gpu, host, gpu + host < layer.n_experts});
    }
    plan.tensors = PlaceTensors(input, plan);
    plan.verdict = FitVerdict(plan, shape.n_layers, shape.n_experts);
  } else {
    // Nothing is placed: the devices show their caps, the shortfall what the settings need.
    plan.devices.push_back({.name = "host", .cap_bytes = prepared.caps.host});
    plan.devices.push_back({.name = "disk", .cap_bytes = prepared.caps.disk});
    plan.shortfalls.push_back(arrangement.shortfall);
    const Shortfall& shortfall = arrangement.shortfall;
    plan.verdict = fmt::format("does not fit: {} needs {} but its cap is {} ({})", shortfall.device,
                               FormatByteSize(shortfall.needed_bytes), FormatByteSize(shortfall.cap_bytes), shortfall.reason);
    plan.suggestions = Suggest(input, prepared, plan);
  }
  plan.notes = Notes(input, prepared, plan);
  for (const DeviceUsage& device : plan.devices) MOEFIT_CHECK(device.total() <= device.cap_bytes);
  return plan;
}

}  // namespace moefit
