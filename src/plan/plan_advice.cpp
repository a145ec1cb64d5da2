// SPDX-License-Identifier: MIT
// What would make a plan fit (smaller context, smaller KV type, a lower-bit file, fewer
// sequences, more RAM), each checked by planning again, and the caveats worth printing.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/file_type.h"
#include "plan/memory_model.h"
#include "plan/planner_internal.h"

namespace moefit::plan_detail {
namespace {

// Plans `changed` at its own ctx; nullopt when the settings are invalid for this model.
std::optional<Arrangement> TryArrange(const PlanInput& changed, int64_t* max_ctx = nullptr) {
  try {
    const Prepared prepared = Prepare(changed);
    if (max_ctx != nullptr) *max_ctx = MaxContext(prepared, ContextLimit(changed.model.shape));
    return Arrange(prepared, changed.ctx);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<Suggestion> SmallerKvType(const PlanInput& input, const Prepared& prepared) {
  for (const DType kv_type : {DType::kQ8_0, DType::kQ4_0}) {
    uint64_t per_cell = 0;
    try {
      per_cell = KvBytesPerCell(input.model.shape, kv_type);
    } catch (const Error&) {
      continue;
    }
    if (per_cell >= prepared.kv_bytes_per_cell) continue;
    PlanInput changed = input;
    changed.kv_type = kv_type;
    int64_t max_ctx = 0;
    if (const auto arrangement = TryArrange(changed, &max_ctx); arrangement && arrangement->fits) {
      std::string name(DTypeName(kv_type));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return Suggestion{"kv_type", name,
                        fmt::format("--kv-type {}: a {} KV cache fits {} tokens (up to {})", name, name, input.ctx, max_ctx)};
    }
  }
  return std::nullopt;
}

std::optional<Suggestion> LowerBitFile(const PlanInput& input) {
  const uint64_t current = input.model.tensor_bytes();
  std::vector<std::pair<uint64_t, FileType>> candidates;
  std::vector<std::vector<TensorEntry>> retyped;
  for (const FileTypeInfo& info : FileTypes()) {
    std::vector<TensorEntry> tensors = input.model.tensors;
    ApplyFileType(info.type, input.model.shape, tensors);
    uint64_t bytes = 0;
    for (const TensorEntry& tensor : tensors) bytes += tensor.bytes;
    if (bytes >= current) continue;
    candidates.emplace_back(bytes, info.type);
    retyped.push_back(std::move(tensors));
  }
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return candidates[a].first > candidates[b].first; });
  for (const size_t i : order) {
    PlanInput changed = input;
    changed.model.tensors = std::move(retyped[i]);
    changed.model.file_bytes = input.model.file_bytes - current + candidates[i].first;
    const auto arrangement = TryArrange(changed);
    if (!arrangement || !arrangement->fits) continue;
    const FileTypeInfo& info = Info(candidates[i].second);
    return Suggestion{"file_type", std::string(info.display),
                      fmt::format("a {} file of this model ({} of weights) fits{}", info.display,
                                  FormatByteSize(candidates[i].first),
                                  input.model.source == "catalog" ? fmt::format(" (--type {})", info.name) : "")};
  }
  return std::nullopt;
}

// The smallest RAM cap that fits, rounded up to a tenth of a GiB.
std::optional<Suggestion> MoreRam(const PlanInput& input, const Prepared& prepared) {
  Prepared changed = prepared;
  changed.caps.host = uint64_t{1} << 60;
  const Arrangement unlimited = Arrange(changed, input.ctx);
  if (!unlimited.fits) return std::nullopt;
  uint64_t fails = prepared.caps.host, fits = unlimited.host.total();
  while (fits - fails > 1) {
    const uint64_t middle = fails + (fits - fails) / 2;
    changed.caps.host = middle;
    (Arrange(changed, input.ctx).fits ? fits : fails) = middle;
  }
  const double tenths = std::ceil(static_cast<double>(fits) / static_cast<double>(kGiB) * 10.0);
  const std::string value = fmt::format("{:.1f}G", tenths / 10.0);
  const uint64_t machine = input.machine.ram_total_bytes;
  if (fits <= machine)
    return Suggestion{"ram", value, fmt::format("--ram {}: the smallest RAM cap that fits these settings", value)};
  return Suggestion{"ram", value,
                    fmt::format("more RAM: these settings need a {} cap; this machine has {}", value, FormatByteSize(machine))};
}

}  // namespace

std::vector<Suggestion> Suggest(const PlanInput& input, const Prepared& prepared, const Plan& plan) {
  std::vector<Suggestion> suggestions;
  if (plan.max_ctx > 0)
    suggestions.push_back({"ctx", fmt::format("{}", plan.max_ctx),
                           fmt::format("--ctx {}: the largest context that fits with these settings", plan.max_ctx)});
  if (std::optional<Suggestion> kv = SmallerKvType(input, prepared)) suggestions.push_back(*kv);
  if (input.parallel > 1) {
    PlanInput changed = input;
    changed.parallel = 1;
    if (const auto arrangement = TryArrange(changed); arrangement && arrangement->fits)
      suggestions.push_back({"parallel", "1", fmt::format("--parallel 1: one sequence of {} tokens fits", input.ctx)});
  }
  if (std::optional<Suggestion> file = LowerBitFile(input)) suggestions.push_back(*file);
  if (std::optional<Suggestion> ram = MoreRam(input, prepared)) suggestions.push_back(*ram);
  return suggestions;
}

std::vector<std::string> Notes(const PlanInput& input, const Prepared& prepared, const Plan& plan) {
  std::vector<std::string> notes;
  const ModelShape& shape = input.model.shape;
  const MachineSpec& machine = input.machine;
  if (shape.context_length > 0 && input.ctx > shape.context_length)
    notes.push_back(fmt::format("--ctx {} is beyond the {} tokens the model was trained for", input.ctx, shape.context_length));
  if (input.ram.given() && input.ram.Resolve(machine.ram_total_bytes) > machine.ram_total_bytes)
    notes.push_back(fmt::format("the RAM cap is more than the machine's {}: planned with {}",
                                FormatByteSize(machine.ram_total_bytes), FormatByteSize(prepared.caps.host)));
  else if (prepared.caps.host > machine.ram_available_bytes)
    notes.push_back(fmt::format("the RAM cap ({}) is above the memory free now ({})", FormatByteSize(prepared.caps.host),
                                FormatByteSize(machine.ram_available_bytes)));
  if (machine.gpus.empty() && (input.gpu_mem.bytes.value_or(0) > 0 || input.gpu_mem.fraction.value_or(0) > 0))
    notes.push_back("--gpu-mem is ignored: this machine has no GPU (describe one with --machine-gpu)");
  if (machine.gpus.size() > 1) notes.push_back("only gpu0 is used for now; the other GPUs stay free");
  if (prepared.unused_bytes > 0)
    notes.push_back(fmt::format("{} multi-token-prediction layer(s) ({}) stay on disk: inference does not run them",
                                shape.n_unused_layers, FormatByteSize(prepared.unused_bytes)));
  if (shape.sliding_window > 0) {
    int64_t sliding = 0;
    for (int64_t layer = 0; layer < shape.n_layers; ++layer) sliding += shape.LayerSlides(layer) ? 1 : 0;
    notes.push_back(fmt::format("{} of {} layers attend to a {}-token window: their KV holds at most window + ubatch tokens",
                                sliding, shape.n_layers, shape.sliding_window));
  }
  if (plan.fits && shape.tied_embeddings && plan.output_on_gpu)
    notes.push_back("the LM head shares token_embd: gpu0 holds its own copy");
  if (plan.fits && plan.streamed_expert_bytes() > 0) {
    uint64_t worst = 0;
    for (const ExpertLayerPlan& layer : plan.expert_layers)
      if (layer.streamed) worst += static_cast<uint64_t>(std::min(shape.n_active_experts, layer.n_experts - layer.gpu_slots)) * layer.expert_bytes;
    notes.push_back(fmt::format("a token whose experts all miss the cache reads {} from disk", FormatByteSize(worst)));
  }
  return notes;
}

}  // namespace moefit::plan_detail
