// SPDX-License-Identifier: MIT
// The parsed form of a template: expression and statement trees, immutable once built so one
// parse serves any number of concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace moefit::jinja {

enum class ExprKind {
  kLiteral,    // literal (a string, number, bool or none; never a container)
  kName,       // variable `name`
  kList,       // [args...]
  kTuple,      // (args...)
  kDict,       // {args[0]: args[1], args[2]: args[3], ...}
  kGetAttr,    // args[0].name
  kGetItem,    // args[0][args[1]]
  kSlice,      // args[0][args[1]:args[2]:args[3]]; absent parts are null
  kCall,       // args[0](args[1...], kwargs)
  kFilter,     // args[0] | name(args[1...], kwargs); args[0] is null for the body of a
               // {% filter %} or {% set x | f %} block
  kTest,       // args[0] is [not] name(args[1...], kwargs)
  kUnary,      // name args[0], name one of "-", "+", "not"
  kBinary,     // args[0] name args[1], name one of + - * / // % ** ~ and or
  kCompare,    // args[0] ops[0] args[1] ops[1] args[2] ...; ops: == != < <= > >= in notin
  kCondition,  // args[0] if args[1] else args[2]; args[2] null when there is no else
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  SourcePos pos;
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // kTest: `is not`
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // if values[i]: branches[i] ... else: else_body
  kFor,          // for targets in expr [if condition]: body, else: else_body
  kSet,          // set targets = expr, or set targets[0].attribute = expr
  kSetBlock,     // set targets[0] [| expr (a filter chain)] body endset
  kMacro,        // macro name(params): body
  kCallBlock,    // call(params) expr (a call): body, given to the callee as caller()
  kFilterBlock,  // filter expr (a filter chain): body
  kWith,         // with targets[i] = values[i]: body (also {% generation %}: no targets)
  kBreak,
  kContinue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Param {
  std::string name;
  ExprPtr default_value;  // null: none
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  SourcePos pos;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attribute;
  std::string name;
  std::vector<Param> params;
  std::vector<ExprPtr> values;
  std::vector<Body> branches;
  Body body;
  Body else_body;
  // Names that read as undefined when `body` / `else_body` starts running, until assigned there
  // (see jinja_scopes.h); filled in after parsing.
  std::vector<std::string> body_locals;
  std::vector<std::string> else_locals;
};

struct Program {
  Body body;
  std::vector<std::string> locals;  // as Stmt::body_locals, for the template's top level
};

}  // namespace moefit::jinja
