// SPDX-License-Identifier: MIT
// From a Plan to a running engine's settings.
#include "runtime/planned_engine.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/byte_size.h"

namespace moefit {
namespace {

const DeviceUsage& HostOf(const Plan& plan) {
  const DeviceUsage* host = plan.Device("host");
  MOEFIT_CHECK(host != nullptr);
  return *host;
}

}  // namespace

HostMemory::HostMemory(const Plan& plan)
    : budget_("host RAM", HostOf(plan).cap_bytes),
      overhead_(budget_, HostOf(plan).overhead, "the process itself and its tokenizer (planned overhead)") {}

EngineOptions EngineOptionsFromPlan(const Plan& plan, const GgufFile& file, Budget& host_budget) {
  if (!plan.fits) Fail("the plan does not fit: {}", plan.verdict);
  if (plan.n_gpu_layers > 0 || plan.output_on_gpu)
    Fail("the plan puts work on a GPU, but this build runs on the CPU only: plan with --cpu-only");
  EngineOptions options;
  options.kv_cells = plan.ctx * plan.parallel;
  options.kv_type = plan.kv_type;
  options.max_batch_tokens = plan.ubatch;
  options.logit_rows = plan.parallel;
  options.host_budget = &host_budget;
  options.weights = WeightResidence::kLoaded;
  options.file = &file;
  options.prefill_expert_cache = true;
  int max_layer = -1;
  for (const ExpertLayerPlan& layer : plan.expert_layers) max_layer = std::max(max_layer, layer.layer);
  options.expert_cache_slots.assign(static_cast<size_t>(max_layer + 1), 0);
  for (const ExpertLayerPlan& layer : plan.expert_layers)
    if (layer.streamed) options.expert_cache_slots[static_cast<size_t>(layer.layer)] = layer.host_slots;
  return options;
}

std::string PlanSummaryLine(const Plan& plan) {
  if (!plan.fits) return plan.verdict;
  const DeviceUsage& host = HostOf(plan);
  std::string line = fmt::format("host {} of {}: weights {}, KV {}, compute {}, overhead {}", FormatByteSize(host.total()),
                                 FormatByteSize(host.cap_bytes), FormatByteSize(host.weight_bytes()),
                                 FormatByteSize(host.kv_cache), FormatByteSize(host.compute), FormatByteSize(host.overhead));
  if (plan.expert_layers.empty()) return line;
  int64_t low = INT64_MAX, high = 0, streamed = 0;
  for (const ExpertLayerPlan& layer : plan.expert_layers) {
    if (!layer.streamed) continue;
    ++streamed;
    low = std::min(low, layer.host_slots);
    high = std::max(high, layer.host_slots);
  }
  if (streamed == 0) return line + "; routed experts in RAM";
  const std::string slots = low == high ? fmt::format("{}", low) : fmt::format("{}-{}", low, high);
  return line + fmt::format("; routed experts of {} layers stream from disk ({}) through a cache of {} of {} per layer ({})",
                            streamed, FormatByteSize(plan.streamed_expert_bytes()), slots,
                            plan.expert_layers.front().n_experts, FormatByteSize(host.expert_cache));
}

uint64_t PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    uint64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

}  // namespace moefit
