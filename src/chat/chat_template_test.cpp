// SPDX-License-Identifier: MIT
// Golden tests: renders must equal, byte for byte, what Hugging Face's Jinja2 setup produces.
#include "chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace moefit {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kFixtures = fs::path(MOEFIT_FIXTURES_DIR) / "chat";
const fs::path kTestData = fs::path(MOEFIT_CHAT_TESTDATA_DIR);

// Friday 26 July 2024, 10:30:00: the clock make_goldens.py pins for strftime_now().
std::tm FixedTime() {
  std::tm time{};
  time.tm_year = 2024 - 1900;
  time.tm_mon = 6;
  time.tm_mday = 26;
  time.tm_hour = 10;
  time.tm_min = 30;
  time.tm_wday = 5;
  time.tm_yday = 207;
  return time;
}

std::vector<Json> ReadJsonLines(const fs::path& path) {
  std::ifstream file(path);
  std::vector<Json> lines;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty()) lines.push_back(Json::parse(line));
  }
  return lines;
}

std::string TemplateSource(const std::string& name) {
  std::ifstream file(kFixtures / "templates" / (name + ".tokenizer_config.json"));
  return ChatTemplateFromConfig(Json::parse(file));
}

// Renders every case and compares with the expected text or error. `source` gives a case's
// template text. Returns the number of cases checked.
template <typename SourceFn>
int CheckCases(const std::vector<Json>& cases, SourceFn source) {
  int checked = 0;
  for (const Json& test_case : cases) {
    const std::string label = test_case.value("template", std::string()) + "/" + test_case["case"].get<std::string>();
    SCOPED_TRACE(label);
    const ChatTemplate chat_template(source(test_case), ChatTemplateOptions{.now = FixedTime});
    const Json& error = test_case["error"];
    if (error.is_null()) {
      try {
        EXPECT_EQ(chat_template.Render(test_case["context"]), test_case["rendered"].get<std::string>());
      } catch (const Error& failure) {
        ADD_FAILURE() << "unexpected error: " << failure.what();
      }
    } else {
      try {
        const std::string rendered = chat_template.Render(test_case["context"]);
        ADD_FAILURE() << "expected error '" << error.get<std::string>() << "', rendered:\n" << rendered;
      } catch (const ChatTemplateError& failure) {
        EXPECT_NE(std::string(failure.what()).find(error.get<std::string>()), std::string::npos)
            << failure.what();
      }
    }
    ++checked;
  }
  return checked;
}

TEST(ChatTemplateGolden, SharedFixtureRenders) {
  if (!fs::exists(kFixtures / "renders.golden.jsonl")) GTEST_SKIP() << "no fixtures at " << kFixtures;
  const std::vector<Json> cases = ReadJsonLines(kFixtures / "renders.golden.jsonl");
  ASSERT_EQ(cases.size(), 18u);
  EXPECT_EQ(CheckCases(cases, [](const Json& c) { return TemplateSource(c["template"]); }), 18);
}

TEST(ChatTemplateGolden, DeepSeekAndGemmaRenders) {
  if (!fs::exists(kFixtures / "templates")) GTEST_SKIP() << "no fixtures at " << kFixtures;
  const std::vector<Json> cases = ReadJsonLines(kTestData / "template_renders.jsonl");
  ASSERT_GE(cases.size(), 20u);
  CheckCases(cases, [](const Json& c) { return TemplateSource(c["template"]); });
}

TEST(ChatTemplateGolden, JinjaFeatures) {
  const std::vector<Json> cases = ReadJsonLines(kTestData / "jinja_features.jsonl");
  ASSERT_GE(cases.size(), 100u);
  CheckCases(cases, [](const Json& c) { return c["source"].get<std::string>(); });
}

}  // namespace
}  // namespace moefit
