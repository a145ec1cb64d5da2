// SPDX-License-Identifier: MIT
// Preflight: probe, open, load the model's views, plan as run/serve would; then the checklist.
#include "cli/preflight.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <fmt/format.h>

#include "cli/plan_flags.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "plan/byte_size.h"
#include "plan/model_inventory.h"
#include "plan/plan_print.h"

namespace moefit {
namespace {

constexpr int64_t kServeDefaultContext = 4096;  // serve: the model's context, at most this

// What the file says about its context: n_ctx_train and the RoPE scaling that stretches it.
ContextFacts FileContext(const GgufFile& file) {
  ContextFacts context;
  const std::string arch(file.architecture());
  try {
    context.trained = file.GetInt(arch + ".context_length", 0);
    const ModelSpec spec = ReadModelSpec(file);
    if (spec.rope.scaling != RopeScaling::kNone && spec.rope.freq_scale > 0) {
      context.rope_scaling = spec.rope.scaling == RopeScaling::kYarn ? "yarn" : "linear";
      context.scaled = static_cast<int64_t>(static_cast<double>(spec.rope.original_context) / spec.rope.freq_scale);
    }
  } catch (const Error&) {
    // The tensors check reports what is wrong with the metadata.
  }
  return context;
}

std::string TensorsSummary(const Model& model) {
  const ModelSpec& spec = model.spec();
  std::string experts = spec.is_moe() ? fmt::format(", {} experts ({} active)", spec.n_experts, spec.n_active_experts) : "";
  return fmt::format("{}: {} layers{}: every tensor the architecture needs is present with the expected shape and a type "
                     "moefit computes with", spec.architecture, spec.n_layers, experts);
}

// Opens the file and loads the model's views (the loader checks names, shapes and types); each
// failure becomes a fact for a FAIL line. Returns the model's inventory when its shape reads.
std::optional<ModelInventory> CheckFile(const std::string& path, PreflightFacts& facts) {
  facts.has_model = facts.from_file = true;
  std::optional<GgufFile> file;
  try {
    file.emplace(GgufFile::Open(path));
  } catch (const Error& error) {
    facts.file_error = error.what();
    return std::nullopt;
  }
  uint64_t weights = 0;
  for (const GgufTensorInfo& tensor : file->tensors()) weights += tensor.bytes;
  facts.file_summary = fmt::format("{}: {}, {} tensors ({} of weights)", path, FormatByteSize(file->file_size()),
                                   file->tensors().size(), FormatByteSize(weights));
  try {
    const Model model = Model::Load(*file);
    facts.tensors_summary = TensorsSummary(model);
  } catch (const Error& error) {
    facts.tensors_error = error.what();
  }
  facts.context = FileContext(*file);
  try {
    return InventoryFromGguf(*file);
  } catch (const Error& error) {
    facts.plan_error = error.what();
    return std::nullopt;
  }
}

void AppendIndented(std::string& out, const std::string& text, const std::string& indent) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    out += (end == pos ? "" : indent) + text.substr(pos, end - pos) + "\n";
    pos = end + 1;
  }
}

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string FailedNames(const std::vector<PreflightCheck>& checks, CheckStatus status) {
  std::string names;
  for (const PreflightCheck& check : checks)
    if (check.status == status) names += (names.empty() ? "" : ", ") + check.name;
  return names;
}

}  // namespace

PreflightReport RunPreflight(const PreflightRequest& request) {
  if (!request.file.empty() && !request.catalog_model.empty())
    Fail("give the model as a file (-m FILE) or by name (--model NAME), not both");
  if (!request.catalog_type.empty() && request.catalog_model.empty()) Fail("--type applies to --model: a file has its own types");
  PreflightReport report;
  report.machine = ProbeMachineReport();
  PreflightFacts facts;
  facts.machine = &report.machine;
  facts.mmap = request.memory.mmap;
  facts.ram = request.memory.ram;
  facts.gpu_mem_given = !request.gpu_mem.empty();
  facts.threads = request.threads;

  std::optional<ModelInventory> model;
  if (!request.file.empty()) {
    model = CheckFile(request.file, facts);
  } else if (!request.catalog_model.empty()) {
    model = CatalogInventory(request.catalog_model, request.catalog_type);
    facts.has_model = true;
    facts.context.trained = model->shape.context_length;
  }
  facts.ctx = request.ctx > 0 ? request.ctx
                              : std::min(facts.context.trained > 0 ? facts.context.trained : kServeDefaultContext, kServeDefaultContext);
  if (model) {
    report.input = RunPlanInput(std::move(*model), request.memory, facts.ctx, request.ubatch, request.parallel);
    PlanInput& input = *report.input;
    if (!request.gpu_mem.empty()) input.gpu_mem = ParseBudgetSpec(request.gpu_mem);
    facts.input = &input;
    if (!request.memory.mmap) {
      try {
        report.plan = MakePlan(input);
        facts.plan = &*report.plan;
      } catch (const Error& error) {
        facts.plan_error = error.what();
      }
    }
  } else if (!request.memory.ram.empty()) {
    ParseBudgetSpec(request.memory.ram);  // a malformed --ram is a usage error, model or not
  }
  report.checks = PreflightChecks(facts);
  return report;
}

std::string FormatPreflightText(const PreflightReport& report) {
  const MachineReport& machine = report.machine;
  const MachineSpec& spec = machine.spec;
  std::string out = "machine\n";
  out += fmt::format("  {:<12}{} total, {} available now ({} free)\n", "RAM", FormatByteSize(spec.ram_total_bytes),
                     FormatByteSize(spec.ram_available_bytes), FormatByteSize(machine.ram_free_bytes));
  std::string features;
  for (const std::string& flag : spec.isa) features += (features.empty() ? "" : " ") + flag;
  out += fmt::format("  {:<12}{} cores; kernels: {} (cpu: {})\n", "CPU", spec.cores, machine.kernel_isa,
                     features.empty() ? "no SIMD extensions" : features);
  out += fmt::format("  {:<12}transparent: {}\n", "huge pages", machine.huge_pages.empty() ? "unknown" : machine.huge_pages);
  if (!machine.gpu_runtime.empty()) {
    out += fmt::format("  {:<12}{}\n", "GPU", machine.gpu_runtime);
    for (size_t i = 0; i < spec.gpus.size(); ++i)
      out += fmt::format("  {:<12}{}: {} of {} free\n", "", spec.gpus[i].name, FormatByteSize(spec.gpus[i].free_bytes),
                         FormatByteSize(spec.gpus[i].total_bytes));
  } else {
    out += fmt::format("  {:<12}no GPU runtime in this build{}\n", "GPU",
                       machine.gpu_driver.empty() ? " (and no GPU driver loaded)" : fmt::format(" ({} driver loaded)", machine.gpu_driver));
  }
  if (report.plan) {
    out += "\nplan\n";
    AppendIndented(out, FormatPlanText(*report.input, *report.plan), "  ");
  }
  out += "\nchecks\n";
  for (const PreflightCheck& check : report.checks) {
    out += fmt::format("  {}  {:<12} {}\n", Upper(CheckStatusName(check.status)), check.name, check.detail);
    for (const std::string& hint : check.hints) out += fmt::format("  {:<4}  {:<12} what fits: {}\n", "", "", hint);
  }
  const std::string failed = FailedNames(report.checks, CheckStatus::kFail);
  const std::string warned = FailedNames(report.checks, CheckStatus::kWarn);
  out += "\n";
  if (!failed.empty())
    out += fmt::format("FAIL: {}{}\n", failed, warned.empty() ? "" : fmt::format(" (warnings: {})", warned));
  else
    out += fmt::format("OK: no check of {} failed{}\n", report.checks.size(), warned.empty() ? "" : fmt::format(" (warnings: {})", warned));
  return out;
}

nlohmann::ordered_json PreflightToJson(const PreflightReport& report) {
  using json = nlohmann::ordered_json;
  const MachineReport& machine = report.machine;
  json gpus = json::array();
  for (const GpuSpec& gpu : machine.spec.gpus)
    gpus.push_back({{"name", gpu.name}, {"total_bytes", gpu.total_bytes}, {"free_bytes", gpu.free_bytes}});
  json out;
  out["machine"] = {{"ram_total_bytes", machine.spec.ram_total_bytes},
                    {"ram_available_bytes", machine.spec.ram_available_bytes},
                    {"ram_free_bytes", machine.ram_free_bytes},
                    {"cores", machine.spec.cores},
                    {"kernel_isa", machine.kernel_isa},
                    {"cpu_features", machine.spec.isa},
                    {"huge_pages", machine.huge_pages.empty() ? json(nullptr) : json(machine.huge_pages)},
                    {"gpu",
                     {{"runtime", machine.gpu_runtime.empty() ? json(nullptr) : json(machine.gpu_runtime)},
                      {"driver", machine.gpu_driver.empty() ? json(nullptr) : json(machine.gpu_driver)},
                      {"devices", gpus}}}};
  out["plan"] = report.plan ? PlanToJson(*report.input, *report.plan) : json(nullptr);
  json checks = json::array();
  for (const PreflightCheck& check : report.checks)
    checks.push_back({{"name", check.name}, {"status", CheckStatusName(check.status)}, {"detail", check.detail}, {"hints", check.hints}});
  out["checks"] = checks;
  out["ok"] = report.ok();
  return out;
}

void PreflightOrRefuse(const PreflightRequest& request, std::string_view command) {
  const PreflightReport report = RunPreflight(request);
  for (const PreflightCheck& check : report.checks) {
    if (check.status == CheckStatus::kPass) continue;
    std::fprintf(stderr, "preflight: %s %s: %s\n", Upper(CheckStatusName(check.status)).c_str(), check.name.c_str(),
                 check.detail.c_str());
    for (const std::string& hint : check.hints) std::fprintf(stderr, "preflight:   what fits: %s\n", hint.c_str());
  }
  if (report.ok()) return;
  Fail("{} refused to start: preflight check {} failed (`moefit doctor` with the same flags shows the whole checklist)", command,
       FailedNames(report.checks, CheckStatus::kFail));
}

}  // namespace moefit
