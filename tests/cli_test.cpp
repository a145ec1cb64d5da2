// SPDX-License-Identifier: MIT
// The moefit binary end to end: template and tokenize against the goldens (through the GGUF
// files' own templates and vocabularies), logits against the engine, synth + inspect + run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace moefit {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = MOEFIT_FIXTURES_DIR;
const std::string kMoefit = std::string(MOEFIT_BIN_DIR) + "/moefit";

struct Result {
  int status;
  std::string out;
};

// Runs a shell command line, stdout captured (stderr to the test log).
Result Shell(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WEXITSTATUS(status), out};
}

fs::path TempFile(const std::string& name) {
  return fs::temp_directory_path() / fmt::format("moefit_cli_{}_{}", ::getpid(), name);
}

std::vector<nlohmann::json> ReadJsonl(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(Cli, TemplateRendersTheQwen3GoldensFromTheModelsOwnTemplate) {
  const fs::path goldens = kFixtures / "chat/renders.golden.jsonl";
  if (!fs::exists(goldens)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  const fs::path input = TempFile("contexts.jsonl");
  std::vector<nlohmann::ordered_json> expected;
  {
    std::ifstream in(goldens);
    std::ofstream out(input);
    std::string line;
    while (std::getline(in, line)) {
      // Ordered: the template prints dicts in their given key order.
      const nlohmann::ordered_json golden = nlohmann::ordered_json::parse(line);
      if (golden["template"] != "qwen3") continue;
      out << golden["context"].dump() << "\n";
      expected.push_back(golden);
    }
  }
  ASSERT_FALSE(expected.empty());
  const Result result =
      Shell(fmt::format("{} template -m {} --jsonl < {}", kMoefit, (kFixtures / "models/tiny-qwen3moe-q8_0.gguf").string(), input.string()));
  fs::remove(input);
  ASSERT_EQ(result.status, 0);
  const std::vector<nlohmann::json> lines = ReadJsonl(result.out);
  ASSERT_EQ(lines.size(), expected.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(expected[i]["case"].get<std::string>());
    if (expected[i]["error"].is_null()) {
      EXPECT_EQ(lines[i].value("rendered", "<missing>"), expected[i]["rendered"].get<std::string>());
    } else {
      ASSERT_TRUE(lines[i].contains("error"));
      EXPECT_NE(lines[i]["error"].get<std::string>().find(expected[i]["error"].get<std::string>()), std::string::npos)
          << lines[i]["error"];
    }
  }
}

TEST(Cli, InspectReadsEveryFixtureFile) {
  if (!fs::exists(kFixtures)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kFixtures)) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    const Result text = Shell(fmt::format("{} inspect {}", kMoefit, entry.path().string()));
    EXPECT_EQ(text.status, 0);
    EXPECT_NE(text.out.find("architecture"), std::string::npos);
    const Result json = Shell(fmt::format("{} inspect --json --tensors {}", kMoefit, entry.path().string()));
    ASSERT_EQ(json.status, 0);
    const nlohmann::json summary = nlohmann::json::parse(json.out);
    int64_t total = 0, tensors = 0;
    for (const auto& [role, totals] : summary["roles"].items()) {
      total += totals["params"].get<int64_t>();
      tensors += totals["tensors"].get<int64_t>();
    }
    EXPECT_EQ(total, summary["total_params"].get<int64_t>());
    EXPECT_EQ(tensors, static_cast<int64_t>(summary["tensors"].size()));
    ++files;
  }
  EXPECT_GE(files, 13);
}

TEST(Cli, TokenizeJsonlMatchesTheQwen3Goldens) {
  const fs::path goldens = kFixtures / "tokenizer/qwen3.golden.jsonl";
  if (!fs::exists(goldens)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  const Result result = Shell(fmt::format("{} tokenize -m {} --special --jsonl < {}", kMoefit,
                                          (kFixtures / "tokenizer/vocab-qwen3.gguf").string(), goldens.string()));
  ASSERT_EQ(result.status, 0);
  std::ifstream in(goldens);
  std::string line;
  const std::vector<nlohmann::json> lines = ReadJsonl(result.out);
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, lines.size());
    EXPECT_EQ(lines[i]["ids"], nlohmann::json::parse(line)["ids"]) << line;
    ++i;
  }
  EXPECT_EQ(i, lines.size());
}

TEST(Cli, LogitsFileMatchesTheReferenceLastLogits) {
  const fs::path model = kFixtures / "models/tiny-qwen3moe-q8_0.gguf";
  const fs::path prompt = kFixtures / "models/reference/tiny-qwen3moe-q8_0.prompt3.json";
  if (!fs::exists(prompt)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  std::ifstream in(prompt);
  const nlohmann::json reference = nlohmann::json::parse(in);
  std::string ids;
  for (int id : reference["tokens"]) ids += fmt::format("{} ", id);
  const fs::path out = TempFile("logits.f32");
  const Result result = Shell(fmt::format("{} logits -m {} --tokens \"{}\" --out {}", kMoefit, model.string(), ids, out.string()));
  ASSERT_EQ(result.status, 0);
  const std::vector<float> last = reference["last_logits"].get<std::vector<float>>();
  const size_t positions = reference["tokens"].size();
  ASSERT_EQ(fs::file_size(out), positions * last.size() * sizeof(float));
  std::vector<float> logits(positions * last.size());
  std::ifstream file(out, std::ios::binary);
  file.read(reinterpret_cast<char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
  fs::remove(out);
  double dot = 0, a = 0, b = 0;
  for (size_t i = 0; i < last.size(); ++i) {
    const double x = logits[(positions - 1) * last.size() + i], y = last[i];
    dot += x * y;
    a += x * x;
    b += y * y;
  }
  EXPECT_GE(dot / std::sqrt(a * b), 0.999);
  EXPECT_NE(result.out.find("top5:"), std::string::npos);
}

TEST(Cli, SynthInspectRunAndClearErrors) {
  const fs::path model = TempFile("synth.gguf");
  Result result = Shell(fmt::format("{} synth --arch qwen2moe --experts 4 --active 2 --shared-ffn 64 -o {} 2>/dev/null", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  result = Shell(fmt::format("{} inspect {} --json", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0);
  const nlohmann::json summary = nlohmann::json::parse(result.out);
  EXPECT_EQ(summary["architecture"], "qwen2moe");
  EXPECT_EQ(summary["n_experts"], 4);
  EXPECT_TRUE(summary["roles"].contains("shared experts"));
  result = Shell(fmt::format("{} run -m {} --chat -p hi -n 8 --seed 3 2>&1", kMoefit, model.string()));
  EXPECT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("<|im_start|>assistant"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("tokens/s"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} bench -m {} -p 8 -n 4 -r 2 --parallel 2 -o json", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  {  // JSON lines, one per test, with the configuration
    std::vector<nlohmann::json> lines;
    std::istringstream stream(result.out);
    for (std::string line; std::getline(stream, line);) lines.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(lines.size(), 2u) << result.out;
    EXPECT_EQ(lines[0]["test"], "pp8");
    EXPECT_EQ(lines[1]["test"], "tg4 x2");
    EXPECT_GT(lines[1]["avg_ts"].get<double>(), 0.0);
    EXPECT_GE(lines[1]["stddev_ts"].get<double>(), 0.0);
    EXPECT_EQ(lines[1]["parallel"], 2);
    // Q4_K matrices are repacked where the kernel table has a repacked kernel (AVX2 and up).
    EXPECT_TRUE(lines[1]["weights"] == "loaded+repacked" || lines[1]["weights"] == "loaded+interleaved") << lines[1];
    EXPECT_GT(lines[1]["decode_bytes_per_token"].get<uint64_t>(), 0u);
  }
  // Scalar kernels have no repacked kernel, so nothing is repacked for them; nor with --interleave-only.
  for (const char* how : {"MOEFIT_ISA=scalar {} bench -m {} -p 0 -n 1 -r 1 -o json", "{} bench -m {} -p 0 -n 1 -r 1 -o json --interleave-only"}) {
    result = Shell(fmt::format(fmt::runtime(how), kMoefit, model.string()));
    ASSERT_EQ(result.status, 0) << result.out;
    EXPECT_EQ(nlohmann::json::parse(result.out)["weights"], "loaded+interleaved") << how;
  }
  // --with-membw: a read-bandwidth pass before each measured tg repetition and one after, and
  // decode's read rate (bytes per token x the median t/s) beside them.
  result = Shell(fmt::format("{} bench -m {} -p 0 -n 2 -r 2 -t 2 --with-membw -o json", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  {
    const nlohmann::json tg = nlohmann::json::parse(result.out);
    ASSERT_EQ(tg["membw_passes_gb_per_s"].size(), 3u) << tg;
    std::vector<double> passes = tg["membw_passes_gb_per_s"].get<std::vector<double>>();
    for (double p : passes) EXPECT_GT(p, 0.0);
    std::sort(passes.begin(), passes.end());
    EXPECT_DOUBLE_EQ(tg["membw_median_gb_per_s"].get<double>(), passes[1]);
    EXPECT_DOUBLE_EQ(tg["membw_best_gb_per_s"].get<double>(), passes[2]);
    EXPECT_NEAR(tg["decode_gb_per_s"].get<double>(),
                tg["decode_bytes_per_token"].get<double>() * tg["median_ts"].get<double>() / 1e9, 1e-9);
  }
  result = Shell(fmt::format("{} bench -m {} -p 0 -n 2 -r 1 --with-membw -o md", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("read bandwidth between the tg repetitions: median"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("of the median bandwidth"), std::string::npos) << result.out;
  // --profile: each test's time by forward phase, with the weights each matrix phase read.
  result = Shell(fmt::format("{} bench -m {} -p 8 -n 2 -r 1 --profile -o json", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  {
    std::istringstream stream(result.out);
    int tests = 0;
    for (std::string text; std::getline(stream, text); ++tests) {
      const nlohmann::json line = nlohmann::json::parse(text);
      const nlohmann::json& profile = line["profile"];
      EXPECT_EQ(profile["phases"].size(), 7u) << line;  // every ForwardPhase
      EXPECT_EQ(profile["tokens"], line["test"] == "pp8" ? 8 : 2) << line;
      EXPECT_EQ(profile["phases"][0]["phase"], "q/k/v projections");
      EXPECT_GT(profile["phases"][0]["weight_bytes"].get<uint64_t>(), 0u);
    }
    EXPECT_EQ(tests, 2);
  }
  // --depth: every sequence starts each repetition from that many cached tokens (the cache is
  // sized for them: 2 sequences x (40 + 3) cells); the fill is neither timed nor profiled.
  result = Shell(fmt::format("{} bench -m {} -p 8 -n 3 -r 2 -d 40 -b 16 --parallel 2 --profile -o json 2>/dev/null", kMoefit,
                             model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  {
    std::istringstream stream(result.out);
    std::vector<nlohmann::json> lines;
    for (std::string text; std::getline(stream, text);) lines.push_back(nlohmann::json::parse(text));
    ASSERT_EQ(lines.size(), 2u) << result.out;
    EXPECT_EQ(lines[0]["test"], "pp8 @ d40");
    EXPECT_EQ(lines[1]["test"], "tg3 x2 @ d40");
    EXPECT_EQ(lines[1]["depth"], 40);
    EXPECT_EQ(lines[0]["profile"]["tokens"], 2 * 8);      // the measured prompts only
    EXPECT_EQ(lines[1]["profile"]["tokens"], 2 * 3 * 2);  // 2 repetitions x 3 steps x 2 sequences
  }
  result = Shell(fmt::format("{} bench -m {} -p 0 -n 2 -r 1 -d -1 2>&1", kMoefit, model.string()));
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_NE(result.out.find("-d not negative"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} bench -m {} -p 8 -n 2 -r 1 --profile", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("where pp8's time goes (ms per prompt"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("where tg2's time goes (ms per step"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("| feed-forward (experts) |"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} bench --membw -t 1 -o json", kMoefit));
  ASSERT_EQ(result.status, 0) << result.out;
  {
    const nlohmann::json membw = nlohmann::json::parse(result.out);
    EXPECT_EQ(membw["passes_gb_per_s"].size(), 5u) << membw;
    EXPECT_GE(membw["read_gb_per_s"].get<double>(), membw["median_gb_per_s"].get<double>()) << membw;
  }
  result = Shell(fmt::format("{} bench -m {} -p 0 -n 2 -r 1 --mmap -o md", kMoefit, model.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("| tg2 |"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("weights mmap"), std::string::npos) << result.out;
  // Bad input: a message and a non-zero status, never a crash.
  result = Shell(fmt::format("{} run -m /nonexistent.gguf 2>&1", kMoefit));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("cannot open '/nonexistent.gguf'"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} logits -m {} --tokens \"1 x\" 2>&1", kMoefit, model.string()));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("'x' is not a token id"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} logits -m {} --tokens \"999999\" 2>&1", kMoefit, model.string()));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("outside the vocabulary"), std::string::npos) << result.out;
  result = Shell(fmt::format("{} synth --arch mamba -o {} 2>&1", kMoefit, model.string()));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("not supported"), std::string::npos) << result.out;
  fs::remove(model);
}

}  // namespace
}  // namespace moefit
