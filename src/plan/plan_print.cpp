// SPDX-License-Identifier: MIT
// Plan printing: one column per device, one row per kind of bytes; JSON with the same figures.
#include "plan/plan_print.h"

#include <algorithm>

#include <fmt/format.h>

#include "plan/byte_size.h"

namespace moefit {
namespace {

constexpr TensorRole kRoleOrder[] = {TensorRole::kEmbedding, TensorRole::kAttention,    TensorRole::kNorm,
                                     TensorRole::kRouter,    TensorRole::kSharedExperts, TensorRole::kDenseFfn,
                                     TensorRole::kOutput,    TensorRole::kRoutedExperts, TensorRole::kOther};

uint64_t Weight(const DeviceUsage& device, TensorRole role) { return device.weights[static_cast<size_t>(role)]; }

std::string Cell(uint64_t bytes) { return bytes == 0 ? "-" : FormatByteSize(bytes); }

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct Row {
  std::string label;
  std::vector<uint64_t> values;
};

std::string DescribeModel(const PlanInput& input) {
  const ModelInventory& model = input.model;
  const ModelShape& shape = model.shape;
  const int64_t params = model.params();
  const uint64_t bytes = model.tensor_bytes();
  std::string text = fmt::format("{} ({}{}), {} of weights, {:.2f} bits/weight, {} layers", shape.name,
                                 model.source == "catalog" ? "catalog" : model.source,
                                 model.file_type.empty() ? "" : ", " + model.file_type, FormatByteSize(bytes),
                                 params > 0 ? 8.0 * static_cast<double>(bytes) / static_cast<double>(params) : 0.0,
                                 shape.n_layers);
  if (shape.is_moe()) text += fmt::format(", {} experts ({} active)", shape.n_experts, shape.n_active_experts);
  if (shape.attention == AttentionKind::kMla) text += ", MLA";
  return text;
}

std::string SlotSpan(const Plan& plan, bool gpu) {
  int64_t low = INT64_MAX, high = 0;
  for (const ExpertLayerPlan& layer : plan.expert_layers) {
    const int64_t slots = gpu ? layer.gpu_slots : layer.host_slots;
    low = std::min(low, slots);
    high = std::max(high, slots);
  }
  if (plan.expert_layers.empty()) return "0";
  return low == high ? fmt::format("{}", low) : fmt::format("{}-{}", low, high);
}

void AppendTable(std::string& out, const Plan& plan) {
  std::vector<const DeviceUsage*> columns;
  for (const DeviceUsage& device : plan.devices)
    if (device.name == "host" || device.total() > 0) columns.push_back(&device);
  std::vector<Row> rows;
  auto add = [&](std::string label, auto value) {
    Row row{std::move(label), {}};
    bool any = false;
    for (const DeviceUsage* device : columns) {
      row.values.push_back(value(*device));
      any = any || row.values.back() != 0;
    }
    if (any) rows.push_back(std::move(row));
  };
  for (const TensorRole role : kRoleOrder)
    add(std::string(TensorRoleName(role)), [role](const DeviceUsage& device) { return Weight(device, role); });
  add("expert cache", [](const DeviceUsage& device) { return device.expert_cache; });
  add("KV cache", [](const DeviceUsage& device) { return device.kv_cache; });
  add("compute", [](const DeviceUsage& device) { return device.compute; });
  add("staging", [](const DeviceUsage& device) { return device.staging; });
  add("overhead", [](const DeviceUsage& device) { return device.overhead; });

  out += fmt::format("\n{:<16}", "");
  for (const DeviceUsage* device : columns) out += fmt::format("{:>14}", device->name == "disk" ? "disk (read)" : device->name);
  out += fmt::format("\n{:<16}", "cap");
  for (const DeviceUsage* device : columns) out += fmt::format("{:>14}", device->name == "disk" ? "-" : Cell(device->cap_bytes));
  for (const Row& row : rows) {
    out += fmt::format("\n{:<16}", row.label);
    for (const uint64_t value : row.values) out += fmt::format("{:>14}", Cell(value));
  }
  out += fmt::format("\n{:<16}", "total");
  for (const DeviceUsage* device : columns) out += fmt::format("{:>14}", Cell(device->total()));
  out += fmt::format("\n{:<16}", "left under cap");
  for (const DeviceUsage* device : columns)
    out += fmt::format("{:>14}", device->name == "disk" ? "-" : FormatByteSize(device->cap_bytes - device->total()));
  out += "\n";
}

}  // namespace

std::string_view BreakdownKey(TensorRole role) {
  switch (role) {
    case TensorRole::kEmbedding: return "embeddings";
    case TensorRole::kAttention: return "attention";
    case TensorRole::kNorm: return "norms";
    case TensorRole::kRouter: return "router";
    case TensorRole::kSharedExperts: return "shared_experts";
    case TensorRole::kRoutedExperts: return "routed_experts";
    case TensorRole::kDenseFfn: return "dense_ffn";
    case TensorRole::kOutput: return "output";
    case TensorRole::kOther: return "other";
  }
  return "other";
}

std::string FormatPlanText(const PlanInput& input, const Plan& plan, const PlanPrintOptions& options) {
  const ModelShape& shape = input.model.shape;
  std::string out;
  out += fmt::format("model        {}\n", DescribeModel(input));
  out += fmt::format("machine      {}{}\n", input.machine.probed ? "this one: " : "given: ", DescribeMachine(input.machine));
  out += fmt::format("request      ctx {} x {} sequence{}, KV {} ({} per token), ubatch {}\n", FormatThousands(plan.ctx),
                     plan.parallel, plan.parallel == 1 ? "" : "s", Lower(DTypeName(plan.kv_type)),
                     FormatByteSize(plan.kv_bytes_per_token), plan.ubatch);
  if (plan.fits) {
    AppendTable(out, plan);
    out += "\n";
    const bool gpu_used = plan.n_gpu_layers > 0 || plan.output_on_gpu;
    if (gpu_used) {
      out += fmt::format("layers       gpu0 runs {} of {} layers{}\n", plan.n_gpu_layers, shape.n_layers,
                         plan.output_on_gpu ? " and the LM head" : "; the CPU runs the LM head");
    } else {
      out += fmt::format("layers       the CPU runs all {} layers and the LM head\n", shape.n_layers);
    }
    if (!plan.expert_layers.empty()) {
      uint64_t smallest = UINT64_MAX, largest = 0;
      for (const ExpertLayerPlan& layer : plan.expert_layers) {
        smallest = std::min(smallest, layer.expert_bytes);
        largest = std::max(largest, layer.expert_bytes);
      }
      const std::string each = smallest == largest ? FormatByteSize(smallest)
                                                   : FormatByteSize(smallest) + " to " + FormatByteSize(largest);
      const bool streamed = plan.streamed_expert_bytes() > 0;
      out += fmt::format("experts      {}{} of {} per layer {} ({} each){}\n",
                         gpu_used ? fmt::format("{} of {} per layer on gpu0, ", SlotSpan(plan, true), shape.n_experts) : "",
                         SlotSpan(plan, false), shape.n_experts, streamed ? "cached in RAM" : "in RAM",
                         each, streamed ? ", the rest read from disk on demand" : "");
    }
  } else {
    out += "\n";
    for (const Shortfall& shortfall : plan.shortfalls)
      out += fmt::format("{:<12} needs {} {}; cap {}\n", shortfall.device, FormatByteSize(shortfall.needed_bytes),
                         shortfall.reason, FormatByteSize(shortfall.cap_bytes));
  }
  out += fmt::format("max context  {} tokens{}", FormatThousands(plan.max_ctx),
                     plan.max_ctx_is_model_limit ? " (the model's trained context; memory allows more)"
                     : plan.max_ctx == 0         ? " (nothing fits)"
                                                 : " (limited by memory)");
  if (plan.max_ctx_resident != plan.max_ctx)
    out += fmt::format("; {} without streaming experts from disk", FormatThousands(plan.max_ctx_resident));
  out += "\n";
  out += fmt::format("verdict      {}\n", plan.verdict);
  for (size_t i = 0; i < plan.suggestions.size(); ++i)
    out += fmt::format("{:<12} {}\n", i == 0 ? "what fits" : "", plan.suggestions[i].text);
  for (size_t i = 0; i < plan.notes.size(); ++i) out += fmt::format("{:<12} {}\n", i == 0 ? "notes" : "", plan.notes[i]);
  if (options.list_tensors && !plan.tensors.empty()) {
    out += fmt::format("\n{:<40} {:<8} {:<15} {:>12}  {}\n", "tensor", "type", "role", "bytes", "lives");
    for (const TensorPlacement& tensor : plan.tensors)
      out += fmt::format("{:<40} {:<8} {:<15} {:>12}  {}\n", tensor.name, DTypeName(tensor.type), TensorRoleName(tensor.role),
                         FormatByteSize(tensor.bytes), ResidenceName(tensor.residence));
  }
  return out;
}

nlohmann::ordered_json PlanToJson(const PlanInput& input, const Plan& plan) {
  using json = nlohmann::ordered_json;
  const ModelInventory& model = input.model;
  const ModelShape& shape = model.shape;
  json out;
  out["model"] = {{"name", shape.name},
                  {"source", model.source},
                  {"architecture", shape.architecture},
                  {"file_type", model.file_type},
                  {"weights_bytes", model.tensor_bytes()},
                  {"file_bytes", model.file_bytes},
                  {"params", model.params()},
                  {"n_layers", shape.n_layers},
                  {"n_experts", shape.n_experts},
                  {"n_active_experts", shape.n_active_experts},
                  {"context_length", shape.context_length}};
  json gpus = json::array();
  for (const GpuSpec& gpu : input.machine.gpus)
    gpus.push_back({{"name", gpu.name}, {"total_bytes", gpu.total_bytes}, {"free_bytes", gpu.free_bytes}});
  out["machine"] = {{"probed", input.machine.probed},
                    {"ram_total_bytes", input.machine.ram_total_bytes},
                    {"ram_available_bytes", input.machine.ram_available_bytes},
                    {"cores", input.machine.cores},
                    {"isa", input.machine.isa},
                    {"gpus", gpus}};
  out["request"] = {{"ctx", plan.ctx}, {"parallel", plan.parallel}, {"ubatch", plan.ubatch}, {"kv_type", Lower(DTypeName(plan.kv_type))}};
  out["fits"] = plan.fits;
  out["verdict"] = plan.verdict;
  out["max_ctx"] = plan.max_ctx;
  out["max_ctx_limit"] = plan.max_ctx_is_model_limit ? "model" : "memory";
  out["max_ctx_resident"] = plan.max_ctx_resident;
  out["kv_bytes_per_token"] = plan.kv_bytes_per_token;
  json devices = json::array();
  for (const DeviceUsage& device : plan.devices) {
    json breakdown;
    for (const TensorRole role : kRoleOrder) breakdown[std::string(BreakdownKey(role))] = Weight(device, role);
    breakdown["expert_cache"] = device.expert_cache;
    breakdown["kv_cache"] = device.kv_cache;
    breakdown["compute"] = device.compute;
    breakdown["staging"] = device.staging;
    breakdown["overhead"] = device.overhead;
    devices.push_back({{"name", device.name}, {"cap_bytes", device.cap_bytes}, {"total_bytes", device.total()}, {"breakdown", breakdown}});
  }
  out["devices"] = devices;
  out["layers"] = {{"n_gpu_layers", plan.n_gpu_layers}, {"output_on_gpu", plan.output_on_gpu}};
  json experts = json::array();
  for (const ExpertLayerPlan& layer : plan.expert_layers)
    experts.push_back({{"layer", layer.layer},
                       {"n_experts", layer.n_experts},
                       {"expert_bytes", layer.expert_bytes},
                       {"gpu_slots", layer.gpu_slots},
                       {"host_slots", layer.host_slots},
                       {"streamed", layer.streamed}});
  out["experts"] = experts;
  json shortfalls = json::array();
  for (const Shortfall& shortfall : plan.shortfalls)
    shortfalls.push_back({{"device", shortfall.device},
                          {"cap_bytes", shortfall.cap_bytes},
                          {"needed_bytes", shortfall.needed_bytes},
                          {"reason", shortfall.reason}});
  out["shortfalls"] = shortfalls;
  json suggestions = json::array();
  for (const Suggestion& suggestion : plan.suggestions)
    suggestions.push_back({{"change", suggestion.change}, {"value", suggestion.value}, {"text", suggestion.text}});
  out["suggestions"] = suggestions;
  out["notes"] = plan.notes;
  json tensors = json::array();
  for (const TensorPlacement& tensor : plan.tensors)
    tensors.push_back({{"name", tensor.name},
                       {"type", DTypeName(tensor.type)},
                       {"role", BreakdownKey(tensor.role)},
                       {"layer", tensor.layer},
                       {"bytes", tensor.bytes},
                       {"lives", ResidenceName(tensor.residence)}});
  out["tensors"] = tensors;
  return out;
}

}  // namespace moefit
