// SPDX-License-Identifier: MIT
// Catalog facts against published parameter counts and file sizes, and the synthesized tensor
// directory against real GGUF files made by the reference tools.
#include "plan/catalog.h"

#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

fs::path FixtureDir() { return fs::path(MOEFIT_FIXTURES_DIR) / "models"; }

TEST(Catalog, HoldsTheModelsUsersAskFor) {
  for (const char* id : {"qwen3-30b-a3b", "qwen3-235b-a22b", "qwen1.5-moe-a2.7b", "qwen2-57b-a14b", "deepseek-v2-lite",
                         "deepseek-v3", "deepseek-r1", "glm-4.5-air", "gpt-oss-20b", "gpt-oss-120b", "mixtral-8x7b",
                         "mixtral-8x22b", "olmoe-1b-7b"}) {
    EXPECT_NE(FindCatalogModel(id), nullptr) << id;
  }
  EXPECT_EQ(FindCatalogModel("Qwen3-30B-A3B"), FindCatalogModel("qwen3-30b-a3b"));
  EXPECT_EQ(FindCatalogModel("DeepSeek-R1"), FindCatalogModel("deepseek-v3"));
  EXPECT_EQ(FindCatalogModel("no-such-model"), nullptr);
}

// The shapes reproduce the parameter counts the model cards quote (MTP layers excluded).
TEST(Catalog, ParameterCountsMatchModelCards) {
  for (const CatalogModel& model : Catalog()) {
    SCOPED_TRACE(std::string(model.id));
    const ModelInventory inventory = InventoryFromCatalog(model, FileType::kBF16);
    int64_t params = 0;
    for (const TensorEntry& tensor : inventory.tensors)
      if (tensor.layer < model.shape.n_layers) params += tensor.elements();
    const double billions = static_cast<double>(params) / 1e9;
    EXPECT_NEAR(billions, model.published_params_billions, 0.02 * model.published_params_billions);
  }
}

// Q4_K_M files come out at the sizes the published files have, in bits per weight.
TEST(Catalog, Q4KMBitsPerWeightAreRealistic) {
  for (const CatalogModel& model : Catalog()) {
    SCOPED_TRACE(std::string(model.id));
    const ModelInventory inventory = InventoryFromCatalog(model, FileType::kQ4_K_M);
    const double bits = 8.0 * static_cast<double>(inventory.tensor_bytes()) / static_cast<double>(inventory.params());
    if (model.layout.experts_in_mxfp4) {
      EXPECT_GT(bits, 4.25);  // MXFP4 experts, Q5_0/Q8_0 for rows of 2880 that K-quants cannot block
      EXPECT_LT(bits, 5.5);
    } else if (model.shape.expert_ffn_dim % 256 != 0) {
      // Expert rows of 1408 do not fill 256-value K blocks: down projections fall back to
      // Q5_0 / Q8_0 (published Q4_K_M files of these models are ~5.3 bits per weight).
      EXPECT_GT(bits, 5.0);
      EXPECT_LT(bits, 5.5);
    } else {
      EXPECT_GT(bits, 4.6);
      EXPECT_LT(bits, 5.2);
    }
  }
  // Qwen3-30B-A3B-Q4_K_M.gguf is 18.6 GB; gpt-oss-20b-mxfp4.gguf 12.1 GB.
  const double qwen = static_cast<double>(InventoryFromCatalog(*FindCatalogModel("qwen3-30b-a3b"), FileType::kQ4_K_M).file_bytes) / 1e9;
  EXPECT_NEAR(qwen, 18.6, 0.4);
  const double gpt_oss = static_cast<double>(InventoryFromCatalog(*FindCatalogModel("gpt-oss-20b"), FileType::kMXFP4).file_bytes) / 1e9;
  EXPECT_NEAR(gpt_oss, 12.1, 0.3);
}

TEST(FileType, ParsesNamesAndIds) {
  EXPECT_EQ(ParseFileType("q4_k_m"), FileType::kQ4_K_M);
  EXPECT_EQ(ParseFileType("Q4_K_M"), FileType::kQ4_K_M);
  EXPECT_EQ(ParseFileType("mxfp4"), FileType::kMXFP4);
  EXPECT_FALSE(ParseFileType("q9_k").has_value());
  EXPECT_EQ(FileTypeFromGgufId(15), FileType::kQ4_K_M);
  EXPECT_EQ(FileTypeFromGgufId(7), FileType::kQ8_0);
}

// Every tensor of a synthesized file has the name, dims, type and bytes of the real file.
void ExpectSameTensors(const ModelInventory& synthesized, const ModelInventory& real) {
  std::map<std::string, const TensorEntry*> by_name;
  for (const TensorEntry& tensor : real.tensors) by_name[tensor.name] = &tensor;
  EXPECT_EQ(synthesized.tensors.size(), real.tensors.size());
  for (const TensorEntry& tensor : synthesized.tensors) {
    const auto found = by_name.find(tensor.name);
    if (found == by_name.end()) {
      ADD_FAILURE() << "synthesized " << tensor.name << " is not in the file";
      continue;
    }
    EXPECT_EQ(tensor.dims, found->second->dims) << tensor.name;
    EXPECT_EQ(DTypeName(tensor.type), DTypeName(found->second->type)) << tensor.name;
    EXPECT_EQ(tensor.bytes, found->second->bytes) << tensor.name;
    EXPECT_EQ(tensor.role, found->second->role) << tensor.name;
  }
  EXPECT_EQ(synthesized.tensor_bytes(), real.tensor_bytes());
}

// tiny-qwen3moe in every type the reference quantizer made: the catalog path (shape + file
// type) gives the same directory as the file, K-quant mix included.
TEST(Catalog, SynthesisMatchesReferenceQuantizerOnFixtures) {
  if (!fs::exists(FixtureDir())) GTEST_SKIP() << "fixtures not found at " << FixtureDir();
  const std::pair<const char*, FileType> kTypes[] = {{"f16", FileType::kF16},
                                                     {"q8_0", FileType::kQ8_0},
                                                     {"q4_0", FileType::kQ4_0},
                                                     {"q4_k_m", FileType::kQ4_K_M},
                                                     {"q5_k_m", FileType::kQ5_K_M}};
  for (const auto& [name, type] : kTypes) {
    SCOPED_TRACE(name);
    const GgufFile file = GgufFile::Open((FixtureDir() / fmt::format("tiny-qwen3moe-{}.gguf", name)).string());
    const ModelInventory real = InventoryFromGguf(file);
    EXPECT_EQ(real.file_type, Info(type).display);
    ExpectSameTensors(InventoryFromShape(real.shape, {.qk_norm = QkNorm::kPerHead}, type), real);
  }
}

TEST(Catalog, SynthesisMatchesArchFixtures) {
  const fs::path dir = FixtureDir() / "arch";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures not found at " << dir;
  const std::pair<const char*, CatalogLayout> kArchs[] = {
      {"qwen2moe", {.qkv_bias = true, .shared_expert_gate = true}},
      {"llama-moe", {}},
      {"olmoe", {.qk_norm = QkNorm::kFull}},
      {"qwen3", {.qk_norm = QkNorm::kPerHead}},
      {"qwen2", {.qkv_bias = true}},
      {"llama", {}},
  };
  for (const auto& [arch, layout] : kArchs) {
    SCOPED_TRACE(arch);
    const ModelInventory real = InventoryFromGguf(GgufFile::Open((dir / fmt::format("tiny-{}-q8_0.gguf", arch)).string()));
    ExpectSameTensors(InventoryFromShape(real.shape, layout, FileType::kQ8_0), real);
  }
}

TEST(ModelInventory, ShapeFromGguf) {
  if (!fs::exists(FixtureDir())) GTEST_SKIP() << "fixtures not found at " << FixtureDir();
  const ModelInventory inventory = InventoryFromGguf(GgufFile::Open((FixtureDir() / "tiny-qwen3moe-q8_0.gguf").string()));
  const ModelShape& shape = inventory.shape;
  EXPECT_EQ(shape.architecture, "qwen3moe");
  EXPECT_EQ(shape.n_layers, 2);
  EXPECT_EQ(shape.model_dim, 256);
  EXPECT_EQ(shape.n_heads, 4);
  EXPECT_EQ(shape.n_kv_heads, 2);
  EXPECT_EQ(shape.key_length, 64);
  EXPECT_EQ(shape.value_length, 64);
  EXPECT_EQ(shape.n_experts, 8);
  EXPECT_EQ(shape.n_active_experts, 4);
  EXPECT_EQ(shape.expert_ffn_dim, 256);
  EXPECT_EQ(shape.vocab_size, 4122);
  EXPECT_FALSE(shape.tied_embeddings);
  EXPECT_EQ(shape.attention, AttentionKind::kGqa);
  EXPECT_EQ(inventory.tensors.size(), 27u);
  EXPECT_LE(inventory.tensor_bytes(), inventory.file_bytes);
}

TEST(ModelInventory, VocabularyOnlyFileIsNotAModel) {
  const fs::path vocab = fs::path(MOEFIT_FIXTURES_DIR) / "tokenizer/vocab-qwen3.gguf";
  if (!fs::exists(vocab)) GTEST_SKIP() << "fixtures not found at " << vocab;
  EXPECT_THROW(InventoryFromGguf(GgufFile::Open(vocab.string())), Error);
}

}  // namespace
}  // namespace moefit
