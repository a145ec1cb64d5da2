// SPDX-License-Identifier: MIT
// Conversions and printing of GGUF metadata values.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace moefit {
namespace {

bool IsSigned(GgufType type) {
  return type == GgufType::kInt8 || type == GgufType::kInt16 || type == GgufType::kInt32 || type == GgufType::kInt64;
}
bool IsUnsigned(GgufType type) {
  return type == GgufType::kUint8 || type == GgufType::kUint16 || type == GgufType::kUint32 ||
         type == GgufType::kUint64 || type == GgufType::kBool;
}
bool IsFloat(GgufType type) { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }

// Scalar i of a raw array, widened into a GgufValue.
GgufValue ElementAt(const GgufValue& array, uint64_t i) {
  MOEFIT_CHECK(array.type == GgufType::kArray && i < array.count);
  GgufValue element;
  element.type = array.element_type;
  const uint8_t* at = array.raw_elements.data();
  auto load = [&](auto zero) {
    decltype(zero) value;
    std::memcpy(&value, at + i * sizeof value, sizeof value);
    return value;
  };
  switch (array.element_type) {
    case GgufType::kUint8: element.uint_value = load(uint8_t{}); break;
    case GgufType::kBool: element.uint_value = load(uint8_t{}); break;
    case GgufType::kInt8: element.int_value = load(int8_t{}); break;
    case GgufType::kUint16: element.uint_value = load(uint16_t{}); break;
    case GgufType::kInt16: element.int_value = load(int16_t{}); break;
    case GgufType::kUint32: element.uint_value = load(uint32_t{}); break;
    case GgufType::kInt32: element.int_value = load(int32_t{}); break;
    case GgufType::kUint64: element.uint_value = load(uint64_t{}); break;
    case GgufType::kInt64: element.int_value = load(int64_t{}); break;
    case GgufType::kFloat32: element.float_value = load(float{}); break;
    case GgufType::kFloat64: element.float_value = load(double{}); break;
    default: Fail("array of {} has no numeric elements", GgufTypeName(array.element_type));
  }
  return element;
}

}  // namespace

bool GgufValue::IsInteger() const { return (IsSigned(type) || IsUnsigned(type)) && type != GgufType::kBool; }
bool GgufValue::IsNumber() const { return IsInteger() || IsFloat(type); }

int64_t GgufValue::AsInt() const {
  if (IsSigned(type)) return int_value;
  if (IsUnsigned(type)) {
    if (uint_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      Fail("value {} does not fit a signed 64-bit integer", uint_value);
    return static_cast<int64_t>(uint_value);
  }
  Fail("a {} is not an integer", GgufTypeName(type));
}

uint64_t GgufValue::AsUint() const {
  if (IsUnsigned(type)) return uint_value;
  if (IsSigned(type)) {
    if (int_value < 0) Fail("value {} is negative", int_value);
    return static_cast<uint64_t>(int_value);
  }
  Fail("a {} is not an integer", GgufTypeName(type));
}

double GgufValue::AsDouble() const {
  if (IsFloat(type)) return float_value;
  if (IsSigned(type)) return static_cast<double>(int_value);
  if (IsUnsigned(type)) return static_cast<double>(uint_value);
  Fail("a {} is not a number", GgufTypeName(type));
}

int64_t GgufValue::IntAt(uint64_t i) const { return ElementAt(*this, i).AsInt(); }
double GgufValue::DoubleAt(uint64_t i) const { return ElementAt(*this, i).AsDouble(); }

std::string GgufValue::ToString(size_t max_elements) const {
  switch (type) {
    case GgufType::kString: {
      std::string text(string_value.substr(0, 200));
      for (char& c : text)
        if (c == '\n') c = ' ';
      return string_value.size() > 200 ? fmt::format("\"{}...\" ({} bytes)", text, string_value.size())
                                       : fmt::format("\"{}\"", text);
    }
    case GgufType::kBool: return uint_value ? "true" : "false";
    case GgufType::kFloat32:
    case GgufType::kFloat64: return fmt::format("{}", float_value);
    case GgufType::kArray: {
      std::string text = "[";
      const uint64_t shown = std::min<uint64_t>(count, max_elements);
      for (uint64_t i = 0; i < shown; ++i) {
        if (i) text += ", ";
        if (element_type == GgufType::kString) {
          GgufValue element;
          element.type = GgufType::kString;
          element.string_value = strings[i];
          text += element.ToString();
        } else if (element_type == GgufType::kArray) {
          text += arrays[i].ToString(max_elements);
        } else {
          text += ElementAt(*this, i).ToString();
        }
      }
      if (count > shown) text += fmt::format(", ... ({} {} values)", count, GgufTypeName(element_type));
      return text + "]";
    }
    default: return IsSigned(type) ? fmt::format("{}", int_value) : fmt::format("{}", uint_value);
  }
}

}  // namespace moefit
