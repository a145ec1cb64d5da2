// SPDX-License-Identifier: MIT
// OutputPipeline, RenderChatPrompt and Metrics on a synthesized model's byte-level vocabulary
// (one token per byte, so characters and markers split across tokens everywhere).
#include "server/output_pipeline.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "model/synth.h"
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/metrics.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct TinyFile {
  fs::path path = fs::temp_directory_path() / fmt::format("moefit_server_test_{}.gguf", ::getpid());
  std::unique_ptr<GgufFile> file;
  TinyFile() {
    SynthOptions options = SynthPreset("tiny");
    options.n_layers = 1;
    SynthesizeModel(options, path.string());
    file = std::make_unique<GgufFile>(GgufFile::Open(path.string()));
  }
  ~TinyFile() { fs::remove(path); }
};

const GgufFile& File() {
  static TinyFile tiny;
  return *tiny.file;
}

const ServedModel& Served() {
  static const ServedModel served = ServedModel::Load(File(), {.id = "tiny"});
  return served;
}

struct Output {
  std::string content, reasoning;
  std::vector<std::string> calls;
  int64_t consumed = 0;
  bool stopped = false;
};

// Runs `text` through the pipeline token by token.
Output Pipe(std::string_view text, OutputOptions options) {
  const Tokenizer& tokenizer = Served().tokenizer;
  OutputPipeline pipeline(tokenizer, std::move(options));
  Output out;
  auto add = [&](const OutputDelta& delta) {
    out.content += delta.content;
    out.reasoning += delta.reasoning;
    for (const ParsedToolCall& call : delta.calls) out.calls.push_back(call.name + call.arguments);
  };
  for (int32_t token : tokenizer.Encode(text, {.parse_special = true})) {
    const int32_t one[] = {token};
    add(pipeline.Push(one));
  }
  add(pipeline.Finish());
  out.consumed = pipeline.tokens_consumed();
  out.stopped = pipeline.stopped();
  return out;
}

TEST(OutputPipeline, PlainTextWithMultiByteCharacters) {
  const Output out = Pipe("héllo, 世界 🌍", {});
  EXPECT_EQ(out.content, "héllo, 世界 🌍");
  EXPECT_EQ(out.consumed, static_cast<int64_t>(std::string("héllo, 世界 🌍").size()));  // a token per byte
  EXPECT_FALSE(out.stopped);
}

TEST(OutputPipeline, StopStringCutsTextAndCounting) {
  const Output out = Pipe("one two STOP three", {.stop = {"STOP", "never"}});
  EXPECT_EQ(out.content, "one two ");
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.consumed, 12);  // up to the token completing "STOP"
  EXPECT_EQ(Pipe("almost ST", {.stop = {"STOP"}}).content, "almost ST");  // a held-back prefix comes out at the end
}

TEST(OutputPipeline, SpecialTokensAreHidden) {
  EXPECT_EQ(Pipe("a<|im_start|>b", {}).content, "ab");
}

TEST(OutputPipeline, ReasoningThenToolCall) {
  const Output out = Pipe("<think>\nplan it\n</think>\n\nCalling.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": \"é\"}}\n</tool_call>",
                         {.reasoning = true, .tool_call_format = ToolCallFormat::kHermes});
  EXPECT_EQ(out.reasoning, "plan it");
  EXPECT_EQ(out.content, "Calling.");
  EXPECT_EQ(out.calls, std::vector<std::string>{R"(f{"x":"é"})"});
}

TEST(OutputPipeline, OnlyTheFirstCallWithoutParallelCalls) {
  const std::string two = "<tool_call>{\"name\": \"a\"}</tool_call><tool_call>{\"name\": \"b\"}</tool_call>";
  EXPECT_EQ(Pipe(two, {.tool_call_format = ToolCallFormat::kHermes}).calls.size(), 2u);
  EXPECT_EQ(Pipe(two, {.tool_call_format = ToolCallFormat::kHermes, .parallel_tool_calls = false}).calls,
            std::vector<std::string>{"a{}"});
}

TEST(OutputPipeline, StopInsideAToolCallLeavesItUnparsed) {
  const Output out = Pipe("<tool_call>{\"name\": \"a\"}</tool_call>", {.stop = {"name"}, .tool_call_format = ToolCallFormat::kHermes});
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, "<tool_call>{\"");
}

ChatCompletionRequest ChatRequest(Json extra) {
  Json body = {{"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (const auto& [key, value] : extra.items()) body[key] = value;
  return ParseChatCompletionRequest(body);
}

TEST(RenderChatPrompt, BuiltinChatMlTemplate) {
  const ChatPrompt prompt = RenderChatPrompt(Served(), ChatRequest(Json::object()));
  EXPECT_EQ(prompt.text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(prompt.tools_offered);
  EXPECT_FALSE(prompt.reasoning_open);
}

TEST(RenderChatPrompt, JsonInstructionGoesIntoTheSystemMessage) {
  const ChatPrompt prompt = RenderChatPrompt(Served(), ChatRequest({{"response_format", {{"type", "json_object"}}}}));
  EXPECT_TRUE(prompt.text.starts_with("<|im_start|>system\nRespond with a single valid JSON object")) << prompt.text;
}

TEST(RenderChatPrompt, TemplateFileAndItsRefusals) {
  const fs::path path = fs::temp_directory_path() / fmt::format("moefit_template_{}.jinja", ::getpid());
  std::ofstream(path) << "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}"
                         "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
                         "{% if tools %}(tools){% endif %}{% if add_generation_prompt %}[assistant]<think>\n{% endif %}";
  const ServedModel served = ServedModel::Load(File(), {.chat_template_file = path.string()});
  fs::remove(path);
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  const ChatPrompt prompt = RenderChatPrompt(served, ChatRequest({{"tools", tools}}));
  EXPECT_EQ(prompt.text, "[user]hi(tools)[assistant]<think>\n");
  EXPECT_TRUE(prompt.tools_offered);
  EXPECT_TRUE(prompt.reasoning_open);
  EXPECT_FALSE(RenderChatPrompt(served, ChatRequest({{"tools", tools}, {"tool_choice", "none"}})).tools_offered);
  try {
    RenderChatPrompt(served, ChatRequest({{"messages", {{{"role", "system"}, {"content", "x"}}}}}));
    ADD_FAILURE() << "the template's raise_exception was not reported";
  } catch (const ApiError& error) {
    EXPECT_EQ(error.status(), 400);
    EXPECT_NE(std::string(error.what()).find("user first"), std::string::npos);
  }
}

TEST(Metrics, PrometheusText) {
  Metrics metrics;
  metrics.CountRequest("/v1/chat/completions", 200);
  metrics.CountRequest("/chat/completions", 200);
  metrics.CountRequest("/nope", 404);
  const std::string text = metrics.Render({.queued = 2, .active = 3, .kv_bytes = 100, .engine_bytes = 300, .generated_tokens_total = 7}, 5000);
  EXPECT_NE(text.find("moefit_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("moefit_requests_total{route=\"other\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_queue_depth 2\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_active_sequences 3\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_generated_tokens_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_memory_used_bytes{device=\"cpu\",kind=\"model\"} 5000\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_memory_used_bytes{device=\"cpu\",kind=\"engine\"} 300\n"), std::string::npos);
  EXPECT_NE(text.find("moefit_kv_cache_bytes 100\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE moefit_requests_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace moefit
