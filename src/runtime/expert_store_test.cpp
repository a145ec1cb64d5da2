// SPDX-License-Identifier: MIT
// Memory pieces of the runtime: aligned host buffers, the page-cache-free file reader, owned
// tensor copies charged to a Budget, and the expert cache (hits, misses, LFU eviction, bytes).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/synth.h"
#include "runtime/expert_store.h"
#include "runtime/host_buffer.h"
#include "runtime/weight_loader.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

fs::path TempPath(const std::string& name) {
  return fs::temp_directory_path() / fmt::format("moefit_memory_{}_{}", ::getpid(), name);
}

TEST(HostBuffer, SmallBuffersAre64ByteAlignedAndLargeOnesHugePageAligned) {
  for (size_t bytes : {size_t{1}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    HostBuffer buffer(bytes, "test");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 64, 0u) << bytes;
    EXPECT_EQ(buffer.size(), bytes);
    std::memset(buffer.data(), 0xAB, bytes);
  }
  HostBuffer large((size_t{5} << 20) + 123, "test");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % (size_t{2} << 20), 0u);
  std::memset(large.data(), 1, large.size());
  HostBuffer moved = std::move(large);
  EXPECT_FALSE(large);
  EXPECT_EQ(moved.data()[moved.size() - 1], 1);
  EXPECT_EQ(HostBuffer::Footprint(0), 0u);
  EXPECT_EQ(HostBuffer::Footprint(100), 128u);
  EXPECT_EQ(HostBuffer::Footprint((size_t{5} << 20) + 123), (size_t{5} << 20) + 4096);
}

TEST(FileReader, ReadsAnyRangeAndNamesTheFileWhenItEndsEarly) {
  const fs::path path = TempPath("reader.bin");
  std::vector<uint8_t> bytes(100000);
  std::iota(bytes.begin(), bytes.end(), uint8_t{0});
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const FileReader reader(path.string());
  std::vector<uint8_t> got(5000);
  uint64_t reported = 0;
  reader.Read(12345, got.data(), got.size(), [&](uint64_t chunk) { reported += chunk; });
  EXPECT_EQ(reported, got.size());
  EXPECT_EQ(0, std::memcmp(got.data(), bytes.data() + 12345, got.size()));
  try {
    reader.Read(99000, got.data(), got.size());
    ADD_FAILURE() << "a read past the end must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
  EXPECT_THROW(FileReader("/nonexistent/file.gguf"), Error);
  fs::remove(path);
}

// A tiny MoE model: 2 layers of 8 experts, 2 active.
class ExpertStoreTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new fs::path(TempPath("experts.gguf"));
    SynthOptions options = SynthPreset("tiny");
    options.n_experts = 8;
    options.n_active_experts = 2;
    options.seed = 5;
    SynthesizeModel(options, path_->string());
    file_ = new GgufFile(GgufFile::Open(path_->string()));
    model_ = new Model(Model::Load(*file_));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete file_;
    fs::remove(*path_);
    delete path_;
  }

  static std::span<const LayerWeights> layers() { return model_->weights().layers; }
  static const ModelSpec& spec() { return model_->spec(); }

  // One batch of a layer as the forward pass does it: order, acquire in groups, release.
  static std::vector<ExpertMatrices> Batch(ExpertStore& store, int layer, std::vector<int32_t> experts) {
    std::vector<int32_t> uses(experts.size(), 1);
    store.Order(layer, experts, uses);
    std::vector<ExpertMatrices> out(experts.size());
    store.Acquire(layer, experts, uses, out);
    store.Release(layer);
    return out;
  }

  static uint64_t ExpertBytes(int layer) {
    const LayerWeights& l = layers()[static_cast<size_t>(layer)];
    return static_cast<uint64_t>(l.ffn_gate_exps.matrix_bytes() + l.ffn_up_exps.matrix_bytes() + l.ffn_down_exps.matrix_bytes());
  }

  static fs::path* path_;
  static GgufFile* file_;
  static Model* model_;
};
fs::path* ExpertStoreTest::path_ = nullptr;
GgufFile* ExpertStoreTest::file_ = nullptr;
Model* ExpertStoreTest::model_ = nullptr;

TEST_F(ExpertStoreTest, StreamedExpertsHoldTheFilesBytes) {
  Budget budget("host RAM", uint64_t{1} << 30);
  ExpertStore store(file_, spec(), layers(), {.cache_slots = {3, 0}}, budget);
  EXPECT_TRUE(store.streams());
  EXPECT_EQ(store.Capacity(0), 3);
  EXPECT_EQ(store.Capacity(1), 8);
  EXPECT_EQ(budget.used(), HostBuffer::Footprint(store.cache_bytes()));
  const std::vector<ExpertMatrices> got = Batch(store, 0, {1, 6});
  const LayerWeights& l = layers()[0];
  for (size_t i = 0; i < got.size(); ++i) {
    const int expert = i == 0 ? 1 : 6;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got[i].gate.data) % 64, 0u);
    EXPECT_EQ(got[i].gate.type, l.ffn_gate_exps.type);
    EXPECT_EQ(got[i].down.rows(), l.ffn_down_exps.rows());
    EXPECT_EQ(0, std::memcmp(got[i].gate.data, l.ffn_gate_exps.matrix(expert).data, l.ffn_gate_exps.matrix_bytes()));
    EXPECT_EQ(0, std::memcmp(got[i].up.data, l.ffn_up_exps.matrix(expert).data, l.ffn_up_exps.matrix_bytes()));
    EXPECT_EQ(0, std::memcmp(got[i].down.data, l.ffn_down_exps.matrix(expert).data, l.ffn_down_exps.matrix_bytes()));
  }
  // A resident layer gives the weights' own views.
  const std::vector<ExpertMatrices> resident = Batch(store, 1, {2});
  EXPECT_EQ(resident[0].up.data, layers()[1].ffn_up_exps.matrix(2).data);
  EXPECT_EQ(store.stats().misses, 2u);
  EXPECT_EQ(store.stats().hits, 0u);
  EXPECT_EQ(store.stats().bytes_read, 2 * ExpertBytes(0));
}

TEST_F(ExpertStoreTest, CountsHitsAndEvictsTheLeastFrequentlyChosen) {
  Budget budget("host RAM", uint64_t{1} << 30);
  ExpertStore store(file_, spec(), layers(), {.cache_slots = {3, 3}}, budget);
  Batch(store, 0, {0, 1});  // misses: 0, 1
  Batch(store, 0, {0, 2});  // hit 0, miss 2 (free slot)
  Batch(store, 0, {0, 1});  // hits 0, 1
  // Counts: 0 -> 3, 1 -> 2, 2 -> 1. Expert 3 evicts the least chosen: 2.
  Batch(store, 0, {0, 3});
  std::vector<int32_t> cached(store.slot_experts(0).begin(), store.slot_experts(0).end());
  std::sort(cached.begin(), cached.end());
  EXPECT_EQ(cached, (std::vector<int32_t>{0, 1, 3}));
  const ExpertStoreStats& stats = store.layer_stats(0);
  EXPECT_EQ(stats.hits, 4u);
  EXPECT_EQ(stats.misses, 4u);
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 0.5);
  EXPECT_EQ(stats.bytes_read, 4 * ExpertBytes(0));
  EXPECT_EQ(store.layer_stats(1).acquisitions(), 0u);
  // Order puts cached experts first, each part ascending, and moves their uses along.
  std::vector<int32_t> experts = {2, 3, 5, 7}, uses = {20, 30, 50, 70};
  store.Order(0, experts, uses);
  EXPECT_EQ(experts, (std::vector<int32_t>{3, 2, 5, 7}));
  EXPECT_EQ(uses, (std::vector<int32_t>{30, 20, 50, 70}));
}

// Experts 0 and 1 are chosen often, then the text moves on to 2, 3 and 4 (in pairs). With
// aging their old counts fade and the new three fill the cache; without, 0 or 1 lingers.
TEST_F(ExpertStoreTest, AgingLetsTheCacheFollowTheText) {
  auto run = [](int64_t aging_period) {
    Budget budget("host RAM", uint64_t{1} << 30);
    ExpertStore store(file_, spec(), layers(), {.cache_slots = {3, 0}, .aging_period = aging_period}, budget);
    for (int i = 0; i < 16; ++i) Batch(store, 0, {0, 1});
    for (int i = 0; i < 4; ++i) {
      Batch(store, 0, {2, 3});
      Batch(store, 0, {2, 4});
      Batch(store, 0, {3, 4});
    }
    std::vector<int32_t> cached(store.slot_experts(0).begin(), store.slot_experts(0).end());
    std::sort(cached.begin(), cached.end());
    return std::make_pair(cached, store.layer_stats(0));
  };
  const auto [aged, aged_stats] = run(4);
  EXPECT_EQ(aged, (std::vector<int32_t>{2, 3, 4}));
  EXPECT_EQ(aged_stats.misses, 8u);
  EXPECT_EQ(aged_stats.hits, 48u);
  const auto [unaged, unaged_stats] = run(1000000);
  EXPECT_EQ(unaged, (std::vector<int32_t>{1, 3, 4}));
  EXPECT_EQ(unaged_stats.misses, 15u);
}

TEST_F(ExpertStoreTest, PrefillWarmsTheCacheWithTheFirstExperts) {
  Budget budget("host RAM", uint64_t{1} << 30);
  ExpertStore store(file_, spec(), layers(), {.cache_slots = {3, 0}}, budget);
  uint64_t reported = 0;
  store.Prefill([&](const LoadProgress& progress) {
    reported = progress.bytes_done;
    EXPECT_EQ(progress.bytes_total, 3 * ExpertBytes(0));
  });
  EXPECT_EQ(reported, 3 * ExpertBytes(0));
  EXPECT_EQ(store.prefill_bytes(), 3 * ExpertBytes(0));
  EXPECT_EQ(std::vector<int32_t>(store.slot_experts(0).begin(), store.slot_experts(0).end()), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(store.stats().acquisitions(), 0u);
  const std::vector<ExpertMatrices> got = Batch(store, 0, {2});
  EXPECT_EQ(0, std::memcmp(got[0].down.data, layers()[0].ffn_down_exps.matrix(2).data, layers()[0].ffn_down_exps.matrix_bytes()));
  EXPECT_EQ(store.stats().hits, 1u);
  EXPECT_EQ(store.stats().misses, 0u);
}

TEST_F(ExpertStoreTest, RefusesTooFewSlotsAndAnOverCapCache) {
  Budget budget("host RAM", uint64_t{1} << 30);
  EXPECT_THROW(ExpertStore(file_, spec(), layers(), {.cache_slots = {1, 0}}, budget), Error);
  EXPECT_THROW(ExpertStore(nullptr, spec(), layers(), {.cache_slots = {2, 0}}, budget), Error);
  Budget small("host RAM", ExpertBytes(0));  // room for one expert, two slots asked
  try {
    ExpertStore store(file_, spec(), layers(), {.cache_slots = {2, 0}}, small);
    ADD_FAILURE() << "the cache must be refused";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("expert cache"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(ExpertBytes(0))), std::string::npos) << message;  // the cap, in bytes
  }
  EXPECT_EQ(small.used(), 0u);
}

TEST_F(ExpertStoreTest, LoadedTensorIsAnOwnedChargedCopy) {
  const GgufTensorInfo& tensor = file_->GetTensor("blk.0.ffn_up_exps.weight");
  Budget budget("host RAM", uint64_t{1} << 30);
  const FileReader reader(file_->path());
  {
    const OwnedTensor owned = LoadTensor(reader, *file_, tensor, budget);
    EXPECT_EQ(budget.used(), HostBuffer::Footprint(tensor.bytes));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(owned.view.data) % 64, 0u);
    EXPECT_EQ(owned.view.type, tensor.type);
    EXPECT_EQ(owned.view.matrices(), spec().n_experts);
    EXPECT_EQ(0, std::memcmp(owned.view.data, tensor.data, tensor.bytes));
  }
  EXPECT_EQ(budget.used(), 0u);
  Budget tiny("host RAM", tensor.bytes / 2);
  EXPECT_THROW(LoadTensor(reader, *file_, tensor, tiny), Error);
  EXPECT_EQ(tiny.used(), 0u);
}

}  // namespace
}  // namespace moefit
