// SPDX-License-Identifier: MIT
// OutputPipeline: decoding, stop strings, then the reasoning and tool-call parsers in turn.
#include "server/output_pipeline.h"

#include <algorithm>
#include <utility>

namespace moefit {
namespace {

// The longest suffix of `text` that is a proper prefix of one of the stop strings.
size_t PartialStopSuffix(std::string_view text, const std::vector<std::string>& stops) {
  size_t longest = 0;
  for (const std::string& stop : stops)
    for (size_t length = std::min(text.size(), stop.size() - 1); length > longest; --length)
      if (text.ends_with(std::string_view(stop).substr(0, length))) {
        longest = length;
        break;
      }
  return longest;
}

}  // namespace

OutputPipeline::OutputPipeline(const Tokenizer& tokenizer, OutputOptions options)
    : tokenizer_(tokenizer),
      options_(std::move(options)),
      decoder_(tokenizer, {.skip_special = true}),
      reasoning_(options_.reasoning_options),
      tool_calls_(options_.tool_call_format) {}

OutputDelta OutputPipeline::Push(std::span<const int32_t> tokens) {
  OutputDelta out;
  for (int32_t token : tokens) {
    if (stopped_) break;
    ++consumed_;
    if (std::binary_search(options_.marker_tokens.begin(), options_.marker_tokens.end(), token)) {
      // A special token the parsers need to see (DeepSeek tool-call markers): its text, verbatim.
      const int32_t one[] = {token};
      PushText(decoder_.Finish() + tokenizer_.Decode(one), out);
    } else {
      PushText(decoder_.Push(token), out);
    }
  }
  return out;
}

OutputDelta OutputPipeline::Finish() {
  OutputDelta out;
  if (!stopped_) PushText(decoder_.Finish(), out);
  PushVisible(std::exchange(stop_pending_, {}), out, true);
  return out;
}

void OutputPipeline::PushText(std::string_view text, OutputDelta& out) {
  if (text.empty() || stopped_) return;
  if (options_.stop.empty()) {
    PushVisible(text, out, false);
    return;
  }
  stop_pending_ += text;
  size_t first = std::string::npos;
  for (const std::string& stop : options_.stop) first = std::min(first, stop_pending_.find(stop));
  if (first != std::string::npos) {
    stopped_ = true;
    PushVisible(std::string_view(stop_pending_).substr(0, first), out, false);
    stop_pending_.clear();
    return;
  }
  const size_t hold = PartialStopSuffix(stop_pending_, options_.stop);
  PushVisible(std::string_view(stop_pending_).substr(0, stop_pending_.size() - hold), out, false);
  stop_pending_.erase(0, stop_pending_.size() - hold);
}

void OutputPipeline::PushVisible(std::string_view text, OutputDelta& out, bool finish) {
  ReasoningDelta split;
  if (options_.reasoning) {
    split = reasoning_.Push(text);
    if (finish) {
      ReasoningDelta last = reasoning_.Finish();
      split.reasoning += last.reasoning;
      split.content += last.content;
    }
  } else {
    split.content = text;
  }
  out.reasoning += split.reasoning;
  ToolCallDelta calls;
  if (options_.tool_call_format == ToolCallFormat::kNone) {
    calls.content = std::move(split.content);
  } else {
    calls = tool_calls_.Push(split.content);
    if (finish) {
      ToolCallDelta last = tool_calls_.Finish();
      calls.content += last.content;
      for (ParsedToolCall& call : last.calls) calls.calls.push_back(std::move(call));
    }
  }
  out.content += calls.content;
  for (ParsedToolCall& call : calls.calls) {
    if (!options_.parallel_tool_calls && calls_found_ > 0) continue;
    out.calls.push_back(std::move(call));
    ++calls_found_;
  }
}

}  // namespace moefit
