// SPDX-License-Identifier: MIT
// Recursive-descent parser for Jinja templates, following Jinja2's grammar: statements,
// then expressions from the ternary down to primaries, with filters binding tighter than
// arithmetic (`messages|length - 1` is `(messages|length) - 1`).
#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include <fmt/format.h>

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

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Program ParseTemplate() {
    Program program;
    program.body = ParseBody({}, nullptr);
    return program;
  }

 private:
  // ---- token helpers ----
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
      case TokenKind::kText: return "template data";
      case TokenKind::kVariableBegin: return "'{{'";
      case TokenKind::kVariableEnd: return "end of print statement";
      case TokenKind::kBlockBegin: return "'{%'";
      case TokenKind::kBlockEnd: return "end of statement block";
      case TokenKind::kName:
      case TokenKind::kOperator: return "'" + token.text + "'";
      case TokenKind::kString: return "string";
      case TokenKind::kInteger:
      case TokenKind::kFloat: return "number";
      case TokenKind::kEnd: return "end of template";
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

  // ---- statements ----

  // Statements up to a `{% tag %}` with tag in end_tags; consumes "{%" and the tag name and
  // stores it in *found. With no end tags, parses to the end of the template.
  Body ParseBody(std::initializer_list<std::string_view> end_tags, std::string* found) {
    Body body;
    while (true) {
      const Token& token = Peek();
      switch (token.kind) {
        case TokenKind::kText: {
          auto stmt = MakeStmt(StmtKind::kText, token.pos);
          stmt->text = Next().text;
          body.push_back(std::move(stmt));
          break;
        }
        case TokenKind::kVariableBegin: {
          auto stmt = MakeStmt(StmtKind::kOutput, Next().pos);
          stmt->expr = ParseTuple(true, false);
          if (Peek().kind != TokenKind::kVariableEnd) FailExpected("end of print statement");
          Next();
          body.push_back(std::move(stmt));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& tag = Peek(1);
          if (tag.kind == TokenKind::kName &&
              std::find(end_tags.begin(), end_tags.end(), tag.text) != end_tags.end()) {
            Next();
            *found = Next().text;
            return body;
          }
          Next();
          body.push_back(ParseStatement());
          break;
        }
        case TokenKind::kEnd:
          if (end_tags.size() > 0) {
            std::string wanted;
            for (std::string_view tag : end_tags) wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
            Fail(token, "unexpected end of template, expected " + wanted);
          }
          return body;
        default:
          Fail(token, "unexpected " + Describe(token));
      }
    }
  }

  static StmtPtr MakeStmt(StmtKind kind, SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->pos = pos;
    return stmt;
  }

  // After "{%": one statement, including its body and end tag.
  StmtPtr ParseStatement() {
    const Token& tag = Peek();
    if (tag.kind != TokenKind::kName) FailExpected("a statement name");
    const std::string name = tag.text;
    const SourcePos pos = tag.pos;
    Next();
    std::string end;
    if (name == "if") return ParseIf(pos);
    if (name == "for") return ParseFor(pos);
    if (name == "set") return ParseSet(pos);
    if (name == "macro") return ParseMacro(pos);
    if (name == "call") return ParseCallBlock(pos);
    if (name == "break" || name == "continue") {
      ExpectBlockEnd();
      return MakeStmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, pos);
    }
    if (name == "filter") {
      auto stmt = MakeStmt(StmtKind::kFilterBlock, pos);
      stmt->expr = ParseFilters(nullptr, true);
      ExpectBlockEnd();
      stmt->body = ParseBody({"endfilter"}, &end);
      ExpectBlockEnd();
      return stmt;
    }
    if (name == "with" || name == "generation") {
      auto stmt = MakeStmt(StmtKind::kWith, pos);
      while (name == "with" && Peek().kind != TokenKind::kBlockEnd) {
        if (!stmt->targets.empty()) ExpectOp(",");
        stmt->targets.push_back(ExpectName());
        ExpectOp("=");
        stmt->values.push_back(ParseExpression(true));
      }
      ExpectBlockEnd();
      stmt->body = ParseBody({name == "with" ? "endwith" : "endgeneration"}, &end);
      ExpectBlockEnd();
      return stmt;
    }
    if (name == "include" || name == "extends" || name == "block" || name == "import" ||
        name == "from") {
      Fail(tag, fmt::format("'{}' is not supported in chat templates", name));
    }
    Fail(tag, fmt::format("unknown tag '{}'", name));
  }

  StmtPtr ParseIf(SourcePos pos) {
    auto stmt = MakeStmt(StmtKind::kIf, pos);
    std::string end = "elif";
    while (end == "elif") {
      stmt->values.push_back(ParseTuple(false, false));
      ExpectBlockEnd();
      stmt->branches.push_back(ParseBody({"elif", "else", "endif"}, &end));
    }
    if (end == "else") {
      ExpectBlockEnd();
      stmt->else_body = ParseBody({"endif"}, &end);
    }
    ExpectBlockEnd();
    return stmt;
  }

  StmtPtr ParseFor(SourcePos pos) {
    auto stmt = MakeStmt(StmtKind::kFor, pos);
    stmt->targets = ParseAssignTargets();
    if (!SkipName("in")) FailExpected("'in'");
    stmt->expr = ParseTuple(false, false, "recursive");
    if (SkipName("if")) stmt->condition = ParseExpression(true);
    if (IsName("recursive")) Fail(Peek(), "recursive loops are not supported");
    ExpectBlockEnd();
    std::string end;
    stmt->body = ParseBody({"endfor", "else"}, &end);
    if (end == "else") {
      ExpectBlockEnd();
      stmt->else_body = ParseBody({"endfor"}, &end);
    }
    ExpectBlockEnd();
    return stmt;
  }

  StmtPtr ParseSet(SourcePos pos) {
    if (Peek().kind == TokenKind::kName && IsOp(".", 1)) {  // {% set ns.attribute = value %}
      auto stmt = MakeStmt(StmtKind::kSet, pos);
      stmt->targets.push_back(Next().text);
      Next();
      stmt->attribute = ExpectName();
      ExpectOp("=");
      stmt->expr = ParseTuple(true, false);
      ExpectBlockEnd();
      return stmt;
    }
    std::vector<std::string> targets = ParseAssignTargets();
    if (SkipOp("=")) {
      auto stmt = MakeStmt(StmtKind::kSet, pos);
      stmt->targets = std::move(targets);
      stmt->expr = ParseTuple(true, false);
      ExpectBlockEnd();
      return stmt;
    }
    auto stmt = MakeStmt(StmtKind::kSetBlock, pos);
    if (targets.size() != 1) Fail(Peek(), "a block set assigns one name");
    stmt->targets = std::move(targets);
    if (IsOp("|")) stmt->expr = ParseFilters(nullptr, false);
    ExpectBlockEnd();
    std::string end;
    stmt->body = ParseBody({"endset"}, &end);
    ExpectBlockEnd();
    return stmt;
  }

  std::vector<Param> ParseParams() {
    std::vector<Param> params;
    ExpectOp("(");
    while (!IsOp(")")) {
      if (!params.empty()) ExpectOp(",");
      if (IsOp(")")) break;
      Param param;
      param.name = ExpectName();
      if (SkipOp("=")) param.default_value = ParseExpression(true);
      params.push_back(std::move(param));
    }
    ExpectOp(")");
    return params;
  }

  StmtPtr ParseMacro(SourcePos pos) {
    auto stmt = MakeStmt(StmtKind::kMacro, pos);
    stmt->name = ExpectName();
    stmt->params = ParseParams();
    ExpectBlockEnd();
    std::string end;
    stmt->body = ParseBody({"endmacro"}, &end);
    if (Peek().kind == TokenKind::kName) Next();  // {% endmacro name %}
    ExpectBlockEnd();
    return stmt;
  }

  StmtPtr ParseCallBlock(SourcePos pos) {
    auto stmt = MakeStmt(StmtKind::kCallBlock, pos);
    if (IsOp("(")) stmt->params = ParseParams();
    const Token& start = Peek();
    stmt->expr = ParseExpression(true);
    if (stmt->expr->kind != ExprKind::kCall) Fail(start, "expected a call after 'call'");
    ExpectBlockEnd();
    std::string end;
    stmt->body = ParseBody({"endcall"}, &end);
    ExpectBlockEnd();
    return stmt;
  }

  // `name`, `a, b` or `(a, b)`: the names a for loop or set binds.
  std::vector<std::string> ParseAssignTargets() {
    std::vector<std::string> names;
    const bool parenthesised = SkipOp("(");
    do {
      if (parenthesised && IsOp(")")) break;
      names.push_back(ExpectName());
    } while (SkipOp(","));
    if (parenthesised) ExpectOp(")");
    return names;
  }

  // ---- expressions ----

  // A single expression, or a tuple when commas follow: `a`, `a, b`, `(a, b)`, `()`.
  ExprPtr ParseTuple(bool with_condexpr, bool explicit_parens, std::string_view end_name = {}) {
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

  ExprPtr ParseExpression(bool with_condexpr) {
    return with_condexpr ? ParseCondition() : ParseOr();
  }

  ExprPtr ParseCondition() {
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

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (IsName("or")) {
      const SourcePos pos = Next().pos;
      left = MakeNode(ExprKind::kBinary, pos, "or", std::move(left), ParseAnd());
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (IsName("and")) {
      const SourcePos pos = Next().pos;
      left = MakeNode(ExprKind::kBinary, pos, "and", std::move(left), ParseNot());
    }
    return left;
  }

  ExprPtr ParseNot() {
    if (IsName("not")) {
      const SourcePos pos = Next().pos;
      return MakeNode(ExprKind::kUnary, pos, "not", ParseNot());
    }
    return ParseCompare();
  }

  ExprPtr ParseCompare() {
    const SourcePos pos = Peek().pos;
    ExprPtr first = ParseMath1();
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
      operands.push_back(ParseMath1());
    }
    if (ops.empty()) return first;
    ExprPtr node = MakeExpr(ExprKind::kCompare, pos);
    node->args.push_back(std::move(first));
    for (auto& operand : operands) node->args.push_back(std::move(operand));
    node->ops = std::move(ops);
    return node;
  }

  // Left-associative binary levels: + -, then ~, then * / // %, then **.
  ExprPtr ParseMath1() { return ParseBinaryLevel(0); }

  ExprPtr ParseBinaryLevel(int level) {
    static const std::vector<std::vector<std::string_view>> kLevels = {
        {"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
    if (level == static_cast<int>(kLevels.size())) return ParseUnary(true);
    ExprPtr left = ParseBinaryLevel(level + 1);
    while (true) {
      const auto& ops = kLevels[static_cast<size_t>(level)];
      const auto it = std::find_if(ops.begin(), ops.end(), [&](std::string_view op) { return IsOp(op); });
      if (it == ops.end()) return left;
      const Token& op = Next();
      left = MakeNode(ExprKind::kBinary, op.pos, op.text, std::move(left), ParseBinaryLevel(level + 1));
    }
  }

  ExprPtr ParseUnary(bool with_filter) {
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

  ExprPtr ParsePrimary() {
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

  ExprPtr ParseList() {
    ExprPtr list = MakeExpr(ExprKind::kList, Next().pos);
    while (!IsOp("]")) {
      if (!list->args.empty()) ExpectOp(",");
      if (IsOp("]")) break;
      list->args.push_back(ParseExpression(true));
    }
    ExpectOp("]");
    return list;
  }

  ExprPtr ParseDict() {
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

  ExprPtr ParsePostfix(ExprPtr node) {
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

  ExprPtr ParseSubscript(ExprPtr node) {
    const SourcePos pos = Next().pos;
    ExprPtr start;
    if (!IsOp(":")) {
      start = ParseExpression(true);
      if (SkipOp("]")) return MakeNode(ExprKind::kGetItem, pos, "", std::move(node), std::move(start));
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
  void ParseArguments(Expr& node) {
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

  ExprPtr ParseCall(ExprPtr callee) {
    ExprPtr call = MakeNode(ExprKind::kCall, Peek().pos, "", std::move(callee));
    ParseArguments(*call);
    return call;
  }

  std::string ParseDottedName() {
    std::string name = ExpectName();
    while (SkipOp(".")) name += "." + ExpectName();
    return name;
  }

  // `| f | g(x)`, applied to node (null: the body of a filter block); with start_inline the
  // first filter has no leading "|" ({% filter upper %}).
  ExprPtr ParseFilters(ExprPtr node, bool start_inline) {
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

  ExprPtr ParseFilterExpression(ExprPtr node) {
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

  ExprPtr ParseTest(ExprPtr node) {
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

  std::vector<Token> tokens_;
  size_t index_ = 0;
};

}  // namespace

Program Parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).ParseTemplate(); }

}  // namespace moefit::jinja
