// SPDX-License-Identifier: MIT
// PrepareChatJob / PrepareCompletionJob: everything up to the scheduler's queue.
#include "server/completion_job.h"

#include <chrono>
#include <random>

#include "server/api_error.h"
#include "server/chat_prompt.h"

namespace moefit {
namespace {

std::mt19937_64& Random() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return random;
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void CheckModel(const ServedModel& model, const std::string& requested) {
  if (!requested.empty() && requested != model.id)
    throw ApiError(404, fmt::format("The model '{}' does not exist; this server serves '{}'.", requested, model.id),
                   "invalid_request_error", "model_not_found", "model");
}

CompletionJob CommonJob(const ServedModel& model, const GenerationFields& fields, bool chat) {
  CheckModel(model, fields.model);
  CompletionJob job;
  job.chat = chat;
  job.id = RandomId(chat ? "chatcmpl-" : "cmpl-", 29);
  job.created = UnixSeconds();
  job.model = model.id;
  job.stream = fields.stream;
  job.include_usage = fields.stream && fields.include_usage;
  job.generation.max_tokens = fields.max_tokens;
  job.generation.sampler = fields.sampler;
  if (!fields.seed_given) job.generation.sampler.seed = Random()();
  job.generation.end_tokens = model.end_tokens;
  job.output.stop = fields.stop;
  job.output.marker_tokens = model.marker_tokens;
  return job;
}

// BOS in front when the vocabulary asks for it and the rendered text did not bring it.
void AddBos(const ServedModel& model, std::vector<int32_t>& tokens) {
  const Vocabulary& vocab = model.tokenizer.vocabulary();
  if (vocab.add_bos() && vocab.Contains(vocab.bos_id()) && (tokens.empty() || tokens.front() != vocab.bos_id()))
    tokens.insert(tokens.begin(), vocab.bos_id());
}

}  // namespace

std::string RandomId(std::string_view prefix, int length) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string id(prefix);
  for (int i = 0; i < length; ++i) id += kAlphabet[pick(Random())];
  return id;
}

CompletionJob PrepareChatJob(const ServedModel& model, const ChatCompletionRequest& request) {
  CompletionJob job = CommonJob(model, request.generation, true);
  const ChatPrompt prompt = RenderChatPrompt(model, request);
  job.generation.prompt = model.tokenizer.Encode(prompt.text, {.parse_special = true, .add_special = false});
  AddBos(model, job.generation.prompt);
  job.output.reasoning = model.reasoning;
  job.output.reasoning_options.start_inside = prompt.reasoning_open;
  job.output.tool_call_format = prompt.tools_offered ? model.tool_call_format : ToolCallFormat::kNone;
  job.output.parallel_tool_calls = request.parallel_tool_calls;
  if (!model.scripted_replies.empty() && !request.messages.empty()) {
    // Testing hook (--testing-scripted-replies): the reply keyed by the last message's text.
    const auto reply = model.scripted_replies.find(request.messages.back()["content"].get<std::string>());
    if (reply != model.scripted_replies.end())
      job.generation.scripted_tokens = model.tokenizer.Encode(reply->second, {.parse_special = true});
  }
  return job;
}

CompletionJob PrepareCompletionJob(const ServedModel& model, const CompletionRequest& request) {
  CompletionJob job = CommonJob(model, request.generation, false);
  if (!request.prompt_tokens.empty()) {
    const int32_t vocab = model.tokenizer.vocabulary().size();
    for (int32_t token : request.prompt_tokens)
      if (token >= vocab) FailField("prompt", "Token id {} is outside the vocabulary (0..{}).", token, vocab - 1);
    job.generation.prompt = request.prompt_tokens;
    if (request.echo) job.echo = model.tokenizer.Decode(request.prompt_tokens, {.skip_special = true});
  } else {
    job.generation.prompt = model.tokenizer.Encode(request.prompt, {.parse_special = true, .add_special = true});
    if (request.echo) job.echo = request.prompt;
  }
  return job;
}

}  // namespace moefit
