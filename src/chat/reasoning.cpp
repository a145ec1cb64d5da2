// SPDX-License-Identifier: MIT
// ReasoningSplitter: a four-state scanner (start, reasoning, the gap after it, content) that
// holds back only what may still turn out to be a marker or trimmed whitespace.
#include "chat/reasoning.h"

#include <algorithm>

namespace moefit {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view TrimLeft(std::string_view text) {
  const size_t first = text.find_first_not_of(kSpace);
  return first == std::string_view::npos ? std::string_view{} : text.substr(first);
}

std::string_view TrimRight(std::string_view text) {
  const size_t last = text.find_last_not_of(kSpace);
  return last == std::string_view::npos ? std::string_view{} : text.substr(0, last + 1);
}

}  // namespace

size_t PartialMarkerSuffix(std::string_view text, std::initializer_list<std::string_view> markers) {
  size_t longest = 0;
  for (std::string_view marker : markers) {
    if (marker.empty()) continue;
    for (size_t length = std::min(text.size(), marker.size() - 1); length > longest; --length)
      if (text.ends_with(marker.substr(0, length))) {
        longest = length;
        break;
      }
  }
  return longest;
}

ReasoningSplitter::ReasoningSplitter(ReasoningOptions options)
    : options_(std::move(options)), state_(options_.start_inside ? State::kReasoning : State::kStart) {}

ReasoningDelta ReasoningSplitter::Push(std::string_view text) {
  pending_ += text;
  ReasoningDelta out;
  auto emit_reasoning = [&](std::string_view piece) {
    if (!reasoning_started_) piece = TrimLeft(piece);
    if (piece.empty()) return;
    out.reasoning += piece;
    reasoning_started_ = true;
  };
  for (;;) {
    switch (state_) {
      case State::kStart: {
        const std::string_view rest = TrimLeft(pending_);
        if (rest.empty()) return out;  // only whitespace so far
        if (rest.starts_with(options_.open)) {
          pending_.erase(0, pending_.size() - rest.size() + options_.open.size());
          state_ = State::kReasoning;
          continue;
        }
        if (std::string_view(options_.open).starts_with(rest)) return out;  // may still become the marker
        state_ = State::kContent;
        continue;
      }
      case State::kReasoning: {
        const size_t close = pending_.find(options_.close);
        if (close != std::string::npos) {
          emit_reasoning(TrimRight(std::string_view(pending_).substr(0, close)));
          pending_.erase(0, close + options_.close.size());
          state_ = State::kAfterReasoning;
          continue;
        }
        // Hold back a possible partial marker and trailing whitespace (trimmed if the marker follows).
        const std::string_view safe =
            std::string_view(pending_).substr(0, pending_.size() - PartialMarkerSuffix(pending_, {options_.close}));
        const std::string_view emitted = TrimRight(safe);
        emit_reasoning(emitted);
        pending_.erase(0, emitted.size());
        return out;
      }
      case State::kAfterReasoning: {
        const std::string_view rest = TrimLeft(pending_);
        if (rest.empty()) {
          pending_.clear();
          return out;
        }
        pending_.erase(0, pending_.size() - rest.size());
        state_ = State::kContent;
        continue;
      }
      case State::kContent:
        out.content += pending_;
        pending_.clear();
        return out;
    }
  }
}

ReasoningDelta ReasoningSplitter::Finish() {
  ReasoningDelta out;
  switch (state_) {
    case State::kStart:
    case State::kContent:
      out.content = std::move(pending_);
      break;
    case State::kReasoning: {
      std::string_view rest = TrimRight(pending_);
      if (!reasoning_started_) rest = TrimLeft(rest);
      out.reasoning = rest;
      break;
    }
    case State::kAfterReasoning:
      break;
  }
  pending_.clear();
  state_ = State::kContent;
  return out;
}

}  // namespace moefit
