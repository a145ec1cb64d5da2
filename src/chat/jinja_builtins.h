// SPDX-License-Identifier: MIT
// What the interpreter applies to values: operators, attribute and item access, methods of
// str/dict/list, global functions, filters and tests. Failures throw EvalError.
#pragma once

#include <ctime>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace moefit::jinja {

class Interpreter;

// ---- operators (jinja_ops.cpp) ----

// op: + - * / // % ** ~ on evaluated operands.
Value ApplyBinary(std::string_view op, const Value& left, const Value& right);
// op: "-" or "+".
Value ApplyUnary(std::string_view op, const Value& operand);
// `item in container`.
bool Contains(const Value& container, const Value& item);
// `object.name`: a method of str/dict/list, else a dict entry, else Undefined.
Value GetAttribute(const Value& object, const std::string& name);
// `object[key]`: an entry or element, else (for string keys) a method, else Undefined.
Value GetItem(const Value& object, const Value& key);
// `object[start:stop:step]` on a list or string; null pointers for absent parts.
Value SliceValue(const Value& object, const Value* start, const Value* stop, const Value* step);
// The items a for loop visits: list items, dict keys, string characters; Undefined gives none.
std::vector<Value> Iterate(const Value& value);
// Python's `format % args` (printf-style: %s %r %d %i %f %e %g %x %o %c %%).
std::string PercentFormat(const std::string& format, const Value& args);

// ---- methods and globals (jinja_methods.cpp) ----

// The bound method `object.name` for a str, dict or list; nullopt when there is none. Methods
// that would change a value give an Undefined that fails when called, as in Jinja2's
// immutable sandbox.
std::optional<Value> FindMethod(const Value& object, const std::string& name);
// Python's str.splitlines() (no line ends kept).
std::vector<std::string> SplitLines(const std::string& text);

// range, dict, namespace, raise_exception and strftime_now (formatting the time now()
// returns).
std::vector<std::pair<std::string, Value>> MakeGlobals(const std::function<std::tm()>& now);

// ---- filters and tests (jinja_filters.cpp) ----

using FilterFn = Value (*)(Interpreter& interpreter, const Value& input, CallArgs& args);
using TestFn = bool (*)(Interpreter& interpreter, const Value& input, CallArgs& args);
FilterFn FindFilter(std::string_view name);  // nullptr when unknown
TestFn FindTest(std::string_view name);      // nullptr when unknown

// Binds a call's arguments to parameter names, like Python: positional in order, then by name;
// throws EvalError for too many or unknown arguments.
class BoundArgs {
 public:
  BoundArgs(std::string_view function, const CallArgs& args,
            std::initializer_list<std::string_view> params);
  // The argument bound to params[index], or nullptr when not given.
  const Value* Get(size_t index) const { return bound_[index]; }
  Value Get(size_t index, const Value& fallback) const {
    return bound_[index] != nullptr ? *bound_[index] : fallback;
  }
  // The argument bound to params[index]; throws EvalError when it was not given.
  const Value& Required(size_t index) const;
  bool Has(size_t index) const { return bound_[index] != nullptr; }

 private:
  std::string function_;
  std::vector<std::string_view> params_;
  std::vector<const Value*> bound_;
};

// Argument checks shared by filters and methods.
const std::string& ExpectString(const Value& value, std::string_view what);
int64_t ExpectInt(const Value& value, std::string_view what);

}  // namespace moefit::jinja
