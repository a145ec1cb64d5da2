// SPDX-License-Identifier: MIT
// ToolCallParser: content passes through (holding back partial markers and whitespace); call
// blocks are buffered until they close, then parsed per format.
#include "chat/tool_calls.h"

#include <nlohmann/json.hpp>

#include "chat/reasoning.h"

namespace moefit {
namespace {

constexpr std::string_view kSpace = " \t\r\n";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kDeepSeekCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kDeepSeekCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kDeepSeekCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kDeepSeekCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kDeepSeekSep = "<｜tool▁sep｜>";
constexpr std::string_view kPythonTag = "<|python_tag|>";

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string_view OpenMarker(ToolCallFormat format) {
  return format == ToolCallFormat::kDeepSeekV3 ? kDeepSeekCallBegin : kHermesOpen;
}
std::string_view CloseMarker(ToolCallFormat format) {
  return format == ToolCallFormat::kDeepSeekV3 ? kDeepSeekCallEnd : kHermesClose;
}

std::string Compact(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Arguments as a JSON object's text: objects as they are, strings holding an object parsed.
std::optional<std::string> ArgumentsText(const nlohmann::json* arguments) {
  if (arguments == nullptr || arguments->is_null()) return "{}";
  if (arguments->is_object()) return Compact(*arguments);
  if (arguments->is_string()) {
    const nlohmann::json inner = nlohmann::json::parse(arguments->get<std::string>(), nullptr, false);
    if (inner.is_object()) return Compact(inner);
  }
  return std::nullopt;
}

// {"name": ..., "arguments" | "parameters": {...}}
std::optional<ParsedToolCall> ParseJsonCall(std::string_view text) {
  const nlohmann::json call = nlohmann::json::parse(Trim(text), nullptr, false);
  if (!call.is_object()) return std::nullopt;
  const auto name = call.find("name");
  if (name == call.end() || !name->is_string() || name->get<std::string>().empty()) return std::nullopt;
  const nlohmann::json* arguments = nullptr;
  for (const char* key : {"arguments", "parameters"})
    if (const auto found = call.find(key); found != call.end()) arguments = &*found;
  std::optional<std::string> arguments_text = ArgumentsText(arguments);
  if (!arguments_text) return std::nullopt;
  return ParsedToolCall{.name = name->get<std::string>(), .arguments = std::move(*arguments_text)};
}

// function<｜tool▁sep｜>NAME\n```json\n{...}\n``` (V3), or NAME<｜tool▁sep｜>{...} (V3.1).
std::optional<ParsedToolCall> ParseDeepSeekCall(std::string_view body) {
  const size_t sep = body.find(kDeepSeekSep);
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view before = Trim(body.substr(0, sep));
  std::string_view after = body.substr(sep + kDeepSeekSep.size());
  std::string_view name = before;
  if (before.empty() || before == "function") {
    const size_t newline = after.find('\n');
    name = Trim(after.substr(0, newline));
    after = newline == std::string_view::npos ? std::string_view{} : after.substr(newline + 1);
  }
  after = Trim(after);
  if (after.starts_with("```")) {
    const size_t line_end = after.find('\n');
    after = line_end == std::string_view::npos ? std::string_view{} : after.substr(line_end + 1);
    if (const size_t fence = after.rfind("```"); fence != std::string_view::npos) after = after.substr(0, fence);
  }
  if (name.empty()) return std::nullopt;
  const nlohmann::json arguments = nlohmann::json::parse(Trim(after).empty() ? "{}" : Trim(after), nullptr, false);
  std::optional<std::string> arguments_text = ArgumentsText(&arguments);
  if (arguments.is_discarded() || !arguments_text) return std::nullopt;
  return ParsedToolCall{.name = std::string(name), .arguments = std::move(*arguments_text)};
}

// A Llama 3.1 answer made of calls: one object, an array of them, or objects joined by ';'.
std::optional<std::vector<ParsedToolCall>> ParseLlamaCalls(std::string_view text) {
  text = Trim(text);
  std::vector<ParsedToolCall> calls;
  const nlohmann::json whole = nlohmann::json::parse(text, nullptr, false);
  if (whole.is_array() && !whole.empty()) {
    for (const nlohmann::json& item : whole) {
      std::optional<ParsedToolCall> call = ParseJsonCall(Compact(item));
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
    return calls;
  }
  if (!whole.is_discarded()) {
    std::optional<ParsedToolCall> call = ParseJsonCall(text);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    return calls;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    std::optional<ParsedToolCall> call = ParseJsonCall(text.substr(start, end - start));
    if (!call) return std::nullopt;  // a ';' inside a string, or not calls at all
    calls.push_back(std::move(*call));
    start = end + 1;
  }
  return calls;
}

}  // namespace

std::optional<ToolCallFormat> ToolCallFormatFromName(std::string_view name) {
  if (name == "none") return ToolCallFormat::kNone;
  if (name == "hermes") return ToolCallFormat::kHermes;
  if (name == "llama3") return ToolCallFormat::kLlama3Json;
  if (name == "deepseek-v3") return ToolCallFormat::kDeepSeekV3;
  return std::nullopt;
}

const char* ToolCallFormatName(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kNone: return "none";
    case ToolCallFormat::kHermes: return "hermes";
    case ToolCallFormat::kLlama3Json: return "llama3";
    case ToolCallFormat::kDeepSeekV3: return "deepseek-v3";
  }
  return "none";
}

std::optional<ParsedToolCall> ParseToolCallBody(ToolCallFormat format, std::string_view body) {
  switch (format) {
    case ToolCallFormat::kNone: return std::nullopt;
    case ToolCallFormat::kHermes:
    case ToolCallFormat::kLlama3Json: return ParseJsonCall(body);
    case ToolCallFormat::kDeepSeekV3: return ParseDeepSeekCall(body);
  }
  return std::nullopt;
}

ToolCallParser::ToolCallParser(ToolCallFormat format) : format_(format), state_(State::kStart) {}

void ToolCallParser::PushContent(std::string_view text, ToolCallDelta& out) {
  // Trailing whitespace waits: if a call follows, it is dropped.
  const size_t last = text.find_last_not_of(kSpace);
  if (last == std::string_view::npos) {
    whitespace_ += text;
    return;
  }
  out.content += whitespace_;
  out.content += text.substr(0, last + 1);
  whitespace_ = text.substr(last + 1);
}

void ToolCallParser::CloseCall(std::string_view body, bool terminated, ToolCallDelta& out) {
  if (std::optional<ParsedToolCall> call = ParseToolCallBody(format_, body)) {
    out.calls.push_back(std::move(*call));
    ++calls_found_;
    return;
  }
  std::string raw(OpenMarker(format_));
  raw += body;
  if (terminated) raw += CloseMarker(format_);
  PushContent(raw, out);
}

ToolCallDelta ToolCallParser::Push(std::string_view text) {
  pending_ += text;
  ToolCallDelta out;
  for (;;) {
    switch (state_) {
      case State::kStart: {
        if (format_ != ToolCallFormat::kLlama3Json) {
          state_ = State::kContent;
          continue;
        }
        std::string_view rest = std::string_view(pending_).substr(std::min(pending_.size(), pending_.find_first_not_of(kSpace)));
        if (rest.starts_with(kPythonTag)) {
          pending_.erase(0, pending_.size() - rest.size() + kPythonTag.size());
          continue;
        }
        if (rest.empty() || kPythonTag.starts_with(rest)) return out;
        state_ = rest.front() == '{' || rest.front() == '[' ? State::kLlamaJson : State::kContent;
        continue;
      }
      case State::kLlamaJson:
        return out;  // decided at Finish
      case State::kContent: {
        if (format_ == ToolCallFormat::kNone || format_ == ToolCallFormat::kLlama3Json) {
          PushContent(pending_, out);
          pending_.clear();
          return out;
        }
        // The earliest marker: a call opening, or (DeepSeek) a wrapper token that is dropped.
        const std::string_view open = OpenMarker(format_);
        size_t at = pending_.find(open);
        std::string_view marker = open;
        if (format_ == ToolCallFormat::kDeepSeekV3)
          for (std::string_view wrapper : {kDeepSeekCallsBegin, kDeepSeekCallsEnd})
            if (const size_t found = pending_.find(wrapper); found < at) {
              at = found;
              marker = wrapper;
            }
        if (at == std::string::npos) {
          const size_t hold = format_ == ToolCallFormat::kDeepSeekV3
                                  ? PartialMarkerSuffix(pending_, {open, kDeepSeekCallsBegin, kDeepSeekCallsEnd})
                                  : PartialMarkerSuffix(pending_, {open});
          PushContent(std::string_view(pending_).substr(0, pending_.size() - hold), out);
          pending_.erase(0, pending_.size() - hold);
          return out;
        }
        PushContent(std::string_view(pending_).substr(0, at), out);
        pending_.erase(0, at + marker.size());
        if (marker == open) {
          whitespace_.clear();
          state_ = State::kInCall;
        }
        continue;
      }
      case State::kInCall: {
        const std::string_view close = CloseMarker(format_);
        const size_t at = pending_.find(close);
        if (at == std::string::npos) return out;
        CloseCall(std::string_view(pending_).substr(0, at), true, out);
        pending_.erase(0, at + close.size());
        state_ = State::kContent;
        continue;
      }
    }
  }
}

ToolCallDelta ToolCallParser::Finish() {
  ToolCallDelta out;
  switch (state_) {
    case State::kStart:
    case State::kContent:
      PushContent(pending_, out);
      break;
    case State::kInCall:
      CloseCall(pending_, false, out);
      break;
    case State::kLlamaJson:
      if (std::optional<std::vector<ParsedToolCall>> calls = ParseLlamaCalls(pending_)) {
        calls_found_ += static_cast<int>(calls->size());
        out.calls = std::move(*calls);
      } else {
        PushContent(pending_, out);
      }
      break;
  }
  pending_.clear();
  if (calls_found_ == 0) out.content += whitespace_;
  whitespace_.clear();
  state_ = State::kContent;
  return out;
}

}  // namespace moefit
