// SPDX-License-Identifier: MIT
// The plan's figures against reality: `moefit run` on a synthesized MoE model, uncapped and with
// a --ram cap below its routed experts (streamed), and with a long context in an f16 and a q8_0
// KV cache, reports its peak resident set (VmHWM); it must stay under the cap and within
// max(3%, 32 MiB) of the plan's host total, the capped run must generate the same greedy text,
// and a q8_0 KV cache must save exactly its bytes in the plan and in the engine's budget.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "model/synth.h"
#include "plan/hardware.h"
#include "plan/model_inventory.h"
#include "plan/planner.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

const std::string kMoefit = std::string(MOEFIT_BIN_DIR) + "/moefit";
constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Result {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

Result RunMoefit(const std::string& arguments) {
  const fs::path err_path = fs::temp_directory_path() / fmt::format("moefit_rss_{}.err", ::getpid());
  Result result;
  std::FILE* pipe = ::popen(fmt::format("{} {} 2>{}", kMoefit, arguments, err_path.string()).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  result.status = WEXITSTATUS(::pclose(pipe));
  std::FILE* err = std::fopen(err_path.c_str(), "r");
  if (err != nullptr) {
    while ((n = std::fread(buffer, 1, sizeof buffer, err)) > 0) result.err.append(buffer, n);
    std::fclose(err);
  }
  fs::remove(err_path);
  return result;
}

// "<label> 12.34 MiB (12939428 bytes)" -> 12939428.
uint64_t Figure(const std::string& text, const std::string& label) {
  const std::regex pattern(label + " [^(]*\\((\\d+) bytes\\)");
  std::smatch match;
  if (!std::regex_search(text, match, pattern)) return 0;
  return std::stoull(match[1].str());
}

struct Measured {
  uint64_t peak = 0, plan = 0, cap = 0;
};

void ExpectWithinPlan(const Result& result, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(result.status, 0) << result.err;
  const Measured m{Figure(result.err, "peak RSS"), Figure(result.err, "plan host total"), Figure(result.err, "of cap")};
  ASSERT_GT(m.peak, 0u) << result.err;
  ASSERT_GT(m.plan, 0u) << result.err;
  EXPECT_LE(m.peak, m.cap) << result.err;
  const uint64_t tolerance = std::max<uint64_t>(m.plan * 3 / 100, 32 * kMiB);
  const uint64_t difference = m.peak > m.plan ? m.peak - m.plan : m.plan - m.peak;
  EXPECT_LE(difference, tolerance) << "measured " << m.peak << " bytes, planned " << m.plan << "\n" << result.err;
  std::fprintf(stderr, "[%s] peak RSS %.1f MiB, plan host total %.1f MiB, cap %.1f MiB\n", what,
               static_cast<double>(m.peak) / kMiB, static_cast<double>(m.plan) / kMiB, static_cast<double>(m.cap) / kMiB);
}

TEST(MemoryRss, PeakResidentSetMatchesThePlanUncappedAndStreamed) {
  const fs::path model = fs::temp_directory_path() / fmt::format("moefit_rss_{}.gguf", ::getpid());
  SynthOptions options = SynthPreset("tiny");
  options.n_layers = 3;
  options.model_dim = 512;
  options.n_heads = 8;
  options.n_kv_heads = 2;
  options.head_dim = 64;
  options.n_experts = 32;
  options.n_active_experts = 4;
  options.expert_ffn_dim = 512;
  options.file_type = "q8_0";
  options.seed = 3;
  SynthesizeModel(options, model.string());

  // The cap: what everything resident needs, less half of the routed experts.
  PlanInput input;
  input.model = InventoryFromGguf(GgufFile::Open(model.string()));
  input.machine = ProbeMachine();
  input.ctx = 256;
  input.ubatch = 256;
  input.policy.use_gpu = false;
  input.ram.bytes = uint64_t{1} << 40;
  input.machine.ram_total_bytes = input.machine.ram_available_bytes = uint64_t{1} << 40;
  const Plan resident = MakePlan(input);
  ASSERT_TRUE(resident.fits);
  uint64_t routed = 0;
  for (const ExpertLayerPlan& layer : resident.expert_layers) routed += layer.expert_bytes * static_cast<uint64_t>(layer.n_experts);
  ASSERT_GT(routed, 64 * kMiB);
  const uint64_t cap = resident.Device("host")->total() - routed / 2;

  const std::string common =
      fmt::format("run -m {} -p \"Once upon a time\" -n 24 --temp 0 --ctx 256 -t 1 --print-token-ids", model.string());
  const Result uncapped = RunMoefit(common);
  ExpectWithinPlan(uncapped, "uncapped");
  EXPECT_NE(uncapped.err.find("routed experts in RAM"), std::string::npos) << uncapped.err;

  const Result capped = RunMoefit(fmt::format("{} --ram {}", common, cap));
  ExpectWithinPlan(capped, "streamed");
  EXPECT_NE(capped.err.find("stream from disk"), std::string::npos) << capped.err;
  EXPECT_NE(capped.err.find("cache hit rate"), std::string::npos) << capped.err;
  EXPECT_LT(Figure(capped.err, "peak RSS"), Figure(uncapped.err, "peak RSS"));
  EXPECT_EQ(capped.out, uncapped.out);  // the same greedy text
  // ... and the same tokens (random weights may pick tokens that print nothing)
  const auto ids = [](const std::string& err) {
    const size_t at = err.find("generated token ids:");
    return at == std::string::npos ? std::string() : err.substr(at, err.find('\n', at) - at);
  };
  EXPECT_FALSE(ids(uncapped.err).empty()) << uncapped.err;
  EXPECT_EQ(ids(capped.err), ids(uncapped.err));

  // Below what even streaming needs (the process's own overhead and nothing else): a clear
  // refusal, not a crash.
  const Result refused = RunMoefit(fmt::format("{} --ram {}", common, resident.Device("host")->overhead));
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("does not fit"), std::string::npos) << refused.err;

  // A long context with a q8_0 KV cache: within the plan, and the plan and the engine's budget
  // both shrink by exactly the KV bytes saved (3 layers x 2 KV heads x (64 + 64) values a cell:
  // 1536 bytes in f16, 816 in q8_0).
  const std::string long_context =
      fmt::format("run -m {} -p \"Once upon a time\" -n 8 --temp 0 --ctx 4096 -t 1", model.string());
  const Result f16 = RunMoefit(long_context);
  ExpectWithinPlan(f16, "ctx 4096, f16 KV");
  const Result q8_0 = RunMoefit(long_context + " --kv-type q8_0");
  ExpectWithinPlan(q8_0, "ctx 4096, q8_0 KV");
  const uint64_t saved = uint64_t{4096} * (1536 - 816);  // 4096: the trained context (preflight refuses more)
  EXPECT_EQ(Figure(f16.err, "plan host total") - Figure(q8_0.err, "plan host total"), saved) << f16.err << q8_0.err;
  EXPECT_EQ(Figure(f16.err, "budget peak") - Figure(q8_0.err, "budget peak"), saved) << f16.err << q8_0.err;
  fs::remove(model);
}

}  // namespace
}  // namespace moefit
