// SPDX-License-Identifier: MIT
// ToolCallParser per format: calls and content from whole texts, the same for every chunking,
// malformed blocks passed through as content, calls cut off at the end of the output.
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

namespace moefit {
namespace {

struct Parsed {
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;  // (name, arguments)
  bool operator==(const Parsed&) const = default;
};

void PrintTo(const Parsed& parsed, std::ostream* os) {
  *os << "{content: \"" << parsed.content << "\", calls: [";
  for (const auto& [name, arguments] : parsed.calls) *os << name << " " << arguments << "; ";
  *os << "]}";
}

Parsed Run(ToolCallFormat format, const std::vector<std::string_view>& chunks) {
  ToolCallParser parser(format);
  Parsed parsed;
  auto add = [&](const ToolCallDelta& delta) {
    parsed.content += delta.content;
    for (const ParsedToolCall& call : delta.calls) parsed.calls.emplace_back(call.name, call.arguments);
  };
  for (std::string_view chunk : chunks) add(parser.Push(chunk));
  add(parser.Finish());
  return parsed;
}

Parsed RunAllChunkings(ToolCallFormat format, std::string_view text) {
  const Parsed whole = Run(format, {text});
  for (size_t cut = 0; cut <= text.size(); ++cut)
    EXPECT_EQ(Run(format, {text.substr(0, cut), text.substr(cut)}), whole) << "cut at " << cut;
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < text.size(); ++i) bytes.push_back(text.substr(i, 1));
  EXPECT_EQ(Run(format, bytes), whole) << "byte by byte";
  return whole;
}

constexpr ToolCallFormat kHermes = ToolCallFormat::kHermes;
constexpr ToolCallFormat kLlama = ToolCallFormat::kLlama3Json;
constexpr ToolCallFormat kDeepSeek = ToolCallFormat::kDeepSeekV3;

TEST(ToolCallFormat, Names) {
  for (ToolCallFormat format : {ToolCallFormat::kNone, kHermes, kLlama, kDeepSeek})
    EXPECT_EQ(ToolCallFormatFromName(ToolCallFormatName(format)), format);
  EXPECT_EQ(ToolCallFormatFromName("qwen"), std::nullopt);
}

TEST(HermesToolCalls, OneCall) {
  EXPECT_EQ(RunAllChunkings(kHermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
            (Parsed{"", {{"get_weather", R"({"city":"Paris"})"}}}));
}

TEST(HermesToolCalls, ContentThenTwoCalls) {
  EXPECT_EQ(RunAllChunkings(kHermes,
                            "Let me check both.\n\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n"
                            "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": [1, 2]}}\n</tool_call>\n"),
            (Parsed{"Let me check both.", {{"a", "{}"}, {"b", R"({"x":[1,2]})"}}}));
}

TEST(HermesToolCalls, PlainAnswerIsUntouched) {
  EXPECT_EQ(RunAllChunkings(kHermes, "Just text, with a < sign and <tool> tags.\n"),
            (Parsed{"Just text, with a < sign and <tool> tags.\n", {}}));
}

TEST(HermesToolCalls, ArgumentsAsStringOrMissing) {
  EXPECT_EQ(RunAllChunkings(kHermes, R"(<tool_call>{"name": "f", "arguments": "{\"k\": 1}"}</tool_call>)"),
            (Parsed{"", {{"f", R"({"k":1})"}}}));
  EXPECT_EQ(RunAllChunkings(kHermes, R"(<tool_call>{"name": "now"}</tool_call>)"), (Parsed{"", {{"now", "{}"}}}));
  EXPECT_EQ(RunAllChunkings(kHermes, R"(<tool_call>{"name": "g", "parameters": {"q": "é"}}</tool_call>)"),
            (Parsed{"", {{"g", R"({"q":"é"})"}}}));
}

TEST(HermesToolCalls, MalformedBlockStaysContent) {
  EXPECT_EQ(RunAllChunkings(kHermes, "<tool_call>{not json}</tool_call> after"),
            (Parsed{"<tool_call>{not json}</tool_call> after", {}}));
  EXPECT_EQ(RunAllChunkings(kHermes, R"(<tool_call>{"arguments": {}}</tool_call>)"),
            (Parsed{R"(<tool_call>{"arguments": {}}</tool_call>)", {}}));
}

TEST(HermesToolCalls, CallCutOffBeforeItsClosingTag) {
  EXPECT_EQ(RunAllChunkings(kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n"),
            (Parsed{"", {{"f", R"({"a":1})"}}}));
  EXPECT_EQ(RunAllChunkings(kHermes, "<tool_call>\n{\"name\": \"f\", \"argu"), (Parsed{"<tool_call>\n{\"name\": \"f\", \"argu", {}}));
}

TEST(HermesToolCalls, StreamsContentBeforeTheCall) {
  ToolCallParser parser(kHermes);
  EXPECT_EQ(parser.Push("Checking").content, "Checking");
  EXPECT_EQ(parser.Push(" now\n<tool_").content, " now");
  const ToolCallDelta opened = parser.Push("call>{\"name\": \"f\"");
  EXPECT_TRUE(opened.empty());
  const ToolCallDelta closed = parser.Push(", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(closed.calls.size(), 1u);
  EXPECT_EQ(closed.calls[0].name, "f");
  EXPECT_EQ(closed.content, "");
  EXPECT_TRUE(parser.Finish().empty());
  EXPECT_EQ(parser.calls_found(), 1);
}

TEST(LlamaToolCalls, BareJsonCall) {
  EXPECT_EQ(RunAllChunkings(kLlama, R"({"name": "get_weather", "parameters": {"city": "Oslo"}})"),
            (Parsed{"", {{"get_weather", R"({"city":"Oslo"})"}}}));
  EXPECT_EQ(RunAllChunkings(kLlama, "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}"), (Parsed{"", {{"f", "{}"}}}));
}

TEST(LlamaToolCalls, SeveralCalls) {
  EXPECT_EQ(RunAllChunkings(kLlama, R"({"name": "a", "parameters": {}}; {"name": "b", "parameters": {"n": 2}})"),
            (Parsed{"", {{"a", "{}"}, {"b", R"({"n":2})"}}}));
  EXPECT_EQ(RunAllChunkings(kLlama, R"([{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}])"),
            (Parsed{"", {{"a", "{}"}, {"b", "{}"}}}));
}

TEST(LlamaToolCalls, TextAndNonCallJsonAreContent) {
  EXPECT_EQ(RunAllChunkings(kLlama, "The weather is fine {\"name\": \"x\"}"), (Parsed{"The weather is fine {\"name\": \"x\"}", {}}));
  EXPECT_EQ(RunAllChunkings(kLlama, R"({"answer": 42})"), (Parsed{R"({"answer": 42})", {}}));
  EXPECT_EQ(RunAllChunkings(kLlama, "  "), (Parsed{"  ", {}}));
}

TEST(DeepSeekToolCalls, V3Syntax) {
  const std::string text =
      "I will look it up."
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Tokyo\"}\n```"
      "<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>";
  EXPECT_EQ(RunAllChunkings(kDeepSeek, text), (Parsed{"I will look it up.", {{"get_weather", R"({"city":"Tokyo"})"}, {"get_time", "{}"}}}));
}

TEST(DeepSeekToolCalls, V31Syntax) {
  EXPECT_EQ(RunAllChunkings(kDeepSeek, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{\"q\": \"moe\"}"
                                       "<｜tool▁call▁end｜><｜tool▁calls▁end｜>"),
            (Parsed{"", {{"search", R"({"q":"moe"})"}}}));
}

TEST(DeepSeekToolCalls, PlainAnswerIsUntouched) {
  EXPECT_EQ(RunAllChunkings(kDeepSeek, "No tools needed: ｜ and < are fine."), (Parsed{"No tools needed: ｜ and < are fine.", {}}));
}

TEST(NoToolCallFormat, EverythingIsContent) {
  EXPECT_EQ(RunAllChunkings(ToolCallFormat::kNone, "<tool_call>{\"name\": \"f\"}</tool_call>"),
            (Parsed{"<tool_call>{\"name\": \"f\"}</tool_call>", {}}));
}

}  // namespace
}  // namespace moefit
