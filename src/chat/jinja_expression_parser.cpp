// SPDX-License-Identifier: MIT
// Expressions, from the ternary down to primaries: filters bind tighter than arithmetic
// (`messages|length - 1` is `(messages|length) - 1`), as in Jinja2.
#include "chat/jinja_expression_parser.h"

#include <fmt/format.h>

#include <algorithm>

namespace moefit::jinja {
namespace {

ExprPtr MakeExpr(ExprKind kind, SourcePos pos, std::string name = {}) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->pos = pos;
  expr->name = std::move(name);
  return expr;
}

ExprPtr MakeLiteral(SourcePos pos, Value value) {
  ExprPtr expr = MakeExpr(ExprKind::kLiteral, pos);
  expr->literal = std::move(value);
  return expr;
}

ExprPtr MakeNode(ExprKind kind, SourcePos pos, std::string name, ExprPtr first,
                 ExprPtr second = nullptr) {
  ExprPtr expr = MakeExpr(kind, pos, std::move(name));
  expr->args.push_back(std::move(first));
  if (second) expr->args.push_back(std::move(second));
  return expr;
}

}  // namespace

// A single expression, or a tuple when commas follow: `a`, `a, b`, `(a, b)`, `()`.
ExprPtr ExpressionParser::ParseTuple(bool with_condexpr, bool explicit_parens,
                                     std::string_view end_name) {
  const SourcePos pos = Peek().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) ExpectOp(",");
    const TokenKind kind = Peek().kind;
    if (kind == TokenKind::kVariableEnd || kind == TokenKind::kBlockEnd || IsOp(")") ||
        (!end_name.empty() && IsName(end_name))) {
      break;
    }
    items.push_back(ParseExpression(with_condexpr));
    if (!IsOp(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) FailExpected("an expression");
  }
  ExprPtr tuple = MakeExpr(ExprKind::kTuple, pos);
  tuple->args = std::move(items);
  return tuple;
}

ExprPtr ExpressionParser::ParseExpression(bool with_condexpr) {
  return with_condexpr ? ParseCondition() : ParseOr();
}

ExprPtr ExpressionParser::ParseCondition() {
  ExprPtr expr = ParseOr();
  while (IsName("if")) {
    const SourcePos pos = Next().pos;
    ExprPtr condition = ParseOr();
    ExprPtr otherwise = SkipName("else") ? ParseCondition() : nullptr;
    ExprPtr node = MakeNode(ExprKind::kCondition, pos, "", std::move(expr), std::move(condition));
    node->args.push_back(std::move(otherwise));
    expr = std::move(node);
  }
  return expr;
}

ExprPtr ExpressionParser::ParseOr() {
  ExprPtr left = ParseAnd();
  while (IsName("or")) {
    const SourcePos pos = Next().pos;
    left = MakeNode(ExprKind::kBinary, pos, "or", std::move(left), ParseAnd());
  }
  return left;
}

ExprPtr ExpressionParser::ParseAnd() {
  ExprPtr left = ParseNot();
  while (IsName("and")) {
    const SourcePos pos = Next().pos;
    left = MakeNode(ExprKind::kBinary, pos, "and", std::move(left), ParseNot());
  }
  return left;
}

ExprPtr ExpressionParser::ParseNot() {
  const NestingGuard guard(*this);
  if (IsName("not")) {
    const SourcePos pos = Next().pos;
    return MakeNode(ExprKind::kUnary, pos, "not", ParseNot());
  }
  return ParseCompare();
}

ExprPtr ExpressionParser::ParseCompare() {
  const SourcePos pos = Peek().pos;
  ExprPtr first = ParseBinaryLevel(0);
  std::vector<std::string> ops;
  std::vector<ExprPtr> operands;
  while (true) {
    const Token& token = Peek();
    std::string op;
    if (token.kind == TokenKind::kOperator &&
        (token.text == "==" || token.text == "!=" || token.text == "<" || token.text == "<=" ||
         token.text == ">" || token.text == ">=")) {
      op = Next().text;
    } else if (SkipName("in")) {
      op = "in";
    } else if (IsName("not") && IsName("in", 1)) {
      Next();
      Next();
      op = "notin";
    } else {
      break;
    }
    ops.push_back(op);
    operands.push_back(ParseBinaryLevel(0));
  }
  if (ops.empty()) return first;
  ExprPtr node = MakeExpr(ExprKind::kCompare, pos);
  node->args.push_back(std::move(first));
  for (auto& operand : operands) node->args.push_back(std::move(operand));
  node->ops = std::move(ops);
  return node;
}

// Left-associative binary levels, loosest first: + -, then ~, then * / // %, then **.
ExprPtr ExpressionParser::ParseBinaryLevel(int level) {
  static const std::vector<std::vector<std::string_view>> kLevels = {
      {"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
  if (level == static_cast<int>(kLevels.size())) return ParseUnary(true);
  ExprPtr left = ParseBinaryLevel(level + 1);
  while (true) {
    const auto& ops = kLevels[static_cast<size_t>(level)];
    const auto it =
        std::find_if(ops.begin(), ops.end(), [&](std::string_view op) { return IsOp(op); });
    if (it == ops.end()) return left;
    const Token& op = Next();
    left =
        MakeNode(ExprKind::kBinary, op.pos, op.text, std::move(left), ParseBinaryLevel(level + 1));
  }
}

ExprPtr ExpressionParser::ParseUnary(bool with_filter) {
  const NestingGuard guard(*this);
  ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    const Token& op = Next();
    node = MakeNode(ExprKind::kUnary, op.pos, op.text, ParseUnary(false));
  } else {
    node = ParsePrimary();
  }
  node = ParsePostfix(std::move(node));
  if (with_filter) node = ParseFilterExpression(std::move(node));
  return node;
}

ExprPtr ExpressionParser::ParsePrimary() {
  const Token& token = Peek();
  switch (token.kind) {
    case TokenKind::kName: {
      Next();
      const std::string& name = token.text;
      if (name == "true" || name == "True") return MakeLiteral(token.pos, Value::Bool(true));
      if (name == "false" || name == "False") return MakeLiteral(token.pos, Value::Bool(false));
      if (name == "none" || name == "None") return MakeLiteral(token.pos, Value::None());
      return MakeExpr(ExprKind::kName, token.pos, name);
    }
    case TokenKind::kString: {
      std::string text = Next().text;
      while (Peek().kind == TokenKind::kString) text += Next().text;
      return MakeLiteral(token.pos, Value::String(std::move(text)));
    }
    case TokenKind::kInteger:
      Next();
      return MakeLiteral(token.pos, Value::Int(token.integer));
    case TokenKind::kFloat:
      Next();
      return MakeLiteral(token.pos, Value::Float(token.floating));
    case TokenKind::kOperator:
      if (token.text == "(") {
        Next();
        ExprPtr expr = ParseTuple(true, true);
        ExpectOp(")");
        return expr;
      }
      if (token.text == "[") return ParseList();
      if (token.text == "{") return ParseDict();
      break;
    default:
      break;
  }
  Fail(token, "unexpected " + Describe(token));
}

ExprPtr ExpressionParser::ParseList() {
  ExprPtr list = MakeExpr(ExprKind::kList, Next().pos);
  while (!IsOp("]")) {
    if (!list->args.empty()) ExpectOp(",");
    if (IsOp("]")) break;
    list->args.push_back(ParseExpression(true));
  }
  ExpectOp("]");
  return list;
}

ExprPtr ExpressionParser::ParseDict() {
  ExprPtr dict = MakeExpr(ExprKind::kDict, Next().pos);
  while (!IsOp("}")) {
    if (!dict->args.empty()) ExpectOp(",");
    if (IsOp("}")) break;
    dict->args.push_back(ParseExpression(true));
    ExpectOp(":");
    dict->args.push_back(ParseExpression(true));
  }
  ExpectOp("}");
  return dict;
}

ExprPtr ExpressionParser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (IsOp(".")) {
      const SourcePos pos = Next().pos;
      const Token& token = Peek();
      if (token.kind == TokenKind::kName) {
        node = MakeNode(ExprKind::kGetAttr, pos, Next().text, std::move(node));
      } else if (token.kind == TokenKind::kInteger) {
        Next();
        node = MakeNode(ExprKind::kGetItem, pos, "", std::move(node),
                        MakeLiteral(token.pos, Value::Int(token.integer)));
      } else {
        FailExpected("a name or number after '.'");
      }
    } else if (IsOp("[")) {
      node = ParseSubscript(std::move(node));
    } else if (IsOp("(")) {
      node = ParseCall(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr ExpressionParser::ParseSubscript(ExprPtr node) {
  const SourcePos pos = Next().pos;
  ExprPtr start;
  if (!IsOp(":")) {
    start = ParseExpression(true);
    if (SkipOp("]"))
      return MakeNode(ExprKind::kGetItem, pos, "", std::move(node), std::move(start));
  }
  ExpectOp(":");
  ExprPtr slice = MakeNode(ExprKind::kSlice, pos, "", std::move(node));
  slice->args.push_back(std::move(start));
  slice->args.push_back(IsOp("]") || IsOp(":") ? nullptr : ParseExpression(true));
  ExprPtr step;
  if (SkipOp(":") && !IsOp("]")) step = ParseExpression(true);
  slice->args.push_back(std::move(step));
  ExpectOp("]");
  return slice;
}

// "(" positional..., name=value... ")" appended to node's args and kwargs.
void ExpressionParser::ParseArguments(Expr& node) {
  ExpectOp("(");
  bool any = false;
  while (!IsOp(")")) {
    if (any) ExpectOp(",");
    if (IsOp(")")) break;
    any = true;
    if (IsOp("*") || IsOp("**")) Fail(Peek(), "*args and **kwargs in calls are not supported");
    if (Peek().kind == TokenKind::kName && IsOp("=", 1)) {
      std::string name = Next().text;
      Next();
      node.kwargs.emplace_back(std::move(name), ParseExpression(true));
    } else {
      if (!node.kwargs.empty()) Fail(Peek(), "positional argument follows keyword argument");
      node.args.push_back(ParseExpression(true));
    }
  }
  ExpectOp(")");
}

ExprPtr ExpressionParser::ParseCall(ExprPtr callee) {
  ExprPtr call = MakeNode(ExprKind::kCall, Peek().pos, "", std::move(callee));
  ParseArguments(*call);
  return call;
}

std::string ExpressionParser::ParseDottedName() {
  std::string name = ExpectName();
  while (SkipOp(".")) name.append(".").append(ExpectName());
  return name;
}

// `| f | g(x)`, applied to node (null: the body of a filter block); with start_inline the
// first filter has no leading "|" ({% filter upper %}).
ExprPtr ExpressionParser::ParseFilters(ExprPtr node, bool start_inline) {
  while (start_inline || IsOp("|")) {
    if (!start_inline) Next();
    start_inline = false;
    const SourcePos pos = Peek().pos;
    ExprPtr filter = MakeNode(ExprKind::kFilter, pos, ParseDottedName(), std::move(node));
    if (IsOp("(")) ParseArguments(*filter);
    node = std::move(filter);
  }
  return node;
}

ExprPtr ExpressionParser::ParseFilterExpression(ExprPtr node) {
  while (true) {
    if (IsOp("|")) {
      node = ParseFilters(std::move(node), false);
    } else if (IsName("is")) {
      node = ParseTest(std::move(node));
    } else if (IsOp("(")) {
      node = ParseCall(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr ExpressionParser::ParseTest(ExprPtr node) {
  Next();  // "is"
  const bool negated = SkipName("not");
  const SourcePos pos = Peek().pos;
  ExprPtr test = MakeNode(ExprKind::kTest, pos, ParseDottedName(), std::move(node));
  test->negated = negated;
  const Token& next = Peek();
  if (IsOp("(")) {
    ParseArguments(*test);
  } else if ((next.kind == TokenKind::kName || next.kind == TokenKind::kString ||
              next.kind == TokenKind::kInteger || next.kind == TokenKind::kFloat || IsOp("[") ||
              IsOp("{")) &&
             !IsName("else") && !IsName("or") && !IsName("and")) {
    if (IsName("is")) Fail(next, "cannot chain multiple tests with 'is'");
    test->args.push_back(ParsePostfix(ParsePrimary()));  // `x is divisibleby 3`
  }
  return test;
}

}  // namespace moefit::jinja
