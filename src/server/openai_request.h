// SPDX-License-Identifier: MIT
// The OpenAI request bodies the server accepts, checked field by field: a field of the wrong
// type or out of range is an ApiError (400) naming it; unknown fields are ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"

namespace moefit {

// Fields shared by both endpoints.
struct GenerationFields {
  std::string model;  // empty when not given
  int max_tokens = -1;  // < 0: until the end of turn or the context
  SamplerOptions sampler;
  bool seed_given = false;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct ChatCompletionRequest {
  GenerationFields generation;
  // Messages as the chat template sees them: content always a string (text parts joined),
  // "developer" as "system", tool-call arguments as objects where they parse.
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools;  // the offered tools (an array), or null
  enum class ToolChoice { kAuto, kNone, kRequired, kFunction } tool_choice = ToolChoice::kAuto;
  std::string tool_choice_function;  // for kFunction
  bool parallel_tool_calls = true;
  // response_format: nullopt for text; otherwise the JSON schema wanted ({} for json_object).
  std::optional<nlohmann::ordered_json> json_schema;
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
};

struct CompletionRequest {
  GenerationFields generation;
  std::string prompt;             // text, or
  std::vector<int32_t> prompt_tokens;  // token ids (when the prompt was given as numbers)
  bool echo = false;
};

// Both throw ApiError (400) for a body that is not an object or a field that is wrong.
ChatCompletionRequest ParseChatCompletionRequest(const nlohmann::ordered_json& body);
CompletionRequest ParseCompletionRequest(const nlohmann::ordered_json& body);

}  // namespace moefit
