// SPDX-License-Identifier: MIT
// Turns a chat request into prompt text with the model's chat template (the one rendering path).
#pragma once

#include <string>

#include "server/openai_request.h"
#include "server/served_model.h"

namespace moefit {

struct ChatPrompt {
  std::string text;
  bool tools_offered = false;    // tools reached the template (parse tool calls in the output)
  bool reasoning_open = false;   // the prompt ends inside <think>: the output starts in reasoning
};

// Throws ApiError: 400 when the model has no template or the template refuses the messages
// (raise_exception), 500 when the template itself fails.
ChatPrompt RenderChatPrompt(const ServedModel& model, const ChatCompletionRequest& request);

}  // namespace moefit
