// SPDX-License-Identifier: MIT
// `moefit doctor [-m FILE | --model NAME --type T] [budgets] [--json]`: what this machine has now,
// the plan `run` / `serve` would make on it, and a pass / warn / fail checklist. Exit status 1
// when a check fails.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/plan_flags.h"
#include "cli/preflight.h"
#include "core/error.h"

namespace moefit {
namespace {

struct DoctorOptions {
  PreflightRequest request;
  bool json = false;
};

// Prints the report; returns the exit status (1 when a check failed).
int Doctor(DoctorOptions& options) {
  if (options.request.ctx < 0 || options.request.parallel < 1 || options.request.ubatch < 1 || options.request.threads < 0)
    Fail("--ctx, --parallel, --batch and --threads must be positive");
  const PreflightReport report = RunPreflight(options.request);
  if (options.json)
    std::puts(PreflightToJson(report).dump(2).c_str());
  else
    std::fputs(FormatPreflightText(report).c_str(), stdout);
  std::fflush(stdout);
  return report.ok() ? 0 : 1;
}

}  // namespace

void RegisterDoctorCommand(CLI::App& app) {
  auto o = std::make_shared<DoctorOptions>();
  PreflightRequest& r = o->request;
  r.ctx = 4096;
  CLI::App* command = app.add_subcommand("doctor", "Check this machine, a model file and the plan before running (exit 1 on a failed check)");
  command->add_option("-m,--model-file", r.file, "GGUF file to check (leave out to check the machine alone)");
  command->add_option("--model", r.catalog_model, "Catalog model (see `moefit plan --list-models`), to check before downloading");
  command->add_option("--type", r.catalog_type, "File type for --model: q4_k_m (default), q8_0, ...");
  AddMemoryFlags(*command, r.memory);
  command->add_option("--gpu-mem", r.gpu_mem, "Cap per GPU: 12G or a fraction (0.9)");
  command->add_option("-c,--ctx", r.ctx, "Context per sequence, tokens")->capture_default_str();
  command->add_option("--parallel", r.parallel, "Sequences decoded together")->capture_default_str();
  command->add_option("-b,--batch", r.ubatch, "Tokens per forward pass")->capture_default_str();
  command->add_option("-t,--threads", r.threads, "Threads the run would use (default: all cores)");
  command->add_flag("--json", o->json, "Machine-readable output");
  command->callback([o] {
    // CLI::RuntimeError carries the exit status out of CLI11 without a message of its own.
    if (const int status = Doctor(*o); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace moefit
