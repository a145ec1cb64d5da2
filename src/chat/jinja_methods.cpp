// SPDX-License-Identifier: MIT
// Python methods templates call on values (str.startswith, dict.items, ...), the global
// functions Hugging Face chat templates rely on, and argument binding for builtins.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/unicode_text.h"

namespace moefit::jinja {

BoundArgs::BoundArgs(std::string_view function, const CallArgs& args,
                     std::initializer_list<std::string_view> params)
    : function_(function), params_(params), bound_(params.size(), nullptr) {
  if (args.positional.size() > params.size()) {
    throw EvalError(fmt::format("{}() takes at most {} argument(s) ({} given)", function,
                                params.size(), args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound_[i] = &args.positional[i];
  for (const auto& [name, value] : args.named) {
    const auto it = std::find(params.begin(), params.end(), name);
    if (it == params.end()) {
      throw EvalError(fmt::format("{}() got an unexpected keyword argument '{}'", function, name));
    }
    const auto index = static_cast<size_t>(it - params.begin());
    if (bound_[index] != nullptr) {
      throw EvalError(fmt::format("{}() got multiple values for argument '{}'", function, name));
    }
    bound_[index] = &value;
  }
}

const Value& BoundArgs::Required(size_t index) const {
  if (bound_[index] == nullptr) {
    throw EvalError(fmt::format("{}() missing required argument '{}'", function_, params_[index]));
  }
  return *bound_[index];
}

const std::string& ExpectString(const Value& value, std::string_view what) {
  if (!value.is_string()) {
    throw EvalError(fmt::format("{} must be a string, not {}", what, TypeName(value)));
  }
  return value.string();
}

int64_t ExpectInt(const Value& value, std::string_view what) {
  if (!value.is_int() && !value.is_bool()) {
    throw EvalError(fmt::format("{} must be an integer, not {}", what, TypeName(value)));
  }
  return value.AsInt();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  const std::u32string code_points = DecodeUtf8(text);
  std::u32string line;
  for (size_t i = 0; i < code_points.size(); ++i) {
    const char32_t c = code_points[i];
    const bool breaks = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C ||
                        (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!breaks) {
      line.push_back(c);
      continue;
    }
    if (c == '\r' && i + 1 < code_points.size() && code_points[i + 1] == '\n') ++i;
    lines.push_back(EncodeUtf8(line));
    line.clear();
  }
  if (!line.empty()) lines.push_back(EncodeUtf8(line));
  return lines;
}

namespace {

using Method = Value (*)(const Value& self, CallArgs& args);

Value Str(std::string text) { return Value::String(std::move(text)); }

// str.split / str.rsplit; sep null splits on runs of whitespace.
Value SplitString(const std::string& text, const Value* sep, int64_t max_split, bool from_right) {
  std::vector<std::string> parts;
  if (sep == nullptr || sep->is_none()) {
    std::u32string code_points = DecodeUtf8(text);
    if (from_right) std::reverse(code_points.begin(), code_points.end());
    size_t i = 0;
    while (true) {
      while (i < code_points.size() && IsPythonSpace(code_points[i])) ++i;
      if (i >= code_points.size()) break;
      size_t end = i;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        end = code_points.size();  // the rest, keeping its whitespace, as Python does
      } else {
        while (end < code_points.size() && !IsPythonSpace(code_points[end])) ++end;
      }
      std::u32string part = code_points.substr(i, end - i);
      if (from_right) std::reverse(part.begin(), part.end());
      parts.push_back(EncodeUtf8(part));
      i = end;
    }
    if (from_right) std::reverse(parts.begin(), parts.end());
  } else {
    const std::string& separator = ExpectString(*sep, "split() separator");
    if (separator.empty()) throw EvalError("empty separator");
    if (!from_right) {
      size_t start = 0;
      size_t found = 0;
      while ((max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) &&
             (found = text.find(separator, start)) != std::string::npos) {
        parts.push_back(text.substr(start, found - start));
        start = found + separator.size();
      }
      parts.push_back(text.substr(start));
    } else {
      size_t end = text.size();
      while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
        if (end < separator.size()) break;
        const size_t found = text.rfind(separator, end - separator.size());
        if (found == std::string::npos) break;
        parts.push_back(text.substr(found + separator.size(), end - found - separator.size()));
        end = found;
      }
      parts.push_back(text.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  }
  std::vector<Value> items;
  for (auto& part : parts) items.push_back(Str(std::move(part)));
  return Value::List(std::move(items));
}

// The receiver narrowed by optional start/end arguments (str.startswith(prefix, start, end)).
std::string SliceArgs(const Value& self, const BoundArgs& bound, size_t start_index) {
  if (!bound.Has(start_index) && !bound.Has(start_index + 1)) return self.string();
  return SliceValue(self, bound.Get(start_index), bound.Get(start_index + 1), nullptr).string();
}

Value AffixTest(const Value& self, CallArgs& args, bool prefix) {
  const BoundArgs bound(prefix ? "startswith" : "endswith", args, {"affix", "start", "end"});
  if (!bound.Has(0)) throw EvalError("startswith/endswith need an argument");
  const std::string text = SliceArgs(self, bound, 1);
  std::vector<Value> affixes =
      bound.Get(0)->is_list() ? bound.Get(0)->items() : std::vector<Value>{*bound.Get(0)};
  for (const Value& affix_value : affixes) {
    const std::string& affix = ExpectString(affix_value, "startswith/endswith argument");
    if (affix.size() <= text.size() &&
        text.compare(prefix ? 0 : text.size() - affix.size(), affix.size(), affix) == 0) {
      return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}

Value StripMethod(const Value& self, CallArgs& args, bool left, bool right) {
  const BoundArgs bound("strip", args, {"chars"});
  const Value* chars = bound.Get(0);
  if (chars != nullptr && chars->is_none()) chars = nullptr;
  return Str(StripText(self.string(), chars ? &ExpectString(*chars, "strip() argument") : nullptr,
                       left, right));
}

Value FindMethodImpl(const Value& self, CallArgs& args, bool from_right) {
  const BoundArgs bound(from_right ? "rfind" : "find", args, {"sub"});
  const std::string& sub = ExpectString(bound.Required(0), "find() argument");
  const size_t found = from_right ? self.string().rfind(sub) : self.string().find(sub);
  if (found == std::string::npos) return Value::Int(-1);
  return Value::Int(
      static_cast<int64_t>(CodePointCount(std::string_view(self.string()).substr(0, found))));
}

Value Justify(const Value& self, CallArgs& args, int align) {  // -1 ljust, 0 center, 1 rjust
  const BoundArgs bound("center", args, {"width", "fillchar"});
  const int64_t width = ExpectInt(bound.Get(0, Value::Int(0)), "width");
  const std::string fill = ExpectString(bound.Get(1, Str(" ")), "fillchar");
  const auto length = static_cast<int64_t>(CodePointCount(self.string()));
  if (width <= length) return self;
  const int64_t total = width - length;
  // Python's center puts the extra space on the right unless both length and width are odd.
  int64_t left = align < 0 ? 0 : align > 0 ? total : total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += self.string();
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return Str(out);
}

// str.format: {} {0} {name}, optional !r / !s and a format spec.
Value FormatMethod(const Value& self, CallArgs& args) {
  const std::string& format = self.string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}')
        ++i;
      else
        throw EvalError("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) throw EvalError("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    char conversion = 0;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 0;
      field.resize(bang);
    }
    const Value* value = nullptr;
    if (field.empty() ||
        std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t index = field.empty() ? auto_index++ : std::stoul(field);
      if (index >= args.positional.size())
        throw EvalError("Replacement index out of range for format()");
      value = &args.positional[index];
    } else {
      for (const auto& [name, named_value] : args.named) {
        if (name == field) value = &named_value;
      }
      if (value == nullptr) throw EvalError(fmt::format("KeyError: '{}'", field));
    }
    if (conversion == 'r' || conversion == 's' || spec.empty()) {
      const std::string text = conversion == 'r' ? Repr(*value) : ToStr(*value);
      out += spec.empty() ? text : fmt::format(fmt::runtime("{:" + spec + "}"), text);
      continue;
    }
    try {
      if (value->is_int())
        out += fmt::format(fmt::runtime("{:" + spec + "}"), value->integer());
      else if (value->is_float())
        out += fmt::format(fmt::runtime("{:" + spec + "}"), value->floating());
      else
        out += fmt::format(fmt::runtime("{:" + spec + "}"), ToStr(*value));
    } catch (const fmt::format_error&) {
      throw EvalError(fmt::format("unsupported format spec '{}'", spec));
    }
  }
  return Str(out);
}

Value ReplaceMethod(const Value& self, CallArgs& args) {
  const BoundArgs bound("replace", args, {"old", "new", "count"});
  const std::string& old_text = ExpectString(bound.Required(0), "replace() argument 1");
  const std::string& new_text = ExpectString(bound.Required(1), "replace() argument 2");
  int64_t count = bound.Has(2) && !bound.Get(2)->is_none() ? ExpectInt(*bound.Get(2), "count") : -1;
  const std::string& text = self.string();
  std::string out;
  if (old_text.empty()) {  // insert between every character and at both ends
    const std::u32string code_points = DecodeUtf8(text);
    for (size_t i = 0; i <= code_points.size(); ++i) {
      if (count < 0 || static_cast<int64_t>(i) < count) out += new_text;
      if (i < code_points.size()) AppendUtf8(out, code_points[i]);
    }
    return Str(out);
  }
  size_t start = 0;
  size_t found = 0;
  while (count != 0 && (found = text.find(old_text, start)) != std::string::npos) {
    out.append(text, start, found - start);
    out += new_text;
    start = found + old_text.size();
    if (count > 0) --count;
  }
  out.append(text, start, std::string::npos);
  return Str(out);
}

Value JoinMethod(const Value& self, CallArgs& args) {
  const BoundArgs bound("join", args, {"iterable"});
  std::string out;
  size_t index = 0;
  for (const Value& item : Iterate(bound.Required(0))) {
    if (!item.is_string()) {
      throw EvalError(
          fmt::format("sequence item {}: expected str instance, {} found", index, TypeName(item)));
    }
    if (index++ > 0) out += self.string();
    out += item.string();
  }
  return Str(out);
}

Value NoArgs(const CallArgs& args, std::string_view name, Value result) {
  if (!args.positional.empty() || !args.named.empty()) {
    throw EvalError(fmt::format("{}() takes no arguments", name));
  }
  return result;
}

Value CharClassTest(const Value& self, const CallArgs& args, CharClass char_class) {
  return NoArgs(args, "is...", Value::Bool(TextIs(self.string(), char_class)));
}

Value RemoveAffix(const Value& self, CallArgs& args, bool prefix) {
  const BoundArgs bound(prefix ? "removeprefix" : "removesuffix", args, {"affix"});
  const std::string& affix = ExpectString(bound.Required(0), "argument");
  const std::string& text = self.string();
  if (affix.size() > text.size()) return self;
  if (prefix && text.compare(0, affix.size(), affix) == 0) return Str(text.substr(affix.size()));
  if (!prefix && text.compare(text.size() - affix.size(), affix.size(), affix) == 0) {
    return Str(text.substr(0, text.size() - affix.size()));
  }
  return self;
}

constexpr std::pair<std::string_view, Method> kStringMethods[] = {
    {"startswith", [](const Value& s, CallArgs& a) { return AffixTest(s, a, true); }},
    {"endswith", [](const Value& s, CallArgs& a) { return AffixTest(s, a, false); }},
    {"strip", [](const Value& s, CallArgs& a) { return StripMethod(s, a, true, true); }},
    {"lstrip", [](const Value& s, CallArgs& a) { return StripMethod(s, a, true, false); }},
    {"rstrip", [](const Value& s, CallArgs& a) { return StripMethod(s, a, false, true); }},
    {"split",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("split", a, {"sep", "maxsplit"});
       return SplitString(s.string(), b.Get(0), ExpectInt(b.Get(1, Value::Int(-1)), "maxsplit"),
                          false);
     }},
    {"rsplit",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("rsplit", a, {"sep", "maxsplit"});
       return SplitString(s.string(), b.Get(0), ExpectInt(b.Get(1, Value::Int(-1)), "maxsplit"),
                          true);
     }},
    {"splitlines",
     [](const Value& s, CallArgs& a) {
       std::vector<Value> items;
       for (auto& line : SplitLines(s.string())) items.push_back(Str(std::move(line)));
       return NoArgs(a, "splitlines", Value::List(std::move(items)));
     }},
    {"replace", ReplaceMethod},
    {"upper",
     [](const Value& s, CallArgs& a) { return NoArgs(a, "upper", Str(UpperText(s.string()))); }},
    {"lower",
     [](const Value& s, CallArgs& a) { return NoArgs(a, "lower", Str(LowerText(s.string()))); }},
    {"title",
     [](const Value& s, CallArgs& a) { return NoArgs(a, "title", Str(TitleText(s.string()))); }},
    {"capitalize",
     [](const Value& s, CallArgs& a) {
       return NoArgs(a, "capitalize", Str(CapitalizeText(s.string())));
     }},
    {"format", FormatMethod},
    {"join", JoinMethod},
    {"find", [](const Value& s, CallArgs& a) { return FindMethodImpl(s, a, false); }},
    {"rfind", [](const Value& s, CallArgs& a) { return FindMethodImpl(s, a, true); }},
    {"count",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("count", a, {"sub"});
       const std::string& sub = ExpectString(b.Required(0), "count() argument");
       if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePointCount(s.string()) + 1));
       int64_t n = 0;
       for (size_t at = s.string().find(sub); at != std::string::npos;
            at = s.string().find(sub, at + sub.size()))
         ++n;
       return Value::Int(n);
     }},
    {"isdigit", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kDigit); }},
    {"isalpha", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kAlpha); }},
    {"isalnum", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kAlnum); }},
    {"isspace", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kSpace); }},
    {"isupper", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kUpper); }},
    {"islower", [](const Value& s, CallArgs& a) { return CharClassTest(s, a, CharClass::kLower); }},
    {"removeprefix", [](const Value& s, CallArgs& a) { return RemoveAffix(s, a, true); }},
    {"removesuffix", [](const Value& s, CallArgs& a) { return RemoveAffix(s, a, false); }},
    {"center", [](const Value& s, CallArgs& a) { return Justify(s, a, 0); }},
    {"ljust", [](const Value& s, CallArgs& a) { return Justify(s, a, -1); }},
    {"rjust", [](const Value& s, CallArgs& a) { return Justify(s, a, 1); }},
};

Value DictView(const Value& self, int which) {  // 0 keys, 1 values, 2 items
  std::vector<Value> items;
  for (const auto& [key, value] : self.dict().items) {
    if (which == 0)
      items.push_back(Str(key));
    else if (which == 1)
      items.push_back(value);
    else
      items.push_back(Value::List({Str(key), value}, /*is_tuple=*/true));
  }
  return Value::List(std::move(items));
}

constexpr std::pair<std::string_view, Method> kDictMethods[] = {
    {"keys", [](const Value& s, CallArgs& a) { return NoArgs(a, "keys", DictView(s, 0)); }},
    {"values", [](const Value& s, CallArgs& a) { return NoArgs(a, "values", DictView(s, 1)); }},
    {"items", [](const Value& s, CallArgs& a) { return NoArgs(a, "items", DictView(s, 2)); }},
    {"get",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("get", a, {"key", "default"});
       const Value& key = b.Required(0);
       const Value* found = key.is_string() ? s.dict().Find(key.string()) : nullptr;
       return found != nullptr ? *found : b.Get(1, Value::None());
     }},
};

constexpr std::pair<std::string_view, Method> kListMethods[] = {
    {"index",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("index", a, {"value"});
       const auto& items = s.items();
       for (size_t i = 0; i < items.size(); ++i) {
         if (Equals(items[i], b.Required(0))) return Value::Int(static_cast<int64_t>(i));
       }
       throw EvalError("list.index(x): x not in list");
     }},
    {"count",
     [](const Value& s, CallArgs& a) {
       const BoundArgs b("count", a, {"value"});
       const Value& wanted = b.Required(0);
       return Value::Int(std::count_if(s.items().begin(), s.items().end(),
                                       [&](const Value& item) { return Equals(item, wanted); }));
     }},
};

constexpr std::string_view kUnsafeDictMethods[] = {"pop", "popitem", "setdefault", "update",
                                                   "clear"};
constexpr std::string_view kUnsafeListMethods[] = {"append", "extend",  "insert", "pop",
                                                   "remove", "reverse", "sort",   "clear"};

template <size_t N>
Method Lookup(const std::pair<std::string_view, Method> (&table)[N], std::string_view name) {
  for (const auto& [method_name, method] : table) {
    if (method_name == name) return method;
  }
  return nullptr;
}

template <size_t N>
bool Listed(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

std::optional<Value> FindMethod(const Value& object, const std::string& name) {
  Method method = nullptr;
  if (object.is_string()) {
    method = Lookup(kStringMethods, name);
  } else if (object.is_dict() && !object.is_namespace()) {
    method = Lookup(kDictMethods, name);
    if (method == nullptr && Listed(kUnsafeDictMethods, name)) {
      return Value::Undefined(
          fmt::format("access to attribute '{}' of 'dict' object is unsafe.", name));
    }
  } else if (object.is_list()) {
    method = Lookup(kListMethods, name);
    if (method == nullptr && !object.is_tuple() && Listed(kUnsafeListMethods, name)) {
      return Value::Undefined(
          fmt::format("access to attribute '{}' of 'list' object is unsafe.", name));
    }
  }
  if (method == nullptr) return std::nullopt;
  return Value::MakeFunction(name,
                             [object, method](CallArgs& args) { return method(object, args); });
}

namespace {

Value RangeGlobal(CallArgs& args) {
  if (!args.named.empty() || args.positional.empty() || args.positional.size() > 3) {
    throw EvalError("range() takes 1 to 3 positional arguments");
  }
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (args.positional.size() == 1) {
    stop = ExpectInt(args.positional[0], "range() argument");
  } else {
    start = ExpectInt(args.positional[0], "range() argument");
    stop = ExpectInt(args.positional[1], "range() argument");
    if (args.positional.size() == 3) step = ExpectInt(args.positional[2], "range() argument");
  }
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (items.size() >= 100000) {
      throw EvalError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    items.push_back(Value::Int(i));
  }
  return Value::List(std::move(items));
}

// dict(mapping_or_pairs, **kwargs) and namespace(mapping, **kwargs).
Value DictGlobal(CallArgs& args, bool is_namespace) {
  if (args.positional.size() > 1) throw EvalError("dict() takes at most 1 positional argument");
  Value result = is_namespace ? Value::Namespace() : Value::Dict();
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      for (const auto& [key, value] : source.dict().items) result.dict().Set(key, value);
    } else {
      for (const Value& pair : Iterate(source)) {
        const std::vector<Value> parts = Iterate(pair);
        if (parts.size() != 2)
          throw EvalError("dictionary update sequence element has wrong length");
        result.dict().Set(ExpectString(parts[0], "dict key"), parts[1]);
      }
    }
  }
  for (const auto& [key, value] : args.named) result.dict().Set(key, value);
  return result;
}

}  // namespace

std::vector<std::pair<std::string, Value>> MakeGlobals(const std::function<std::tm()>& now) {
  std::vector<std::pair<std::string, Value>> globals;
  globals.emplace_back("range", Value::MakeFunction("range", RangeGlobal));
  globals.emplace_back(
      "dict", Value::MakeFunction("dict", [](CallArgs& args) { return DictGlobal(args, false); }));
  globals.emplace_back("namespace", Value::MakeFunction("namespace", [](CallArgs& args) {
                         return DictGlobal(args, true);
                       }));
  globals.emplace_back(
      "raise_exception", Value::MakeFunction("raise_exception", [](CallArgs& args) -> Value {
        const BoundArgs bound("raise_exception", args, {"message"});
        throw EvalError(ToStr(bound.Get(0, Value::String(""))), /*raised_by_template=*/true);
      }));
  globals.emplace_back(
      "strftime_now", Value::MakeFunction("strftime_now", [now](CallArgs& args) {
        const BoundArgs bound("strftime_now", args, {"format"});
        const std::string& format = ExpectString(bound.Required(0), "strftime_now() format");
        if (format.empty()) return Value::String("");
        std::tm time{};
        if (now) {
          time = now();
        } else {
          const std::time_t seconds = std::time(nullptr);
          localtime_r(&seconds, &time);
        }
        std::string buffer(64 + format.size() * 8, '\0');
        const size_t length = std::strftime(buffer.data(), buffer.size(), format.c_str(), &time);
        buffer.resize(length);
        return Value::String(std::move(buffer));
      }));
  return globals;
}

}  // namespace moefit::jinja
