// SPDX-License-Identifier: MIT
// The printed plan: JSON keys tools rely on, totals equal to their breakdowns, a readable table.
#include "plan/plan_print.h"

#include <gtest/gtest.h>

#include "plan/catalog.h"
#include "plan/memory_model.h"

namespace moefit {
namespace {

PlanInput QuestionInput(uint64_t ram) {
  PlanInput input;
  input.model = InventoryFromCatalog(*FindCatalogModel("qwen3-30b-a3b"), FileType::kQ4_K_M);
  input.machine.ram_total_bytes = input.machine.ram_available_bytes = 32 * kGiB;
  input.machine.gpus.push_back({"gpu0", 16 * kGiB, 16 * kGiB});
  input.gpu_mem = BudgetSpec{.bytes = 12 * kGiB};
  input.ram = BudgetSpec{.bytes = ram};
  input.ctx = 8192;
  return input;
}

TEST(PlanPrint, JsonIsStableForTools) {
  const PlanInput input = QuestionInput(18 * kGiB);
  const Plan plan = MakePlan(input);
  const nlohmann::ordered_json json = PlanToJson(input, plan);
  for (const char* key : {"model", "machine", "request", "fits", "verdict", "max_ctx", "max_ctx_limit", "kv_bytes_per_token",
                          "devices", "layers", "experts", "shortfalls", "suggestions", "notes", "tensors"})
    EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_TRUE(json["fits"].get<bool>());
  ASSERT_EQ(json["devices"].size(), 3u);
  EXPECT_EQ(json["devices"][0]["name"], "gpu0");
  EXPECT_EQ(json["devices"][1]["name"], "host");
  EXPECT_EQ(json["devices"][2]["name"], "disk");
  for (const auto& device : json["devices"]) {
    uint64_t sum = 0;
    for (const auto& [key, value] : device["breakdown"].items()) sum += value.get<uint64_t>();
    EXPECT_EQ(sum, device["total_bytes"].get<uint64_t>());
    EXPECT_LE(device["total_bytes"].get<uint64_t>(), device["cap_bytes"].get<uint64_t>());
    for (const char* key : {"embeddings", "attention", "norms", "router", "routed_experts", "output", "kv_cache", "compute",
                            "staging", "overhead", "expert_cache"})
      EXPECT_TRUE(device["breakdown"].contains(key)) << key;
  }
  EXPECT_EQ(json["devices"][0]["cap_bytes"].get<uint64_t>(), 12 * kGiB);
  EXPECT_EQ(json["tensors"].size(), input.model.tensors.size());
  EXPECT_EQ(json["experts"].size(), 48u);
}

TEST(PlanPrint, TableReadsAtAGlance) {
  const PlanInput input = QuestionInput(18 * kGiB);
  const std::string text = FormatPlanText(input, MakePlan(input));
  for (const char* part : {"gpu0", "host", "cap", "KV cache", "routed experts", "total", "max context", "verdict      fits"})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
}

TEST(PlanPrint, FailureSaysWhatWouldFit) {
  PlanInput input = QuestionInput(uint64_t{1} << 30);
  input.machine.gpus.clear();
  const Plan plan = MakePlan(input);
  ASSERT_FALSE(plan.fits);
  const std::string text = FormatPlanText(input, plan);
  EXPECT_NE(text.find("does not fit"), std::string::npos) << text;
  EXPECT_NE(text.find("what fits"), std::string::npos) << text;
  const nlohmann::ordered_json json = PlanToJson(input, plan);
  EXPECT_FALSE(json["fits"].get<bool>());
  EXPECT_FALSE(json["suggestions"].empty());
  EXPECT_EQ(json["shortfalls"][0]["device"], "host");
}

}  // namespace
}  // namespace moefit
