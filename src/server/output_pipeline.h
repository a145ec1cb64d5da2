// SPDX-License-Identifier: MIT
// OutputPipeline: generated tokens -> text (whole UTF-8 characters only) -> cut at the first
// stop string -> reasoning split -> tool-call parsing. Streaming and non-streaming responses
// both read it, so they always agree.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "chat/reasoning.h"
#include "chat/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace moefit {

struct OutputOptions {
  std::vector<std::string> stop;  // text ends before the first occurrence of any of these
  bool reasoning = false;         // split <think>…</think> into reasoning
  ReasoningOptions reasoning_options;
  ToolCallFormat tool_call_format = ToolCallFormat::kNone;  // kNone: no tool-call parsing
  bool parallel_tool_calls = true;  // false: only the first call is kept
  std::vector<TokenId> marker_tokens;  // special tokens decoded as text (sorted)
};

struct OutputDelta {
  std::string content;
  std::string reasoning;
  std::vector<ParsedToolCall> calls;
  bool empty() const { return content.empty() && reasoning.empty() && calls.empty(); }
};

class OutputPipeline {
 public:
  OutputPipeline(const Tokenizer& tokenizer, OutputOptions options);

  // Adds generated tokens; tokens after a stop string are ignored (and not counted).
  OutputDelta Push(std::span<const int32_t> tokens);
  // Releases what was held back. Call once, at the end.
  OutputDelta Finish();

  bool stopped() const { return stopped_; }                 // a stop string ended the text
  int64_t tokens_consumed() const { return consumed_; }     // generated tokens that count
  int calls_found() const { return calls_found_; }

 private:
  void PushText(std::string_view text, OutputDelta& out);
  void PushVisible(std::string_view text, OutputDelta& out, bool finish);

  const Tokenizer& tokenizer_;
  OutputOptions options_;
  StreamDecoder decoder_;
  ReasoningSplitter reasoning_;
  ToolCallParser tool_calls_;
  std::string stop_pending_;  // text that may be the start of a stop string
  bool stopped_ = false;
  int64_t consumed_ = 0;
  int calls_found_ = 0;
};

}  // namespace moefit
