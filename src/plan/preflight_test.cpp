// SPDX-License-Identifier: MIT
// The preflight checklist on made-up machines and plans: each line passes, warns or fails for
// the reason it names.
#include "plan/preflight.h"

#include <gtest/gtest.h>

#include "plan/catalog.h"
#include "plan/file_type.h"

namespace moefit {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

MachineReport Machine(uint64_t available, int cores = 8) {
  MachineReport machine;
  machine.spec.ram_total_bytes = 64 * kGiB;
  machine.spec.ram_available_bytes = available;
  machine.spec.cores = cores;
  machine.spec.probed = true;
  machine.ram_free_bytes = available;
  machine.kernel_isa = "avx2";
  machine.huge_pages = "madvise";
  return machine;
}

PlanInput Olmoe(const MachineReport& machine, uint64_t ram, int64_t ctx = 4096) {
  PlanInput input;
  input.model = InventoryFromCatalog(*FindCatalogModel("olmoe-1b-7b"), FileType::kQ4_K_M);
  input.machine = machine.spec;
  input.ram.bytes = ram;
  input.ctx = ctx;
  input.policy.use_gpu = false;
  return input;
}

const PreflightCheck* Find(const std::vector<PreflightCheck>& checks, std::string_view name) {
  for (const PreflightCheck& check : checks)
    if (check.name == name) return &check;
  return nullptr;
}

CheckStatus Status(const std::vector<PreflightCheck>& checks, std::string_view name) {
  const PreflightCheck* check = Find(checks, name);
  EXPECT_NE(check, nullptr) << name;
  return check == nullptr ? CheckStatus::kFail : check->status;
}

struct Case {
  MachineReport machine;
  PlanInput input;
  Plan plan;
  PreflightFacts facts;

  Case(MachineReport machine_in, uint64_t ram, int64_t ctx = 4096, std::string ram_text = "16G")
      : machine(std::move(machine_in)), input(Olmoe(machine, ram, ctx)), plan(MakePlan(input)) {
    facts.machine = &machine;
    facts.has_model = true;
    facts.from_file = true;
    facts.file_summary = "3.90 GiB, 179 tensors";
    facts.tensors_summary = "olmoe: 16 layers";
    facts.input = &input;
    facts.plan = &plan;
    facts.context = {.trained = 4096};
    facts.ram = std::move(ram_text);
    facts.ctx = ctx;
  }
};

TEST(Preflight, AGenerousBudgetPassesEveryModelCheck) {
  Case c(Machine(32 * kGiB), 16 * kGiB);
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  for (const PreflightCheck& check : checks) EXPECT_EQ(check.status, CheckStatus::kPass) << check.name << ": " << check.detail;
  std::vector<std::string> names;
  for (const PreflightCheck& check : checks) names.push_back(check.name);
  EXPECT_EQ(names, (std::vector<std::string>{"file", "tensors", "plan", "free_memory", "budgets", "context", "kv_type", "threads",
                                             "isa", "huge_pages", "gpu"}));
  EXPECT_TRUE(AllPassOrWarn(checks));
}

TEST(Preflight, ABudgetTooSmallFailsThePlanWithWhatWouldFit) {
  Case c(Machine(32 * kGiB), 1 * kGiB);
  ASSERT_FALSE(c.plan.fits);
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  const PreflightCheck* plan = Find(checks, "plan");
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(plan->status, CheckStatus::kFail);
  EXPECT_NE(plan->detail.find("does not fit"), std::string::npos) << plan->detail;
  EXPECT_FALSE(plan->hints.empty());
  EXPECT_EQ(Find(checks, "free_memory"), nullptr) << "nothing to compare when nothing was placed";
  EXPECT_FALSE(AllPassOrWarn(checks));
}

TEST(Preflight, APlanAboveTheMemoryAvailableNowFails) {
  // The cap (16 GiB) is honoured by the plan, but only 2 GiB are available right now.
  Case c(Machine(2 * kGiB), 16 * kGiB);
  ASSERT_TRUE(c.plan.fits);
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  EXPECT_EQ(Status(checks, "plan"), CheckStatus::kPass);
  EXPECT_EQ(Status(checks, "free_memory"), CheckStatus::kFail);
  EXPECT_NE(Find(checks, "free_memory")->detail.find("host needs"), std::string::npos);
}

TEST(Preflight, NoRamCapWarns) {
  Case c(Machine(32 * kGiB), 16 * kGiB, 4096, "");
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  EXPECT_EQ(Status(checks, "budgets"), CheckStatus::kWarn);
  EXPECT_NE(Find(checks, "budgets")->detail.find("no --ram"), std::string::npos);
  EXPECT_TRUE(AllPassOrWarn(checks));
}

TEST(Preflight, ContextBeyondTheTrainedLengthFailsUnlessRopeScalingReachesIt) {
  Case c(Machine(32 * kGiB), 16 * kGiB, 8192);
  EXPECT_EQ(Status(PreflightChecks(c.facts), "context"), CheckStatus::kFail);
  c.facts.context = {.trained = 4096, .rope_scaling = "yarn", .scaled = 16384};
  EXPECT_EQ(Status(PreflightChecks(c.facts), "context"), CheckStatus::kPass);
  c.facts.ctx = 16385;
  EXPECT_EQ(Status(PreflightChecks(c.facts), "context"), CheckStatus::kFail);
  c.facts.context = {};
  EXPECT_EQ(Status(PreflightChecks(c.facts), "context"), CheckStatus::kWarn) << "the model does not say";
}

TEST(Preflight, BrokenFileFailsAndSkipsWhatNeedsIt) {
  Case c(Machine(32 * kGiB), 16 * kGiB);
  c.facts.file_error = "model.gguf: offset 123 (tensor 'blk.1.ffn_down_exps.weight'): data runs past the end of the file";
  c.facts.input = nullptr;
  c.facts.plan = nullptr;
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  EXPECT_EQ(Status(checks, "file"), CheckStatus::kFail);
  EXPECT_EQ(Find(checks, "tensors"), nullptr);
  EXPECT_EQ(Find(checks, "plan"), nullptr);
  EXPECT_EQ(Find(checks, "context"), nullptr);
  EXPECT_FALSE(AllPassOrWarn(checks));

  c.facts.file_error.clear();
  c.facts.tensors_error = "model.gguf: required tensor 'blk.0.attn_q.weight' is missing";
  EXPECT_EQ(Status(PreflightChecks(c.facts), "tensors"), CheckStatus::kFail);
}

TEST(Preflight, KvTypeAndPlanErrors) {
  Case c(Machine(32 * kGiB), 16 * kGiB);
  c.input.kv_type = DType::kQ4_K;
  c.facts.plan = nullptr;
  c.facts.plan_error = "KV type Q4_K is not supported";
  const std::vector<PreflightCheck> checks = PreflightChecks(c.facts);
  EXPECT_EQ(Status(checks, "kv_type"), CheckStatus::kFail);
  EXPECT_EQ(Status(checks, "plan"), CheckStatus::kFail);
}

TEST(Preflight, MachineLines) {
  MachineReport machine = Machine(32 * kGiB, 2);
  PreflightFacts facts;
  facts.machine = &machine;
  facts.threads = 4;
  std::vector<PreflightCheck> checks = PreflightChecks(facts);
  EXPECT_EQ(Find(checks, "file"), nullptr) << "no model: machine checks only";
  EXPECT_EQ(Status(checks, "budgets"), CheckStatus::kWarn);
  EXPECT_EQ(Status(checks, "threads"), CheckStatus::kWarn);
  EXPECT_EQ(Status(checks, "isa"), CheckStatus::kPass);
  EXPECT_EQ(Status(checks, "huge_pages"), CheckStatus::kPass);
  EXPECT_EQ(Status(checks, "gpu"), CheckStatus::kPass);

  machine.kernel_isa = "scalar";
  machine.huge_pages = "never";
  machine.gpu_driver = "NVIDIA 550.54.15";
  facts.threads = 2;
  checks = PreflightChecks(facts);
  EXPECT_EQ(Status(checks, "threads"), CheckStatus::kPass);
  EXPECT_EQ(Status(checks, "isa"), CheckStatus::kWarn);
  EXPECT_EQ(Status(checks, "huge_pages"), CheckStatus::kWarn);
  EXPECT_EQ(Status(checks, "gpu"), CheckStatus::kWarn);
  EXPECT_TRUE(AllPassOrWarn(checks));

  machine.kernel_isa_error = "MOEFIT_ISA=avx512: this machine cannot run avx512 kernels";
  EXPECT_EQ(Status(PreflightChecks(facts), "isa"), CheckStatus::kFail);
}

}  // namespace
}  // namespace moefit
