// SPDX-License-Identifier: MIT
// Values of the template interpreter: JSON-shaped data with Python's semantics (str(), repr(),
// ==, <, truthiness, json.dumps) and Jinja2's Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace moefit::jinja {

class Value;

// A list or tuple. Shared between copies of a Value and never changed once built: templates
// run in Jinja2's immutable sandbox, where list.append() and friends are refused.
struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
};

// A dict in insertion order, like a Python dict; keys are strings. A namespace() is a dict whose
// entries `{% set ns.key = ... %}` may change, which is why entries are not const.
struct DictData {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;

  const Value* Find(std::string_view key) const;
  void Set(std::string key, Value value);  // replaces an existing entry or appends
};

// Arguments of a call: f(positional..., name=value...).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
};

// Anything a template can call: globals, bound methods, macros, caller(), loop.cycle().
struct Function {
  std::string name;
  std::function<Value(CallArgs&)> call;
};

class Value {
 public:
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;

  // An undefined value; hint is the error raised if a template uses it in a way Jinja2's
  // default Undefined refuses (attribute access, call, arithmetic).
  static Value Undefined(std::string hint) { return Make(UndefinedData{std::move(hint)}); }
  static Value None() { return Make(NoneData{}); }
  static Value Bool(bool value) { return Make(value); }
  static Value Int(int64_t value) { return Make(value); }
  static Value Float(double value) { return Make(value); }
  static Value String(std::string value) {
    return Make(StringPtr(std::make_shared<const std::string>(std::move(value))));
  }
  static Value List(std::vector<Value> items, bool is_tuple = false);
  static Value Dict(std::vector<std::pair<std::string, Value>> items = {});
  static Value Namespace(std::vector<std::pair<std::string, Value>> items = {});
  static Value MakeFunction(std::string name, std::function<Value(CallArgs&)> call);
  static Value FromJson(const nlohmann::ordered_json& json);

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_undefined() const { return type() == Type::kUndefined; }
  bool is_none() const { return type() == Type::kNone; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_float() const { return type() == Type::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // bool is an int
  bool is_string() const { return type() == Type::kString; }
  bool is_list() const { return type() == Type::kList; }
  bool is_dict() const { return type() == Type::kDict; }
  bool is_function() const { return type() == Type::kFunction; }
  bool is_namespace() const { return is_dict() && dict().is_namespace; }

  const std::string& undefined_hint() const { return std::get<UndefinedData>(data_).hint; }
  bool boolean() const { return std::get<bool>(data_); }
  int64_t integer() const { return std::get<int64_t>(data_); }
  double floating() const { return std::get<double>(data_); }
  const std::string& string() const { return *std::get<StringPtr>(data_); }
  const std::vector<Value>& items() const { return std::get<ListPtr>(data_)->items; }
  bool is_tuple() const { return std::get<ListPtr>(data_)->is_tuple; }
  DictData& dict() const { return *std::get<DictPtr>(data_); }
  const Function& function() const { return *std::get<FunctionPtr>(data_); }

  // Number as double / as int64 (bool counts as 0 or 1); callers check is_number() first.
  double AsDouble() const;
  int64_t AsInt() const;

 private:
  struct UndefinedData {
    std::string hint;
  };
  struct NoneData {};
  using StringPtr = std::shared_ptr<const std::string>;  // shared: copies of values are cheap
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<DictData>;
  using FunctionPtr = std::shared_ptr<const Function>;
  using Data = std::variant<UndefinedData, NoneData, bool, int64_t, double, StringPtr, ListPtr,
                            DictPtr, FunctionPtr>;

  static Value FromJsonAt(const nlohmann::ordered_json& json, int depth);

  template <typename T>
  static Value Make(T data) {
    Value value;
    value.data_.emplace<T>(std::move(data));
    return value;
  }

  Data data_;
};

// Python's type name: "str", "int", "list", "dict", "NoneType", ...
std::string TypeName(const Value& value);
// Jinja2's object_type_repr, used in "'list object' has no attribute 'x'".
std::string ObjectTypeRepr(const Value& value);

// Throws the undefined value's hint as an EvalError; for operations Undefined refuses.
[[noreturn]] void FailUndefined(const Value& value);

bool Truthy(const Value& value);
std::string ToStr(const Value& value);  // Python str(); Undefined gives ""
std::string Repr(const Value& value);   // Python repr()
std::string PythonFloatRepr(double value);
std::string PythonStringRepr(std::string_view text);

bool Equals(const Value& left, const Value& right);
// Python's ordering: -1, 0 or 1; throws EvalError for types Python cannot order.
int Compare(const Value& left, const Value& right);

// json.dumps(value, ensure_ascii, indent, separators, sort_keys) as Python prints it.
struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool pretty = false;          // indent given (even 0): one item per line
  std::string indent;           // the indent unit when pretty
  std::string item_separator;   // defaults: ", " (or "," when pretty)
  std::string key_separator;    // ": "
  bool has_separators = false;  // item/key separators given explicitly
  bool sort_keys = false;
};
std::string DumpJson(const Value& value, const JsonDumpOptions& options);

}  // namespace moefit::jinja
