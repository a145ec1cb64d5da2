// SPDX-License-Identifier: MIT
// The Jinja tokenizer: text and tags, whitespace control, literals and operators.
#include "chat/jinja_lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "chat/unicode_text.h"

namespace moefit::jinja {
namespace {

bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

class Lexer {
 public:
  Lexer(std::string_view source, const LexerOptions& options) : options_(options) {
    // Newlines become "\n" (as Jinja2 normalises them) and one trailing newline is dropped.
    source_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        source_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        source_ += source[i];
      }
    }
    if (!source_.empty() && source_.back() == '\n') source_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < source_.size(); ++i) {
      if (source_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> Run() {
    while (pos_ < source_.size()) {
      const size_t open = FindTagOpen(pos_);
      if (open == std::string::npos) {
        EmitText(pos_, source_.substr(pos_));
        break;
      }
      const char kind = source_[open + 1];
      const char sign = SignAt(open + 2);
      const size_t after_open = open + 2 + (sign != 0 ? 1 : 0);
      size_t raw_end = 0;
      const bool is_raw = kind == '%' && MatchRawBegin(after_open, &raw_end);
      EmitText(pos_, StripBeforeTag(source_.substr(pos_, open - pos_), sign, kind != '{'));
      line_starting_ = false;
      if (kind == '#') {
        LexComment(open, after_open);
      } else if (is_raw) {
        LexRaw(raw_end);
      } else {
        LexTag(open, after_open, kind == '{');
      }
    }
    Token end;
    end.kind = TokenKind::kEnd;
    end.pos = Position(source_.size());
    tokens_.push_back(end);
    return std::move(tokens_);
  }

 private:
  SourcePos Position(size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line_start = *(it - 1);
    SourcePos pos;
    pos.line = static_cast<int>(it - line_starts_.begin());
    pos.column = static_cast<int>(CodePointCount(
                     std::string_view(source_).substr(line_start, offset - line_start))) +
                 1;
    return pos;
  }

  [[noreturn]] void Fail(size_t offset, const std::string& message) const {
    throw ChatTemplateError(Position(offset), "syntax error: " + message, false);
  }

  size_t FindTagOpen(size_t from) const {
    for (size_t i = source_.find('{', from); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size()) {
        const char next = source_[i + 1];
        if (next == '{' || next == '%' || next == '#') return i;
      }
    }
    return std::string::npos;
  }

  char SignAt(size_t offset) const {
    if (offset < source_.size() && (source_[offset] == '-' || source_[offset] == '+')) {
      return source_[offset];
    }
    return 0;
  }

  bool StartsWith(size_t offset, std::string_view text) const {
    return std::string_view(source_).substr(offset, text.size()) == text;
  }

  // Python's \s* over UTF-8: returns the offset after the whitespace run.
  size_t SkipPythonSpaces(size_t offset) const {
    while (offset < source_.size()) {
      if (IsAsciiSpace(source_[offset]) || (source_[offset] >= 0x1C && source_[offset] <= 0x1F)) {
        ++offset;
        continue;
      }
      if (static_cast<unsigned char>(source_[offset]) < 0x80) break;
      size_t length = 1;
      while (offset + length < source_.size() &&
             (static_cast<unsigned char>(source_[offset + length]) & 0xC0) == 0x80) {
        ++length;
      }
      const std::u32string decoded = DecodeUtf8(std::string_view(source_).substr(offset, length));
      if (decoded.size() != 1 || !IsPythonSpace(decoded[0])) break;
      offset += length;
    }
    return offset;
  }

  // The text before a tag, after "-" (strip all whitespace) or lstrip_blocks (strip the
  // spaces before a block or comment tag that stands alone at the start of its line).
  std::string StripBeforeTag(std::string text, char sign, bool block_or_comment) const {
    if (sign == '-') return StripText(text, nullptr, false, true);
    if (sign == '+' || !options_.lstrip_blocks || !block_or_comment) return text;
    const size_t line_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if ((line_pos > 0 || line_starting_) && line_pos < text.size()) {
      const std::u32string tail = DecodeUtf8(std::string_view(text).substr(line_pos));
      if (std::all_of(tail.begin(), tail.end(), IsPythonSpace)) text.resize(line_pos);
    }
    return text;
  }

  // After a closing "%}" or "#}": "-" strips all whitespace, trim_blocks one newline.
  size_t AfterTagEnd(size_t end, char sign) {
    if (sign == '-') {
      end = SkipPythonSpaces(end);
    } else if (sign != '+' && options_.trim_blocks && end < source_.size() &&
               source_[end] == '\n') {
      ++end;
    }
    line_starting_ = end > 0 && source_[end - 1] == '\n';
    return end;
  }

  void EmitText(size_t offset, std::string text) {
    if (text.empty()) return;
    Token token;
    token.kind = TokenKind::kText;
    token.text = std::move(text);
    token.pos = Position(offset);
    tokens_.push_back(std::move(token));
  }

  void Emit(TokenKind kind, size_t offset, std::string text = {}) {
    Token token;
    token.kind = kind;
    token.text = std::move(text);
    token.pos = Position(offset);
    tokens_.push_back(std::move(token));
  }

  void LexComment(size_t open, size_t body) {
    const size_t close = source_.find("#}", body);
    if (close == std::string::npos) Fail(open, "missing end of comment tag");
    const char sign = close > body ? SignAt(close - 1) : 0;
    pos_ = AfterTagEnd(close + 2, sign);
  }

  // "{% raw %}" at offset (after "{%" and its sign); sets *end after the tag.
  bool MatchRawBegin(size_t offset, size_t* end) const {
    offset = SkipPythonSpaces(offset);
    if (!StartsWith(offset, "raw")) return false;
    offset = SkipPythonSpaces(offset + 3);
    if (StartsWith(offset, "-%}")) {
      *end = SkipPythonSpaces(offset + 3);
      return true;
    }
    if (StartsWith(offset, "%}")) {
      *end = offset + 2;
      return true;
    }
    return false;
  }

  void LexRaw(size_t content) {
    line_starting_ = content > 0 && source_[content - 1] == '\n';
    for (size_t open = source_.find("{%", content); open != std::string::npos;
         open = source_.find("{%", open + 1)) {
      const char sign = SignAt(open + 2);
      size_t offset = SkipPythonSpaces(open + 2 + (sign != 0 ? 1 : 0));
      if (!StartsWith(offset, "endraw")) continue;
      offset = SkipPythonSpaces(offset + 6);
      char end_sign = 0;
      if (StartsWith(offset, "+%}") || StartsWith(offset, "-%}")) {
        end_sign = source_[offset++];
      } else if (!StartsWith(offset, "%}")) {
        continue;
      }
      EmitText(content, StripBeforeTag(source_.substr(content, open - content), sign, true));
      pos_ = AfterTagEnd(offset + 2, end_sign);
      return;
    }
    Fail(content, "missing end of raw directive");
  }

  void LexTag(size_t open, size_t offset, bool variable) {
    Emit(variable ? TokenKind::kVariableBegin : TokenKind::kBlockBegin, open);
    std::vector<char> brackets;
    while (true) {
      while (offset < source_.size() && IsAsciiSpace(source_[offset])) ++offset;
      if (offset >= source_.size()) {
        Fail(open, variable ? "unexpected end of template, expected '}}'"
                            : "unexpected end of template, expected '%}'");
      }
      if (brackets.empty()) {
        if (variable && (StartsWith(offset, "}}") || StartsWith(offset, "-}}"))) {
          const bool strip = source_[offset] == '-';
          Emit(TokenKind::kVariableEnd, offset);
          const size_t end = offset + (strip ? 3 : 2);
          pos_ = strip ? SkipPythonSpaces(end) : end;
          line_starting_ = source_[pos_ - 1] == '\n';
          return;
        }
        if (!variable &&
            (StartsWith(offset, "%}") || StartsWith(offset, "-%}") || StartsWith(offset, "+%}"))) {
          const char sign = source_[offset] == '%' ? 0 : source_[offset];
          Emit(TokenKind::kBlockEnd, offset);
          pos_ = AfterTagEnd(offset + (sign != 0 ? 3 : 2), sign);
          return;
        }
      }
      offset = LexExpressionToken(offset, brackets);
    }
  }

  size_t LexExpressionToken(size_t offset, std::vector<char>& brackets) {
    const char c = source_[offset];
    if (IsDigit(c)) return LexNumber(offset);
    if (IsNameStart(c)) {
      size_t end = offset;
      while (end < source_.size() && IsNameChar(source_[end])) ++end;
      Emit(TokenKind::kName, offset, source_.substr(offset, end - offset));
      return end;
    }
    if (c == '\'' || c == '"') return LexString(offset);
    static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwoChar) {
      if (StartsWith(offset, op)) {
        Emit(TokenKind::kOperator, offset, std::string(op));
        return offset + 2;
      }
    }
    if (std::string_view("+-/*%~[](){}<>=.:|,;").find(c) == std::string_view::npos) {
      Fail(offset, fmt::format("unexpected character '{}'", c));
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) Fail(offset, fmt::format("unexpected '{}'", c));
      if (brackets.back() != c) {
        Fail(offset, fmt::format("unexpected '{}', expected '{}'", c, brackets.back()));
      }
      brackets.pop_back();
    }
    Emit(TokenKind::kOperator, offset, std::string(1, c));
    return offset + 1;
  }

  // Digits with optional "_" separators, starting at offset; returns the end.
  size_t SkipDigits(size_t offset, bool (*is_digit)(char)) const {
    while (offset < source_.size() &&
           (is_digit(source_[offset]) || (source_[offset] == '_' && offset + 1 < source_.size() &&
                                          is_digit(source_[offset + 1])))) {
      ++offset;
    }
    return offset;
  }

  size_t LexNumber(size_t offset) {
    static constexpr auto kHex = [](char c) {
      return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    static constexpr auto kOctal = [](char c) { return c >= '0' && c <= '7'; };
    static constexpr auto kBinary = [](char c) { return c == '0' || c == '1'; };
    static constexpr auto kDecimal = [](char c) { return IsDigit(c); };
    std::string digits;
    int base = 10;
    size_t end = offset;
    const char prefix =
        offset + 1 < source_.size() ? static_cast<char>(source_[offset + 1] | 0x20) : 0;
    const bool after_dot = offset > 0 && source_[offset - 1] == '.';
    bool is_float = false;
    if (source_[offset] == '0' && (prefix == 'x' || prefix == 'o' || prefix == 'b')) {
      base = prefix == 'x' ? 16 : (prefix == 'o' ? 8 : 2);
      end = SkipDigits(offset + 2, base == 16 ? +kHex : (base == 8 ? +kOctal : +kBinary));
      digits = source_.substr(offset + 2, end - offset - 2);
    } else {
      end = SkipDigits(offset, +kDecimal);
      if (!after_dot && end + 1 < source_.size() && source_[end] == '.' &&
          IsDigit(source_[end + 1])) {
        end = SkipDigits(end + 1, +kDecimal);
        is_float = true;
      }
      if (!after_dot && end < source_.size() && (source_[end] | 0x20) == 'e') {
        size_t exponent = end + 1;
        if (exponent < source_.size() && (source_[exponent] == '+' || source_[exponent] == '-')) {
          ++exponent;
        }
        if (exponent < source_.size() && IsDigit(source_[exponent])) {
          end = SkipDigits(exponent, +kDecimal);
          is_float = true;
        }
      }
      digits = source_.substr(offset, end - offset);
    }
    digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
    Token token;
    token.pos = Position(offset);
    if (is_float) {
      token.kind = TokenKind::kFloat;
      token.floating = std::strtod(digits.c_str(), nullptr);
    } else {
      token.kind = TokenKind::kInteger;
      errno = 0;
      token.integer = static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, base));
      if (errno == ERANGE || digits.empty()) Fail(offset, "integer literal out of range");
    }
    tokens_.push_back(std::move(token));
    return end;
  }

  // A quoted string with Python's escapes (\n, \t, \xHH, \uHHHH, \UHHHHHHHH, octal, ...).
  size_t LexString(size_t offset) {
    const char quote = source_[offset];
    std::string value;
    size_t i = offset + 1;
    auto hex_escape = [&](size_t digits) {  // i is at the 'x', 'u' or 'U'
      const std::string hex = source_.substr(i + 1, digits);
      const bool valid = hex.size() == digits && std::all_of(hex.begin(), hex.end(), [](char c) {
                           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                         });
      if (!valid) Fail(i - 1, "truncated \\x, \\u or \\U escape");
      AppendUtf8(value, static_cast<char32_t>(std::strtoul(hex.c_str(), nullptr, 16)));
      i += digits + 1;
    };
    while (true) {
      if (i >= source_.size()) Fail(offset, "unterminated string literal");
      const char c = source_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (++i >= source_.size()) Fail(offset, "unterminated string literal");
      const char e = source_[i];
      switch (e) {
        case '\n':
          ++i;
          break;
        case '\\':
        case '\'':
        case '"':
          value += e;
          ++i;
          break;
        case 'a':
          value += '\a';
          ++i;
          break;
        case 'b':
          value += '\b';
          ++i;
          break;
        case 'f':
          value += '\f';
          ++i;
          break;
        case 'n':
          value += '\n';
          ++i;
          break;
        case 'r':
          value += '\r';
          ++i;
          break;
        case 't':
          value += '\t';
          ++i;
          break;
        case 'v':
          value += '\v';
          ++i;
          break;
        case 'x':
          hex_escape(2);
          break;
        case 'u':
          hex_escape(4);
          break;
        case 'U':
          hex_escape(8);
          break;
        default:
          if (e >= '0' && e <= '7') {
            char32_t code = 0;
            for (int n = 0; n < 3 && i < source_.size() && source_[i] >= '0' && source_[i] <= '7';
                 ++n) {
              code = code * 8 + static_cast<char32_t>(source_[i++] - '0');
            }
            AppendUtf8(value, code);
          } else {
            value += '\\';  // unknown escapes stay as written, as in Python
          }
      }
    }
    Emit(TokenKind::kString, offset, std::move(value));
    return i + 1;
  }

  std::string source_;
  LexerOptions options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;  // the last thing consumed ended a line (for lstrip_blocks)
};

}  // namespace

std::vector<Token> Tokenize(std::string_view source, const LexerOptions& options) {
  return Lexer(source, options).Run();
}

}  // namespace moefit::jinja
