// SPDX-License-Identifier: MIT
// A chat template (Hugging Face's tokenizer.chat_template): parsed once, rendered per request
// exactly as transformers' apply_chat_template renders it with Jinja2.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja_error.h"

namespace moefit {

namespace jinja {
struct Program;
}

struct ChatTemplateOptions {
  // Local time that strftime_now() formats; empty: the system clock. Tests pin it.
  std::function<std::tm()> now;
};

// Usage:
//   ChatTemplate chat_template(gguf_template_text);
//   std::string prompt = chat_template.Render({{"messages", messages},
//                                              {"add_generation_prompt", true},
//                                              {"bos_token", "<s>"}, {"eos_token", "</s>"}});
// Render is const and safe to call from many threads at once.
class ChatTemplate {
 public:
  // Throws ChatTemplateError (line, column) when the template does not parse.
  explicit ChatTemplate(std::string_view source, ChatTemplateOptions options = {});
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // context: a JSON object whose entries become template variables (messages, tools,
  // add_generation_prompt, bos_token, ...). Throws ChatTemplateError when rendering fails or
  // the template calls raise_exception(); error.raised_by_template() tells those apart.
  std::string Render(const nlohmann::ordered_json& context) const;

 private:
  std::unique_ptr<const jinja::Program> program_;
  ChatTemplateOptions options_;
};

// The template text from a tokenizer_config.json: its "chat_template", a string or a list of
// {name, template} from which the one named `name` is taken. Throws moefit::Error when absent.
std::string ChatTemplateFromConfig(const nlohmann::ordered_json& tokenizer_config,
                                   std::string_view name = "default");

}  // namespace moefit
