// SPDX-License-Identifier: MIT
// The preflight checklist: each check reads the facts and says pass, warn or fail in one sentence.
#include "plan/preflight.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/byte_size.h"
#include "plan/memory_model.h"

namespace moefit {
namespace {

using Checks = std::vector<PreflightCheck>;

void Add(Checks& checks, std::string name, CheckStatus status, std::string detail, std::vector<std::string> hints = {}) {
  checks.push_back({std::move(name), status, std::move(detail), std::move(hints)});
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void CheckFile(const PreflightFacts& facts, Checks& checks) {
  if (!facts.file_error.empty()) {
    Add(checks, "file", CheckStatus::kFail, facts.file_error);
    return;
  }
  Add(checks, "file", CheckStatus::kPass, facts.file_summary + ": the header reads and every tensor lies inside the file");
  if (!facts.tensors_error.empty())
    Add(checks, "tensors", CheckStatus::kFail, facts.tensors_error);
  else
    Add(checks, "tensors", CheckStatus::kPass, facts.tensors_summary);
}

void CheckPlan(const PreflightFacts& facts, Checks& checks) {
  if (facts.mmap) {
    Add(checks, "plan", CheckStatus::kWarn, "--mmap: no plan and no RAM cap; the page cache holds the weights");
    return;
  }
  if (!facts.plan_error.empty()) {
    Add(checks, "plan", CheckStatus::kFail, "cannot plan: " + facts.plan_error);
    return;
  }
  if (facts.plan == nullptr) return;
  const Plan& plan = *facts.plan;
  if (!plan.fits) {
    std::vector<std::string> hints;
    for (const Suggestion& suggestion : plan.suggestions) hints.push_back(suggestion.text);
    if (hints.empty()) hints.emplace_back("nothing this model can be given fits on this machine");
    Add(checks, "plan", CheckStatus::kFail, plan.verdict, std::move(hints));
    return;
  }
  const DeviceUsage* host = plan.Device("host");
  MOEFIT_CHECK(host != nullptr);
  Add(checks, "plan", CheckStatus::kPass,
      fmt::format("{}; host {} of its {} cap", plan.verdict, FormatByteSize(host->total()), FormatByteSize(host->cap_bytes)));
}

void CheckFreeMemory(const PreflightFacts& facts, Checks& checks) {
  const MachineReport& machine = *facts.machine;
  const uint64_t available = machine.spec.ram_available_bytes;
  if (facts.mmap) {
    if (facts.input == nullptr) return;
    const uint64_t file = facts.input->model.file_bytes;
    if (file <= available)
      Add(checks, "free_memory", CheckStatus::kPass,
          fmt::format("--mmap: the file ({}) fits in the {} of RAM available now", FormatByteSize(file), FormatByteSize(available)));
    else
      Add(checks, "free_memory", CheckStatus::kWarn,
          fmt::format("--mmap: the file ({}) is larger than the {} of RAM available now: its pages will be read from disk "
                      "again and again", FormatByteSize(file), FormatByteSize(available)));
    return;
  }
  if (facts.plan == nullptr || !facts.plan->fits) return;
  std::vector<std::string> short_of;
  std::string fine;
  for (const DeviceUsage& device : facts.plan->devices) {
    if (device.name == "disk" || device.total() == 0) continue;
    uint64_t free = available;
    std::string what = "RAM";
    if (device.name != "host") {
      const size_t index = static_cast<size_t>(std::stoul(device.name.substr(3)));  // "gpu<N>"
      free = index < machine.spec.gpus.size() ? machine.spec.gpus[index].free_bytes : 0;
      what = device.name + " memory";
    }
    if (device.total() > free)
      short_of.push_back(fmt::format("{} needs {} but only {} of {} is available now", device.name,
                                     FormatByteSize(device.total()), FormatByteSize(free), what));
    else
      fine += fmt::format("{}{} needs {} of the {} of {} available now", fine.empty() ? "" : "; ", device.name,
                          FormatByteSize(device.total()), FormatByteSize(free), what);
  }
  if (!short_of.empty()) {
    std::string detail;
    for (const std::string& line : short_of) detail += (detail.empty() ? "" : "; ") + line;
    Add(checks, "free_memory", CheckStatus::kFail, detail + ": close other programs, or lower --ram / --ctx / --parallel");
    return;
  }
  Add(checks, "free_memory", CheckStatus::kPass, fine);
}

void CheckBudgets(const PreflightFacts& facts, Checks& checks) {
  const MachineReport& machine = *facts.machine;
  if (facts.mmap) {
    Add(checks, "budgets", CheckStatus::kWarn, "--mmap: no RAM cap (what the page cache keeps is up to the kernel)");
    return;
  }
  std::string detail;
  CheckStatus status = CheckStatus::kPass;
  const DeviceUsage* host = facts.plan != nullptr ? facts.plan->Device("host") : nullptr;
  if (!facts.ram.empty()) {
    detail = host != nullptr ? fmt::format("--ram {} caps host RAM at {}", facts.ram, FormatByteSize(host->cap_bytes))
                             : fmt::format("--ram {}", facts.ram);
  } else {
    status = CheckStatus::kWarn;
    detail = fmt::format("no --ram: the cap is the RAM available now ({}); give --ram (18G, or 0.5 of the RAM) to keep "
                         "memory for the rest of the machine", FormatByteSize(machine.spec.ram_available_bytes));
  }
  if (!machine.spec.gpus.empty() && !facts.gpu_mem_given) {
    status = CheckStatus::kWarn;
    detail += "; no --gpu-mem: each GPU's cap is its free memory now";
  }
  Add(checks, "budgets", status, detail);
}

void CheckContext(const PreflightFacts& facts, Checks& checks) {
  const ContextFacts& context = facts.context;
  const std::string ctx = FormatThousands(facts.ctx);
  if (context.trained <= 0) {
    Add(checks, "context", CheckStatus::kWarn, fmt::format("--ctx {}: the model does not say the context it was trained for", ctx));
    return;
  }
  const std::string trained = FormatThousands(context.trained);
  if (facts.ctx <= context.trained) {
    Add(checks, "context", CheckStatus::kPass, fmt::format("{} tokens per sequence, within the {} the model was trained for", ctx, trained));
    return;
  }
  if (!context.rope_scaling.empty() && facts.ctx <= context.scaled) {
    Add(checks, "context", CheckStatus::kPass,
        fmt::format("{} tokens per sequence: beyond the {} the model was trained for, within the {} its {} RoPE scaling "
                    "reaches", ctx, trained, FormatThousands(context.scaled), context.rope_scaling));
    return;
  }
  const int64_t limit = std::max(context.trained, context.rope_scaling.empty() ? 0 : context.scaled);
  Add(checks, "context", CheckStatus::kFail,
      context.rope_scaling.empty()
          ? fmt::format("--ctx {} is beyond the {} tokens the model was trained for, and the file configures no RoPE "
                        "scaling: use --ctx {} or less", ctx, trained, context.trained)
          : fmt::format("--ctx {} is beyond the {} tokens the model's {} RoPE scaling reaches: use --ctx {} or less", ctx,
                        FormatThousands(limit), context.rope_scaling, limit));
}

void CheckKvType(const PreflightFacts& facts, Checks& checks) {
  if (facts.input == nullptr) return;
  const DType kv_type = facts.input->kv_type;
  try {
    const uint64_t per_cell = KvBytesPerCell(facts.input->model.shape, kv_type);
    uint64_t per_token = 0;
    for (int64_t layer = 0; layer < facts.input->model.shape.n_layers; ++layer)
      if (!facts.input->model.shape.LayerSlides(layer)) per_token += per_cell;
    Add(checks, "kv_type", CheckStatus::kPass,
        fmt::format("{}: {} per token of context", Lower(DTypeName(kv_type)), FormatByteSize(per_token)));
  } catch (const Error& error) {
    Add(checks, "kv_type", CheckStatus::kFail, error.what());
  }
}

void CheckThreads(const PreflightFacts& facts, Checks& checks) {
  const int cores = facts.machine->spec.cores;
  if (facts.threads <= 0) {
    Add(checks, "threads", CheckStatus::kPass, fmt::format("all {} cores", cores));
  } else if (facts.threads > cores) {
    Add(checks, "threads", CheckStatus::kWarn,
        fmt::format("-t {} is more threads than the {} cores this process may use: they take turns and decoding slows; "
                    "use -t {} or leave it out", facts.threads, cores, cores));
  } else {
    Add(checks, "threads", CheckStatus::kPass, fmt::format("{} of {} cores", facts.threads, cores));
  }
}

void CheckMachine(const PreflightFacts& facts, Checks& checks) {
  const MachineReport& machine = *facts.machine;
  if (!machine.kernel_isa_error.empty())
    Add(checks, "isa", CheckStatus::kFail, machine.kernel_isa_error);
  else if (machine.kernel_isa == "scalar")
    Add(checks, "isa", CheckStatus::kWarn,
        "the kernels run scalar code (no AVX2 with FMA and F16C, or MOEFIT_ISA=scalar): several times slower");
  else
    Add(checks, "isa", CheckStatus::kPass, fmt::format("the kernels use {}", machine.kernel_isa));

  if (machine.huge_pages == "never")
    Add(checks, "huge_pages", CheckStatus::kWarn,
        "transparent huge pages are off: large weight buffers get 4 KiB pages; as root: echo madvise > "
        "/sys/kernel/mm/transparent_hugepage/enabled");
  else if (machine.huge_pages.empty())
    Add(checks, "huge_pages", CheckStatus::kPass, "this kernel does not report a transparent huge page mode");
  else
    Add(checks, "huge_pages", CheckStatus::kPass,
        fmt::format("transparent huge pages: {} (large buffers ask for them)", machine.huge_pages));

  if (!machine.gpu_runtime.empty()) {
    std::string gpus;
    for (const GpuSpec& gpu : machine.spec.gpus)
      gpus += fmt::format("{}{} ({} free)", gpus.empty() ? "" : ", ", gpu.name, FormatByteSize(gpu.free_bytes));
    Add(checks, "gpu", CheckStatus::kPass, fmt::format("{}: {}", machine.gpu_runtime, gpus.empty() ? "no GPU found" : gpus));
  } else if (!machine.gpu_driver.empty()) {
    Add(checks, "gpu", CheckStatus::kWarn,
        fmt::format("the {} driver is loaded, but this build has no GPU runtime: the CPU runs everything", machine.gpu_driver));
  } else if (facts.gpu_mem_given) {
    Add(checks, "gpu", CheckStatus::kWarn, "--gpu-mem is ignored: this build has no GPU runtime and no GPU driver is loaded");
  } else {
    Add(checks, "gpu", CheckStatus::kPass, "no GPU runtime in this build: the CPU runs everything");
  }
}

}  // namespace

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass: return "pass";
    case CheckStatus::kWarn: return "warn";
    case CheckStatus::kFail: return "fail";
  }
  return "fail";
}

std::vector<PreflightCheck> PreflightChecks(const PreflightFacts& facts) {
  MOEFIT_CHECK(facts.machine != nullptr);
  Checks checks;
  if (facts.has_model) {
    if (facts.from_file) CheckFile(facts, checks);
    if (facts.file_error.empty()) {
      CheckPlan(facts, checks);
      CheckFreeMemory(facts, checks);
    }
  }
  CheckBudgets(facts, checks);
  if (facts.has_model && facts.file_error.empty()) {
    CheckContext(facts, checks);
    CheckKvType(facts, checks);
  }
  CheckThreads(facts, checks);
  CheckMachine(facts, checks);
  return checks;
}

bool AllPassOrWarn(const std::vector<PreflightCheck>& checks) {
  return std::none_of(checks.begin(), checks.end(), [](const PreflightCheck& check) { return check.status == CheckStatus::kFail; });
}

}  // namespace moefit
