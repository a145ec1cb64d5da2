// SPDX-License-Identifier: MIT
// Golden tests: renders must equal, byte for byte, what Hugging Face's Jinja2 setup produces.
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// The chat_template of fixtures/chat/templates/<name>.tokenizer_config.json, read once (the
// Gemma 3 config is over 1 MB).
std::string TemplateSource(const std::string& name) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    std::ifstream file(kFixtures / "templates" / (name + ".tokenizer_config.json"));
    it = cache.emplace(name, ChatTemplateFromConfig(Json::parse(file))).first;
  }
  return it->second;
}

// Renders every case and compares with the expected text or error; `source` gives a case's
// template text. An expected error must be thrown with Jinja2's message in it, except for
// syntax errors, whose wording is ours.
template <typename SourceFn>
void CheckCases(const std::vector<Json>& cases, SourceFn source) {
  for (const Json& test_case : cases) {
    SCOPED_TRACE(test_case.value("template", std::string("features")) + "/" +
                 test_case["case"].get<std::string>());
    const Json& error = test_case["error"];
    const auto type = test_case.find("error_type");  // absent from the shared fixture
    const std::string error_type =
        type != test_case.end() && type->is_string() ? type->get<std::string>() : "";
    try {
      const ChatTemplate chat_template(source(test_case), ChatTemplateOptions{.now = FixedTime});
      const std::string rendered = chat_template.Render(test_case["context"]);
      if (error.is_null()) {
        EXPECT_EQ(rendered, test_case["rendered"].get<std::string>());
      } else {
        ADD_FAILURE() << "expected error '" << error.get<std::string>() << "', rendered:\n"
                      << rendered;
      }
    } catch (const ChatTemplateError& failure) {
      if (error.is_null()) {
        ADD_FAILURE() << "unexpected error: " << failure.what();
      } else if (error_type != "TemplateSyntaxError" && error_type != "TemplateAssertionError") {
        EXPECT_NE(std::string(failure.what()).find(error.get<std::string>()), std::string::npos)
            << failure.what();
      }
    }
  }
}

TEST(ChatTemplateGolden, SharedFixtureRenders) {
  if (!fs::exists(kFixtures / "renders.golden.jsonl"))
    GTEST_SKIP() << "no fixtures at " << kFixtures;
  const std::vector<Json> cases = ReadJsonLines(kFixtures / "renders.golden.jsonl");
  ASSERT_EQ(cases.size(), 18u);
  CheckCases(cases, [](const Json& c) { return TemplateSource(c["template"]); });
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
