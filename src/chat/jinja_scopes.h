// SPDX-License-Identifier: MIT
// Jinja2 decides at compile time which frame (template, loop body, macro, block) owns each
// variable. A name that a frame assigns unconditionally, without having read it first, belongs
// to that frame from its start: until the assignment, frames nested in it (loops, macros, ...)
// see it as undefined rather than as the outer or context value. This pass records those names
// so the interpreter can reproduce that.
#pragma once

#include "chat/jinja_ast.h"

namespace moefit::jinja {

// Fills Program::locals and Stmt::body_locals / else_locals.
void AnalyzeScopes(Program& program);

}  // namespace moefit::jinja
