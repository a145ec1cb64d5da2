// SPDX-License-Identifier: MIT
// The statement half of the template parser: text, {{ }} and {% %} blocks with their bodies.
#include "chat/jinja_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "chat/jinja_expression_parser.h"
#include "chat/jinja_scopes.h"

namespace moefit::jinja {
namespace {

class Parser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  Program ParseTemplate() {
    Program program;
    program.body = ParseBody({}, nullptr);
    return program;
  }

 private:
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
            for (std::string_view tag : end_tags)
              wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
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
    const NestingGuard guard(*this);
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
    if (name.starts_with("end") || name == "elif" || name == "else") {
      Fail(tag, fmt::format("unexpected '{}' outside the block it belongs to", name));
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
};

}  // namespace

Program Parse(std::vector<Token> tokens) {
  Program program = Parser(std::move(tokens)).ParseTemplate();
  AnalyzeScopes(program);
  return program;
}

}  // namespace moefit::jinja
