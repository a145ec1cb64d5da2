// SPDX-License-Identifier: MIT
// --ram for run/logits: plan on the probed machine, refuse clearly, configure the engine.
#include "cli/run_memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/byte_size.h"
#include "plan/hardware.h"
#include "plan/model_inventory.h"
#include "runtime/kv_cache.h"

namespace moefit {
namespace {

std::string Exact(uint64_t bytes) { return fmt::format("{} ({} bytes)", FormatByteSize(bytes), bytes); }

}  // namespace

void AddMemoryFlags(CLI::App& command, MemoryFlags& flags) {
  command.add_option("--ram", flags.ram, "Host RAM cap: 18G, 512M, or a fraction of the RAM (0.5); default: free RAM");
  command.add_flag("--mmap", flags.mmap, "Compute from the file mapping: no plan, no RAM cap (the page cache holds the weights)");
  command.add_flag("--no-streaming", flags.no_streaming, "Never stream experts from disk (refuse instead when RAM is short)");
  command.add_option("--expert-cache-min", flags.min_cached_experts,
                     "When experts stream: fewest RAM cache slots per layer (default: the experts one token uses)");
  AddKvTypeFlag(command, flags.kv_type);
}

void AddKvTypeFlag(CLI::App& command, std::string& kv_type) {
  command.add_option("--kv-type", kv_type, "KV cache type: f16, bf16, q8_0, q4_0")->capture_default_str();
}

PlanInput RunPlanInput(ModelInventory model, const MemoryFlags& flags, int64_t ctx, int64_t ubatch, int64_t parallel) {
  if (flags.mmap && !flags.ram.empty()) Fail("--mmap and --ram do not go together: a RAM cap needs the weights loaded");
  PlanInput input;
  input.model = std::move(model);
  const DType kv_type = ParseKvType(flags.kv_type);
  input.machine = ProbeMachine();
  if (!flags.ram.empty()) input.ram = ParseBudgetSpec(flags.ram);
  input.ctx = ctx;
  input.parallel = parallel;
  input.ubatch = std::min(ubatch, ctx);
  input.kv_type = kv_type;
  input.policy.use_gpu = false;  // no GPU runtime in this build
  input.policy.stream_experts = !flags.no_streaming;
  input.policy.min_cached_experts = flags.min_cached_experts;
  return input;
}

RunMemory PlanRun(const GgufFile& file, const MemoryFlags& flags, int64_t ctx, int64_t ubatch, int64_t parallel) {
  RunMemory memory;
  if (flags.mmap) {
    if (!flags.ram.empty()) Fail("--mmap and --ram do not go together: a RAM cap needs the weights loaded");
    memory.options.kv_type = ParseKvType(flags.kv_type);
    return memory;
  }
  memory.input = RunPlanInput(InventoryFromGguf(file), flags, ctx, ubatch, parallel);
  const PlanInput& input = memory.input;
  memory.plan = MakePlan(input);
  const Plan& plan = memory.plan;
  if (!plan.fits) {
    std::string message = fmt::format("{}: the model does not fit: {}", file.path(), plan.verdict);
    for (const Suggestion& suggestion : plan.suggestions) message += "\n  - " + suggestion.text;
    throw Error(message);
  }
  if (!flags.quiet) std::fprintf(stderr, "plan: %s\n", PlanSummaryLine(plan).c_str());
  memory.host = std::make_unique<HostMemory>(plan);
  memory.options = EngineOptionsFromPlan(plan, file, memory.host->budget());
  if (!flags.quiet && ::isatty(STDERR_FILENO)) {
    memory.options.progress = [last = -1](const LoadProgress& progress) mutable {
      const int percent = progress.bytes_total == 0 ? 100 : static_cast<int>(100 * progress.bytes_done / progress.bytes_total);
      if (percent == last) return;
      last = percent;
      std::fprintf(stderr, "\rloading %s: %d%%%s", FormatByteSize(progress.bytes_total).c_str(), percent,
                   progress.bytes_done == progress.bytes_total ? "\n" : "");
    };
  }
  return memory;
}

void PrintMemoryReport(const RunMemory& memory, const Engine& engine) {
  std::string line = fmt::format("memory: peak RSS {}", Exact(PeakResidentBytes()));
  if (memory.host) {
    const Budget& budget = memory.host->budget();
    const DeviceUsage* host = memory.plan.Device("host");
    line += fmt::format(" · budget peak {} of cap {} · plan host total {}", Exact(budget.peak()), Exact(budget.cap()),
                        Exact(host->total()));
  }
  const ExpertStoreStats stats = engine.expert_stats();
  if (engine.expert_store().streams()) {
    line += fmt::format("\nexperts: cache hit rate {:.1f}% ({} hits, {} misses) · {} read in {:.2f} s", 100.0 * stats.hit_rate(),
                        stats.hits, stats.misses, FormatByteSize(stats.bytes_read), stats.read_seconds);
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace moefit
