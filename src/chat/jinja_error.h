// SPDX-License-Identifier: MIT
// Errors of the chat-template renderer: where in the template, and what went wrong.
#pragma once

#include <stdexcept>
#include <string>

#include "core/error.h"

namespace moefit {

// A 1-based place in a template's text; column counts Unicode code points.
struct SourcePos {
  int line = 0;
  int column = 0;
};

// Thrown for a template that does not parse, fails while rendering, or calls raise_exception().
// what() reads "chat template: line L, column C: <message>".
class ChatTemplateError : public Error {
 public:
  ChatTemplateError(SourcePos pos, const std::string& message, bool raised_by_template);

  int line() const { return pos_.line; }
  int column() const { return pos_.column; }
  // The message alone, without the position prefix.
  const std::string& message() const { return message_; }
  // True when the template itself refused the input with raise_exception(message): the
  // request is wrong (say, roles that do not alternate), not the template.
  bool raised_by_template() const { return raised_by_template_; }

 private:
  SourcePos pos_;
  std::string message_;
  bool raised_by_template_;
};

namespace jinja {

// Thrown by value operations, filters and methods, which do not know where they are in the
// template; the interpreter catches it at the innermost expression and rethrows it as a
// ChatTemplateError carrying that expression's position.
class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& message, bool raised_by_template = false)
      : std::runtime_error(message), raised_by_template_(raised_by_template) {}
  bool raised_by_template() const { return raised_by_template_; }

 private:
  bool raised_by_template_;
};

}  // namespace jinja
}  // namespace moefit
