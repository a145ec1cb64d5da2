// SPDX-License-Identifier: MIT
// Renders a parsed template: evaluates expressions, runs statements, manages scopes as Jinja2
// does (a for-loop iteration, macro call or with block opens one; if does not).
#pragma once

#include <ctime>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace moefit::jinja {

struct RenderOptions {
  std::function<std::tm()> now;  // local time for strftime_now()
};

// Variables visible at one level; lookups fall back to the parent.
class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}
  const Value* Find(std::string_view name) const;
  void Set(const std::string& name, Value value);

 private:
  const Scope* parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

// One render of one program. Not reusable and not shared between threads; the program is.
class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // context: a dict whose entries become the template's variables.
  std::string Render(const Program& program, const Value& context);

  // For filters that apply other filters or tests by name (map, select, selectattr, ...).
  Value CallFilter(std::string_view name, const Value& input, CallArgs& args);
  bool CallTest(std::string_view name, const Value& input, CallArgs& args);
  Value Call(const Value& callee, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Scope& NewScope(const Scope* parent) { return scopes_.emplace_back(parent); }
  // A scope for a frame's body, with its locals (see jinja_scopes.h) undefined until assigned.
  Scope& NewFrame(const Scope* parent, const std::vector<std::string>& locals);

  Value Eval(const Expr& expr, Scope& scope);
  Value EvalNode(const Expr& expr, Scope& scope);
  CallArgs EvalArgs(const Expr& expr, size_t first, Scope& scope);
  bool EvalCompare(const Expr& expr, Scope& scope);

  Flow Exec(const Body& body, Scope& scope);
  Flow ExecStmt(const Stmt& stmt, Scope& scope);
  Flow ExecFor(const Stmt& stmt, Scope& scope);
  std::string Capture(const Body& body, Scope& scope);
  void Bind(const Stmt& stmt, const std::vector<std::string>& targets, const Value& value,
            Scope& scope);
  Value MakeMacro(const Stmt& stmt, const Scope& defining_scope, std::string name);
  Value ApplyBlockFilter(const Expr& filter, std::string body, Scope& scope);

  const RenderOptions& options_;
  std::deque<Scope> scopes_;  // every scope of this render; macros keep pointers into it
  std::string* out_ = nullptr;
  Value block_input_;   // the body text a {% filter %} chain applies to
  int call_depth_ = 0;  // nested macro calls, bounded against runaway recursion
};

}  // namespace moefit::jinja
