// SPDX-License-Identifier: MIT
// CompletionJob: one parsed request made ready for the scheduler on the HTTP thread: prompt
// rendered and tokenized, sampling and output parsing settled, ids and timestamps assigned.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/scheduler.h"
#include "server/openai_request.h"
#include "server/output_pipeline.h"
#include "server/served_model.h"

namespace moefit {

struct CompletionJob {
  bool chat = true;          // chat.completion(s) or text_completion objects
  std::string id;            // chatcmpl-… or cmpl-…
  int64_t created = 0;       // unix seconds
  std::string model;         // as reported back
  GenerationRequest generation;
  OutputOptions output;
  bool stream = false;
  bool include_usage = false;
  std::string echo;          // /v1/completions with echo: the prompt text, sent first
};

// Throw ApiError (400 for requests the template or tokenizer cannot take, 404 for another model).
CompletionJob PrepareChatJob(const ServedModel& model, const ChatCompletionRequest& request);
CompletionJob PrepareCompletionJob(const ServedModel& model, const CompletionRequest& request);

// A random id: prefix + `length` letters and digits.
std::string RandomId(std::string_view prefix, int length);

}  // namespace moefit
