// SPDX-License-Identifier: MIT
// `moefit doctor` and the preflight of run/serve, end to end through the binary: a fixture model
// passes with a generous budget and fails (exit 1, the failing line named) with a budget too
// small, a context above the trained length, and a truncated copy of the file; the JSON shape;
// serve and run refuse to start when a check fails.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace moefit {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = MOEFIT_FIXTURES_DIR;
const fs::path kModel = kFixtures / "models/tiny-qwen3moe-q8_0.gguf";
const std::string kMoefit = std::string(MOEFIT_BIN_DIR) + "/moefit";

struct Result {
  int status = -1;
  std::string out;
};

// Runs `moefit <arguments>`, stdout captured (and stderr with 2>&1 in the arguments).
Result Moefit(const std::string& arguments) {
  std::FILE* pipe = ::popen(fmt::format("{} {}", kMoefit, arguments).c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  Result result;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

fs::path TempPath(const std::string& name) { return fs::temp_directory_path() / fmt::format("moefit_doctor_{}_{}", ::getpid(), name); }

// The line of check `name` in doctor's text output ("  FAIL  plan  ..."), or "".
std::string CheckLine(const std::string& text, const std::string& name) {
  size_t pos = 0;
  while ((pos = text.find('\n', pos)) != std::string::npos) {
    ++pos;
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    if (line.size() > 8 && line.substr(8).starts_with(name + " ")) return line;
  }
  return "";
}

class DoctorTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  }
};

TEST_F(DoctorTest, AFixtureModelPassesWithAGenerousBudget) {
  const Result result = Moefit(fmt::format("doctor -m {} --ram 1G --ctx 2048", kModel.string()));
  EXPECT_EQ(result.status, 0) << result.out;
  for (const char* name : {"file", "tensors", "plan", "free_memory", "budgets", "context", "kv_type", "threads", "isa"})
    EXPECT_TRUE(CheckLine(result.out, name).starts_with("  PASS")) << name << "\n" << result.out;
  EXPECT_NE(result.out.find("\nOK: "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("kernels: "), std::string::npos) << "the machine section names the kernels' ISA level";
  EXPECT_NE(result.out.find("no GPU runtime"), std::string::npos) << result.out;
}

TEST_F(DoctorTest, ABudgetTooSmallFailsThePlanLineAndSaysWhatFits) {
  const Result result = Moefit(fmt::format("doctor -m {} --ram 20M", kModel.string()));
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_TRUE(CheckLine(result.out, "plan").starts_with("  FAIL")) << result.out;
  EXPECT_NE(result.out.find("what fits: --ram"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\nFAIL: plan"), std::string::npos) << result.out;
}

TEST_F(DoctorTest, AContextAboveTheTrainedLengthFails) {
  const Result json = Moefit(fmt::format("doctor -m {} --ram 1G --json", kModel.string()));
  ASSERT_EQ(json.status, 0) << json.out;
  const int64_t trained = nlohmann::json::parse(json.out)["plan"]["model"]["context_length"].get<int64_t>();
  ASSERT_GT(trained, 0);
  const Result result = Moefit(fmt::format("doctor -m {} --ram 1G --ctx {}", kModel.string(), trained + 1));
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_TRUE(CheckLine(result.out, "context").starts_with("  FAIL")) << result.out;
  EXPECT_TRUE(CheckLine(result.out, "plan").starts_with("  PASS")) << "memory is not the problem\n" << result.out;
  EXPECT_EQ(Moefit(fmt::format("doctor -m {} --ram 1G --ctx {}", kModel.string(), trained)).status, 0);
}

TEST_F(DoctorTest, ATruncatedFileFailsTheFileLine) {
  const fs::path truncated = TempPath("truncated.gguf");
  {
    std::ifstream in(kModel, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(bytes.size() * 2 / 3);
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const Result result = Moefit(fmt::format("doctor -m {} --ram 1G 2>&1", truncated.string()));
  fs::remove(truncated);
  EXPECT_EQ(result.status, 1) << result.out;
  const std::string line = CheckLine(result.out, "file");
  EXPECT_TRUE(line.starts_with("  FAIL")) << result.out;
  EXPECT_NE(line.find("runs past the end of the file"), std::string::npos) << line;
  EXPECT_EQ(result.out.find("unexpected error"), std::string::npos) << result.out;
}

TEST_F(DoctorTest, JsonShapeIsStableAndThePlanIsThePlanCommands) {
  const Result result = Moefit(fmt::format("doctor -m {} --ram 1G --ctx 2048 --json", kModel.string()));
  ASSERT_EQ(result.status, 0) << result.out;
  const nlohmann::json doctor = nlohmann::json::parse(result.out);
  std::set<std::string> keys;
  for (const auto& [key, value] : doctor.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"machine", "plan", "checks", "ok"}));
  EXPECT_TRUE(doctor["ok"].get<bool>());
  const nlohmann::json& machine = doctor["machine"];
  for (const char* key : {"ram_total_bytes", "ram_available_bytes", "ram_free_bytes", "cores", "kernel_isa", "cpu_features",
                          "huge_pages", "gpu"})
    EXPECT_TRUE(machine.contains(key)) << key;
  EXPECT_GT(machine["ram_total_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(machine["gpu"]["runtime"].is_null());

  const Result plan = Moefit(fmt::format("plan -m {} --ram 1G --ctx 2048 --cpu-only --json", kModel.string()));
  ASSERT_EQ(plan.status, 0) << plan.out;
  const nlohmann::json expected = nlohmann::json::parse(plan.out);
  for (const auto& [key, value] : expected.items()) EXPECT_TRUE(doctor["plan"].contains(key)) << key;
  EXPECT_EQ(doctor["plan"]["devices"].size(), expected["devices"].size());
  EXPECT_EQ(doctor["plan"]["devices"][0]["breakdown"]["routed_experts"], expected["devices"][0]["breakdown"]["routed_experts"]);

  ASSERT_TRUE(doctor["checks"].is_array());
  ASSERT_FALSE(doctor["checks"].empty());
  for (const nlohmann::json& check : doctor["checks"]) {
    EXPECT_TRUE(check["name"].is_string());
    EXPECT_TRUE(check["detail"].is_string());
    EXPECT_TRUE(check["hints"].is_array());
    const std::string status = check["status"].get<std::string>();
    EXPECT_TRUE(status == "pass" || status == "warn" || status == "fail") << status;
  }

  const Result failing = Moefit(fmt::format("doctor -m {} --ram 20M --json", kModel.string()));
  EXPECT_EQ(failing.status, 1);
  const nlohmann::json refused = nlohmann::json::parse(failing.out);
  EXPECT_FALSE(refused["ok"].get<bool>());
  EXPECT_FALSE(refused["plan"]["fits"].get<bool>());
}

TEST(Doctor, TheMachineAloneAndACatalogModel) {
  Result result = Moefit("doctor --json");
  ASSERT_EQ(result.status, 0) << result.out;
  const nlohmann::json machine_only = nlohmann::json::parse(result.out);
  EXPECT_TRUE(machine_only["plan"].is_null());
  for (const nlohmann::json& check : machine_only["checks"]) EXPECT_NE(check["name"], "file");

  // Qwen3-235B on a made-up budget of 1 GiB: the catalog model is planned, and does not fit.
  result = Moefit("doctor --model qwen3-235b-a22b --type q4_k_m --ram 1G");
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_TRUE(CheckLine(result.out, "plan").starts_with("  FAIL")) << result.out;
  EXPECT_EQ(CheckLine(result.out, "file"), "") << "a catalog model has no file to check";
  result = Moefit("doctor --model no-such-model 2>&1");
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("unknown model"), std::string::npos) << result.out;
}

// Serve and run check before loading: an impossible budget or context stops them with the
// failing line and what would fit; warnings do not.
TEST(Doctor, ServeAndRunRefuseToStartWhenAPreflightCheckFails) {
  const fs::path model = TempPath("synth.gguf");
  ASSERT_EQ(Moefit(fmt::format("synth --preset tiny --type q8_0 -o {} 2>/dev/null", model.string())).status, 0);
  Result result = Moefit(fmt::format("serve -m {} --port 0 --ram 8M --exit-after 30 2>&1", model.string()));
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("preflight: FAIL plan: does not fit"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("what fits: "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("serve refused to start: preflight check plan failed"), std::string::npos) << result.out;

  result = Moefit(fmt::format("run -m {} -p hi -n 2 --ctx 1000000 2>&1", model.string()));
  EXPECT_EQ(result.status, 1) << result.out;
  EXPECT_NE(result.out.find("preflight: FAIL context"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("run refused to start"), std::string::npos) << result.out;

  // A warning (no --ram) is one line and the run goes on.
  result = Moefit(fmt::format("run -m {} -p hi -n 2 --ctx 256 2>&1", model.string()));
  EXPECT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("preflight: WARN budgets: no --ram"), std::string::npos) << result.out;
  fs::remove(model);
}

}  // namespace
}  // namespace moefit
