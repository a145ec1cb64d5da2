// SPDX-License-Identifier: MIT
// `moefit template -m FILE --jsonl`: renders the model's chat template for each context read
// from stdin (one JSON object a line), printing {"rendered": ...} or {"error": ...} per line.
#include <iostream>
#include <memory>
#include <string>

#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "core/error.h"

namespace moefit {
namespace {

struct TemplateOptions {
  std::string model;
  std::string template_file;
  bool jsonl = false;
};

}  // namespace

void RegisterTemplateCommand(CLI::App& app) {
  auto o = std::make_shared<TemplateOptions>();
  CLI::App* command = app.add_subcommand("template", "Render the model's chat template for contexts read from stdin");
  command->add_option("-m,--model", o->model, "GGUF model (or vocabulary-only GGUF)")->required();
  command->add_option("--chat-template-file", o->template_file, "Use this template instead of the model's");
  command->add_flag("--jsonl", o->jsonl, "Each input line is a context; each output line {\"rendered\"} or {\"error\"}");
  command->callback([o] {
    const GgufFile file = GgufFile::Open(o->model);
    const ChatTemplate chat_template(ChatTemplateSource(file, o->template_file));
    std::string line;
    if (!o->jsonl) {
      // One context: the whole of stdin.
      std::string all, part;
      while (std::getline(std::cin, part)) all += part + "\n";
      nlohmann::ordered_json context = nlohmann::ordered_json::parse(all.empty() ? "{}" : all, nullptr, false);
      if (context.is_discarded() || !context.is_object()) Fail("stdin is not a JSON object (a template context)");
      AddDefaultTemplateVariables(file, context);
      std::cout << chat_template.Render(context);
      return;
    }
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::ordered_json out;
      nlohmann::ordered_json context = nlohmann::ordered_json::parse(line, nullptr, false);
      if (context.is_discarded() || !context.is_object()) {
        out["error"] = "input line is not a JSON object";
      } else {
        AddDefaultTemplateVariables(file, context);
        try {
          out["rendered"] = chat_template.Render(context);
        } catch (const Error& error) {
          out["error"] = error.what();
        }
      }
      std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    }
  });
}

}  // namespace moefit
