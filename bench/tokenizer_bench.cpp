// SPDX-License-Identifier: MIT
// Tokenizer throughput on the real Qwen3 / Llama 3 vocabularies: encode MB/s of mixed
// English / Chinese / code text (the golden corpus, repeated to ~4 MB), decode, and load time.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "tokenizer/gguf_vocabulary.h"

namespace moefit {
namespace {

// The fixtures folder: $MOEFIT_FIXTURES_DIR when set (to run a copied binary elsewhere).
std::filesystem::path FixturesDir() {
  const char* override_dir = std::getenv("MOEFIT_FIXTURES_DIR");
  return std::filesystem::path(override_dir != nullptr ? override_dir : MOEFIT_FIXTURES_DIR) / "tokenizer";
}
const std::filesystem::path kFixtures = FixturesDir();
constexpr size_t kCorpusBytes = 4 << 20;

std::filesystem::path VocabPath(const std::string& name) { return kFixtures / ("vocab-" + name + ".gguf"); }

// The golden texts joined by newlines: Chinese technical prose, English, code, many scripts.
std::string GoldenCorpus(const std::string& name) {
  std::ifstream lines(kFixtures / (name + ".golden.jsonl"));
  std::string corpus, line;
  while (std::getline(lines, line)) {
    if (!line.empty()) corpus += nlohmann::json::parse(line).at("text").get<std::string>() + "\n";
  }
  return corpus;
}

struct Fixture {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string corpus;  // the golden corpus once
  std::string large;   // repeated to kCorpusBytes
};

// Loaded once per vocabulary; nullptr when the fixtures are absent.
const Fixture* GetFixture(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[name];
  if (!slot && std::filesystem::exists(VocabPath(name))) {
    slot = std::make_unique<Fixture>();
    slot->tokenizer = std::make_unique<Tokenizer>(LoadTokenizer(GgufFile::Open(VocabPath(name).string())));
    slot->corpus = GoldenCorpus(name);
    while (slot->large.size() < kCorpusBytes) slot->large += slot->corpus;
  }
  return slot.get();
}

// Encode ~4 MB in one call; the word cache is warm after the first repetition of the corpus.
void BM_Encode(benchmark::State& state, const std::string& name) {
  const Fixture* fixture = GetFixture(name);
  if (fixture == nullptr) return state.SkipWithError("fixtures not found");
  size_t ids = 0;
  for (auto _ : state) {
    const std::vector<TokenId> encoded = fixture->tokenizer->Encode(fixture->large);
    ids = encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * fixture->large.size()));
  state.counters["bytes_per_token"] = static_cast<double>(fixture->large.size()) / static_cast<double>(ids);
}

// One pass over the corpus (~100 KB) starting from an empty word cache every time.
void BM_EncodeColdCache(benchmark::State& state, const std::string& name) {
  const Fixture* fixture = GetFixture(name);
  if (fixture == nullptr) return state.SkipWithError("fixtures not found");
  for (auto _ : state) {
    state.PauseTiming();
    fixture->tokenizer->ClearCaches();
    state.ResumeTiming();
    benchmark::DoNotOptimize(fixture->tokenizer->Encode(fixture->corpus).data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * fixture->corpus.size()));
}

void BM_Decode(benchmark::State& state, const std::string& name) {
  const Fixture* fixture = GetFixture(name);
  if (fixture == nullptr) return state.SkipWithError("fixtures not found");
  const std::vector<TokenId> ids = fixture->tokenizer->Encode(fixture->large);
  for (auto _ : state) benchmark::DoNotOptimize(fixture->tokenizer->Decode(ids).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * fixture->large.size()));
}

void BM_Load(benchmark::State& state, const std::string& name) {
  if (!std::filesystem::exists(VocabPath(name))) return state.SkipWithError("fixtures not found");
  for (auto _ : state) {
    const GgufFile file = GgufFile::Open(VocabPath(name).string());
    benchmark::DoNotOptimize(LoadTokenizer(file).vocabulary().size());
  }
}

BENCHMARK_CAPTURE(BM_Encode, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeColdCache, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeColdCache, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Load, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Load, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moefit

BENCHMARK_MAIN();
