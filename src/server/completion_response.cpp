// SPDX-License-Identifier: MIT
// RespondToJob: the non-streaming wait loop, the SSE pump, and the JSON shapes they send.
#include "server/completion_response.h"

#include <chrono>

#include "server/api_error.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kFingerprint = "fp_moefit";

std::string Dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::shared_ptr<GenerationStream> Submit(Scheduler& scheduler, const CompletionJob& job) {
  using Kind = SchedulerRefusal::Kind;
  try {
    return scheduler.Submit(job.generation);
  } catch (const SchedulerRefusal& refusal) {
    switch (refusal.kind()) {
      case Kind::kQueueFull:
      case Kind::kStopped: throw ApiError(503, refusal.what(), "server_error", "server_overloaded");
      case Kind::kContextExceeded:
        throw ApiError(400, refusal.what(), "invalid_request_error", "context_length_exceeded", job.chat ? "messages" : "prompt");
      case Kind::kInvalid: throw ApiError(400, refusal.what(), "invalid_request_error", {}, job.chat ? "messages" : "prompt");
    }
    throw;
  }
}

// cached_tokens: prompt tokens whose KV cells an earlier request left (not evaluated again).
Json Usage(const CompletionJob& job, int64_t completion_tokens, int64_t cached_tokens) {
  const int64_t prompt_tokens = static_cast<int64_t>(job.generation.prompt.size());
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

// Why the text ended, as OpenAI names it; nullptr when the generation failed instead.
const char* FinishName(const OutputPipeline& pipeline, FinishReason reason) {
  if (pipeline.calls_found() > 0) return "tool_calls";
  if (pipeline.stopped()) return "stop";
  switch (reason) {
    case FinishReason::kEndToken: return "stop";
    case FinishReason::kLength:
    case FinishReason::kContextFull: return "length";
    default: return nullptr;
  }
}

ApiError GenerationFailure(const GenerationUpdate& update) {
  if (update.finish == FinishReason::kCancelled)
    return ApiError(503, "The server is shutting down; the request was cancelled.", "server_error");
  return ApiError(500, "Generation failed: " + update.error, "server_error");
}

Json ToolCallsJson(const std::vector<ParsedToolCall>& calls, int first_index, bool with_index) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json call;
    if (with_index) call["index"] = first_index + static_cast<int>(i);
    call["id"] = RandomId("call_", 24);
    call["type"] = "function";
    call["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(std::move(call));
  }
  return out;
}

Json Envelope(const CompletionJob& job, bool chunk) {
  Json out;
  out["id"] = job.id;
  out["object"] = job.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  out["created"] = job.created;
  out["model"] = job.model;
  out["system_fingerprint"] = kFingerprint;
  return out;
}

void Append(OutputDelta& total, OutputDelta delta) {
  total.content += delta.content;
  total.reasoning += delta.reasoning;
  for (ParsedToolCall& call : delta.calls) total.calls.push_back(std::move(call));
}

void RespondWhole(const ServedModel& model, const CompletionJob& job, GenerationStream& stream, httplib::Response& response) {
  struct CancelOnExit {  // however this ends, the sequence is not left running
    GenerationStream& stream;
    ~CancelOnExit() { stream.Cancel(); }
  } cancel_on_exit{stream};
  OutputPipeline pipeline(model.tokenizer, job.output);
  OutputDelta total;
  GenerationUpdate update;
  for (;;) {
    if (!stream.Wait(update, 1s)) continue;
    Append(total, pipeline.Push(update.tokens));
    if (pipeline.stopped()) {
      stream.Cancel();
      break;
    }
    if (update.finished()) break;
  }
  Append(total, pipeline.Finish());
  const char* finish = FinishName(pipeline, update.finish);
  if (!finish) throw GenerationFailure(update);

  Json body = Envelope(job, false);
  Json choice;
  choice["index"] = 0;
  if (job.chat) {
    Json message;
    message["role"] = "assistant";
    message["content"] = total.content.empty() && !total.calls.empty() ? Json(nullptr) : Json(total.content);
    if (!total.reasoning.empty()) message["reasoning_content"] = total.reasoning;
    if (!total.calls.empty()) message["tool_calls"] = ToolCallsJson(total.calls, 0, false);
    message["refusal"] = nullptr;
    choice["message"] = std::move(message);
  } else {
    choice["text"] = job.echo + total.content;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish;
  body["choices"] = Json::array({std::move(choice)});
  body["usage"] = Usage(job, pipeline.tokens_consumed(), update.cached_tokens);
  response.set_content(Dump(body), "application/json");
}

// Feeds an SSE response from the stream; httplib calls Pump until it calls sink.done().
class EventPump {
 public:
  EventPump(const ServedModel& model, CompletionJob job, std::shared_ptr<GenerationStream> stream)
      : job_(std::move(job)), stream_(std::move(stream)), pipeline_(model.tokenizer, job_.output) {}

  bool Pump(httplib::DataSink& sink) {
    std::string events;
    if (!started_) {
      started_ = true;
      events += job_.chat ? Chunk({{"role", "assistant"}, {"content", ""}}) : (job_.echo.empty() ? "" : TextChunk(job_.echo));
    }
    GenerationUpdate update;
    bool end = false;
    if (stream_->Wait(update, 200ms)) {
      events += DeltaEvents(pipeline_.Push(update.tokens));
      end = pipeline_.stopped() || update.finished();
      if (end) events += EndEvents(update);
    } else if (events.empty() && Clock::now() - last_write_ > 10s) {
      events = ": keep-alive\n\n";  // an SSE comment: clients ignore it, a gone client fails the write
    }
    if (!events.empty()) {
      if (!sink.write(events.data(), events.size())) {
        stream_->Cancel();
        return false;
      }
      last_write_ = Clock::now();
    }
    if (end) sink.done();
    return true;
  }

  void Release() { stream_->Cancel(); }

 private:
  static std::string Event(const Json& value) { return "data: " + Dump(value) + "\n\n"; }

  std::string Chunk(Json delta, const char* finish = nullptr) const {
    Json chunk = Envelope(job_, true);
    Json choice;
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish ? Json(finish) : Json(nullptr);
    chunk["choices"] = Json::array({std::move(choice)});
    if (job_.include_usage) chunk["usage"] = nullptr;
    return Event(chunk);
  }

  std::string TextChunk(const std::string& text, const char* finish = nullptr) const {
    Json chunk = Envelope(job_, true);
    Json choice;
    choice["text"] = text;
    choice["index"] = 0;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish ? Json(finish) : Json(nullptr);
    chunk["choices"] = Json::array({std::move(choice)});
    if (job_.include_usage) chunk["usage"] = nullptr;
    return Event(chunk);
  }

  std::string DeltaEvents(const OutputDelta& delta) {
    std::string events;
    if (!job_.chat) return delta.content.empty() ? events : TextChunk(delta.content);
    if (!delta.reasoning.empty()) events += Chunk({{"reasoning_content", delta.reasoning}});
    if (!delta.content.empty()) events += Chunk({{"content", delta.content}});
    if (!delta.calls.empty()) {
      events += Chunk({{"tool_calls", ToolCallsJson(delta.calls, calls_sent_, true)}});
      calls_sent_ += static_cast<int>(delta.calls.size());
    }
    return events;
  }

  std::string EndEvents(const GenerationUpdate& update) {
    if (pipeline_.stopped()) stream_->Cancel();
    std::string events = DeltaEvents(pipeline_.Finish());
    const char* finish = FinishName(pipeline_, update.finish);
    if (!finish) {
      events += Event(GenerationFailure(update).ToJson());
    } else {
      events += job_.chat ? Chunk(Json::object(), finish) : TextChunk("", finish);
      if (job_.include_usage) {
        Json usage = Envelope(job_, true);
        usage["choices"] = Json::array();
        usage["usage"] = Usage(job_, pipeline_.tokens_consumed(), update.cached_tokens);
        events += Event(usage);
      }
    }
    return events + "data: [DONE]\n\n";
  }

  CompletionJob job_;
  std::shared_ptr<GenerationStream> stream_;
  OutputPipeline pipeline_;
  bool started_ = false;
  int calls_sent_ = 0;
  Clock::time_point last_write_ = Clock::now();
};

}  // namespace

void RespondToJob(Scheduler& scheduler, const ServedModel& model, CompletionJob job, httplib::Response& response) {
  std::shared_ptr<GenerationStream> stream = Submit(scheduler, job);
  if (!job.stream) {
    RespondWhole(model, job, *stream, response);
    return;
  }
  auto pump = std::make_shared<EventPump>(model, std::move(job), std::move(stream));
  response.set_header("Cache-Control", "no-cache");
  response.set_header("X-Accel-Buffering", "no");
  response.set_chunked_content_provider(
      "text/event-stream", [pump](size_t, httplib::DataSink& sink) { return pump->Pump(sink); },
      [pump](bool) { pump->Release(); });
}

}  // namespace moefit
