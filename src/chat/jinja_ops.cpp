// SPDX-License-Identifier: MIT
// Python's operators on template values: arithmetic, concatenation, membership, indexing,
// slicing, iteration and printf-style formatting.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/unicode_text.h"

namespace moefit::jinja {
namespace {

[[noreturn]] void FailOperands(std::string_view op, const Value& left, const Value& right) {
  throw EvalError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op,
                              TypeName(left), TypeName(right)));
}

// Integer + - * with Python's exactness: fails rather than wrapping around.
Value IntOp(char op, int64_t a, int64_t b) {
  int64_t result = 0;
  const bool overflow = op == '+'   ? __builtin_add_overflow(a, b, &result)
                        : op == '-' ? __builtin_sub_overflow(a, b, &result)
                                    : __builtin_mul_overflow(a, b, &result);
  if (overflow) throw EvalError("integer overflow");
  return Value::Int(result);
}

// Python's float %: the result takes the divisor's sign (zero too).
double FloatMod(double a, double b) {
  double r = std::fmod(a, b);
  if (r == 0.0) return std::copysign(0.0, b);
  if ((r < 0) != (b < 0)) r += b;
  return r;
}

// Python's float floor division: derived from fmod so that 1 // 0.1 is 9.0, as in Python.
double FloatFloorDiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, a / b);
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5) floor_div += 1.0;
  return floor_div;
}

Value Arithmetic(std::string_view op, const Value& left, const Value& right) {
  if (!left.is_number() || !right.is_number()) FailOperands(op, left, right);
  const bool use_float = left.is_float() || right.is_float();
  const int64_t a = left.AsInt();
  const int64_t b = right.AsInt();
  const double x = left.AsDouble();
  const double y = right.AsDouble();
  if (op == "+") return use_float ? Value::Float(x + y) : IntOp('+', a, b);
  if (op == "-") return use_float ? Value::Float(x - y) : IntOp('-', a, b);
  if (op == "*") return use_float ? Value::Float(x * y) : IntOp('*', a, b);
  if (op == "/") {
    if (y == 0.0) throw EvalError("division by zero");
    return Value::Float(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0.0) throw EvalError("integer division or modulo by zero");
    if (use_float) return Value::Float(op == "%" ? FloatMod(x, y) : FloatFloorDiv(x, y));
    if (a == std::numeric_limits<int64_t>::min() && b == -1) throw EvalError("integer overflow");
    int64_t quotient = a / b;
    int64_t remainder = a % b;
    if (remainder != 0 && ((remainder < 0) != (b < 0))) {
      --quotient;
      remainder += b;
    }
    return Value::Int(op == "%" ? remainder : quotient);
  }
  if (op == "**") {
    if (use_float || b < 0) return Value::Float(std::pow(x, y));
    int64_t power = 1;
    for (int64_t i = 0; i < b; ++i) {
      if (__builtin_mul_overflow(power, a, &power)) throw EvalError("integer overflow");
      if (power == 0 || power == 1) break;
    }
    return Value::Int(power);
  }
  FailOperands(op, left, right);
}

// Python's slice.indices(): clamps start and stop for a sequence of length n.
void SliceBounds(int64_t n, const Value* start_value, const Value* stop_value, int64_t step,
                 int64_t* start, int64_t* stop) {
  auto bound = [&](const Value* value, int64_t fallback) {
    if (value == nullptr || value->is_none() || value->is_undefined()) return fallback;
    if (!value->is_int() && !value->is_bool()) {
      throw EvalError("slice indices must be integers or None");
    }
    int64_t index = value->AsInt();
    if (index < 0) index += n;
    const int64_t lower = step < 0 ? -1 : 0;
    const int64_t upper = step < 0 ? n - 1 : n;
    return index < lower ? lower : (index > upper ? upper : index);
  };
  *start = bound(start_value, step < 0 ? n - 1 : 0);
  *stop = bound(stop_value, step < 0 ? -1 : n);
}

std::string RepeatString(const std::string& text, int64_t count) {
  std::string out;
  for (int64_t i = 0; i < count; ++i) out += text;
  return out;
}

}  // namespace

Value ApplyBinary(std::string_view op, const Value& left, const Value& right) {
  if (op == "~") return Value::String(ToStr(left) + ToStr(right));
  // str % x formats str(x) even for an undefined x, as Python tries str.__mod__ first.
  if (op == "%" && left.is_string()) return Value::String(PercentFormat(left.string(), right));
  if (left.is_undefined()) FailUndefined(left);
  if (right.is_undefined()) FailUndefined(right);
  if (op == "+") {
    if (left.is_string()) {
      if (!right.is_string()) {
        throw EvalError(
            fmt::format("can only concatenate str (not \"{}\") to str", TypeName(right)));
      }
      return Value::String(left.string() + right.string());
    }
    if (left.is_list()) {
      if (!right.is_list() || left.is_tuple() != right.is_tuple()) {
        throw EvalError(fmt::format("can only concatenate {} (not \"{}\") to {}", TypeName(left),
                                    TypeName(right), TypeName(left)));
      }
      std::vector<Value> items = left.items();
      items.insert(items.end(), right.items().begin(), right.items().end());
      return Value::List(std::move(items), left.is_tuple());
    }
  }
  if (op == "*") {
    const bool left_sequence = left.is_string() || left.is_list();
    const Value& sequence = left_sequence ? left : right;
    const Value& count = left_sequence ? right : left;
    if ((sequence.is_string() || sequence.is_list()) && (count.is_int() || count.is_bool())) {
      const int64_t times = count.AsInt();
      if (times > 0 && (sequence.is_string() ? sequence.string().size() : sequence.items().size()) *
                               static_cast<uint64_t>(times) >
                           (64u << 20)) {
        throw EvalError("repetition result is too large");
      }
      if (sequence.is_string()) return Value::String(RepeatString(sequence.string(), times));
      std::vector<Value> items;
      for (int64_t i = 0; i < times; ++i) {
        items.insert(items.end(), sequence.items().begin(), sequence.items().end());
      }
      return Value::List(std::move(items), sequence.is_tuple());
    }
  }
  return Arithmetic(op, left, right);
}

Value ApplyUnary(std::string_view op, const Value& operand) {
  if (operand.is_undefined()) FailUndefined(operand);
  if (!operand.is_number()) {
    throw EvalError(fmt::format("bad operand type for unary {}: '{}'", op, TypeName(operand)));
  }
  if (op == "+") return operand.is_float() ? operand : Value::Int(operand.AsInt());
  if (operand.is_float()) return Value::Float(-operand.floating());
  return IntOp('-', 0, operand.AsInt());
}

bool Contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::kUndefined:
      return false;
    case Value::Type::kString:
      if (!item.is_string()) {
        throw EvalError(
            fmt::format("'in <string>' requires string as left operand, not {}", TypeName(item)));
      }
      return container.string().find(item.string()) != std::string::npos;
    case Value::Type::kList:
      for (const Value& element : container.items()) {
        if (Equals(element, item)) return true;
      }
      return false;
    case Value::Type::kDict:
      if ((item.is_list() && !item.is_tuple()) || item.is_dict()) {
        throw EvalError(fmt::format("unhashable type: '{}'", TypeName(item)));
      }
      return item.is_string() && container.dict().Find(item.string()) != nullptr;
    default:
      throw EvalError(fmt::format("argument of type '{}' is not iterable", TypeName(container)));
  }
}

Value GetAttribute(const Value& object, const std::string& name) {
  if (object.is_dict()) {
    if (!object.is_namespace()) {
      if (auto method = FindMethod(object, name)) return *method;
    }
    if (const Value* entry = object.dict().Find(name)) return *entry;
  } else if (auto method = FindMethod(object, name)) {
    return *method;
  }
  return Value::Undefined(fmt::format("'{}' has no attribute '{}'", ObjectTypeRepr(object), name));
}

Value GetItem(const Value& object, const Value& key) {
  if (object.is_dict() && key.is_string()) {
    if (const Value* entry = object.dict().Find(key.string())) return *entry;
  } else if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t index = key.AsInt();
    if (object.is_list()) {
      const auto n = static_cast<int64_t>(object.items().size());
      if (index < 0) index += n;
      if (index >= 0 && index < n) return object.items()[static_cast<size_t>(index)];
    } else {
      const std::u32string code_points = DecodeUtf8(object.string());
      const auto n = static_cast<int64_t>(code_points.size());
      if (index < 0) index += n;
      if (index >= 0 && index < n) {
        return Value::String(
            EncodeUtf8(std::u32string(1, code_points[static_cast<size_t>(index)])));
      }
    }
  }
  if (key.is_string()) return GetAttribute(object, key.string());
  return Value::Undefined(fmt::format("{} has no element {}", ObjectTypeRepr(object), Repr(key)));
}

Value SliceValue(const Value& object, const Value* start_value, const Value* stop_value,
                 const Value* step_value) {
  int64_t step = 1;
  if (step_value != nullptr && !step_value->is_none() && !step_value->is_undefined()) {
    step = ExpectInt(*step_value, "slice step");
    if (step == 0) throw EvalError("slice step cannot be zero");
  }
  auto pick = [&](int64_t n, auto&& emit) {
    int64_t start = 0;
    int64_t stop = 0;
    SliceBounds(n, start_value, stop_value, step, &start, &stop);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) emit(static_cast<size_t>(i));
  };
  if (object.is_list()) {
    std::vector<Value> items;
    pick(static_cast<int64_t>(object.items().size()),
         [&](size_t i) { items.push_back(object.items()[i]); });
    return Value::List(std::move(items), object.is_tuple());
  }
  if (object.is_string()) {
    const std::u32string code_points = DecodeUtf8(object.string());
    std::u32string picked;
    pick(static_cast<int64_t>(code_points.size()),
         [&](size_t i) { picked.push_back(code_points[i]); });
    return Value::String(EncodeUtf8(picked));
  }
  throw EvalError(fmt::format("'{}' object is not subscriptable", TypeName(object)));
}

std::vector<Value> Iterate(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return {};
    case Value::Type::kList:
      return value.items();
    case Value::Type::kDict: {
      std::vector<Value> keys;
      for (const auto& entry : value.dict().items) keys.push_back(Value::String(entry.first));
      return keys;
    }
    case Value::Type::kString: {
      std::vector<Value> chars;
      for (char32_t c : DecodeUtf8(value.string())) {
        chars.push_back(Value::String(EncodeUtf8(std::u32string(1, c))));
      }
      return chars;
    }
    default:
      throw EvalError(fmt::format("'{}' object is not iterable", TypeName(value)));
  }
}

std::string PercentFormat(const std::string& format, const Value& args) {
  std::vector<Value> positional;
  if (args.is_list() && args.is_tuple())
    positional = args.items();
  else if (!args.is_dict())
    positional.push_back(args);
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) throw EvalError("incomplete format");
    if (format[i] == '%') {
      out += '%';
      continue;
    }
    const Value* value = nullptr;
    if (format[i] == '(') {  // %(name)s
      const size_t close = format.find(')', i);
      if (close == std::string::npos || !args.is_dict())
        throw EvalError("format requires a mapping");
      value = args.dict().Find(format.substr(i + 1, close - i - 1));
      if (value == nullptr)
        throw EvalError(fmt::format("KeyError: '{}'", format.substr(i + 1, close - i - 1)));
      i = close + 1;
    }
    std::string spec;
    while (i < format.size() &&
           std::string_view("-+ 0#").find(format[i]) != std::string_view::npos) {
      const char flag = format[i++];
      spec += flag == '-' ? '<' : flag;
    }
    while (i < format.size() && ((format[i] >= '0' && format[i] <= '9') || format[i] == '.'))
      spec += format[i++];
    if (i >= format.size()) throw EvalError("incomplete format");
    const char conversion = format[i];
    if (value == nullptr) {
      if (next >= positional.size()) throw EvalError("not enough arguments for format string");
      value = &positional[next++];
    }
    try {
      switch (conversion) {
        case 's':
          out += fmt::format(fmt::runtime("{:" + spec + "}"), ToStr(*value));
          break;
        case 'r':
          out += fmt::format(fmt::runtime("{:" + spec + "}"), Repr(*value));
          break;
        case 'd':
        case 'i':
        case 'u':
          if (!value->is_number())
            throw EvalError(fmt::format("%{} format: a real number is required, not {}", conversion,
                                        TypeName(*value)));
          out += fmt::format(fmt::runtime("{:" + spec + "d}"), value->AsInt());
          break;
        case 'x':
        case 'X':
        case 'o':
        case 'c':
          out += fmt::format(fmt::runtime("{:" + spec + conversion + "}"),
                             ExpectInt(*value, "%x format"));
          break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
          if (!value->is_number())
            throw EvalError(fmt::format("must be real number, not {}", TypeName(*value)));
          if (spec.find('.') == std::string::npos && conversion != 'g' && conversion != 'G')
            spec += ".6";
          out += fmt::format(fmt::runtime("{:" + spec + conversion + "}"), value->AsDouble());
          break;
        default:
          throw EvalError(fmt::format("unsupported format character '{}'", conversion));
      }
    } catch (const fmt::format_error& error) {
      throw EvalError(fmt::format("bad format '%{}{}': {}", spec, conversion, error.what()));
    }
  }
  // Python takes anything with item access but not a tuple or str (dict, list, Undefined) for a
  // mapping here, and does not complain about unused arguments.
  const bool mapping_like =
      args.is_dict() || args.is_undefined() || (args.is_list() && !args.is_tuple());
  if (next < positional.size() && !mapping_like) {
    throw EvalError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace moefit::jinja
