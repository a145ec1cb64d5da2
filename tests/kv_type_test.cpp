// SPDX-License-Identifier: MIT
// KV cache types across layers: the runtime's bytes per cell equal the planner's for every type
// on every fixture and synthesized architecture (or both refuse); the engine charges exactly
// what its cache allocates; and on every fixture model a quantized KV cache keeps the
// last-position logits close to those of an f16 cache (cosine per model, prompt and type).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/synth.h"
#include "plan/memory_model.h"
#include "plan/model_inventory.h"
#include "runtime/engine.h"
#include "test_math.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

constexpr DType kKvTypes[] = {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

std::vector<std::string> FixtureModels() {
  std::vector<std::string> models;
  for (const char* type : {"f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m"}) models.push_back(fmt::format("tiny-qwen3moe-{}.gguf", type));
  for (const char* arch : {"qwen2moe", "llama-moe", "olmoe", "qwen3", "qwen2", "llama"})
    models.push_back(fmt::format("arch/tiny-{}-q8_0.gguf", arch));
  return models;
}

fs::path FixtureRoot() { return fs::path(MOEFIT_FIXTURES_DIR) / "models"; }

// The runtime's figure and the planner's, for every type: equal, or both refuse.
void ExpectBytesPerCellAgree(const ModelSpec& spec, const ModelShape& shape, const std::string& what) {
  for (DType type : kKvTypes) {
    SCOPED_TRACE(what + " " + KvTypeName(type));
    std::optional<uint64_t> runtime, planned;
    std::string runtime_error, plan_error;
    try {
      runtime = KvCache::BytesPerCell(spec, type);
    } catch (const Error& error) {
      runtime_error = error.what();
    }
    try {
      planned = static_cast<uint64_t>(shape.n_layers) * KvBytesPerCell(shape, type);
    } catch (const Error& error) {
      plan_error = error.what();
    }
    EXPECT_EQ(runtime.has_value(), planned.has_value()) << "runtime: " << runtime_error << "; plan: " << plan_error;
    if (runtime && planned) {
      EXPECT_EQ(*runtime, *planned);
    }
    if (!runtime) {
      // The refusal names the type and the head size.
      EXPECT_NE(runtime_error.find(KvTypeName(type)), std::string::npos) << runtime_error;
      EXPECT_NE(runtime_error.find(std::to_string(spec.head_dim % 32 != 0 ? spec.head_dim : spec.value_head_dim)),
                std::string::npos)
          << runtime_error;
    }
    if (type == DType::kF16 || type == DType::kBF16) {
      EXPECT_TRUE(runtime.has_value()) << runtime_error;
    }
  }
}

TEST(KvBytesPerCell, RuntimeEqualsPlanOnEveryFixture) {
  int checked = 0;
  for (const std::string& name : FixtureModels()) {
    const fs::path path = FixtureRoot() / name;
    if (!fs::exists(path)) continue;
    const GgufFile file = GgufFile::Open(path.string());
    const Model model = Model::Load(file);
    ExpectBytesPerCellAgree(model.spec(), InventoryFromGguf(file).shape, name);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "fixtures not found under " << FixtureRoot();
}

TEST(KvBytesPerCell, RuntimeEqualsPlanOnEverySynthesizedArchitecture) {
  struct Arch {
    const char* architecture;
    int n_experts;
    int head_dim;
    int n_heads, n_kv_heads;
  };
  const Arch archs[] = {{"qwen3moe", 8, 128, 8, 2}, {"qwen2moe", 4, 64, 4, 2}, {"llama", 4, 32, 4, 2},
                        {"olmoe", 8, 64, 4, 4},     {"qwen3", 0, 128, 4, 1},   {"qwen2", 0, 64, 6, 2},
                        {"llama", 0, 48, 4, 2},     {"qwen3moe", 8, 16, 4, 2}};
  for (const Arch& arch : archs) {
    SynthOptions options = SynthPreset("tiny");
    options.architecture = arch.architecture;
    options.n_experts = arch.n_experts;
    options.head_dim = arch.head_dim;
    options.n_heads = arch.n_heads;
    options.n_kv_heads = arch.n_kv_heads;
    options.vocab_size = 300;
    const fs::path path = fs::temp_directory_path() / fmt::format("moefit_kv_bytes_{}_{}.gguf", arch.architecture, ::getpid());
    SynthesizeModel(options, path.string());
    {
      const GgufFile file = GgufFile::Open(path.string());
      const Model model = Model::Load(file);
      ExpectBytesPerCellAgree(model.spec(), InventoryFromGguf(file).shape,
                              fmt::format("{} head_dim {}", arch.architecture, arch.head_dim));
    }
    fs::remove(path);
  }
}

TEST(KvBytesPerCell, ValueHeadsOfAnotherSize) {
  // DeepSeek-style GQA heads (keys 192, values 128) and a value head the blocks do not tile.
  for (const auto& [key, value] : std::vector<std::pair<int, int>>{{192, 128}, {128, 64}, {64, 48}}) {
    ModelSpec spec;
    spec.n_layers = 3;
    spec.n_heads = 8;
    spec.n_kv_heads = 2;
    spec.head_dim = key;
    spec.value_head_dim = value;
    ModelShape shape;
    shape.n_layers = 3;
    shape.n_heads = 8;
    shape.n_kv_heads = 2;
    shape.key_length = key;
    shape.value_length = value;
    ExpectBytesPerCellAgree(spec, shape, fmt::format("keys {} values {}", key, value));
  }
}

// ---- The engine charges what the cache allocates -------------------------------------------

TEST(KvCharge, EngineChargesExactlyWhatTheCacheAllocates) {
  const fs::path path = fs::temp_directory_path() / fmt::format("moefit_kv_charge_{}.gguf", ::getpid());
  SynthOptions options = SynthPreset("tiny");
  options.head_dim = 64;
  options.vocab_size = 300;
  SynthesizeModel(options, path.string());
  const GgufFile file = GgufFile::Open(path.string());
  const Model model = Model::Load(file);
  for (DType type : kKvTypes) {
    SCOPED_TRACE(KvTypeName(type));
    Budget budget("host RAM", uint64_t{1} << 32);
    Engine engine(model, {.kv_cells = 1000, .kv_type = type, .host_budget = &budget});
    EXPECT_EQ(engine.kv_cache().type(), type);
    EXPECT_EQ(engine.kv_cache().bytes(), 1000 * KvCache::BytesPerCell(model.spec(), type));
    EXPECT_EQ(engine.kv_charged_bytes(), KvCache::Bytes(model.spec(), type, 1000));
    EXPECT_EQ(engine.kv_charged_bytes(), engine.kv_cache().bytes() + 1000 * (2 * sizeof(int32_t) + sizeof(uint16_t)));  // free list, cell lists, holders
  }
  fs::remove(path);
}

// ---- Quantized KV against f16 KV on the fixtures ---------------------------------------------

// Lowest cosine each type must keep against f16 KV on the fast path. Measured minima over the
// 15 qwen3moe fixture cases (AVX2): q8_0 0.99942, bf16 0.99784, q4_0 0.99474. Most cases sit
// near 0.9999 (q8_0, bf16) and 0.998 (q4_0). The dips are not a precision trend: on the bf16
// case at 0.99784 (q5_k_m, prompt 1) the reference path gives bf16 0.999999 but q8_0 0.998,
// consistent with a discrete flip (an expert chosen on a near-tie) in these random MoE models.
double CosineBound(DType type) {
  switch (type) {
    case DType::kQ8_0: return 0.999;
    case DType::kBF16: return 0.995;
    case DType::kQ4_0: return 0.99;
    default: return 1.0;
  }
}

TEST(KvTypeLogits, QuantizedKvStaysCloseToF16OnEveryFixture) {
  int checked = 0;
  std::map<DType, double> lowest;
  std::string table = "model | prompt | bf16 | q8_0 | q4_0\n";
  for (const std::string& name : FixtureModels()) {
    const fs::path path = FixtureRoot() / name;
    if (!fs::exists(path)) continue;
    const GgufFile file = GgufFile::Open(path.string());
    const Model model = Model::Load(file);
    const std::string stem = name.substr(0, name.size() - 5);  // without .gguf
    for (int prompt = 1; prompt <= 3; ++prompt) {
      const fs::path prompt_path = FixtureRoot() / (name.rfind("arch/", 0) == 0 ? fmt::format("{}.prompt{}.json", stem, prompt)
                                                                                : fmt::format("reference/{}.prompt{}.json", stem, prompt));
      if (!fs::exists(prompt_path)) continue;
      std::ifstream in(prompt_path);
      const std::vector<int32_t> tokens = nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
      std::map<DType, std::vector<float>> logits;
      std::string row = fmt::format("{} | {}", name, prompt);
      for (DType type : kKvTypes) {
        SCOPED_TRACE(fmt::format("{} prompt {} {}", name, prompt, KvTypeName(type)));
        try {
          Engine engine(model, {.kv_cells = 256, .kv_type = type});
          const std::span<const float> last = engine.EvaluateSequence(0, tokens);
          logits[type].assign(last.begin(), last.end());
        } catch (const Error& error) {
          // Block types refuse heads that are not multiples of 32 (the arch fixtures' 16).
          EXPECT_TRUE(type == DType::kQ8_0 || type == DType::kQ4_0) << error.what();
          EXPECT_NE(std::string(error.what()).find(KvTypeName(type)), std::string::npos) << error.what();
          EXPECT_NE(model.spec().head_dim % 32, 0) << error.what();
          if (type != DType::kF16) row += " | refused";
          continue;
        }
        if (type == DType::kF16) continue;
        const double cosine = Cosine(logits[type], logits[DType::kF16]);
        EXPECT_GE(cosine, CosineBound(type));
        lowest[type] = lowest.count(type) != 0 ? std::min(lowest[type], cosine) : cosine;
        row += fmt::format(" | {:.6f}", cosine);
      }
      table += row + "\n";
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "fixtures not found under " << FixtureRoot();
  std::fprintf(stderr, "last-position logits, cosine against f16 KV:\n%s", table.c_str());
  for (const auto& [type, cosine] : lowest) std::fprintf(stderr, "lowest %s: %.6f\n", KvTypeName(type).c_str(), cosine);
}

}  // namespace
}  // namespace moefit
