// SPDX-License-Identifier: MIT
// Finds tool calls in a model's answer, incrementally, for the call syntaxes of the template
// families: Qwen/Hermes <tool_call>{json}</tool_call>, Llama 3.1 bare JSON calls and the
// DeepSeek-V3 tool-call tokens. Text pushed in any chunks gives the same result as the whole text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moefit {

enum class ToolCallFormat {
  kNone,        // no parsing: everything is content
  kHermes,      // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call> (Qwen 2.5/3, Hermes)
  kLlama3Json,  // the whole answer is {"name": ..., "parameters": {...}} (Llama 3.1/3.2/3.3)
  kDeepSeekV3,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>...
};

// "none", "hermes", "llama3", "deepseek-v3"; nullopt for anything else.
std::optional<ToolCallFormat> ToolCallFormatFromName(std::string_view name);
const char* ToolCallFormatName(ToolCallFormat format);

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a JSON object as compact text ("{}" when the model gave none)
};

struct ToolCallDelta {
  std::string content;
  std::vector<ParsedToolCall> calls;  // complete calls, in order
  bool empty() const { return content.empty() && calls.empty(); }
};

// Each call is released whole once its closing marker arrives. A block that does not parse as a
// call is passed through as content, markers included, so nothing the model wrote is lost.
// Whitespace between calls (and before the first one) is dropped.
class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallFormat format);
  ToolCallDelta Push(std::string_view text);
  // Releases what was held back; a call cut off before its closing marker still counts when its
  // body is complete JSON (models often end the turn right after it).
  ToolCallDelta Finish();
  int calls_found() const { return calls_found_; }

 private:
  enum class State { kStart, kContent, kInCall, kLlamaJson };
  void PushContent(std::string_view text, ToolCallDelta& out);
  void CloseCall(std::string_view body, bool terminated, ToolCallDelta& out);

  ToolCallFormat format_;
  State state_;
  std::string pending_;     // unclassified text or a partial marker
  std::string whitespace_;  // content whitespace held until we know whether a call follows
  int calls_found_ = 0;
};

// Parses one call body of the given format; nullopt when it is not a well-formed call.
// Exposed for tests.
std::optional<ParsedToolCall> ParseToolCallBody(ToolCallFormat format, std::string_view body);

}  // namespace moefit
