// SPDX-License-Identifier: MIT
// Builds the statement tree of a template from its tokens, with Jinja2's grammar and operator
// precedence.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace moefit::jinja {

// Throws ChatTemplateError (with line and column) for a template that does not parse.
Program Parse(std::vector<Token> tokens);

}  // namespace moefit::jinja
