// SPDX-License-Identifier: MIT
// The token cursor and the expression half of the template parser, following Jinja2's grammar
// and operator precedence; jinja_parser.cpp adds the statements on top.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace moefit::jinja {

class ExpressionParser {
 public:
  explicit ExpressionParser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

 protected:
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(index_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& token = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return token;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kName && Peek(ahead).text == name;
  }
  bool SkipOp(std::string_view op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool SkipName(std::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }

  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::kText:
        return "template data";
      case TokenKind::kVariableBegin:
        return "'{{'";
      case TokenKind::kVariableEnd:
        return "end of print statement";
      case TokenKind::kBlockBegin:
        return "'{%'";
      case TokenKind::kBlockEnd:
        return "end of statement block";
      case TokenKind::kName:
      case TokenKind::kOperator:
        return "'" + token.text + "'";
      case TokenKind::kString:
        return "string";
      case TokenKind::kInteger:
      case TokenKind::kFloat:
        return "number";
      case TokenKind::kEnd:
        return "end of template";
    }
    return "token";
  }

  [[noreturn]] void Fail(const Token& token, const std::string& message) const {
    throw ChatTemplateError(token.pos, "syntax error: " + message, false);
  }
  [[noreturn]] void FailExpected(std::string_view what) const {
    Fail(Peek(), fmt::format("expected {}, got {}", what, Describe(Peek())));
  }

  void ExpectOp(std::string_view op) {
    if (!SkipOp(op)) FailExpected(fmt::format("'{}'", op));
  }
  std::string ExpectName() {
    if (Peek().kind != TokenKind::kName) FailExpected("a name");
    return Next().text;
  }
  void ExpectBlockEnd() {
    if (Peek().kind != TokenKind::kBlockEnd) FailExpected("end of statement block");
    Next();
  }

  // A single expression, or a tuple when commas follow: `a`, `a, b`, `(a, b)`, `()`; stops
  // before the name end_name when given (`for x in a, b recursive`).
  ExprPtr ParseTuple(bool with_condexpr, bool explicit_parens, std::string_view end_name = {});
  // The full expression (with_condexpr: including `a if c else b`).
  ExprPtr ParseExpression(bool with_condexpr);
  // `| f | g(x)`, applied to node (null: the body of a filter block); with start_inline the
  // first filter has no leading "|" ({% filter upper %}).
  ExprPtr ParseFilters(ExprPtr node, bool start_inline);
  // "(" positional..., name=value... ")" appended to node's args and kwargs.
  void ParseArguments(Expr& node);

  // Bounds the parser's recursion, so that a pathological template (thousands of nested
  // brackets or blocks) fails with an error instead of exhausting the stack.
  class NestingGuard {
   public:
    explicit NestingGuard(ExpressionParser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxNesting) {
        --parser_.depth_;
        parser_.Fail(parser_.Peek(), "template nested too deeply");
      }
    }
    ~NestingGuard() { --parser_.depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    ExpressionParser& parser_;
  };

 private:
  ExprPtr ParseCondition();
  ExprPtr ParseOr();
  ExprPtr ParseAnd();
  ExprPtr ParseNot();
  ExprPtr ParseCompare();
  ExprPtr ParseBinaryLevel(int level);
  ExprPtr ParseUnary(bool with_filter);
  ExprPtr ParsePrimary();
  ExprPtr ParseList();
  ExprPtr ParseDict();
  ExprPtr ParsePostfix(ExprPtr node);
  ExprPtr ParseSubscript(ExprPtr node);
  ExprPtr ParseCall(ExprPtr callee);
  std::string ParseDottedName();
  ExprPtr ParseFilterExpression(ExprPtr node);
  ExprPtr ParseTest(ExprPtr node);

  static constexpr int kMaxNesting = 200;

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
};

}  // namespace moefit::jinja
