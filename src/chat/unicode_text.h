// SPDX-License-Identifier: MIT
// UTF-8 helpers giving templates Python's view of strings: code points, whitespace, case.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace moefit::jinja {

// Decodes UTF-8 into code points; an invalid byte becomes U+FFFD.
std::u32string DecodeUtf8(std::string_view text);
std::string EncodeUtf8(std::u32string_view code_points);
void AppendUtf8(std::string& out, char32_t code_point);

// Number of code points (Python's len()).
size_t CodePointCount(std::string_view text);
bool IsAscii(std::string_view text);

// Python's str.isspace() for one code point.
bool IsPythonSpace(char32_t code_point);
// Python's str.isprintable() for one code point (decides escaping in repr()).
bool IsPrintable(char32_t code_point);

// Python's str.strip() family: chars == nullptr strips whitespace, else any of chars.
std::string StripText(std::string_view text, const std::string* chars, bool left, bool right);

// Python's str.upper(), lower(), capitalize(), title() and swapcase() (simple case mappings).
std::string UpperText(std::string_view text);
std::string LowerText(std::string_view text);
std::string CapitalizeText(std::string_view text);
std::string TitleText(std::string_view text);

// Python's str.isdigit(), isalpha(), isalnum(), isupper(), islower().
enum class CharClass { kDigit, kAlpha, kAlnum, kUpper, kLower, kSpace };
bool TextIs(std::string_view text, CharClass char_class);

}  // namespace moefit::jinja
