// SPDX-License-Identifier: MIT
// UTF-8 decoding and Python-style character classes and case mapping (tables from utf8proc).
#include "chat/unicode_text.h"

#include <utf8proc.h>

namespace moefit::jinja {
namespace {

utf8proc_category_t Category(char32_t code_point) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(code_point));
}

bool IsCased(char32_t code_point) {
  const utf8proc_category_t category = Category(code_point);
  return category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LL ||
         category == UTF8PROC_CATEGORY_LT;
}

char32_t ToUpper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t ToLower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t ToTitle(char32_t c) {
  if (c < 0x80) return ToUpper(c);
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

template <typename MapFn>
std::string MapCodePoints(std::string_view text, MapFn map) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : DecodeUtf8(text)) AppendUtf8(out, map(c));
  return out;
}

}  // namespace

std::u32string DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t pos = 0;
  const auto size = static_cast<utf8proc_ssize_t>(text.size());
  while (pos < size) {
    if (bytes[pos] < 0x80) {
      out.push_back(bytes[pos++]);
      continue;
    }
    utf8proc_int32_t code_point = 0;
    const utf8proc_ssize_t length = utf8proc_iterate(bytes + pos, size - pos, &code_point);
    if (length <= 0) {
      out.push_back(0xFFFD);
      ++pos;
    } else {
      out.push_back(static_cast<char32_t>(code_point));
      pos += length;
    }
  }
  return out;
}

void AppendUtf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
    return;
  }
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t length =
      utf8proc_encode_char(static_cast<utf8proc_int32_t>(code_point), buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

std::string EncodeUtf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) AppendUtf8(out, c);
  return out;
}

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool IsPythonSpace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool IsPrintable(char32_t c) {
  if (c < 0x80) return c >= 0x20 && c < 0x7F;
  switch (Category(c)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return false;
    default:
      return true;
  }
}

std::string StripText(std::string_view text, const std::string* chars, bool left, bool right) {
  std::u32string strip_set;
  if (chars != nullptr) strip_set = DecodeUtf8(*chars);
  auto strips = [&](std::string_view code_point) {
    const char32_t c = static_cast<unsigned char>(code_point[0]) < 0x80
                           ? static_cast<char32_t>(code_point[0])
                           : DecodeUtf8(code_point)[0];
    return chars == nullptr ? IsPythonSpace(c) : strip_set.find(c) != std::u32string::npos;
  };
  // Works on UTF-8 bytes, decoding only the code points at the two ends.
  auto is_continuation = [&](size_t i) {
    return (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  size_t begin = 0;
  size_t end = text.size();
  while (left && begin < end) {
    size_t next = begin + 1;
    while (next < end && is_continuation(next)) ++next;
    if (!strips(text.substr(begin, next - begin))) break;
    begin = next;
  }
  while (right && end > begin) {
    size_t start = end - 1;
    while (start > begin && is_continuation(start)) --start;
    if (!strips(text.substr(start, end - start))) break;
    end = start;
  }
  return std::string(text.substr(begin, end - begin));
}

std::string UpperText(std::string_view text) { return MapCodePoints(text, ToUpper); }
std::string LowerText(std::string_view text) { return MapCodePoints(text, ToLower); }

std::string CapitalizeText(std::string_view text) {
  std::string out;
  bool first = true;
  for (char32_t c : DecodeUtf8(text)) {
    AppendUtf8(out, first ? ToTitle(c) : ToLower(c));
    first = false;
  }
  return out;
}

std::string TitleText(std::string_view text) {
  std::string out;
  bool previous_cased = false;
  for (char32_t c : DecodeUtf8(text)) {
    AppendUtf8(out, previous_cased ? ToLower(c) : ToTitle(c));
    previous_cased = IsCased(c);
  }
  return out;
}

bool TextIs(std::string_view text, CharClass char_class) {
  const std::u32string code_points = DecodeUtf8(text);
  if (code_points.empty()) return false;
  bool any_cased = false;
  for (char32_t c : code_points) {
    const utf8proc_category_t category = Category(c);
    const bool letter = category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
    const bool number = category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO;
    switch (char_class) {
      case CharClass::kDigit:
        if (category != UTF8PROC_CATEGORY_ND) return false;
        break;
      case CharClass::kAlpha:
        if (!letter) return false;
        break;
      case CharClass::kAlnum:
        if (!letter && !number) return false;
        break;
      case CharClass::kSpace:
        if (!IsPythonSpace(c)) return false;
        break;
      case CharClass::kUpper:
      case CharClass::kLower:
        if (category == UTF8PROC_CATEGORY_LT) return false;
        if (category ==
            (char_class == CharClass::kUpper ? UTF8PROC_CATEGORY_LL : UTF8PROC_CATEGORY_LU)) {
          return false;
        }
        any_cased = any_cased || IsCased(c);
        break;
    }
  }
  return (char_class == CharClass::kUpper || char_class == CharClass::kLower) ? any_cased : true;
}

}  // namespace moefit::jinja
