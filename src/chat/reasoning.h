// SPDX-License-Identifier: MIT
// Splits a model's output into reasoning (the text inside <think>…</think> at its start) and the
// answer, incrementally: text pushed in any chunks gives the same split as the whole text.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace moefit {

// The length of the longest suffix of `text` that is a proper prefix of one of `markers`: the
// bytes a streaming parser must hold back because a marker may be starting there.
size_t PartialMarkerSuffix(std::string_view text, std::initializer_list<std::string_view> markers);

struct ReasoningOptions {
  std::string open = "<think>";
  std::string close = "</think>";
  // The prompt already opened the reasoning (a template that ends its generation prompt with
  // "<think>"): the output starts inside it.
  bool start_inside = false;
};

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

// Reasoning is recognised only at the start of the output (after optional whitespace); later
// "<think>" text is ordinary content. Whitespace around the reasoning is trimmed, as is the
// whitespace that separates it from the answer. Output that never closes its reasoning is all
// reasoning.
class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningOptions options = {});
  ReasoningDelta Push(std::string_view text);
  // Releases whatever was held back; call once at the end of the output.
  ReasoningDelta Finish();

 private:
  enum class State { kStart, kReasoning, kAfterReasoning, kContent };
  ReasoningOptions options_;
  State state_;
  std::string pending_;  // text not yet classified or held back (partial marker, trailing space)
  bool reasoning_started_ = false;  // some non-space reasoning was emitted
};

}  // namespace moefit
