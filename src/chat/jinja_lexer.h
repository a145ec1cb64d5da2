// SPDX-License-Identifier: MIT
// Splits a Jinja template into text and tag tokens, applying whitespace control the way
// Jinja2 does (trim_blocks, lstrip_blocks, "-" and "+" markers, one trailing newline dropped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_error.h"

namespace moefit::jinja {

enum class TokenKind {
  kText,           // template data between tags (text = the data)
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,           // identifier or keyword (text = the name)
  kString,         // string literal (text = the decoded value)
  kInteger,        // integer literal (integer)
  kFloat,          // float literal (floating)
  kOperator,       // punctuation and operators (text = "+", "//", "(", ...)
  kEnd,            // end of the template
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  SourcePos pos;
  int64_t integer = 0;
  double floating = 0.0;
};

struct LexerOptions {
  bool trim_blocks = true;    // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;  // drop spaces and tabs before a block or comment tag on its line
};

// Throws ChatTemplateError for an unterminated tag, comment, string or raw block.
std::vector<Token> Tokenize(std::string_view source, const LexerOptions& options);

}  // namespace moefit::jinja
