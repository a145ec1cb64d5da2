// SPDX-License-Identifier: MIT
// Jinja2's built-in tests, the right-hand side of `x is defined`, `x is divisibleby 3`, ...
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/unicode_text.h"

namespace moefit::jinja {
namespace {

const Value& TestArg(const CallArgs& args, std::string_view test) {
  if (args.positional.empty()) throw EvalError(fmt::format("test '{}' needs an argument", test));
  return args.positional[0];
}

using TestEntry = std::pair<std::string_view, TestFn>;

constexpr TestEntry kTests[] = {
    {"boolean", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }},
    {"callable",  // Undefined is callable (calling it fails), as in Jinja2
     [](Interpreter&, const Value& v, CallArgs&) { return v.is_function() || v.is_undefined(); }},
    {"defined", [](Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
    {"divisibleby",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const int64_t divisor = ExpectInt(TestArg(a, "divisibleby"), "divisibleby argument");
       if (divisor == 0) throw EvalError("integer division or modulo by zero");
       return ApplyBinary("%", v, Value::Int(divisor)).AsDouble() == 0.0;
     }},
    {"eq", [](Interpreter&, const Value& v, CallArgs& a) { return Equals(v, TestArg(a, "eq")); }},
    {"equalto",
     [](Interpreter&, const Value& v, CallArgs& a) { return Equals(v, TestArg(a, "eq")); }},
    {"==", [](Interpreter&, const Value& v, CallArgs& a) { return Equals(v, TestArg(a, "eq")); }},
    {"escaped", [](Interpreter&, const Value&, CallArgs&) { return false; }},
    {"even", [](Interpreter&, const Value& v,
                CallArgs&) { return Equals(ApplyBinary("%", v, Value::Int(2)), Value::Int(0)); }},
    {"false", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.boolean(); }},
    {"filter", [](Interpreter&, const Value& v,
                  CallArgs&) { return v.is_string() && FindFilter(v.string()) != nullptr; }},
    {"float", [](Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }},
    {"ge",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "ge")) >= 0; }},
    {">=",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "ge")) >= 0; }},
    {"gt",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "gt")) > 0; }},
    {">",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "gt")) > 0; }},
    {"greaterthan",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "gt")) > 0; }},
    {"in", [](Interpreter&, const Value& v, CallArgs& a) { return Contains(TestArg(a, "in"), v); }},
    {"integer", [](Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }},
    {"iterable",
     [](Interpreter&, const Value& v, CallArgs&) {
       return v.is_undefined() || v.is_string() || v.is_list() ||
              (v.is_dict() && !v.is_namespace());
     }},
    {"le",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "le")) <= 0; }},
    {"<=",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "le")) <= 0; }},
    {"lower", [](Interpreter&, const Value& v,
                 CallArgs&) { return v.is_string() && TextIs(v.string(), CharClass::kLower); }},
    {"lt",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "lt")) < 0; }},
    {"<",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "lt")) < 0; }},
    {"lessthan",
     [](Interpreter&, const Value& v, CallArgs& a) { return Compare(v, TestArg(a, "lt")) < 0; }},
    {"mapping",
     [](Interpreter&, const Value& v, CallArgs&) { return v.is_dict() && !v.is_namespace(); }},
    {"ne", [](Interpreter&, const Value& v, CallArgs& a) { return !Equals(v, TestArg(a, "ne")); }},
    {"!=", [](Interpreter&, const Value& v, CallArgs& a) { return !Equals(v, TestArg(a, "ne")); }},
    {"none", [](Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }},
    {"number", [](Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }},
    {"odd", [](Interpreter&, const Value& v,
               CallArgs&) { return Equals(ApplyBinary("%", v, Value::Int(2)), Value::Int(1)); }},
    {"sameas",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const Value& other = TestArg(a, "sameas");  // identity approximated by type and value
       return v.type() == other.type() && Equals(v, other);
     }},
    {"sequence",
     [](Interpreter&, const Value& v, CallArgs&) {
       // Undefined counts: it has a length and item access (which fails), as in Jinja2.
       return v.is_undefined() || v.is_string() || v.is_list() ||
              (v.is_dict() && !v.is_namespace());
     }},
    {"string", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }},
    {"test", [](Interpreter&, const Value& v,
                CallArgs&) { return v.is_string() && FindTest(v.string()) != nullptr; }},
    {"true", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.boolean(); }},
    {"undefined", [](Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }},
    {"upper", [](Interpreter&, const Value& v,
                 CallArgs&) { return v.is_string() && TextIs(v.string(), CharClass::kUpper); }},
};

}  // namespace

TestFn FindTest(std::string_view name) {
  for (const auto& [test_name, test] : kTests) {
    if (test_name == name) return test;
  }
  return nullptr;
}

}  // namespace moefit::jinja
