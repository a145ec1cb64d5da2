// SPDX-License-Identifier: MIT
// The engine under a RAM cap: allocations past the cap are refused up front (at creation and for
// a batch), weights loaded into owned RAM and experts streamed from disk give the very same
// logits as the mapped, uncapped engine (same kernels, only placement differs), and a plan made
// for a cap smaller than the routed experts runs within it.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include "core/error.h"
#include "model/forward.h"
#include "model/synth.h"
#include "plan/catalog.h"
#include "plan/memory_model.h"
#include "plan/model_inventory.h"
#include "plan/planner.h"
#include "runtime/engine.h"
#include "runtime/planned_engine.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

const std::vector<int32_t> kPrompt = {1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 257, 10};
constexpr int kDecodeSteps = 12;

// 3 MoE layers of 16 experts (4 active), Q4_K_M: about 2.6 MB of routed experts.
class MemoryEngineTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new fs::path(fs::temp_directory_path() / fmt::format("moefit_memory_engine_{}.gguf", ::getpid()));
    SynthOptions options = SynthPreset("tiny");
    options.n_layers = 3;
    options.model_dim = 256;
    options.head_dim = 32;
    options.n_heads = 4;
    options.n_kv_heads = 2;
    options.n_experts = 16;
    options.n_active_experts = 4;
    options.expert_ffn_dim = 256;
    options.vocab_size = 300;
    options.file_type = "q4_k_m";
    options.seed = 23;
    SynthesizeModel(options, path_->string());
    file_ = new GgufFile(GgufFile::Open(path_->string()));
    model_ = new Model(Model::Load(*file_));
    reference_ = new std::vector<float>(Generate({.kv_cells = 64}));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete model_;
    delete file_;
    fs::remove(*path_);
    delete path_;
  }

  // Prompt as one batch, then greedy decoding: every step's logits, concatenated.
  static std::vector<float> Generate(Engine& engine) {
    std::vector<float> all;
    std::span<const float> logits = engine.EvaluateSequence(0, kPrompt);
    for (int step = 0; step < kDecodeSteps; ++step) {
      all.insert(all.end(), logits.begin(), logits.end());
      const int32_t next[] = {static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
      logits = engine.EvaluateSequence(0, next);
    }
    all.insert(all.end(), logits.begin(), logits.end());
    return all;
  }
  static std::vector<float> Generate(const EngineOptions& options) {
    Engine engine(*model_, options);
    return Generate(engine);
  }

  static bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  }

  static uint64_t ExpertBytes(int layer) {
    const LayerWeights& l = model_->weights().layers[static_cast<size_t>(layer)];
    return static_cast<uint64_t>(l.ffn_gate_exps.matrix_bytes() + l.ffn_up_exps.matrix_bytes() + l.ffn_down_exps.matrix_bytes());
  }

  static fs::path* path_;
  static GgufFile* file_;
  static Model* model_;
  static std::vector<float>* reference_;  // mapped, uncapped
};
fs::path* MemoryEngineTest::path_ = nullptr;
GgufFile* MemoryEngineTest::file_ = nullptr;
Model* MemoryEngineTest::model_ = nullptr;
std::vector<float>* MemoryEngineTest::reference_ = nullptr;

TEST_F(MemoryEngineTest, LoadedWeightsGiveTheSameLogits) {
  Budget budget("host RAM", uint64_t{1} << 30);
  // Interleaved rows only: the same bits. (Repacked Q4_K, Q5_K and Q6_K: next test.)
  Engine engine(*model_, {.kv_cells = 64, .host_budget = &budget, .weights = WeightResidence::kLoaded, .file = file_,
                          .repack_weights = false});
  // Every matrix is an owned copy now, charged.
  uint64_t matrices = 0;
  for (const GgufTensorInfo& tensor : file_->tensors())
    if (tensor.dims.size() >= 2) matrices += tensor.bytes;
  EXPECT_EQ(engine.owned_weight_bytes(), matrices);
  EXPECT_GE(budget.used(), matrices);
  EXPECT_TRUE(SameBits(Generate(engine), *reference_));
}

// Repacked Q4_K, Q5_K and Q6_K groups (where this machine's kernels have them) sum in another order: the same
// logits up to float rounding, hence the same greedy tokens.
TEST_F(MemoryEngineTest, RepackedWeightsGiveTheSameLogitsUpToRounding) {
  Budget budget("host RAM", uint64_t{1} << 30);
  Engine engine(*model_, {.kv_cells = 64, .host_budget = &budget, .weights = WeightResidence::kLoaded, .file = file_});
  const std::vector<float> logits = Generate(engine);
  ASSERT_EQ(logits.size(), reference_->size());
  float largest = 0, worst = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    largest = std::max(largest, std::fabs((*reference_)[i]));
    worst = std::max(worst, std::fabs(logits[i] - (*reference_)[i]));
  }
  EXPECT_LE(worst, 1e-4f * largest) << "largest logit " << largest;
}

TEST_F(MemoryEngineTest, StreamedExpertsGiveTheSameLogitsBitForBit) {
  for (const int64_t slots : {4, 10}) {
    SCOPED_TRACE(fmt::format("{} slots", slots));
    for (const WeightResidence residence : {WeightResidence::kMapped, WeightResidence::kLoaded}) {
      Budget budget("host RAM", uint64_t{1} << 30);
      Engine engine(*model_, {.kv_cells = 64, .host_budget = &budget, .weights = residence, .file = file_,
                              .expert_cache_slots = {slots, slots, slots}, .repack_weights = false});
      ASSERT_TRUE(engine.expert_store().streams());
      EXPECT_TRUE(SameBits(Generate(engine), *reference_));
      const ExpertStoreStats stats = engine.expert_stats();
      EXPECT_GT(stats.misses, 0u);
      for (int layer = 0; layer < 3; ++layer) {
        const ExpertStoreStats& layer_stats = engine.expert_store().layer_stats(layer);
        EXPECT_EQ(layer_stats.bytes_read, layer_stats.misses * ExpertBytes(layer));  // Q4_K_M mixes types by layer
      }
      // Each expert at most once per layer per batch: 1 + kDecodeSteps batches, 3 layers.
      EXPECT_LE(stats.acquisitions(), uint64_t{3} * (1 + kDecodeSteps) * 16);
      EXPECT_GE(stats.acquisitions(), uint64_t{3} * (1 + kDecodeSteps) * 4);
      if (slots >= 10) {
        EXPECT_GT(stats.hits, 0u);
      }
    }
  }
}

TEST_F(MemoryEngineTest, ASmallerCacheMissesMore) {
  auto misses = [](int64_t slots) {
    Engine engine(*model_, {.kv_cells = 64, .file = file_, .expert_cache_slots = {slots, slots, slots}});
    Generate(engine);
    return engine.expert_stats().misses;
  };
  EXPECT_GT(misses(4), misses(12));
}

TEST_F(MemoryEngineTest, CreationPastTheCapIsRefusedNamingCapAndBytes) {
  Budget budget("host RAM", 64 * 1024);
  try {
    Engine engine(*model_, {.kv_cells = 4096, .host_budget = &budget});
    ADD_FAILURE() << "an engine over the cap must be refused";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("host RAM"), std::string::npos) << message;
    EXPECT_NE(message.find("KV cache"), std::string::npos) << message;
    EXPECT_NE(message.find("65536 bytes"), std::string::npos) << message;  // the cap
  }
  EXPECT_EQ(budget.used(), 0u);  // what was charged before the refusal is returned
  // Loading the weights is refused too when they do not fit beside the rest.
  Budget weights_budget("host RAM", 2 * 1024 * 1024);
  EXPECT_THROW(Engine(*model_, {.kv_cells = 64, .host_budget = &weights_budget, .weights = WeightResidence::kLoaded, .file = file_}),
               Error);
  EXPECT_EQ(weights_budget.used(), 0u);
}

TEST_F(MemoryEngineTest, ABatchPastTheCapIsRefusedAndTheEngineCarriesOn) {
  Budget probe("host RAM", uint64_t{1} << 30);
  { Engine sizing(*model_, {.kv_cells = 64, .host_budget = &probe}); }
  // Room for the engine and 4 more rows of logits, not for 16.
  const uint64_t row = static_cast<uint64_t>(model_->spec().vocab_size) * sizeof(float);
  Budget budget("host RAM", probe.peak() + 4 * row);
  Engine engine(*model_, {.kv_cells = 64, .host_budget = &budget});
  std::vector<BatchItem> items;
  for (int32_t token : kPrompt) items.push_back({0, token, true});
  try {
    engine.Evaluate(items);
    ADD_FAILURE() << "16 rows of logits must be refused";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("logits of 16 positions"), std::string::npos) << error.what();
  }
  EXPECT_EQ(engine.kv_cache().Length(0), 0);
  EXPECT_EQ(engine.kv_cache().free_cells(), 64);
  // Within the cap it runs, and gives the uncapped logits.
  items.resize(4);
  for (BatchItem& item : items) item.want_logits = true;
  EXPECT_EQ(engine.Evaluate(items).size(), 4 * static_cast<size_t>(model_->spec().vocab_size));
  EXPECT_LE(budget.peak(), budget.cap());
}

TEST_F(MemoryEngineTest, LargeBatchesRunInPassesOfTheScratchSize) {
  // Passes of 5 and one pass of 16 agree closely (the kernels may tile batches differently).
  Engine passes(*model_, {.kv_cells = 64, .max_batch_tokens = 5});
  std::vector<BatchItem> items;
  for (int32_t token : kPrompt) items.push_back({0, token, true});
  const std::span<const float> got = passes.Evaluate(items);
  Engine whole(*model_, {.kv_cells = 64});
  const std::span<const float> expected = whole.Evaluate(items);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 2e-3f) << i;
}

// A plan for a cap below the model: the experts stream, the engine fits the budget, the
// logits are the uncapped ones.
TEST_F(MemoryEngineTest, PlanWithExpertsOverTheCapRunsWithinIt) {
  PlanInput input;
  input.model = InventoryFromGguf(*file_);
  input.machine = {.ram_total_bytes = uint64_t{64} << 30, .ram_available_bytes = uint64_t{64} << 30, .cores = 2};
  input.ctx = 64;
  input.ubatch = 16;
  input.policy.use_gpu = false;
  const Plan uncapped = MakePlan(input);
  ASSERT_TRUE(uncapped.fits);
  uint64_t routed = 0;
  for (const ExpertLayerPlan& layer : uncapped.expert_layers) routed += layer.expert_bytes * static_cast<uint64_t>(layer.n_experts);
  // Half the routed experts' bytes fewer than everything resident.
  input.ram.bytes = uncapped.Device("host")->total() - routed / 2;
  const Plan plan = MakePlan(input);
  ASSERT_TRUE(plan.fits) << plan.verdict;
  ASSERT_GT(plan.streamed_expert_bytes(), 0u) << plan.verdict;
  HostMemory memory(plan);
  EngineOptions options = EngineOptionsFromPlan(plan, *file_, memory.budget());
  options.repack_weights = false;  // same bits as the reference (repacked: the rounding test above)
  Engine engine(*model_, options);
  EXPECT_TRUE(engine.expert_store().streams());
  EXPECT_TRUE(SameBits(Generate(engine), *reference_));
  const Budget& budget = memory.budget();
  EXPECT_LE(budget.peak(), budget.cap());
  EXPECT_LE(budget.peak(), plan.Device("host")->total());
  EXPECT_GT(engine.expert_stats().hit_rate(), 0.0);
  EXPECT_NE(PlanSummaryLine(plan).find("stream from disk"), std::string::npos) << PlanSummaryLine(plan);
}

// The plan's compute figure is what the engine's scratch and logits take (or more), for the
// shapes of the catalog models the CPU engine runs, so an engine planned to the last byte of a
// cap is never refused for its buffers.
TEST(PlannedCompute, CoversTheEnginesScratchAndLogits) {
  static_assert(sizeof(ExpertMatrices) <= kExpertViewBytes);
  for (const char* name : {"qwen3-30b-a3b", "qwen3-235b-a22b", "qwen1.5-moe-a2.7b", "qwen2-57b-a14b", "mixtral-8x7b",
                           "olmoe-1b-7b", "qwen3-8b"}) {
    const CatalogModel* model = FindCatalogModel(name);
    ASSERT_NE(model, nullptr) << name;
    const ModelShape& shape = model->shape;
    ModelSpec spec;
    spec.architecture = shape.architecture;
    spec.n_layers = static_cast<int>(shape.n_layers);
    spec.model_dim = static_cast<int>(shape.model_dim);
    spec.n_heads = static_cast<int>(shape.n_heads);
    spec.n_kv_heads = static_cast<int>(shape.n_kv_heads);
    spec.head_dim = static_cast<int>(shape.key_length);
    spec.value_head_dim = static_cast<int>(shape.value_length);
    spec.vocab_size = static_cast<int>(shape.vocab_size);
    spec.ffn_dim = static_cast<int>(shape.ffn_dim);
    spec.n_experts = shape.is_moe() ? static_cast<int>(shape.n_experts) : 0;
    spec.n_active_experts = static_cast<int>(shape.n_active_experts);
    spec.expert_ffn_dim = static_cast<int>(shape.expert_ffn_dim);
    spec.n_shared_experts = static_cast<int>(shape.n_shared_experts);
    spec.shared_expert_ffn_dim = static_cast<int>(shape.shared_expert_ffn_dim);
    spec.leading_dense_layers = static_cast<int>(shape.leading_dense_layers);
    for (const int64_t tokens : {1, 7, 512}) {
      for (const int64_t parallel : {1, 4}) {
        SCOPED_TRACE(fmt::format("{}: {} tokens, {} sequences", name, tokens, parallel));
        const ComputeFigures planned = ComputeSizes(shape, tokens, parallel, omp_get_max_threads());
        const uint64_t engine = ForwardScratch::Bytes(spec, tokens) +
                                static_cast<uint64_t>(parallel) * static_cast<uint64_t>(spec.vocab_size) * sizeof(float);
        EXPECT_GE(planned.Layers() + planned.logits, engine);
      }
    }
  }
}

}  // namespace
}  // namespace moefit
