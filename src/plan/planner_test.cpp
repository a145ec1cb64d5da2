// SPDX-License-Identifier: MIT
// The planner on made-up machines: caps respected exactly, monotone in RAM, max context exact to
// the token, expert streaming, dense offload, failures that say what would fit.
#include "plan/planner.h"

#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "plan/catalog.h"
#include "plan/file_type.h"
#include "plan/memory_model.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

MachineSpec Machine(uint64_t ram, std::vector<uint64_t> gpus = {}) {
  MachineSpec machine;
  machine.ram_total_bytes = machine.ram_available_bytes = ram;
  machine.cores = 8;
  for (size_t i = 0; i < gpus.size(); ++i) machine.gpus.push_back({fmt::format("gpu{}", i), gpus[i], gpus[i]});
  return machine;
}

BudgetSpec Bytes(uint64_t bytes) { return BudgetSpec{.bytes = bytes}; }

PlanInput Input(std::string_view model, FileType type, MachineSpec machine, int64_t ctx = 4096) {
  const CatalogModel* entry = FindCatalogModel(model);
  EXPECT_NE(entry, nullptr) << model;
  PlanInput input;
  input.model = InventoryFromCatalog(*entry, type);
  input.machine = std::move(machine);
  input.ctx = ctx;
  return input;
}

uint64_t Weight(const DeviceUsage& device, TensorRole role) { return device.weights[static_cast<size_t>(role)]; }

// Every device under its cap; when it fits, every byte of the model accounted for exactly once.
void ExpectSound(const PlanInput& input, const Plan& plan) {
  for (const DeviceUsage& device : plan.devices) EXPECT_LE(device.total(), device.cap_bytes) << device.name;
  if (!plan.fits) {
    for (const DeviceUsage& device : plan.devices) EXPECT_EQ(device.total(), 0u) << device.name;
    EXPECT_FALSE(plan.shortfalls.empty());
    EXPECT_TRUE(plan.tensors.empty());
    return;
  }
  EXPECT_TRUE(plan.shortfalls.empty());
  const ModelShape& shape = input.model.shape;
  uint64_t placed = 0, unused = 0, embeddings = 0;
  for (const DeviceUsage& device : plan.devices) placed += device.weight_bytes() + device.expert_cache;
  for (const TensorEntry& tensor : input.model.tensors) {
    if (tensor.layer >= shape.n_layers) unused += tensor.bytes;
    if (tensor.role == TensorRole::kEmbedding) embeddings += tensor.bytes;
  }
  const uint64_t copy = shape.tied_embeddings && plan.output_on_gpu ? embeddings : 0;
  EXPECT_EQ(placed, input.model.tensor_bytes() - unused + copy);
  bool streamed = false;
  for (const ExpertLayerPlan& layer : plan.expert_layers) {
    EXPECT_LE(layer.gpu_slots + layer.host_slots, layer.n_experts);
    EXPECT_EQ(layer.streamed, layer.gpu_slots + layer.host_slots < layer.n_experts);
    if (layer.streamed) {
      EXPECT_GE(layer.host_slots, std::min(shape.n_active_experts, layer.n_experts - layer.gpu_slots));
    }
    streamed = streamed || layer.streamed;
  }
  EXPECT_EQ(streamed, plan.streamed_expert_bytes() > 0);
  EXPECT_EQ(plan.tensors.size(), input.model.tensors.size());
  EXPECT_LE(plan.n_gpu_layers, shape.n_layers);
}

TEST(Planner, TheQuestionUsersAsk) {
  // moefit plan --model qwen3-30b-a3b --type q4_k_m --gpu-mem 12G --ram 18G --ctx 8192, on a
  // 16 GB GPU + 32 GB RAM machine.
  PlanInput input = Input("qwen3-30b-a3b", FileType::kQ4_K_M, Machine(32 * kGiB, {16 * kGiB}), 8192);
  input.gpu_mem = Bytes(12 * kGiB);
  input.ram = Bytes(18 * kGiB);
  const Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  ASSERT_TRUE(plan.fits) << plan.verdict;
  EXPECT_EQ(plan.n_gpu_layers, 48);
  EXPECT_TRUE(plan.output_on_gpu);
  const DeviceUsage* gpu = plan.Device("gpu0");
  const DeviceUsage* host = plan.Device("host");
  ASSERT_NE(gpu, nullptr);
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(gpu->kv_cache, 8192u * 48 * 4 * 256 * 2) << "KV on the GPU: 96 KiB a token";
  EXPECT_EQ(host->kv_cache, 8192u * kKvBookkeepingPerCell) << "only the cell lists stay on the host";
  EXPECT_GT(Weight(*gpu, TensorRole::kRoutedExperts), 0u) << "spare VRAM holds expert slots";
  EXPECT_GT(Weight(*host, TensorRole::kRoutedExperts), 0u) << "the other experts are in RAM";
  EXPECT_EQ(plan.streamed_expert_bytes(), 0u);
  EXPECT_LT(gpu->cap_bytes - gpu->total(), plan.expert_layers[0].expert_bytes) << "VRAM filled to the last expert";
  EXPECT_GT(plan.max_ctx, 8192);
}

TEST(Planner, CapsAreRespectedOnManyMachines) {
  int plans = 0, fitting = 0;
  for (const CatalogModel& model : Catalog()) {
    for (const uint64_t ram : {8 * kGiB, 24 * kGiB, 64 * kGiB, 192 * kGiB}) {
      for (const uint64_t gpu : {uint64_t{0}, 8 * kGiB, 24 * kGiB}) {
        for (const int64_t ctx : {2048, 32768}) {
          for (const DType kv : {DType::kF16, DType::kQ8_0}) {
            SCOPED_TRACE(fmt::format("{} ram {} gpu {} ctx {} kv {}", model.id, ram, gpu, ctx, DTypeName(kv)));
            PlanInput input;
            input.model = InventoryFromCatalog(model, FileType::kQ4_K_M);
            input.machine = gpu > 0 ? Machine(ram, {gpu}) : Machine(ram);
            input.ram = BudgetSpec{.fraction = 0.9};
            input.ctx = ctx;
            input.kv_type = kv;
            const Plan plan = MakePlan(input);
            ExpectSound(input, plan);
            ++plans;
            fitting += plan.fits ? 1 : 0;
          }
        }
      }
    }
  }
  EXPECT_GT(fitting, plans / 3);
  EXPECT_LT(fitting, plans);
}

TEST(Planner, MoreRamNeverHurts) {
  for (const char* name : {"qwen3-30b-a3b", "deepseek-v2-lite", "mixtral-8x7b", "gpt-oss-20b", "qwen3-8b", "glm-4.5-air"}) {
    for (const uint64_t gpu : {uint64_t{0}, 12 * kGiB}) {
      SCOPED_TRACE(fmt::format("{} gpu {}", name, gpu));
      PlanInput input = Input(name, FileType::kQ4_K_M, gpu > 0 ? Machine(256 * kGiB, {gpu}) : Machine(256 * kGiB), 16384);
      int64_t last_max_ctx = -1, last_resident = -1;
      uint64_t last_streamed = UINT64_MAX;
      bool last_fits = false;
      for (uint64_t ram = kGiB; ram <= 72 * kGiB; ram += kGiB / 2) {
        input.ram = Bytes(ram);
        const Plan plan = MakePlan(input);
        ExpectSound(input, plan);
        EXPECT_GE(plan.max_ctx, last_max_ctx) << "ram " << ram;
        EXPECT_GE(plan.max_ctx_resident, last_resident) << "ram " << ram;
        last_resident = plan.max_ctx_resident;
        EXPECT_TRUE(plan.fits || !last_fits) << "ram " << ram;
        if (plan.fits) {
          EXPECT_LE(plan.streamed_expert_bytes(), last_streamed) << "ram " << ram;
          last_streamed = plan.streamed_expert_bytes();
        }
        last_max_ctx = plan.max_ctx;
        last_fits = plan.fits;
      }
      EXPECT_TRUE(last_fits);
      EXPECT_EQ(last_streamed, 0u);
    }
  }
}

TEST(Planner, MaxContextIsExactToTheToken) {
  struct Case {
    const char* model;
    uint64_t ram, gpu, gpu_cap;
    int64_t parallel;
    DType kv;
  };
  const Case kCases[] = {
      {"qwen3-30b-a3b", 20 * kGiB, 0, 0, 1, DType::kF16},         {"qwen3-30b-a3b", 9 * kGiB, 16 * kGiB, 12 * kGiB, 1, DType::kQ8_0},
      {"qwen3-30b-a3b", 32 * kGiB, 8 * kGiB, 6 * kGiB, 3, DType::kQ4_0}, {"deepseek-v2-lite", 12 * kGiB, 0, 0, 1, DType::kF16},
      {"gpt-oss-20b", 14 * kGiB, 0, 0, 2, DType::kQ8_0},          {"qwen3-8b", 6 * kGiB, 4 * kGiB, 3 * kGiB, 1, DType::kF16},
      {"mixtral-8x7b", 10 * kGiB, 24 * kGiB, 20 * kGiB, 1, DType::kBF16},
  };
  int memory_limited = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(fmt::format("{} ram {} gpu {}", c.model, c.ram, c.gpu_cap));
    PlanInput input = Input(c.model, FileType::kQ4_K_M, c.gpu > 0 ? Machine(c.ram, {c.gpu}) : Machine(c.ram));
    if (c.gpu > 0) input.gpu_mem = Bytes(c.gpu_cap);
    input.parallel = c.parallel;
    input.kv_type = c.kv;
    const Plan plan = MakePlan(input);
    ASSERT_GT(plan.max_ctx_resident, 0);
    EXPECT_LE(plan.max_ctx_resident, plan.max_ctx);
    // With streaming allowed (the policy), and without.
    for (const auto& [stream, max_ctx] : {std::pair{true, plan.max_ctx}, std::pair{false, plan.max_ctx_resident}}) {
      if (max_ctx == input.model.shape.context_length) continue;  // the model's limit, not memory's
      ++memory_limited;
      PlanInput probe = input;
      probe.policy.stream_experts = stream;
      probe.ctx = max_ctx;
      const Plan at_max = MakePlan(probe);
      ExpectSound(probe, at_max);
      EXPECT_TRUE(at_max.fits) << "streaming " << stream;
      probe.ctx = max_ctx + 1;
      EXPECT_FALSE(PlanFits(probe)) << "one more token must not fit; streaming " << stream;
    }
  }
  EXPECT_GE(memory_limited, 6);
}

// For the CPU alone, the context follows from the KV formula in closed form.
TEST(Planner, MaxContextMatchesTheKvFormula) {
  for (const char* name : {"qwen3-8b", "qwen3-30b-a3b", "deepseek-v2-lite"}) {
    SCOPED_TRACE(name);
    PlanInput input = Input(name, FileType::kQ4_K_M, Machine(64 * kGiB), 512);
    input.policy.stream_experts = false;
    input.ram = Bytes(input.model.tensor_bytes() + 3 * kGiB);
    const Plan small = MakePlan(input);
    ASSERT_TRUE(small.fits);
    const DeviceUsage& host = *small.Device("host");
    const uint64_t fixed = host.total() - host.kv_cache;  // constant once ctx >= ubatch
    const uint64_t per_token = small.kv_bytes_per_token + kKvBookkeepingPerCell;  // K and V + the cell lists
    const int64_t expected = static_cast<int64_t>((host.cap_bytes - fixed) / per_token);
    EXPECT_EQ(small.max_ctx, std::min(expected, input.model.shape.context_length));
    EXPECT_EQ(host.kv_cache, 512 * per_token);
  }
}

TEST(Planner, KvBytesFollowTheFormula) {
  const ModelShape& qwen = FindCatalogModel("qwen3-30b-a3b")->shape;
  EXPECT_EQ(KvBytesPerCell(qwen, DType::kF16) * 48, 98304u);       // 48 x 4 heads x (128 + 128) x 2
  EXPECT_EQ(KvBytesPerCell(qwen, DType::kBF16) * 48, 98304u);
  EXPECT_EQ(KvBytesPerCell(qwen, DType::kQ8_0) * 48, 48u * 2 * 544);  // 512 values: 16 blocks of 34 bytes
  EXPECT_EQ(KvBytesPerCell(qwen, DType::kQ4_0) * 48, 48u * 2 * 288);  // 16 blocks of 18 bytes
  const ModelShape& deepseek = FindCatalogModel("deepseek-v3")->shape;
  EXPECT_EQ(KvBytesPerCell(deepseek, DType::kF16), (512u + 64) * 2) << "MLA caches the latent and the rope key";
  EXPECT_EQ(KvBytesPerCell(deepseek, DType::kQ8_0), 544u + 68);
  EXPECT_THROW(KvBytesPerCell(qwen, DType::kF32), Error);
  EXPECT_THROW(KvBytesPerCell(qwen, DType::kQ4_K), Error);

  // gpt-oss: 12 full layers hold every token; 12 sliding layers at most window + ubatch.
  PlanInput input = Input("gpt-oss-20b", FileType::kMXFP4, Machine(64 * kGiB), 8192);
  const Plan plan = MakePlan(input);
  ASSERT_TRUE(plan.fits);
  const uint64_t per_cell = 8 * 64 * 2 * 2;
  EXPECT_EQ(plan.kv_bytes_per_token, 12 * per_cell);
  EXPECT_EQ(plan.Device("host")->kv_cache, 12 * per_cell * 8192 + 12 * per_cell * (128 + 512) + 8192 * kKvBookkeepingPerCell);
}

TEST(Planner, StreamsExpertsThroughABoundedRamCache) {
  PlanInput input = Input("qwen3-30b-a3b", FileType::kQ4_K_M, Machine(16 * kGiB));
  input.ram = Bytes(8 * kGiB);
  const Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  ASSERT_TRUE(plan.fits) << plan.verdict;
  const DeviceUsage& host = *plan.Device("host");
  EXPECT_GT(host.expert_cache, 0u);
  EXPECT_EQ(Weight(host, TensorRole::kRoutedExperts), 0u);
  EXPECT_GT(plan.streamed_expert_bytes(), 0u);
  EXPECT_LT(host.cap_bytes - host.total(), plan.expert_layers[0].expert_bytes) << "the cache takes what is left";
  for (const ExpertLayerPlan& layer : plan.expert_layers) EXPECT_GE(layer.host_slots, 8);
  EXPECT_NE(plan.verdict.find("stream"), std::string::npos) << plan.verdict;
  bool split = false;
  for (const TensorPlacement& tensor : plan.tensors) split = split || tensor.residence == Residence::kExperts;
  EXPECT_TRUE(split);
}

TEST(Planner, RefusesWithHelpWhenNothingFits) {
  PlanInput input = Input("qwen3-235b-a22b", FileType::kQ4_K_M, Machine(32 * kGiB), 32768);
  input.ram = Bytes(2 * kGiB);
  Plan plan;
  ASSERT_NO_THROW(plan = MakePlan(input));
  ExpectSound(input, plan);
  EXPECT_FALSE(plan.fits);
  EXPECT_EQ(plan.max_ctx, 0);
  ASSERT_EQ(plan.shortfalls.size(), 1u);
  EXPECT_EQ(plan.shortfalls[0].device, "host");
  EXPECT_GT(plan.shortfalls[0].needed_bytes, plan.shortfalls[0].cap_bytes);
  EXPECT_NE(plan.verdict.find("does not fit"), std::string::npos);
  ASSERT_FALSE(plan.suggestions.empty());
  EXPECT_EQ(plan.suggestions.back().change, "ram");
}

// Each suggestion, applied, gives a plan that fits.
TEST(Planner, SuggestionsReallyFit) {
  // The weights fit; two sequences of the full trained context in f16 KV do not.
  PlanInput input = Input("qwen3-30b-a3b", FileType::kQ4_K_M, Machine(24 * kGiB), 40960);
  input.policy.stream_experts = false;
  input.parallel = 2;
  input.ram = Bytes(22 * kGiB);
  const Plan plan = MakePlan(input);
  ASSERT_FALSE(plan.fits);
  std::vector<std::string> changes;
  for (const Suggestion& suggestion : plan.suggestions) {
    SCOPED_TRACE(suggestion.text);
    changes.push_back(suggestion.change);
    PlanInput changed = input;
    if (suggestion.change == "ctx") changed.ctx = std::stoll(suggestion.value);
    if (suggestion.change == "kv_type") changed.kv_type = *ParseDType(suggestion.value);
    if (suggestion.change == "parallel") changed.parallel = std::stoll(suggestion.value);
    if (suggestion.change == "ram") changed.ram = ParseBudgetSpec(suggestion.value);
    if (suggestion.change == "file_type")
      changed.model = InventoryFromCatalog(*FindCatalogModel("qwen3-30b-a3b"), *ParseFileType(suggestion.value));
    if (suggestion.change == "ram" && changed.ram.Resolve(0) > input.machine.ram_total_bytes) continue;
    EXPECT_TRUE(PlanFits(changed));
  }
  for (const char* expected : {"ctx", "kv_type", "parallel", "file_type", "ram"})
    EXPECT_NE(std::find(changes.begin(), changes.end(), expected), changes.end()) << expected;
}

TEST(Planner, DenseLayersGoToTheGpuAsFarAsTheyFit) {
  int last_layers = -1;
  for (const uint64_t gpu_cap : {2 * kGiB, 3 * kGiB, 4 * kGiB, 5 * kGiB, 8 * kGiB}) {
    PlanInput input = Input("qwen3-8b", FileType::kQ4_K_M, Machine(32 * kGiB, {16 * kGiB}), 8192);
    input.gpu_mem = Bytes(gpu_cap);
    const Plan plan = MakePlan(input);
    ExpectSound(input, plan);
    ASSERT_TRUE(plan.fits);
    EXPECT_GT(plan.n_gpu_layers, last_layers);
    EXPECT_TRUE(plan.expert_layers.empty());
    last_layers = plan.n_gpu_layers;
    for (const TensorPlacement& tensor : plan.tensors) {
      if (tensor.layer >= 0) {
        EXPECT_EQ(tensor.residence, tensor.layer < plan.n_gpu_layers ? Residence::kGpu : Residence::kHost) << tensor.name;
      }
    }
  }
  EXPECT_EQ(last_layers, 36);
}

TEST(Planner, CpuAloneWhenThereIsNoGpuOrItIsOff) {
  PlanInput input = Input("olmoe-1b-7b", FileType::kQ4_K_M, Machine(16 * kGiB));
  Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  EXPECT_EQ(plan.Device("gpu0"), nullptr);
  EXPECT_EQ(plan.n_gpu_layers, 0);
  EXPECT_EQ(plan.Device("host")->staging, 0u);
  for (const TensorPlacement& tensor : plan.tensors) EXPECT_EQ(tensor.residence, Residence::kHost) << tensor.name;

  input.machine = Machine(16 * kGiB, {8 * kGiB});
  input.policy.use_gpu = false;
  plan = MakePlan(input);
  ExpectSound(input, plan);
  ASSERT_NE(plan.Device("gpu0"), nullptr);
  EXPECT_EQ(plan.Device("gpu0")->total(), 0u);
  input.policy.use_gpu = true;
  input.gpu_mem = BudgetSpec{.fraction = 0.0};
  EXPECT_EQ(MakePlan(input).n_gpu_layers, 0) << "--gpu-mem 0 keeps the GPU out";
}

TEST(Planner, CapIsHonouredToTheByte) {
  PlanInput input = Input("qwen3-8b", FileType::kQ4_K_M, Machine(64 * kGiB), 4096);
  const Plan roomy = MakePlan(input);
  ASSERT_TRUE(roomy.fits);
  const uint64_t need = roomy.Device("host")->total();
  input.ram = Bytes(need);
  const Plan exact = MakePlan(input);
  ASSERT_TRUE(exact.fits);
  EXPECT_EQ(exact.Device("host")->total(), need);
  input.ram = Bytes(need - 1);
  EXPECT_FALSE(MakePlan(input).fits);
}

TEST(Planner, TiedEmbeddingsCopyTheHeadToTheGpu) {
  PlanInput input = Input("qwen3-8b", FileType::kQ4_K_M, Machine(32 * kGiB, {24 * kGiB}));
  input.model.shape.tied_embeddings = true;
  std::erase_if(input.model.tensors, [](const TensorEntry& tensor) { return tensor.name == "output.weight"; });
  const Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  ASSERT_TRUE(plan.output_on_gpu);
  EXPECT_GT(Weight(*plan.Device("gpu0"), TensorRole::kOutput), 0u);
  EXPECT_GT(Weight(*plan.Device("host"), TensorRole::kEmbedding), 0u);
}

TEST(Planner, MultiTokenPredictionLayerStaysOnDisk) {
  PlanInput input = Input("glm-4.5-air", FileType::kQ4_K_M, Machine(128 * kGiB));
  const Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  ASSERT_TRUE(plan.fits);
  int unused = 0;
  for (const TensorPlacement& tensor : plan.tensors) unused += tensor.residence == Residence::kUnused ? 1 : 0;
  EXPECT_GT(unused, 0);
  EXPECT_EQ(plan.expert_layers.size(), 45u) << "46 layers, the first dense";
}

TEST(Planner, InvalidInputThrows) {
  PlanInput input = Input("qwen3-30b-a3b", FileType::kQ4_K_M, Machine(64 * kGiB));
  for (const auto& change : std::vector<std::function<void(PlanInput&)>>{
           [](PlanInput& in) { in.ctx = 0; }, [](PlanInput& in) { in.parallel = 0; },
           [](PlanInput& in) { in.ubatch = 0; }, [](PlanInput& in) { in.kv_type = DType::kQ4_K; },
           [](PlanInput& in) { in.model.tensors.clear(); }}) {
    PlanInput bad = input;
    change(bad);
    EXPECT_THROW(MakePlan(bad), Error);
  }
}

TEST(Planner, FixtureFiles) {
  const fs::path dir = fs::path(MOEFIT_FIXTURES_DIR) / "models";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures not found at " << dir;
  PlanInput input;
  input.model = InventoryFromGguf(GgufFile::Open((dir / "tiny-qwen3moe-q4_k_m.gguf").string()));
  input.machine = Machine(kGiB);
  input.ctx = 1024;
  const Plan plan = MakePlan(input);
  ExpectSound(input, plan);
  EXPECT_TRUE(plan.fits);
  EXPECT_EQ(plan.tensors.size(), 27u);
  // Head dims of 16 cannot hold 32-value KV blocks: a clear error, not a wrong plan.
  input.model = InventoryFromGguf(GgufFile::Open((dir / "arch/tiny-qwen2moe-q8_0.gguf").string()));
  input.kv_type = DType::kQ8_0;
  try {
    MakePlan(input);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("16"), std::string::npos) << error.what();
  }
}

TEST(Planner, NotesCaveats) {
  PlanInput input = Input("olmoe-1b-7b", FileType::kQ4_K_M, Machine(16 * kGiB), 8192);
  input.ram = Bytes(64 * kGiB);
  const Plan plan = MakePlan(input);
  ASSERT_TRUE(plan.fits);
  EXPECT_EQ(plan.Device("host")->cap_bytes, 16 * kGiB) << "a cap above the machine is the machine";
  std::string notes;
  for (const std::string& note : plan.notes) notes += note + "\n";
  EXPECT_NE(notes.find("trained"), std::string::npos) << notes;
  EXPECT_NE(notes.find("more than the machine"), std::string::npos) << notes;
  EXPECT_TRUE(plan.max_ctx_is_model_limit);
  EXPECT_EQ(plan.max_ctx, 4096);
}

}  // namespace
}  // namespace moefit
