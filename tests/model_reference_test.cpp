// SPDX-License-Identifier: MIT
// Every fixture model and prompt against the reference implementation's logits: cosine of the
// last-position logits, top-1 agreement where the reference is sure, and greedy generation up to
// the first near-tie. Both the reference and the fast path.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "test_math.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string model;   // path under fixtures/models
  std::string prompt;  // path of the .promptN.json
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const char* type : {"f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m"})
    for (int p = 1; p <= 3; ++p)
      cases.push_back({fmt::format("tiny-qwen3moe-{}.gguf", type), fmt::format("reference/tiny-qwen3moe-{}.prompt{}.json", type, p)});
  for (const char* arch : {"qwen2moe", "llama-moe", "olmoe", "qwen3", "qwen2", "llama"})
    for (int p = 1; p <= 2; ++p)
      cases.push_back({fmt::format("arch/tiny-{}-q8_0.gguf", arch), fmt::format("arch/tiny-{}-q8_0.prompt{}.json", arch, p)});
  return cases;
}

int32_t ArgMax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

class ModelReference : public testing::TestWithParam<std::tuple<Case, MatMulPath>> {};

TEST_P(ModelReference, MatchesReferenceLogits) {
  const auto& [test_case, path] = GetParam();
  const fs::path root = fs::path(MOEFIT_FIXTURES_DIR) / "models";
  const fs::path model_path = root / test_case.model;
  const fs::path prompt_path = root / test_case.prompt;
  if (!fs::exists(model_path) || !fs::exists(prompt_path)) GTEST_SKIP() << "fixture not found: " << prompt_path;
  std::ifstream in(prompt_path);
  const nlohmann::json reference = nlohmann::json::parse(in);
  const std::vector<int32_t> tokens = reference["tokens"].get<std::vector<int32_t>>();
  const GgufFile file = GgufFile::Open(model_path.string());
  const Model model = Model::Load(file);
  Engine engine(model, {.kv_cells = 256, .path = path});

  // The whole prompt as one batch, logits at every position.
  std::vector<BatchItem> items;
  for (int32_t token : tokens) items.push_back({0, token, true});
  const std::span<const float> logits = engine.Evaluate(items);
  const int vocab = model.spec().vocab_size;
  const auto& top8 = reference["top8_per_position"];
  ASSERT_EQ(top8.size(), tokens.size());
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const float best = top8[pos][0][1].get<float>();
    const float second = top8[pos][1][1].get<float>();
    if (best - second < 0.5f) continue;
    EXPECT_EQ(ArgMax(logits.subspan(pos * vocab, vocab)), top8[pos][0][0].get<int32_t>()) << "position " << pos;
  }
  const std::vector<float> last = reference["last_logits"].get<std::vector<float>>();
  ASSERT_EQ(static_cast<int>(last.size()), vocab);
  const double cosine = Cosine(logits.subspan((tokens.size() - 1) * vocab, vocab), last);
  EXPECT_GE(cosine, 0.999);
  RecordProperty("cosine", std::to_string(cosine));

  // Greedy decoding, one token at a time through the cache.
  int32_t next = ArgMax(logits.subspan((tokens.size() - 1) * vocab, vocab));
  for (const auto& step : reference["greedy"]) {
    const int32_t expected = step[0].get<int32_t>();
    const float margin = step[1].get<float>();
    if (margin < 0.5f) break;
    ASSERT_EQ(next, expected);
    const int32_t one[] = {next};
    next = ArgMax(engine.EvaluateSequence(0, one));
  }
}

std::string CaseName(const testing::TestParamInfo<std::tuple<Case, MatMulPath>>& info) {
  std::string name = fs::path(std::get<0>(info.param).prompt).stem().string() +
                     (std::get<1>(info.param) == MatMulPath::kReference ? "_reference" : "_fast");
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelReference,
                         testing::Combine(testing::ValuesIn(AllCases()),
                                          testing::Values(MatMulPath::kReference, MatMulPath::kFast)),
                         CaseName);

}  // namespace
}  // namespace moefit
