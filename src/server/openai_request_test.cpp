// SPDX-License-Identifier: MIT
// Request parsing: accepted shapes and their normalisation, and each bad field refused with a
// 400 naming it.
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/auth.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;

Json Chat(Json extra = Json::object()) {
  Json body = {{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (const auto& [key, value] : extra.items()) body[key] = value;
  return body;
}

// The param a refused body names (empty when accepted).
std::string RefusedParam(const Json& body, bool chat = true) {
  try {
    if (chat) ParseChatCompletionRequest(body);
    else ParseCompletionRequest(body);
  } catch (const ApiError& error) {
    EXPECT_EQ(error.status(), 400);
    EXPECT_EQ(error.type(), "invalid_request_error");
    EXPECT_FALSE(std::string(error.what()).empty());
    return error.param().empty() ? "<none>" : error.param();
  }
  return "";
}

TEST(ParseChatCompletionRequest, Defaults) {
  const ChatCompletionRequest request = ParseChatCompletionRequest(Chat());
  EXPECT_EQ(request.generation.model, "m");
  EXPECT_EQ(request.generation.max_tokens, -1);
  EXPECT_FALSE(request.generation.stream);
  EXPECT_FALSE(request.generation.seed_given);
  EXPECT_TRUE(request.tools.is_null());
  EXPECT_EQ(request.tool_choice, ChatCompletionRequest::ToolChoice::kAuto);
  EXPECT_TRUE(request.parallel_tool_calls);
  EXPECT_FALSE(request.json_schema.has_value());
}

TEST(ParseChatCompletionRequest, SamplingAndLimits) {
  const ChatCompletionRequest request = ParseChatCompletionRequest(Chat({{"temperature", 0},
                                                                        {"top_p", 0.5},
                                                                        {"top_k", 3.0},  // integral floats are integers
                                                                        {"min_p", 0.1},
                                                                        {"presence_penalty", -1},
                                                                        {"frequency_penalty", 1.5},
                                                                        {"seed", -7},
                                                                        {"max_tokens", 10},
                                                                        {"max_completion_tokens", 20},
                                                                        {"stop", "END"},
                                                                        {"stream", true},
                                                                        {"stream_options", {{"include_usage", true}}},
                                                                        {"unknown_field", {1, 2, 3}},
                                                                        {"user", nullptr}}));
  const GenerationFields& g = request.generation;
  EXPECT_EQ(g.sampler.temperature, 0.0f);
  EXPECT_EQ(g.sampler.top_p, 0.5f);
  EXPECT_EQ(g.sampler.top_k, 3);
  EXPECT_FLOAT_EQ(g.sampler.min_p, 0.1f);
  EXPECT_EQ(g.sampler.presence_penalty, -1.0f);
  EXPECT_EQ(g.sampler.frequency_penalty, 1.5f);
  EXPECT_TRUE(g.seed_given);
  EXPECT_EQ(g.sampler.seed, static_cast<uint64_t>(int64_t{-7}));
  EXPECT_EQ(g.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_EQ(g.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(g.stream);
  EXPECT_TRUE(g.include_usage);
}

TEST(ParseChatCompletionRequest, MessagesAreNormalisedForTemplates) {
  const Json messages = Json::parse(R"([
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
      {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "not json"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "42"}
  ])");
  const ChatCompletionRequest request = ParseChatCompletionRequest(Chat({{"messages", messages}}));
  EXPECT_EQ(request.messages[0]["role"], "system");
  EXPECT_EQ(request.messages[1]["content"], "first\nsecond");
  EXPECT_EQ(request.messages[2]["content"], "");
  EXPECT_EQ(request.messages[2]["tool_calls"][0]["function"]["arguments"], Json({{"a", 1}}));
  EXPECT_EQ(request.messages[2]["tool_calls"][1]["function"]["arguments"], "not json");  // left for the template
  EXPECT_EQ(request.messages[3]["tool_call_id"], "call_1");
}

TEST(ParseChatCompletionRequest, ToolsChoiceAndFormat) {
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])");
  ChatCompletionRequest request = ParseChatCompletionRequest(
      Chat({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}, {"parallel_tool_calls", false},
            {"response_format", {{"type", "json_object"}}}, {"chat_template_kwargs", {{"enable_thinking", false}}}}));
  EXPECT_EQ(request.tools, tools);
  EXPECT_EQ(request.tool_choice, ChatCompletionRequest::ToolChoice::kFunction);
  EXPECT_EQ(request.tool_choice_function, "f");
  EXPECT_FALSE(request.parallel_tool_calls);
  ASSERT_TRUE(request.json_schema.has_value());
  EXPECT_TRUE(request.json_schema->empty());
  EXPECT_EQ(request.template_kwargs["enable_thinking"], false);
  request = ParseChatCompletionRequest(Chat({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "object"}}}}}}}}));
  EXPECT_EQ(*request.json_schema, Json({{"type", "object"}}));
  EXPECT_EQ(ParseChatCompletionRequest(Chat({{"tools", Json::array()}})).tools, nullptr);
}

TEST(ParseChatCompletionRequest, BadFieldsAreNamed) {
  EXPECT_EQ(RefusedParam(Json::array()), "<none>");
  EXPECT_EQ(RefusedParam({{"model", "m"}}), "messages");
  EXPECT_EQ(RefusedParam(Chat({{"messages", "hi"}})), "messages");
  EXPECT_EQ(RefusedParam(Chat({{"messages", Json::array()}})), "messages");
  EXPECT_EQ(RefusedParam(Chat({{"messages", {{{"content", "x"}}}}})), "messages[0].role");
  EXPECT_EQ(RefusedParam(Chat({{"messages", {{{"role", "robot"}, {"content", "x"}}}}})), "messages[0].role");
  EXPECT_EQ(RefusedParam(Chat({{"messages", {{{"role", "user"}}}}})), "messages[0].content");
  EXPECT_EQ(RefusedParam(Chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}})), "messages[0].content[0].type");
  EXPECT_EQ(RefusedParam(Chat({{"model", 3}})), "model");
  EXPECT_EQ(RefusedParam(Chat({{"temperature", "warm"}})), "temperature");
  EXPECT_EQ(RefusedParam(Chat({{"temperature", 2.5}})), "temperature");
  EXPECT_EQ(RefusedParam(Chat({{"top_p", -0.1}})), "top_p");
  EXPECT_EQ(RefusedParam(Chat({{"top_k", 2.5}})), "top_k");
  EXPECT_EQ(RefusedParam(Chat({{"max_tokens", -1}})), "max_tokens");
  EXPECT_EQ(RefusedParam(Chat({{"max_completion_tokens", "10"}})), "max_completion_tokens");
  EXPECT_EQ(RefusedParam(Chat({{"seed", 1.5}})), "seed");
  EXPECT_EQ(RefusedParam(Chat({{"n", 3}})), "n");
  EXPECT_EQ(RefusedParam(Chat({{"logprobs", true}})), "logprobs");
  EXPECT_EQ(RefusedParam(Chat({{"stop", {1}}})), "stop");
  EXPECT_EQ(RefusedParam(Chat({{"stream", 1}})), "stream");
  EXPECT_EQ(RefusedParam(Chat({{"stream_options", {{"include_usage", "yes"}}}})), "stream_options.include_usage");
  EXPECT_EQ(RefusedParam(Chat({{"tools", {{{"type", "function"}}}}})), "tools[0].function");
  EXPECT_EQ(RefusedParam(Chat({{"tools", {{{"type", "retrieval"}, {"function", {{"name", "f"}}}}}}})), "tools[0].type");
  EXPECT_EQ(RefusedParam(Chat({{"tool_choice", "sometimes"}})), "tool_choice");
  EXPECT_EQ(RefusedParam(Chat({{"tool_choice", "required"}})), "tool_choice");  // no tools
  EXPECT_EQ(RefusedParam(Chat({{"response_format", {{"type", "xml"}}}})), "response_format.type");
  EXPECT_EQ(RefusedParam(Chat({{"chat_template_kwargs", "x"}})), "chat_template_kwargs");
  EXPECT_EQ(RefusedParam(Chat({{"parallel_tool_calls", "no"}})), "parallel_tool_calls");
}

TEST(ParseCompletionRequest, PromptForms) {
  EXPECT_EQ(ParseCompletionRequest({{"prompt", "abc"}}).prompt, "abc");
  EXPECT_EQ(ParseCompletionRequest({{"prompt", {"abc"}}}).prompt, "abc");
  EXPECT_EQ(ParseCompletionRequest({{"prompt", {1, 2, 3}}}).prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(ParseCompletionRequest({{"prompt", {{4, 5}}}}).prompt_tokens, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(ParseCompletionRequest({{"prompt", "abc"}}).generation.max_tokens, 16);  // OpenAI's default
  EXPECT_TRUE(ParseCompletionRequest({{"prompt", "abc"}, {"echo", true}}).echo);
  EXPECT_EQ(RefusedParam({{"model", "m"}}, false), "prompt");
  EXPECT_EQ(RefusedParam({{"prompt", ""}}, false), "prompt");
  EXPECT_EQ(RefusedParam({{"prompt", {"a", "b"}}}, false), "prompt");
  EXPECT_EQ(RefusedParam({{"prompt", {1, -2}}}, false), "prompt");
  EXPECT_EQ(RefusedParam({{"prompt", 7}}, false), "prompt");
  EXPECT_EQ(RefusedParam({{"prompt", "a"}, {"suffix", "b"}}, false), "suffix");
}

TEST(ApiKey, BearerTokenAndConstantTimeCompare) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken(""), "");
  EXPECT_TRUE(ConstantTimeEquals("secret-key", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("secret-kez", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("secret-key-longer", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("", ""));  // an empty key never authorizes
}

TEST(ApiError, OpenAiErrorObject) {
  const Json error = ApiError(400, "bad", "invalid_request_error", "context_length_exceeded", "messages").ToJson();
  EXPECT_EQ(error.dump(),
            R"({"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})");
  EXPECT_EQ(ApiError(503, "busy", "server_error").ToJson().dump(),
            R"({"error":{"message":"busy","type":"server_error","param":null,"code":null}})");
}

}  // namespace
}  // namespace moefit
