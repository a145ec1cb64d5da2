// SPDX-License-Identifier: MIT
// Metrics: counters behind a mutex, rendered on demand.
#include "server/metrics.h"

#include <fmt/format.h>

namespace moefit {
namespace {

constexpr const char* kRoutes[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"};

void Family(std::string& out, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Metrics::CountRequest(const std::string& route, int status) {
  std::string known = "other";
  for (const char* candidate : kRoutes)
    if (route == candidate || "/v1" + route == candidate) known = candidate;
  std::lock_guard lock(mutex_);
  ++requests_[{known, status}];
}

std::string Metrics::Render(const SchedulerStats& stats, uint64_t model_bytes) const {
  std::string out;
  auto line = [&](const char* name, auto value) { fmt::format_to(std::back_inserter(out), "{} {}\n", name, value); };
  Family(out, "moefit_requests_total", "counter", "HTTP requests answered, by route and status.");
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, count] : requests_)
      fmt::format_to(std::back_inserter(out), "moefit_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, count);
  }
  Family(out, "moefit_prompt_tokens_total", "counter", "Prompt tokens evaluated.");
  line("moefit_prompt_tokens_total", stats.prompt_tokens_total);
  Family(out, "moefit_prompt_tokens_cached_total", "counter",
         "Prompt tokens not evaluated: an earlier request with the same beginning left their KV cells.");
  line("moefit_prompt_tokens_cached_total", stats.prompt_tokens_cached_total);
  Family(out, "moefit_generated_tokens_total", "counter", "Tokens generated.");
  line("moefit_generated_tokens_total", stats.generated_tokens_total);
  Family(out, "moefit_forward_passes_total", "counter", "Batches evaluated by the engine.");
  line("moefit_forward_passes_total", stats.steps_total);
  Family(out, "moefit_busy_seconds_total", "counter", "Seconds the scheduler spent evaluating batches.");
  line("moefit_busy_seconds_total", stats.busy_seconds_total);
  Family(out, "moefit_generation_tokens_per_second", "gauge", "Generated tokens per second over the last few dozen batches.");
  line("moefit_generation_tokens_per_second", stats.recent_tokens_per_second);
  Family(out, "moefit_queue_depth", "gauge", "Requests waiting for a sequence.");
  line("moefit_queue_depth", stats.queued);
  Family(out, "moefit_active_sequences", "gauge", "Sequences being evaluated.");
  line("moefit_active_sequences", stats.active);
  Family(out, "moefit_kv_cells_used", "gauge", "KV cache cells held by active sequences.");
  line("moefit_kv_cells_used", stats.kv_cells_used);
  Family(out, "moefit_kv_cells_cached", "gauge",
         "KV cache cells kept from finished requests for prompts that start the same way (given back when needed).");
  line("moefit_kv_cells_cached", stats.kv_cells_cached);
  Family(out, "moefit_kv_cells_capacity", "gauge", "KV cache cells in all.");
  line("moefit_kv_cells_capacity", stats.kv_capacity);
  Family(out, "moefit_memory_used_bytes", "gauge",
         "Memory per device: the mapped model file, and what the engine holds (KV cache included).");
  fmt::format_to(std::back_inserter(out), "moefit_memory_used_bytes{{device=\"cpu\",kind=\"model\"}} {}\n", model_bytes);
  fmt::format_to(std::back_inserter(out), "moefit_memory_used_bytes{{device=\"cpu\",kind=\"engine\"}} {}\n", stats.engine_bytes);
  Family(out, "moefit_kv_cache_bytes", "gauge", "Bytes of the KV cache (part of the engine's memory).");
  line("moefit_kv_cache_bytes", stats.kv_bytes);
  return out;
}

}  // namespace moefit
