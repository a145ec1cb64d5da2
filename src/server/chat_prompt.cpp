// SPDX-License-Identifier: MIT
// RenderChatPrompt: builds the template context (messages, tools, kwargs, instructions for
// response_format and tool_choice) and renders it.
#include "server/chat_prompt.h"

#include "chat/jinja_error.h"
#include "server/api_error.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;
using ToolChoice = ChatCompletionRequest::ToolChoice;

// Appends an instruction to the system message, adding one at the front when there is none.
void AddSystemInstruction(Json& messages, const std::string& instruction) {
  if (!messages.empty() && messages[0]["role"] == "system") {
    std::string content = messages[0]["content"].get<std::string>();
    messages[0]["content"] = content.empty() ? instruction : content + "\n\n" + instruction;
    return;
  }
  messages.insert(messages.begin(), Json{{"role", "system"}, {"content", instruction}});
}

bool EndsInsideThink(std::string_view text) {
  const size_t last = text.find_last_not_of(" \t\r\n");
  if (last == std::string_view::npos) return false;
  return text.substr(0, last + 1).ends_with("<think>");
}

}  // namespace

ChatPrompt RenderChatPrompt(const ServedModel& model, const ChatCompletionRequest& request) {
  if (!model.chat_template)
    throw ApiError(400, "This model has no chat template: use /v1/completions, or start the server with --chat-template-file.");
  Json messages = request.messages;
  Json tools = request.tool_choice == ToolChoice::kNone ? Json(nullptr) : request.tools;
  if (request.tool_choice == ToolChoice::kFunction) {
    Json only = Json::array();
    for (const Json& tool : request.tools)
      if (tool["function"]["name"] == request.tool_choice_function) only.push_back(tool);
    tools = only;
    AddSystemInstruction(messages, "You must call the function '" + request.tool_choice_function + "'.");
  } else if (request.tool_choice == ToolChoice::kRequired) {
    AddSystemInstruction(messages, "You must call one or more of the provided functions.");
  }
  if (request.json_schema) {
    std::string instruction = "Respond with a single valid JSON object and nothing else.";
    if (!request.json_schema->empty()) instruction += " It must follow this JSON schema: " + request.json_schema->dump();
    AddSystemInstruction(messages, instruction);
  }

  Json context = Json::object();
  for (const auto& [key, value] : request.template_kwargs.items()) context[key] = value;
  context["messages"] = std::move(messages);
  if (!tools.is_null()) context["tools"] = tools;
  if (!context.contains("add_generation_prompt")) context["add_generation_prompt"] = true;
  context["bos_token"] = model.bos_token;
  context["eos_token"] = model.eos_token;

  ChatPrompt prompt;
  try {
    prompt.text = model.chat_template->Render(context);
  } catch (const ChatTemplateError& error) {
    if (error.raised_by_template()) throw ApiError(400, "The chat template refused the messages: " + error.message(), "invalid_request_error", {}, "messages");
    throw ApiError(500, std::string("The chat template failed: ") + error.what(), "server_error");
  }
  prompt.tools_offered = !tools.is_null();
  prompt.reasoning_open = EndsInsideThink(prompt.text);
  return prompt;
}

}  // namespace moefit
