// SPDX-License-Identifier: MIT
// Python semantics for template values: str(), repr(), equality, ordering, json.dumps.
#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "chat/jinja_error.h"
#include "chat/unicode_text.h"

namespace moefit::jinja {

const Value* DictData::Find(std::string_view key) const {
  for (const auto& [name, value] : items) {
    if (name == key) return &value;
  }
  return nullptr;
}

void DictData::Set(std::string key, Value value) {
  for (auto& [name, existing] : items) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

Value Value::List(std::vector<Value> items, bool is_tuple) {
  return Make(ListPtr(new ListData{std::move(items), is_tuple}));
}

Value Value::Dict(std::vector<std::pair<std::string, Value>> items) {
  return Make(std::make_shared<DictData>(DictData{std::move(items), false}));
}

Value Value::Namespace(std::vector<std::pair<std::string, Value>> items) {
  return Make(std::make_shared<DictData>(DictData{std::move(items), true}));
}

Value Value::MakeFunction(std::string name, std::function<Value(CallArgs&)> call) {
  return Make(FunctionPtr(new Function{std::move(name), std::move(call)}));
}

namespace {

constexpr int kMaxJsonDepth = 512;

}  // namespace

Value Value::FromJson(const nlohmann::ordered_json& json) { return FromJsonAt(json, 0); }

Value Value::FromJsonAt(const nlohmann::ordered_json& json, int depth) {
  using Kind = nlohmann::ordered_json::value_t;
  if (depth > kMaxJsonDepth) {
    throw Error(
        fmt::format("chat template: the context nests more than {} levels deep", kMaxJsonDepth));
  }
  switch (json.type()) {
    case Kind::null:
      return None();
    case Kind::boolean:
      return Bool(json.get<bool>());
    case Kind::number_integer:
      return Int(json.get<int64_t>());
    case Kind::number_unsigned: {
      const auto value = json.get<uint64_t>();
      if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Int(static_cast<int64_t>(value));
      }
      return Float(static_cast<double>(value));
    }
    case Kind::number_float:
      return Float(json.get<double>());
    case Kind::string:
      return String(json.get<std::string>());
    case Kind::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(FromJsonAt(item, depth + 1));
      return List(std::move(items));
    }
    case Kind::object: {
      std::vector<std::pair<std::string, Value>> items;
      items.reserve(json.size());
      for (const auto& [key, item] : json.items())
        items.emplace_back(key, FromJsonAt(item, depth + 1));
      return Dict(std::move(items));
    }
    default:
      return Undefined("unsupported JSON value");
  }
}

double Value::AsDouble() const {
  if (is_float()) return floating();
  if (is_int()) return static_cast<double>(integer());
  return boolean() ? 1.0 : 0.0;
}

int64_t Value::AsInt() const {
  if (is_int()) return integer();
  if (is_bool()) return boolean() ? 1 : 0;
  return static_cast<int64_t>(floating());
}

std::string TypeName(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return "Undefined";
    case Value::Type::kNone:
      return "NoneType";
    case Value::Type::kBool:
      return "bool";
    case Value::Type::kInt:
      return "int";
    case Value::Type::kFloat:
      return "float";
    case Value::Type::kString:
      return "str";
    case Value::Type::kList:
      return value.is_tuple() ? "tuple" : "list";
    case Value::Type::kDict:
      return value.is_namespace() ? "Namespace" : "dict";
    case Value::Type::kFunction:
      return "function";
  }
  return "object";
}

std::string ObjectTypeRepr(const Value& value) {
  if (value.is_none()) return "None";
  if (value.is_namespace()) return "jinja2.utils.Namespace object";
  return TypeName(value) + " object";
}

void FailUndefined(const Value& value) {
  const std::string& hint = value.undefined_hint();
  throw EvalError(hint.empty() ? "undefined value" : hint);
}

bool Truthy(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return false;
    case Value::Type::kBool:
      return value.boolean();
    case Value::Type::kInt:
      return value.integer() != 0;
    case Value::Type::kFloat:
      return value.floating() != 0.0;
    case Value::Type::kString:
      return !value.string().empty();
    case Value::Type::kList:
      return !value.items().empty();
    case Value::Type::kDict:
      return value.is_namespace() || !value.dict().items.empty();
    case Value::Type::kFunction:
      return true;
  }
  return false;
}

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout: fixed for 1e-4 <= |x| < 1e16.
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, std::abs(value), std::chars_format::scientific);
  const std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  const size_t e_pos = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(text.substr(e_pos + 1)).c_str());
  std::string out = value < 0 ? "-" : "";
  const int n_digits = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (n_digits > 1) out.append(".").append(digits, 1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
  } else if (exponent + 1 >= n_digits) {
    out.append(digits).append(static_cast<size_t>(exponent + 1 - n_digits), '0').append(".0");
  } else {
    out.append(digits, 0, static_cast<size_t>(exponent + 1))
        .append(".")
        .append(digits, static_cast<size_t>(exponent + 1));
  }
  return out;
}

std::string PythonStringRepr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : DecodeUtf8(text)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (IsPrintable(c)) {
      AppendUtf8(out, c);
    } else if (c < 0x100) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c < 0x10000) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
    }
  }
  out += quote;
  return out;
}

std::string ToStr(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return "";
    case Value::Type::kString:
      return value.string();
    default:
      return Repr(value);
  }
}

std::string Repr(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return "Undefined";
    case Value::Type::kNone:
      return "None";
    case Value::Type::kBool:
      return value.boolean() ? "True" : "False";
    case Value::Type::kInt:
      return std::to_string(value.integer());
    case Value::Type::kFloat:
      return PythonFloatRepr(value.floating());
    case Value::Type::kString:
      return PythonStringRepr(value.string());
    case Value::Type::kList: {
      std::string out = value.is_tuple() ? "(" : "[";
      const auto& items = value.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += Repr(items[i]);
      }
      if (value.is_tuple() && items.size() == 1) out += ",";
      return out + (value.is_tuple() ? ")" : "]");
    }
    case Value::Type::kDict: {
      std::string out = value.is_namespace() ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [key, item] : value.dict().items) {
        if (!first) out += ", ";
        first = false;
        out += PythonStringRepr(key) + ": " + Repr(item);
      }
      return out + (value.is_namespace() ? "}>" : "}");
    }
    case Value::Type::kFunction:
      return "<function " + value.function().name + ">";
  }
  return "";
}

bool Equals(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) return left.AsDouble() == right.AsDouble();
    return left.AsInt() == right.AsInt();
  }
  if (left.type() != right.type()) return false;
  switch (left.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone:
      return true;
    case Value::Type::kString:
      return left.string() == right.string();
    case Value::Type::kList: {
      const auto& a = left.items();
      const auto& b = right.items();
      if (left.is_tuple() != right.is_tuple() || a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!Equals(a[i], b[i])) return false;
      }
      return true;
    }
    case Value::Type::kDict: {
      if (left.is_namespace() || right.is_namespace()) return &left.dict() == &right.dict();
      const auto& a = left.dict().items;
      if (a.size() != right.dict().items.size()) return false;
      for (const auto& [key, item] : a) {
        const Value* other = right.dict().Find(key);
        if (other == nullptr || !Equals(item, *other)) return false;
      }
      return true;
    }
    case Value::Type::kFunction:
      return &left.function() == &right.function();
    default:
      return false;
  }
}

int Compare(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) {
      const double a = left.AsDouble();
      const double b = right.AsDouble();
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    const int64_t a = left.AsInt();
    const int64_t b = right.AsInt();
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  if (left.is_undefined()) FailUndefined(left);
  if (right.is_undefined()) FailUndefined(right);
  if (left.is_string() && right.is_string()) {
    const int order = left.string().compare(right.string());
    return order < 0 ? -1 : (order > 0 ? 1 : 0);
  }
  if (left.is_list() && right.is_list() && left.is_tuple() == right.is_tuple()) {
    const auto& a = left.items();
    const auto& b = right.items();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (!Equals(a[i], b[i])) return Compare(a[i], b[i]);
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  throw EvalError(fmt::format("'<' not supported between instances of '{}' and '{}'",
                              TypeName(left), TypeName(right)));
}

namespace {

void DumpJsonString(std::string_view text, bool ensure_ascii, std::string& out) {
  out += '"';
  for (char32_t c : DecodeUtf8(text)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else if (c < 0x80 || !ensure_ascii) {
          AppendUtf8(out, c);
        } else if (c < 0x10000) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          const char32_t v = c - 0x10000;
          out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (v >> 10)),
                             static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
        }
    }
  }
  out += '"';
}

void DumpJsonValue(const Value& value, const JsonDumpOptions& options, int depth,
                   std::string& out) {
  const std::string item_separator =
      options.has_separators ? options.item_separator : (options.pretty ? "," : ", ");
  const std::string key_separator = options.has_separators ? options.key_separator : ": ";
  auto newline = [&](int level) {
    if (!options.pretty) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += options.indent;
  };
  switch (value.type()) {
    case Value::Type::kNone:
      out += "null";
      return;
    case Value::Type::kBool:
      out += value.boolean() ? "true" : "false";
      return;
    case Value::Type::kInt:
      out += std::to_string(value.integer());
      return;
    case Value::Type::kFloat: {
      const double number = value.floating();
      if (std::isnan(number))
        out += "NaN";
      else if (std::isinf(number))
        out += number > 0 ? "Infinity" : "-Infinity";
      else
        out += PythonFloatRepr(number);
      return;
    }
    case Value::Type::kString:
      DumpJsonString(value.string(), options.ensure_ascii, out);
      return;
    case Value::Type::kList: {
      const auto& items = value.items();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_separator;
        newline(depth + 1);
        DumpJsonValue(items[i], options, depth + 1, out);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Type::kDict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& entry : value.dict().items) entries.push_back(&entry);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_separator;
        newline(depth + 1);
        DumpJsonString(entries[i]->first, options.ensure_ascii, out);
        out += key_separator;
        DumpJsonValue(entries[i]->second, options, depth + 1, out);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      throw EvalError(fmt::format("Object of type {} is not JSON serializable", TypeName(value)));
  }
}

}  // namespace

std::string DumpJson(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  DumpJsonValue(value, options, 0, out);
  return out;
}

}  // namespace moefit::jinja
