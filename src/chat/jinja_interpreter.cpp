// SPDX-License-Identifier: MIT
// The tree-walking interpreter: expressions, statements, loops, macros and scopes.
#include "chat/jinja_interpreter.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"

namespace moefit::jinja {
namespace {

constexpr int kMaxCallDepth = 256;

}  // namespace

const Value* Scope::Find(std::string_view name) const {
  for (const Scope* scope = this; scope != nullptr; scope = scope->parent_) {
    for (const auto& [key, value] : scope->vars_) {
      if (key == name) return &value;
    }
  }
  return nullptr;
}

void Scope::Set(const std::string& name, Value value) {
  for (auto& [key, existing] : vars_) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  vars_.emplace_back(name, std::move(value));
}

Scope& Interpreter::NewFrame(const Scope* parent, const std::vector<std::string>& locals) {
  Scope& scope = NewScope(parent);
  for (const std::string& name : locals) {
    scope.Set(name, Value::Undefined(fmt::format("'{}' is undefined", name)));
  }
  return scope;
}

std::string Interpreter::Render(const Program& program, const Value& context) {
  Scope& globals = NewScope(nullptr);
  for (auto& [name, value] : MakeGlobals(options_.now)) globals.Set(name, std::move(value));
  Scope& context_scope = NewScope(&globals);
  if (context.is_dict()) {
    for (const auto& [name, value] : context.dict().items) context_scope.Set(name, value);
  }
  Scope& top_level = NewFrame(&context_scope, program.locals);
  std::string out;
  out_ = &out;
  Exec(program.body, top_level);
  out_ = nullptr;
  return out;
}

Value Interpreter::CallFilter(std::string_view name, const Value& input, CallArgs& args) {
  const FilterFn filter = FindFilter(name);
  if (filter == nullptr) throw EvalError(fmt::format("no filter named '{}'", name));
  return filter(*this, input, args);
}

bool Interpreter::CallTest(std::string_view name, const Value& input, CallArgs& args) {
  const TestFn test = FindTest(name);
  if (test == nullptr) throw EvalError(fmt::format("no test named '{}'", name));
  return test(*this, input, args);
}

Value Interpreter::Call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) FailUndefined(callee);
  if (!callee.is_function()) {
    throw EvalError(fmt::format("'{}' object is not callable", TypeName(callee)));
  }
  return callee.function().call(args);
}

// ---- expressions ----

Value Interpreter::Eval(const Expr& expr, Scope& scope) {
  try {
    return EvalNode(expr, scope);
  } catch (const EvalError& error) {
    // The innermost expression names the place; ChatTemplateError then passes through.
    throw ChatTemplateError(expr.pos, error.what(), error.raised_by_template());
  }
}

CallArgs Interpreter::EvalArgs(const Expr& expr, size_t first, Scope& scope) {
  CallArgs args;
  for (size_t i = first; i < expr.args.size(); ++i)
    args.positional.push_back(Eval(*expr.args[i], scope));
  for (const auto& [name, value] : expr.kwargs) args.named.emplace_back(name, Eval(*value, scope));
  return args;
}

bool Interpreter::EvalCompare(const Expr& expr, Scope& scope) {
  Value left = Eval(*expr.args[0], scope);
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    Value right = Eval(*expr.args[i + 1], scope);
    const std::string& op = expr.ops[i];
    bool holds = false;
    if (op == "==")
      holds = Equals(left, right);
    else if (op == "!=")
      holds = !Equals(left, right);
    else if (op == "in")
      holds = Contains(right, left);
    else if (op == "notin")
      holds = !Contains(right, left);
    else {
      const int order = Compare(left, right);
      holds = op == "<" ? order < 0 : op == "<=" ? order <= 0 : op == ">" ? order > 0 : order >= 0;
    }
    if (!holds) return false;
    left = std::move(right);
  }
  return true;
}

Value Interpreter::EvalNode(const Expr& expr, Scope& scope) {
  const auto& args = expr.args;
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kName: {
      const Value* value = scope.Find(expr.name);
      return value != nullptr ? *value
                              : Value::Undefined(fmt::format("'{}' is undefined", expr.name));
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(args.size());
      for (const auto& item : args) items.push_back(Eval(*item, scope));
      return Value::List(std::move(items), expr.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Value dict = Value::Dict();
      for (size_t i = 0; i + 1 < args.size(); i += 2) {
        const Value key = Eval(*args[i], scope);
        if (!key.is_string()) throw EvalError("dict keys in chat templates must be strings");
        dict.dict().Set(key.string(), Eval(*args[i + 1], scope));
      }
      return dict;
    }
    case ExprKind::kGetAttr: {
      const Value object = Eval(*args[0], scope);
      if (object.is_undefined()) FailUndefined(object);
      return GetAttribute(object, expr.name);
    }
    case ExprKind::kGetItem: {
      const Value object = Eval(*args[0], scope);
      const Value key = Eval(*args[1], scope);
      if (object.is_undefined()) FailUndefined(object);
      return GetItem(object, key);
    }
    case ExprKind::kSlice: {
      const Value object = Eval(*args[0], scope);
      std::optional<Value> parts[3];
      for (size_t i = 0; i < 3; ++i) {
        if (args[i + 1]) parts[i] = Eval(*args[i + 1], scope);
      }
      if (object.is_undefined()) FailUndefined(object);
      return SliceValue(object, parts[0] ? &*parts[0] : nullptr, parts[1] ? &*parts[1] : nullptr,
                        parts[2] ? &*parts[2] : nullptr);
    }
    case ExprKind::kCall: {
      const Value callee = Eval(*args[0], scope);
      CallArgs call_args = EvalArgs(expr, 1, scope);
      return Call(callee, call_args);
    }
    case ExprKind::kFilter: {
      const Value input = args[0] ? Eval(*args[0], scope) : block_input_;
      CallArgs call_args = EvalArgs(expr, 1, scope);
      return CallFilter(expr.name, input, call_args);
    }
    case ExprKind::kTest: {
      const Value input = Eval(*args[0], scope);
      CallArgs call_args = EvalArgs(expr, 1, scope);
      return Value::Bool(CallTest(expr.name, input, call_args) != expr.negated);
    }
    case ExprKind::kUnary: {
      const Value operand = Eval(*args[0], scope);
      if (expr.name == "not") return Value::Bool(!Truthy(operand));
      return ApplyUnary(expr.name, operand);
    }
    case ExprKind::kBinary: {
      Value left = Eval(*args[0], scope);
      if (expr.name == "and") return Truthy(left) ? Eval(*args[1], scope) : left;
      if (expr.name == "or") return Truthy(left) ? left : Eval(*args[1], scope);
      return ApplyBinary(expr.name, left, Eval(*args[1], scope));
    }
    case ExprKind::kCompare:
      return Value::Bool(EvalCompare(expr, scope));
    case ExprKind::kCondition:
      if (Truthy(Eval(*args[1], scope))) return Eval(*args[0], scope);
      if (args[2]) return Eval(*args[2], scope);
      return Value::Undefined(fmt::format(
          "the inline if-expression on line {} evaluated to false and no else section was defined",
          expr.pos.line));
  }
  return Value();
}

// ---- statements ----

Interpreter::Flow Interpreter::Exec(const Body& body, Scope& scope) {
  for (const auto& stmt : body) {
    const Flow flow = ExecStmt(*stmt, scope);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

std::string Interpreter::Capture(const Body& body, Scope& scope) {
  std::string captured;
  std::string* saved = out_;
  out_ = &captured;
  try {
    Exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return captured;
}

void Interpreter::Bind(const Stmt& stmt, const std::vector<std::string>& targets,
                       const Value& value, Scope& scope) {
  if (targets.size() == 1) {
    scope.Set(targets[0], value);
    return;
  }
  std::vector<Value> items;
  try {
    items = Iterate(value);
  } catch (const EvalError& error) {
    throw ChatTemplateError(stmt.pos, error.what(), false);
  }
  if (items.size() != targets.size()) {
    throw ChatTemplateError(
        stmt.pos,
        items.size() > targets.size()
            ? fmt::format("too many values to unpack (expected {})", targets.size())
            : fmt::format("not enough values to unpack (expected {}, got {})", targets.size(),
                          items.size()),
        false);
  }
  for (size_t i = 0; i < targets.size(); ++i) scope.Set(targets[i], items[i]);
}

Value Interpreter::ApplyBlockFilter(const Expr& filter, std::string body, Scope& scope) {
  Value saved = std::move(block_input_);
  block_input_ = Value::String(std::move(body));
  Value result = Eval(filter, scope);
  block_input_ = std::move(saved);
  return result;
}

Interpreter::Flow Interpreter::ExecStmt(const Stmt& stmt, Scope& scope) {
  switch (stmt.kind) {
    case StmtKind::kText:
      *out_ += stmt.text;
      return Flow::kNormal;
    case StmtKind::kOutput:
      *out_ += ToStr(Eval(*stmt.expr, scope));
      return Flow::kNormal;
    case StmtKind::kIf:
      for (size_t i = 0; i < stmt.values.size(); ++i) {
        if (Truthy(Eval(*stmt.values[i], scope))) return Exec(stmt.branches[i], scope);
      }
      return Exec(stmt.else_body, scope);
    case StmtKind::kFor:
      return ExecFor(stmt, scope);
    case StmtKind::kSet: {
      Value value = Eval(*stmt.expr, scope);
      if (stmt.attribute.empty()) {
        Bind(stmt, stmt.targets, value, scope);
        return Flow::kNormal;
      }
      const Value* target = scope.Find(stmt.targets[0]);
      if (target == nullptr || !target->is_namespace()) {
        throw ChatTemplateError(stmt.pos, "cannot assign attribute on non-namespace object", false);
      }
      target->dict().Set(stmt.attribute, std::move(value));
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock: {
      std::string text = Capture(stmt.body, NewFrame(&scope, stmt.body_locals));
      scope.Set(stmt.targets[0], stmt.expr ? ApplyBlockFilter(*stmt.expr, std::move(text), scope)
                                           : Value::String(std::move(text)));
      return Flow::kNormal;
    }
    case StmtKind::kMacro:
      scope.Set(stmt.name, MakeMacro(stmt, scope, stmt.name));
      return Flow::kNormal;
    case StmtKind::kCallBlock: {
      const Expr& call = *stmt.expr;
      const Value callee = Eval(*call.args[0], scope);
      CallArgs args = EvalArgs(call, 1, scope);
      args.named.emplace_back("caller", MakeMacro(stmt, scope, "caller"));
      try {
        *out_ += ToStr(Call(callee, args));
      } catch (const EvalError& error) {
        throw ChatTemplateError(call.pos, error.what(), error.raised_by_template());
      }
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock:
      *out_ += ToStr(ApplyBlockFilter(
          *stmt.expr, Capture(stmt.body, NewFrame(&scope, stmt.body_locals)), scope));
      return Flow::kNormal;
    case StmtKind::kWith: {
      Scope& inner = NewFrame(&scope, stmt.body_locals);
      for (size_t i = 0; i < stmt.targets.size(); ++i) {
        inner.Set(stmt.targets[i], Eval(*stmt.values[i], scope));
      }
      return Exec(stmt.body, inner);
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::ExecFor(const Stmt& stmt, Scope& scope) {
  const Value iterable = Eval(*stmt.expr, scope);
  std::vector<Value> items;
  try {
    items = Iterate(iterable);
  } catch (const EvalError& error) {
    throw ChatTemplateError(stmt.expr->pos, error.what(), false);
  }
  if (stmt.condition) {  // {% for x in xs if cond %}: loop.* counts only the kept items
    std::vector<Value> kept;
    for (Value& item : items) {
      Scope& probe = NewScope(&scope);
      Bind(stmt, stmt.targets, item, probe);
      if (Truthy(Eval(*stmt.condition, probe))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return Exec(stmt.else_body, NewFrame(&scope, stmt.else_locals));

  const auto length = static_cast<int64_t>(items.size());
  auto last_changed = std::make_shared<std::optional<Value>>();
  for (int64_t i = 0; i < length; ++i) {
    Scope& iteration = NewFrame(&scope, stmt.body_locals);
    Bind(stmt, stmt.targets, items[static_cast<size_t>(i)], iteration);
    Value loop = Value::Dict({
        {"index", Value::Int(i + 1)},
        {"index0", Value::Int(i)},
        {"revindex", Value::Int(length - i)},
        {"revindex0", Value::Int(length - i - 1)},
        {"first", Value::Bool(i == 0)},
        {"last", Value::Bool(i == length - 1)},
        {"length", Value::Int(length)},
        {"depth", Value::Int(1)},
        {"depth0", Value::Int(0)},
        {"previtem",
         i > 0 ? items[static_cast<size_t>(i - 1)] : Value::Undefined("there is no previous item")},
        {"nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)]
                                    : Value::Undefined("there is no next item")},
    });
    loop.dict().Set("cycle", Value::MakeFunction("loop.cycle", [i](CallArgs& args) {
                      if (args.positional.empty()) throw EvalError("no items for cycling given");
                      return args.positional[static_cast<size_t>(i) % args.positional.size()];
                    }));
    loop.dict().Set("changed", Value::MakeFunction("loop.changed", [last_changed](CallArgs& args) {
                      Value current = Value::List(args.positional);
                      if (last_changed->has_value() && Equals(**last_changed, current))
                        return Value::Bool(false);
                      *last_changed = std::move(current);
                      return Value::Bool(true);
                    }));
    iteration.Set("loop", std::move(loop));
    if (Exec(stmt.body, iteration) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

// A macro (or the caller() of a call block): binds arguments like Jinja2 (missing ones are
// undefined, extras go to varargs and kwargs) and renders the body in a fresh scope whose
// parent is the scope the macro was defined in.
Value Interpreter::MakeMacro(const Stmt& stmt, const Scope& defining_scope, std::string name) {
  return Value::MakeFunction(name, [this, &stmt, &defining_scope, name](CallArgs& args) {
    if (call_depth_ >= kMaxCallDepth) throw EvalError("maximum macro recursion depth exceeded");
    Scope& scope = NewFrame(&defining_scope, stmt.body_locals);
    const auto& params = stmt.params;
    std::vector<bool> bound(params.size(), false);
    std::vector<Value> varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < params.size()) {
        scope.Set(params[i].name, args.positional[i]);
        bound[i] = true;
      } else {
        varargs.push_back(args.positional[i]);
      }
    }
    Value kwargs = Value::Dict();
    for (auto& [key, value] : args.named) {
      size_t index = 0;
      while (index < params.size() && params[index].name != key) ++index;
      if (index < params.size()) {
        if (bound[index]) {
          throw EvalError(
              fmt::format("macro '{}' got multiple values for argument '{}'", name, key));
        }
        scope.Set(key, value);
        bound[index] = true;
      } else if (key == "caller") {
        scope.Set(key, value);
      } else {
        kwargs.dict().Set(key, value);
      }
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (bound[i]) continue;
      scope.Set(params[i].name, params[i].default_value
                                    ? Eval(*params[i].default_value, scope)
                                    : Value::Undefined(fmt::format(
                                          "parameter '{}' was not provided", params[i].name)));
    }
    scope.Set("varargs", Value::List(std::move(varargs), /*is_tuple=*/true));
    scope.Set("kwargs", std::move(kwargs));
    ++call_depth_;
    std::string text;
    try {
      text = Capture(stmt.body, scope);
    } catch (...) {
      --call_depth_;
      throw;
    }
    --call_depth_;
    return Value::String(std::move(text));
  });
}

}  // namespace moefit::jinja
