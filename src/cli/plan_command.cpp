// SPDX-License-Identifier: MIT
// `moefit plan (-m FILE | --model NAME --type q4_k_m) [budgets] [--json]`: where a model's bytes
// would live under the given caps, the largest context that fits, and what to change if not.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/plan_flags.h"
#include "cli/run_memory.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "plan/byte_size.h"
#include "plan/catalog.h"
#include "plan/file_type.h"
#include "plan/hardware.h"
#include "plan/plan_print.h"
#include "plan/planner.h"
#include "runtime/kv_cache.h"

namespace moefit {
namespace {

struct PlanOptions {
  std::string file;
  std::string model;
  std::string type;
  std::string ram;
  std::string gpu_mem;
  int64_t ctx = 4096;
  int64_t parallel = 1;
  int64_t ubatch = 512;
  std::string kv_type = "f16";
  std::string machine_ram;
  std::vector<std::string> machine_gpus;
  int machine_cores = 0;
  bool cpu_only = false;
  bool no_streaming = false;
  bool json = false;
  bool tensors = false;
  bool list_models = false;
};

ModelInventory LoadModel(const PlanOptions& options) {
  if (options.file.empty() == options.model.empty())
    Fail("give the model as a file (-m FILE) or by name (--model NAME --type q4_k_m); `moefit plan --list-models` lists names");
  if (!options.file.empty()) {
    if (!options.type.empty()) Fail("--type applies to --model: a file has its own types");
    return InventoryFromGguf(GgufFile::Open(options.file));
  }
  return CatalogInventory(options.model, options.type);
}

MachineSpec Machine(const PlanOptions& options) {
  MachineOverrides overrides;
  if (!options.machine_ram.empty()) overrides.ram_bytes = ParseByteSize(options.machine_ram);
  if (options.machine_cores > 0) overrides.cores = options.machine_cores;
  if (!options.machine_gpus.empty()) {
    std::vector<uint64_t> gpus;
    for (const std::string& gpu : options.machine_gpus) gpus.push_back(ParseByteSize(gpu));
    overrides.gpu_bytes = gpus;
  }
  return ApplyOverrides(ProbeMachine(), overrides);
}

void ListModels(bool json) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  if (!json)
    std::printf("%-18s %-18s %-10s %6s %9s %9s %10s %9s\n", "model", "name", "arch", "layers", "experts", "params",
                "Q4_K_M", "context");
  for (const CatalogModel& model : Catalog()) {
    const ModelInventory q4 = InventoryFromCatalog(model, FileType::kQ4_K_M);
    const ModelShape& shape = model.shape;
    const std::string experts = shape.is_moe() ? fmt::format("{}/{}", shape.n_active_experts, shape.n_experts) : "dense";
    if (json) {
      models.push_back({{"id", model.id},
                        {"name", model.display},
                        {"architecture", shape.architecture},
                        {"n_layers", shape.n_layers},
                        {"n_experts", shape.n_experts},
                        {"n_active_experts", shape.n_active_experts},
                        {"params", q4.params()},
                        {"q4_k_m_bytes", q4.tensor_bytes()},
                        {"context_length", shape.context_length},
                        {"source", model.source}});
    } else {
      std::printf("%-18s %-18s %-10s %6lld %9s %8.1fB %10s %9s\n", std::string(model.id).c_str(), std::string(model.display).c_str(),
                  shape.architecture.c_str(), static_cast<long long>(shape.n_layers), experts.c_str(),
                  static_cast<double>(q4.params()) / 1e9, FormatByteSize(q4.tensor_bytes()).c_str(),
                  FormatThousands(shape.context_length).c_str());
    }
  }
  if (json) {
    nlohmann::ordered_json types = nlohmann::ordered_json::array();
    for (const FileTypeInfo& info : FileTypes()) types.push_back({{"type", info.name}, {"typical_bits_per_weight", info.typical_bits}});
    std::puts(nlohmann::ordered_json{{"models", models}, {"types", types}}.dump(2).c_str());
    return;
  }
  std::printf("\ntypes (--type), typical bits per weight:");
  for (const FileTypeInfo& info : FileTypes()) std::printf(" %s %.2f", std::string(info.name).c_str(), info.typical_bits);
  std::printf("\n");
}

void RunPlan(const PlanOptions& options) {
  if (options.list_models) {
    ListModels(options.json);
    return;
  }
  PlanInput input;
  input.model = LoadModel(options);
  input.machine = Machine(options);
  if (!options.ram.empty()) input.ram = ParseBudgetSpec(options.ram);
  if (!options.gpu_mem.empty()) input.gpu_mem = ParseBudgetSpec(options.gpu_mem);
  input.ctx = options.ctx;
  input.parallel = options.parallel;
  input.ubatch = options.ubatch;
  input.kv_type = ParseKvType(options.kv_type);
  input.policy.use_gpu = !options.cpu_only;
  input.policy.stream_experts = !options.no_streaming;
  const Plan plan = MakePlan(input);
  if (options.json) {
    std::puts(PlanToJson(input, plan).dump(2).c_str());
  } else {
    std::fputs(FormatPlanText(input, plan, {.list_tensors = options.tensors}).c_str(), stdout);
  }
}

}  // namespace

void RegisterPlanCommand(CLI::App& app) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command = app.add_subcommand("plan", "Plan where a model's bytes live under RAM/VRAM caps, and the largest context");
  command->add_option("-m,--model-file", options->file, "GGUF file");
  command->add_option("--model", options->model, "Catalog model (see --list-models), to plan before downloading");
  command->add_option("--type", options->type, "File type for --model: q4_k_m (default), q8_0, q3_k_m, ...");
  command->add_option("--ram", options->ram, "Host RAM cap: 18G, 512M, or a fraction of the RAM (0.8); default: free RAM");
  command->add_option("--gpu-mem", options->gpu_mem, "Cap per GPU: 12G or a fraction (0.9); 0 keeps the GPU out");
  command->add_option("--ctx", options->ctx, "Context per sequence, tokens")->capture_default_str();
  command->add_option("--parallel", options->parallel, "Sequences decoded together")->capture_default_str();
  command->add_option("--ubatch", options->ubatch, "Tokens per forward pass")->capture_default_str();
  AddKvTypeFlag(*command, options->kv_type);
  command->add_option("--machine-ram", options->machine_ram, "Plan for a machine with this much RAM (32G)");
  command->add_option("--machine-gpu", options->machine_gpus, "Plan for a machine with GPUs of these sizes (16G,8G)")->delimiter(',');
  command->add_option("--machine-cores", options->machine_cores, "Plan for a machine with this many cores");
  command->add_flag("--cpu-only", options->cpu_only, "Do not use a GPU");
  command->add_flag("--no-streaming", options->no_streaming, "Never stream experts from disk");
  command->add_flag("--json", options->json, "Machine-readable output");
  command->add_flag("--tensors", options->tensors, "List every tensor and where it lives");
  command->add_flag("--list-models", options->list_models, "List the catalog of models and file types");
  command->callback([options] { RunPlan(*options); });
}

}  // namespace moefit
