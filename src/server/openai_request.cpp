// SPDX-License-Identifier: MIT
// Field-by-field checks of the OpenAI request bodies, and the normalisation of chat messages
// into the shape chat templates expect.
#include "server/openai_request.h"

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;

const char* TypeName(const Json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// Typed access to one object's fields; an absent field and an explicit null are the same.
class Fields {
 public:
  Fields(const Json& object, std::string path) : object_(object), path_(std::move(path)) {}

  std::string Path(std::string_view name) const { return path_.empty() ? std::string(name) : path_ + "." + std::string(name); }

  const Json* Get(std::string_view name) const {
    const auto found = object_.find(name);
    return found == object_.end() || found->is_null() ? nullptr : &*found;
  }

  std::optional<double> Number(std::string_view name, double lo, double hi) const {
    const Json* value = Get(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) FailField(Path(name), "'{}' must be a number, not {}", Path(name), TypeName(*value));
    const double number = value->get<double>();
    if (!(number >= lo && number <= hi))
      FailField(Path(name), "'{}' must be between {} and {}, got {}", Path(name), lo, hi, number);
    return number;
  }

  std::optional<int64_t> Integer(std::string_view name, int64_t lo, int64_t hi) const {
    const Json* value = Get(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) FailField(Path(name), "'{}' must be an integer, not {}", Path(name), TypeName(*value));
    int64_t number = 0;
    if (value->is_number_unsigned()) {
      const uint64_t unsigned_number = value->get<uint64_t>();
      number = unsigned_number > uint64_t{std::numeric_limits<int64_t>::max()} ? std::numeric_limits<int64_t>::max()
                                                                                 : static_cast<int64_t>(unsigned_number);
    } else if (value->is_number_integer()) {
      number = value->get<int64_t>();
    } else {
      // 3.0 counts as an integer (JavaScript clients cannot tell them apart).
      const double fraction = value->get<double>();
      if (fraction != std::floor(fraction) || !(std::fabs(fraction) < 9.2e18))
        FailField(Path(name), "'{}' must be an integer, not a fraction", Path(name));
      number = static_cast<int64_t>(fraction);
    }
    if (number < lo || number > hi) FailField(Path(name), "'{}' must be between {} and {}", Path(name), lo, hi);
    return number;
  }

  std::optional<bool> Bool(std::string_view name) const {
    const Json* value = Get(name);
    if (!value) return std::nullopt;
    if (!value->is_boolean()) FailField(Path(name), "'{}' must be a boolean, not {}", Path(name), TypeName(*value));
    return value->get<bool>();
  }

  std::optional<std::string> String(std::string_view name) const {
    const Json* value = Get(name);
    if (!value) return std::nullopt;
    if (!value->is_string()) FailField(Path(name), "'{}' must be a string, not {}", Path(name), TypeName(*value));
    return value->get<std::string>();
  }

  const Json* Object(std::string_view name) const {
    const Json* value = Get(name);
    if (value && !value->is_object()) FailField(Path(name), "'{}' must be an object, not {}", Path(name), TypeName(*value));
    return value;
  }

  const Json* Array(std::string_view name) const {
    const Json* value = Get(name);
    if (value && !value->is_array()) FailField(Path(name), "'{}' must be an array, not {}", Path(name), TypeName(*value));
    return value;
  }

 private:
  const Json& object_;
  std::string path_;
};

void RequireObject(const Json& body) {
  if (!body.is_object()) throw ApiError(400, fmt::format("The request body must be a JSON object, not {}.", TypeName(body)));
}

GenerationFields ParseGenerationFields(const Fields& f, bool chat) {
  GenerationFields g;
  g.model = f.String("model").value_or("");
  constexpr int64_t kMaxTokens = std::numeric_limits<int32_t>::max();
  std::optional<int64_t> max_tokens = f.Integer("max_tokens", 0, kMaxTokens);
  if (chat)
    if (std::optional<int64_t> newer = f.Integer("max_completion_tokens", 0, kMaxTokens)) max_tokens = newer;
  g.max_tokens = max_tokens ? static_cast<int>(*max_tokens) : (chat ? -1 : 16);  // 16: OpenAI's completions default
  if (auto v = f.Number("temperature", 0, 2)) g.sampler.temperature = static_cast<float>(*v);
  if (auto v = f.Number("top_p", 0, 1)) g.sampler.top_p = static_cast<float>(*v);
  if (auto v = f.Integer("top_k", 0, kMaxTokens)) g.sampler.top_k = static_cast<int>(*v);
  if (auto v = f.Number("min_p", 0, 1)) g.sampler.min_p = static_cast<float>(*v);
  if (auto v = f.Number("presence_penalty", -2, 2)) g.sampler.presence_penalty = static_cast<float>(*v);
  if (auto v = f.Number("frequency_penalty", -2, 2)) g.sampler.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.Number("repetition_penalty", 0.01, 10)) g.sampler.repetition_penalty = static_cast<float>(*v);
  if (auto v = f.Integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    g.sampler.seed = static_cast<uint64_t>(*v);
    g.seed_given = true;
  }
  if (auto n = f.Integer("n", 1, 128); n && *n != 1) FailField("n", "Only n=1 is supported.");
  if (f.Bool("logprobs").value_or(false)) FailField("logprobs", "logprobs are not supported by this server.");
  if (const Json* stop = f.Get("stop")) {
    if (stop->is_string()) {
      g.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) FailField("stop", "'stop[{}]' must be a string", i);
        g.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      FailField("stop", "'stop' must be a string or an array of strings, not {}", TypeName(*stop));
    }
    if (g.stop.size() > 16) FailField("stop", "At most 16 stop sequences are allowed.");
    std::erase(g.stop, std::string{});
  }
  g.stream = f.Bool("stream").value_or(false);
  if (const Json* options = f.Object("stream_options"))
    g.include_usage = Fields(*options, "stream_options").Bool("include_usage").value_or(false);
  return g;
}

// Content as one string: a string as it is, text parts joined by newlines.
std::string ContentText(const Json& content, const std::string& path) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) FailField(path, "'{}' must be a string or an array of content parts, not {}", path, TypeName(content));
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string part_path = fmt::format("{}[{}]", path, i);
    const Json& part = content[i];
    if (!part.is_object()) FailField(part_path, "'{}' must be an object", part_path);
    const Fields fields(part, part_path);
    const std::string type = fields.String("type").value_or("");
    if (type != "text")
      FailField(part_path + ".type", "Only text content parts are supported; '{}' has type '{}'.", part_path, type);
    const std::optional<std::string> part_text = fields.String("text");
    if (!part_text) FailField(part_path + ".text", "'{}.text' is required", part_path);
    if (i > 0) text += '\n';
    text += *part_text;
  }
  return text;
}

Json NormalizeToolCalls(const Json& calls, const std::string& path) {
  if (!calls.is_array()) FailField(path, "'{}' must be an array", path);
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string call_path = fmt::format("{}[{}]", path, i);
    if (!calls[i].is_object()) FailField(call_path, "'{}' must be an object", call_path);
    const Fields call(calls[i], call_path);
    const Json* function = call.Object("function");
    if (!function) FailField(call_path + ".function", "'{}.function' is required", call_path);
    const Fields function_fields(*function, call_path + ".function");
    if (!function_fields.String("name")) FailField(call_path + ".function.name", "'{}.function.name' is required", call_path);
    Json normalized = calls[i];
    normalized["type"] = "function";
    // Templates expect arguments as a mapping (they apply tojson); OpenAI sends a JSON string.
    if (const Json* arguments = function_fields.Get("arguments")) {
      if (arguments->is_string()) {
        Json parsed = Json::parse(arguments->get<std::string>(), nullptr, false);
        if (parsed.is_object()) normalized["function"]["arguments"] = std::move(parsed);
      } else if (!arguments->is_object()) {
        FailField(call_path + ".function.arguments", "'{}.function.arguments' must be a string", call_path);
      }
    } else {
      normalized["function"]["arguments"] = Json::object();
    }
    out.push_back(std::move(normalized));
  }
  return out;
}

Json NormalizeMessages(const Json* messages) {
  if (!messages) FailField("messages", "'messages' is required");
  if (!messages->is_array()) FailField("messages", "'messages' must be an array, not {}", TypeName(*messages));
  if (messages->empty()) FailField("messages", "'messages' must not be empty");
  Json out = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string path = fmt::format("messages[{}]", i);
    const Json& message = (*messages)[i];
    if (!message.is_object()) FailField(path, "'{}' must be an object, not {}", path, TypeName(message));
    const Fields fields(message, path);
    const std::optional<std::string> role = fields.String("role");
    if (!role) FailField(path + ".role", "'{}.role' is required", path);
    if (*role != "system" && *role != "developer" && *role != "user" && *role != "assistant" && *role != "tool")
      FailField(path + ".role", "'{}.role' must be one of system, developer, user, assistant, tool; got '{}'", path, *role);
    Json normalized = message;
    if (*role == "developer") normalized["role"] = "system";
    if (const Json* content = fields.Get("content")) {
      normalized["content"] = ContentText(*content, path + ".content");
    } else if (*role == "assistant") {
      normalized["content"] = "";
    } else {
      FailField(path + ".content", "'{}.content' is required for the {} role", path, *role);
    }
    if (const Json* calls = fields.Get("tool_calls")) normalized["tool_calls"] = NormalizeToolCalls(*calls, path + ".tool_calls");
    if (const std::optional<std::string> reasoning = fields.String("reasoning_content")) normalized["reasoning_content"] = *reasoning;
    out.push_back(std::move(normalized));
  }
  return out;
}

Json CheckTools(const Json* tools) {
  if (!tools) return nullptr;
  if (!tools->is_array()) FailField("tools", "'tools' must be an array, not {}", TypeName(*tools));
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string path = fmt::format("tools[{}]", i);
    if (!(*tools)[i].is_object()) FailField(path, "'{}' must be an object", path);
    const Fields tool((*tools)[i], path);
    if (tool.String("type").value_or("function") != "function") FailField(path + ".type", "Only 'function' tools are supported.");
    const Json* function = tool.Object("function");
    if (!function) FailField(path + ".function", "'{}.function' is required", path);
    const Fields function_fields(*function, path + ".function");
    if (function_fields.String("name").value_or("").empty()) FailField(path + ".function.name", "'{}.function.name' is required", path);
    function_fields.String("description");
    function_fields.Object("parameters");
  }
  return tools->empty() ? Json(nullptr) : *tools;
}

void ParseToolChoice(const Fields& f, ChatCompletionRequest& request) {
  using Choice = ChatCompletionRequest::ToolChoice;
  const Json* choice = f.Get("tool_choice");
  if (!choice) return;
  if (choice->is_string()) {
    const std::string name = choice->get<std::string>();
    if (name == "auto") request.tool_choice = Choice::kAuto;
    else if (name == "none") request.tool_choice = Choice::kNone;
    else if (name == "required") request.tool_choice = Choice::kRequired;
    else FailField("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or a function object; got '{}'", name);
    return;
  }
  if (!choice->is_object()) FailField("tool_choice", "'tool_choice' must be a string or an object, not {}", TypeName(*choice));
  const Fields choice_fields(*choice, "tool_choice");
  const Json* function = choice_fields.Object("function");
  const std::optional<std::string> name = function ? Fields(*function, "tool_choice.function").String("name") : std::nullopt;
  if (!name) FailField("tool_choice.function.name", "'tool_choice.function.name' is required");
  request.tool_choice = Choice::kFunction;
  request.tool_choice_function = *name;
}

void ParseResponseFormat(const Fields& f, ChatCompletionRequest& request) {
  const Json* format = f.Object("response_format");
  if (!format) return;
  const Fields format_fields(*format, "response_format");
  const std::string type = format_fields.String("type").value_or("text");
  if (type == "text") return;
  if (type == "json_object") {
    request.json_schema = Json::object();
  } else if (type == "json_schema") {
    const Json* schema_wrapper = format_fields.Object("json_schema");
    const Json* schema = schema_wrapper ? Fields(*schema_wrapper, "response_format.json_schema").Object("schema") : nullptr;
    request.json_schema = schema ? *schema : Json::object();
  } else {
    FailField("response_format.type", "'response_format.type' must be text, json_object or json_schema; got '{}'", type);
  }
}

}  // namespace

ChatCompletionRequest ParseChatCompletionRequest(const Json& body) {
  RequireObject(body);
  const Fields f(body, "");
  ChatCompletionRequest request;
  request.generation = ParseGenerationFields(f, true);
  request.messages = NormalizeMessages(f.Get("messages"));
  request.tools = CheckTools(f.Get("tools"));
  ParseToolChoice(f, request);
  if (request.tool_choice == ChatCompletionRequest::ToolChoice::kFunction) {
    bool offered = false;
    if (request.tools.is_array())
      for (const Json& tool : request.tools) offered |= tool["function"]["name"] == request.tool_choice_function;
    if (!offered) FailField("tool_choice", "tool_choice names '{}', which is not among the tools", request.tool_choice_function);
  }
  if (request.tool_choice == ChatCompletionRequest::ToolChoice::kRequired && request.tools.is_null())
    FailField("tool_choice", "tool_choice is 'required' but no tools were given");
  request.parallel_tool_calls = f.Bool("parallel_tool_calls").value_or(true);
  ParseResponseFormat(f, request);
  if (const Json* kwargs = f.Object("chat_template_kwargs")) request.template_kwargs = *kwargs;
  return request;
}

CompletionRequest ParseCompletionRequest(const Json& body) {
  RequireObject(body);
  const Fields f(body, "");
  CompletionRequest request;
  request.generation = ParseGenerationFields(f, false);
  request.echo = f.Bool("echo").value_or(false);
  if (!f.String("suffix").value_or("").empty()) FailField("suffix", "'suffix' is not supported by this server.");
  const Json* prompt = f.Get("prompt");
  if (!prompt) FailField("prompt", "'prompt' is required");
  // A string, a list of one string, a list of token ids, or a list of one such list.
  const Json* single = prompt;
  if (prompt->is_array() && prompt->size() == 1 && ((*prompt)[0].is_string() || (*prompt)[0].is_array())) single = &(*prompt)[0];
  if (single->is_string()) {
    request.prompt = single->get<std::string>();
    if (request.prompt.empty()) FailField("prompt", "'prompt' must not be empty");
    return request;
  }
  if (single->is_array() && !single->empty()) {
    for (const Json& token : *single) {
      if (!token.is_number_integer() || token.get<int64_t>() < 0 || token.get<int64_t>() > std::numeric_limits<int32_t>::max())
        FailField("prompt", "'prompt' must be a string or an array of token ids");
      request.prompt_tokens.push_back(token.get<int32_t>());
    }
    return request;
  }
  if (prompt->is_array() && prompt->size() > 1) FailField("prompt", "Only one prompt per request is supported.");
  FailField("prompt", "'prompt' must be a non-empty string or an array of token ids");
}

}  // namespace moefit
