// SPDX-License-Identifier: MIT
// The scope analysis of jinja_scopes.h, modelled on Jinja2's symbol tables: each frame is
// analysed completely (its own statements, and inside if-branches, but not nested frames)
// before the frames nested in it, which see all of its names.
#include "chat/jinja_scopes.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace moefit::jinja {
namespace {

class FrameSymbols {
 public:
  explicit FrameSymbols(const FrameSymbols* parent) : parent_(parent) {}

  bool Knows(const std::string& name) const {
    for (const FrameSymbols* frame = this; frame != nullptr; frame = frame->parent_) {
      if (frame->refs_.count(name) != 0) return true;
    }
    return false;
  }
  // A read: if no frame knows the name yet, this one takes it from outside (the context).
  void Load(const std::string& name) {
    if (!Knows(name)) refs_.emplace(name, Kind::kOuter);
  }
  // An assignment. The first mention decides: unconditional and not known to any enclosing
  // frame means "undefined until assigned"; inside an if-branch it starts from the outer value.
  void Store(const std::string& name, bool conditional) {
    if (refs_.count(name) != 0) return;
    const bool outer = conditional || (parent_ != nullptr && parent_->Knows(name));
    refs_.emplace(name, outer ? Kind::kOuter : Kind::kUndefined);
  }
  void Param(const std::string& name) { refs_[name] = Kind::kParam; }

  std::vector<std::string> UndefinedLocals() const {
    std::vector<std::string> names;
    for (const auto& [name, kind] : refs_) {
      if (kind == Kind::kUndefined) names.push_back(name);
    }
    return names;
  }

 private:
  enum class Kind { kOuter, kUndefined, kParam };
  const FrameSymbols* parent_;
  std::map<std::string, Kind> refs_;
};

// A frame nested in the one being analysed, analysed after it.
struct ChildFrame {
  const Body* body;
  std::vector<std::string>* locals;
  std::vector<std::string> params;
};

class FrameVisitor {
 public:
  explicit FrameVisitor(FrameSymbols& symbols) : symbols_(symbols) {}

  void VisitBody(const Body& body) {
    for (const auto& stmt : body) VisitStmt(*stmt);
  }

  std::vector<ChildFrame>& children() { return children_; }

 private:
  void VisitExpr(const Expr* expr) {
    if (expr == nullptr) return;
    if (expr->kind == ExprKind::kName) symbols_.Load(expr->name);
    for (const auto& arg : expr->args) VisitExpr(arg.get());
    for (const auto& [name, value] : expr->kwargs) VisitExpr(value.get());
  }

  void VisitStmt(Stmt& stmt) {
    switch (stmt.kind) {
      case StmtKind::kText:
      case StmtKind::kBreak:
      case StmtKind::kContinue:
        return;
      case StmtKind::kOutput:
        VisitExpr(stmt.expr.get());
        return;
      case StmtKind::kIf:
        for (size_t i = 0; i < stmt.values.size(); ++i) {
          VisitExpr(stmt.values[i].get());
          VisitBranch(stmt.branches[i]);
        }
        VisitBranch(stmt.else_body);
        return;
      case StmtKind::kFor: {
        VisitExpr(stmt.expr.get());
        std::vector<std::string> params = stmt.targets;
        params.push_back("loop");
        children_.push_back({&stmt.body, &stmt.body_locals, std::move(params)});
        children_.push_back({&stmt.else_body, &stmt.else_locals, {}});
        return;
      }
      case StmtKind::kSet:
        VisitExpr(stmt.expr.get());
        if (!stmt.attribute.empty()) {
          symbols_.Load(stmt.targets[0]);  // ns.attribute = ...: a read of ns
        } else {
          for (const auto& target : stmt.targets) symbols_.Store(target, conditional_ > 0);
        }
        return;
      case StmtKind::kSetBlock:
        symbols_.Store(stmt.targets[0], conditional_ > 0);
        children_.push_back({&stmt.body, &stmt.body_locals, {}});
        return;
      case StmtKind::kMacro:
      case StmtKind::kCallBlock: {
        if (stmt.kind == StmtKind::kMacro) symbols_.Store(stmt.name, conditional_ > 0);
        if (stmt.kind == StmtKind::kCallBlock) VisitExpr(stmt.expr.get());
        std::vector<std::string> params = {"varargs", "kwargs", "caller"};
        for (const auto& param : stmt.params) params.push_back(param.name);
        children_.push_back({&stmt.body, &stmt.body_locals, std::move(params)});
        return;
      }
      case StmtKind::kFilterBlock:
        VisitExpr(stmt.expr.get());
        children_.push_back({&stmt.body, &stmt.body_locals, {}});
        return;
      case StmtKind::kWith:
        for (const auto& value : stmt.values) VisitExpr(value.get());
        children_.push_back({&stmt.body, &stmt.body_locals, stmt.targets});
        return;
    }
  }

  void VisitBranch(const Body& body) {
    ++conditional_;
    VisitBody(body);
    --conditional_;
  }

  FrameSymbols& symbols_;
  std::vector<ChildFrame> children_;
  int conditional_ = 0;  // inside an if-branch
};

void AnalyzeFrame(const Body& body, const std::vector<std::string>& params,
                  const FrameSymbols* parent, std::vector<std::string>* locals) {
  FrameSymbols symbols(parent);
  for (const auto& param : params) symbols.Param(param);
  FrameVisitor visitor(symbols);
  visitor.VisitBody(body);
  *locals = symbols.UndefinedLocals();
  for (ChildFrame& child : visitor.children()) {
    AnalyzeFrame(*child.body, child.params, &symbols, child.locals);
  }
}

}  // namespace

void AnalyzeScopes(Program& program) { AnalyzeFrame(program.body, {}, nullptr, &program.locals); }

}  // namespace moefit::jinja
