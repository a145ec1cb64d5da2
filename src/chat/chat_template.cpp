// SPDX-License-Identifier: MIT
// ChatTemplate: the public face of the Jinja renderer.
#include "chat/chat_template.h"

#include <fmt/format.h>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"

namespace moefit {

ChatTemplateError::ChatTemplateError(SourcePos pos, const std::string& message,
                                     bool raised_by_template)
    : Error(fmt::format("chat template: line {}, column {}: {}", pos.line, pos.column, message)),
      pos_(pos),
      message_(message),
      raised_by_template_(raised_by_template) {}

ChatTemplate::ChatTemplate(std::string_view source, ChatTemplateOptions options)
    : program_(std::make_unique<const jinja::Program>(
          jinja::Parse(jinja::Tokenize(source, jinja::LexerOptions{})))),
      options_(std::move(options)) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::Render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) throw Error("chat template: the render context must be a JSON object");
  const jinja::RenderOptions render_options{options_.now};
  jinja::Interpreter interpreter(render_options);
  return interpreter.Render(*program_, jinja::Value::FromJson(context));
}

std::string ChatTemplateFromConfig(const nlohmann::ordered_json& tokenizer_config,
                                   std::string_view name) {
  const auto it = tokenizer_config.find("chat_template");
  if (it != tokenizer_config.end()) {
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {
      for (const auto& entry : *it) {
        if (entry.is_object() && entry.value("name", "") == name && entry.contains("template") &&
            entry["template"].is_string()) {
          return entry["template"].get<std::string>();
        }
      }
    }
  }
  Fail("tokenizer config has no chat template named '{}'", name);
}

}  // namespace moefit
