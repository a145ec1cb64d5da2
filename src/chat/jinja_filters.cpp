// SPDX-License-Identifier: MIT
// Jinja2's built-in filters as Hugging Face chat templates use them, with tojson replaced by
// Hugging Face's json.dumps(ensure_ascii=False) version.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_interpreter.h"
#include "chat/unicode_text.h"

namespace moefit::jinja {
namespace {

Value Str(std::string text) { return Value::String(std::move(text)); }

const Value kFalse = Value::Bool(false);

// Jinja2's attribute getter for filters: "a.b.0" looks up a, then b, then item 0.
Value LookupAttribute(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
    if (current.is_undefined()) FailUndefined(current);
    current = GetItem(current, numeric ? Value::Int(std::stoll(part)) : Str(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// Sort key for case-insensitive comparisons (Jinja2's ignore_case).
Value CaseKey(const Value& value, bool case_sensitive) {
  return !case_sensitive && value.is_string() ? Str(LowerText(value.string())) : value;
}

int64_t Length(const Value& input) {
  switch (input.type()) {
    case Value::Type::kUndefined:
      return 0;
    case Value::Type::kString:
      return static_cast<int64_t>(CodePointCount(input.string()));
    case Value::Type::kList:
      return static_cast<int64_t>(input.items().size());
    case Value::Type::kDict:
      return static_cast<int64_t>(input.dict().items.size());
    default:
      throw EvalError(fmt::format("object of type '{}' has no len()", TypeName(input)));
  }
}

// Python's round(x, ndigits): half to even on the exact binary value.
double RoundHalfEven(double value, int64_t digits) {
  if (!std::isfinite(value)) return value;
  if (digits >= 0) {
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(std::min<int64_t>(digits, 300)),
                  value);
    return std::strtod(buffer, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(value / scale) * scale;
}

// map/select/reject and their attribute forms take a filter or test name plus its arguments.
CallArgs RestArgs(const CallArgs& args, size_t skip) {
  CallArgs rest;
  rest.positional.assign(
      args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(skip, args.positional.size())),
      args.positional.end());
  rest.named = args.named;
  return rest;
}

Value SelectOrReject(Interpreter& interpreter, const Value& input, CallArgs& args, bool select,
                     bool by_attribute) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw EvalError("selectattr/rejectattr need an attribute name");
    attribute = ExpectString(args.positional[next++], "attribute");
  }
  std::string test;
  if (next < args.positional.size()) test = ExpectString(args.positional[next++], "test name");
  CallArgs test_args = RestArgs(args, next);
  std::vector<Value> kept;
  if (!Truthy(input)) return Value::List({});  // Jinja2 skips falsy input without iterating
  for (const Value& item : Iterate(input)) {
    const Value subject = by_attribute ? LookupAttribute(item, attribute) : item;
    CallArgs call_args = test_args;
    const bool passes =
        test.empty() ? Truthy(subject) : interpreter.CallTest(test, subject, call_args);
    if (passes == select) kept.push_back(item);
  }
  return Value::List(std::move(kept));
}

Value MapFilter(Interpreter& interpreter, const Value& input, CallArgs& args) {
  std::vector<Value> out;
  if (!Truthy(input)) return Value::List({});  // Jinja2 skips falsy input without iterating
  const Value* attribute = nullptr;
  const Value* fallback = nullptr;
  for (const auto& [name, value] : args.named) {
    if (name == "attribute")
      attribute = &value;
    else if (name == "default")
      fallback = &value;
  }
  if (attribute != nullptr) {
    for (const Value& item : Iterate(input)) {
      Value mapped = LookupAttribute(item, ExpectString(*attribute, "attribute"));
      out.push_back(mapped.is_undefined() && fallback != nullptr ? *fallback : mapped);
    }
    return Value::List(std::move(out));
  }
  if (args.positional.empty()) throw EvalError("map() needs a filter name or attribute=");
  const std::string filter = ExpectString(args.positional[0], "filter name");
  const CallArgs filter_args = RestArgs(args, 1);
  for (const Value& item : Iterate(input)) {
    CallArgs call_args = filter_args;
    out.push_back(interpreter.CallFilter(filter, item, call_args));
  }
  return Value::List(std::move(out));
}

std::vector<Value> SortedItems(const Value& input, bool reverse, bool case_sensitive,
                               const Value* attribute) {
  std::vector<Value> items = Iterate(input);
  auto key = [&](const Value& item) {
    return CaseKey(attribute != nullptr && !attribute->is_none()
                       ? LookupAttribute(item, ExpectString(*attribute, "attribute"))
                       : item,
                   case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? Compare(key(b), key(a)) < 0 : Compare(key(a), key(b)) < 0;
  });
  return items;
}

Value TojsonFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = Truthy(bound.Get(0, kFalse));
  if (const Value* indent = bound.Get(1); indent != nullptr && !indent->is_none()) {
    options.pretty = true;
    options.indent =
        indent->is_string()
            ? indent->string()
            : std::string(static_cast<size_t>(std::max<int64_t>(0, ExpectInt(*indent, "indent"))),
                          ' ');
  }
  if (const Value* separators = bound.Get(2); separators != nullptr && !separators->is_none()) {
    const std::vector<Value> parts = Iterate(*separators);
    if (parts.size() != 2) throw EvalError("separators must be an (item, key) pair");
    options.has_separators = true;
    options.item_separator = ExpectString(parts[0], "separator");
    options.key_separator = ExpectString(parts[1], "separator");
  }
  options.sort_keys = Truthy(bound.Get(3, kFalse));
  return Str(DumpJson(input, options));
}

Value IndentFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("indent", args, {"width", "first", "blank"});
  const Value& width = bound.Get(0, Value::Int(4));
  const std::string indent =
      width.is_string()
          ? width.string()
          : std::string(static_cast<size_t>(std::max<int64_t>(0, ExpectInt(width, "width"))), ' ');
  // Jinja2 appends "\n" to the input itself, so only strings can be indented (and others fail
  // as that + fails).
  if (input.is_list() && !input.is_tuple()) {  // list += str extends the list in Python
    throw EvalError("'list' object has no attribute 'splitlines'");
  }
  const Value text = ApplyBinary("+", input, Str("\n"));
  const std::vector<std::string> lines = SplitLines(ExpectString(text, "indent input"));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    if (i > 0 && (Truthy(bound.Get(2, kFalse)) || !lines[i].empty())) out += indent;
    out += lines[i];
  }
  return Str(Truthy(bound.Get(1, kFalse)) ? indent + out : out);
}

Value RoundFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("round", args, {"precision", "method"});
  const int64_t precision = ExpectInt(bound.Get(0, Value::Int(0)), "precision");
  const std::string method = ExpectString(bound.Get(1, Str("common")), "method");
  if (!input.is_number())
    throw EvalError(fmt::format("type {} doesn't define __round__ method", TypeName(input)));
  if (method == "common") {
    if (!input.is_float()) return Value::Int(input.AsInt());
    return Value::Float(RoundHalfEven(input.floating(), precision));
  }
  if (method != "floor" && method != "ceil")
    throw EvalError("method must be common, ceil or floor");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.AsDouble() * scale;
  return Value::Float((method == "floor" ? std::floor(scaled) : std::ceil(scaled)) / scale);
}

Value IntFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("int", args, {"default", "base"});
  const Value& fallback = bound.Get(0, Value::Int(0));
  if (input.is_undefined()) FailUndefined(input);  // int(Undefined) raises in Jinja2
  if (input.is_number()) {
    const double value = input.AsDouble();
    if (input.is_float() && (!std::isfinite(value) || std::abs(value) >= 9.2e18)) return fallback;
    return Value::Int(input.AsInt());
  }
  if (!input.is_string()) return fallback;
  std::string text = StripText(input.string(), nullptr, true, true);
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty()) return fallback;
  const int base = static_cast<int>(ExpectInt(bound.Get(1, Value::Int(10)), "base"));
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, base);
  if (errno == 0 && *end == '\0') return Value::Int(parsed);
  const double as_float = std::strtod(text.c_str(), &end);  // int(float(value))
  if (*end == '\0' && std::isfinite(as_float) && std::abs(as_float) < 9.2e18) {
    return Value::Int(static_cast<int64_t>(as_float));
  }
  return fallback;
}

Value FloatFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("float", args, {"default"});
  if (input.is_undefined()) FailUndefined(input);
  if (input.is_number()) return Value::Float(input.AsDouble());
  if (input.is_string()) {
    const std::string text = StripText(input.string(), nullptr, true, true);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') return Value::Float(value);
  }
  return bound.Get(0, Value::Float(0.0));
}

Value UniqueFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("unique", args, {"case_sensitive", "attribute"});
  const bool case_sensitive = Truthy(bound.Get(0, kFalse));
  std::vector<Value> seen;
  std::vector<Value> out;
  for (const Value& item : Iterate(input)) {
    const Value key = CaseKey(
        bound.Has(1) ? LookupAttribute(item, ExpectString(*bound.Get(1), "attribute")) : item,
        case_sensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return Equals(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::List(std::move(out));
}

Value MinMax(const Value& input, CallArgs& args, bool want_max) {
  const BoundArgs bound(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  const std::vector<Value> items =
      SortedItems(input, false, Truthy(bound.Get(0, kFalse)), bound.Get(1));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  return want_max ? items.back() : items.front();
}

Value DictsortFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (input.is_undefined()) FailUndefined(input);
  if (!input.is_dict()) throw EvalError("dictsort: input must be a dict");
  const bool by_value = ExpectString(bound.Get(1, Str("key")), "by") == "value";
  const bool case_sensitive = Truthy(bound.Get(0, kFalse));
  std::vector<Value> pairs;
  for (const auto& [key, value] : input.dict().items)
    pairs.push_back(Value::List({Str(key), value}, true));
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    const size_t i = by_value ? 1 : 0;
    return Compare(CaseKey(a.items()[i], case_sensitive), CaseKey(b.items()[i], case_sensitive)) <
           0;
  });
  if (Truthy(bound.Get(2, kFalse))) std::reverse(pairs.begin(), pairs.end());
  return Value::List(std::move(pairs));
}

Value JoinFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("join", args, {"d", "attribute"});
  const std::string separator = ToStr(bound.Get(0, Str("")));
  std::string out;
  bool first = true;
  for (const Value& item : Iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += ToStr(bound.Has(1) ? LookupAttribute(item, ExpectString(*bound.Get(1), "attribute"))
                              : item);
  }
  return Str(out);
}

Value ReplaceFilter(Interpreter&, const Value& input, CallArgs& args) {
  CallArgs method_args = args;
  const std::optional<Value> method = FindMethod(Str(ToStr(input)), "replace");
  return method->function().call(method_args);
}

Value DefaultFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("default", args, {"default_value", "boolean"});
  const bool use_fallback =
      input.is_undefined() || (Truthy(bound.Get(1, kFalse)) && !Truthy(input));
  return use_fallback ? bound.Get(0, Str("")) : input;
}

Value BatchFilter(Interpreter&, const Value& input, CallArgs& args) {
  const BoundArgs bound("batch", args, {"linecount", "fill_with"});
  const int64_t size = ExpectInt(bound.Required(0), "linecount");
  if (size <= 0) throw EvalError("batch size must be positive");
  std::vector<Value> batches;
  std::vector<Value> current;
  for (const Value& item : Iterate(input)) {
    current.push_back(item);
    if (static_cast<int64_t>(current.size()) == size)
      batches.push_back(Value::List(std::exchange(current, {})));
  }
  if (!current.empty()) {
    while (bound.Has(1) && static_cast<int64_t>(current.size()) < size)
      current.push_back(*bound.Get(1));
    batches.push_back(Value::List(std::move(current)));
  }
  return Value::List(std::move(batches));
}

Value EscapeFilter(Interpreter&, const Value& input, CallArgs&) {
  std::string out;
  for (char c : ToStr(input)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return Str(out);
}

Value TitleFilter(Interpreter&, const Value& input, CallArgs&) {
  // Jinja2's title: each word (split at whitespace, '-', and opening brackets) gets an upper-case
  // first letter and a lower-case rest.
  const std::u32string text = DecodeUtf8(ToStr(input));
  std::string out;
  bool word_start = true;
  for (char32_t c : text) {
    const bool separator =
        IsPythonSpace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    const std::string piece = EncodeUtf8(std::u32string(1, c));
    out += separator ? piece : (word_start ? UpperText(piece) : LowerText(piece));
    word_start = separator;
  }
  return Str(out);
}

using FilterEntry = std::pair<std::string_view, FilterFn>;

constexpr FilterEntry kFilters[] = {
    {"abs",
     [](Interpreter&, const Value& v, CallArgs&) {
       if (!v.is_number())
         throw EvalError(fmt::format("bad operand type for abs(): '{}'", TypeName(v)));
       return v.is_float() ? Value::Float(std::fabs(v.floating()))
                           : Value::Int(std::abs(v.AsInt()));
     }},
    {"attr",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const BoundArgs b("attr", a, {"name"});
       // Python getattr only: methods (and namespace entries), not dict keys.
       const std::string& name = ExpectString(b.Required(0), "attribute name");
       if (v.is_undefined()) FailUndefined(v);
       if (v.is_namespace()) return GetAttribute(v, name);
       std::optional<Value> method = FindMethod(v, name);
       return method ? *method
                     : Value::Undefined(
                           fmt::format("'{}' has no attribute '{}'", ObjectTypeRepr(v), name));
     }},
    {"batch", BatchFilter},
    {"capitalize",
     [](Interpreter&, const Value& v, CallArgs&) { return Str(CapitalizeText(ToStr(v))); }},
    {"center", [](Interpreter&, const Value& v,
                  CallArgs& a) { return FindMethod(Str(ToStr(v)), "center")->function().call(a); }},
    {"count", [](Interpreter&, const Value& v, CallArgs&) { return Value::Int(Length(v)); }},
    {"d", DefaultFilter},
    {"default", DefaultFilter},
    {"dictsort", DictsortFilter},
    {"e", EscapeFilter},
    {"escape", EscapeFilter},
    {"first",
     [](Interpreter&, const Value& v, CallArgs&) {
       const std::vector<Value> items = Iterate(v);
       return items.empty() ? Value::Undefined("No first item, sequence was empty.")
                            : items.front();
     }},
    {"float", FloatFilter},
    {"format",
     [](Interpreter&, const Value& v, CallArgs& a) {
       if (!a.positional.empty() && !a.named.empty())
         throw EvalError("can't handle positional and keyword arguments at the same time");
       Value args = a.named.empty() ? Value::List(a.positional, true) : Value::Dict(a.named);
       return Str(PercentFormat(ToStr(v), args));
     }},
    {"indent", IndentFilter},
    {"int", IntFilter},
    {"items",
     [](Interpreter&, const Value& v, CallArgs&) {
       if (v.is_undefined()) return Value::List({});
       if (!v.is_dict()) throw EvalError("Can only get item pairs from a mapping.");
       CallArgs none;
       return FindMethod(v, "items")->function().call(none);
     }},
    {"join", JoinFilter},
    {"last",
     [](Interpreter&, const Value& v, CallArgs&) {
       const std::vector<Value> items = Iterate(v);
       return items.empty() ? Value::Undefined("No last item, sequence was empty.") : items.back();
     }},
    {"length", [](Interpreter&, const Value& v, CallArgs&) { return Value::Int(Length(v)); }},
    {"list", [](Interpreter&, const Value& v, CallArgs&) { return Value::List(Iterate(v)); }},
    {"lower", [](Interpreter&, const Value& v, CallArgs&) { return Str(LowerText(ToStr(v))); }},
    {"map", MapFilter},
    {"max", [](Interpreter&, const Value& v, CallArgs& a) { return MinMax(v, a, true); }},
    {"min", [](Interpreter&, const Value& v, CallArgs& a) { return MinMax(v, a, false); }},
    {"reject", [](Interpreter& i, const Value& v,
                  CallArgs& a) { return SelectOrReject(i, v, a, false, false); }},
    {"rejectattr", [](Interpreter& i, const Value& v,
                      CallArgs& a) { return SelectOrReject(i, v, a, false, true); }},
    {"replace", ReplaceFilter},
    {"reverse",
     [](Interpreter&, const Value& v, CallArgs&) {
       const Value step = Value::Int(-1);
       if (v.is_string()) return SliceValue(v, nullptr, nullptr, &step);
       std::vector<Value> items = Iterate(v);
       std::reverse(items.begin(), items.end());
       return Value::List(std::move(items));
     }},
    {"round", RoundFilter},
    {"safe", [](Interpreter&, const Value& v, CallArgs&) { return v; }},
    {"select", [](Interpreter& i, const Value& v,
                  CallArgs& a) { return SelectOrReject(i, v, a, true, false); }},
    {"selectattr", [](Interpreter& i, const Value& v,
                      CallArgs& a) { return SelectOrReject(i, v, a, true, true); }},
    {"sort",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const BoundArgs b("sort", a, {"reverse", "case_sensitive", "attribute"});
       return Value::List(
           SortedItems(v, Truthy(b.Get(0, kFalse)), Truthy(b.Get(1, kFalse)), b.Get(2)));
     }},
    {"string", [](Interpreter&, const Value& v, CallArgs&) { return Str(ToStr(v)); }},
    {"sum",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const BoundArgs b("sum", a, {"attribute", "start"});
       Value total = b.Get(1, Value::Int(0));
       for (const Value& item : Iterate(v)) {
         total = ApplyBinary(
             "+", total,
             b.Has(0) ? LookupAttribute(item, ExpectString(*b.Get(0), "attribute")) : item);
       }
       return total;
     }},
    {"title", TitleFilter},
    {"tojson", TojsonFilter},
    {"trim",
     [](Interpreter&, const Value& v, CallArgs& a) {
       const BoundArgs b("trim", a, {"chars"});
       const Value* chars = b.Get(0);
       return Str(StripText(
           ToStr(v),
           chars != nullptr && !chars->is_none() ? &ExpectString(*chars, "chars") : nullptr, true,
           true));
     }},
    {"unique", UniqueFilter},
    {"upper", [](Interpreter&, const Value& v, CallArgs&) { return Str(UpperText(ToStr(v))); }},
    {"wordcount",
     [](Interpreter&, const Value& v, CallArgs&) {  // runs of word characters, like \w+
       int64_t words = 0;
       bool in_word = false;
       for (char32_t c : DecodeUtf8(ToStr(v))) {
         const bool word_char =
             c == '_' || TextIs(EncodeUtf8(std::u32string(1, c)), CharClass::kAlnum);
         words += word_char && !in_word;
         in_word = word_char;
       }
       return Value::Int(words);
     }},
};

}  // namespace

FilterFn FindFilter(std::string_view name) {
  for (const auto& [filter_name, filter] : kFilters) {
    if (filter_name == name) return filter;
  }
  return nullptr;
}

}  // namespace moefit::jinja
