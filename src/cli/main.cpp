// SPDX-License-Identifier: MIT
// The moefit command line: subcommands, and the one place that turns moefit::Error into a message.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"moefit: run Mixture-of-Experts language models inside hard memory limits"};
  app.set_version_flag("--version", "moefit 0.1.0");
  app.require_subcommand(0, 1);
  moefit::RegisterInspectCommand(app);
  moefit::RegisterSynthCommand(app);
  moefit::RegisterLogitsCommand(app);
  moefit::RegisterTokenizeCommand(app);
  moefit::RegisterRunCommand(app);
  moefit::RegisterTemplateCommand(app);
  moefit::RegisterBenchCommand(app);
  moefit::RegisterPlanCommand(app);
  moefit::RegisterServeCommand(app);
  moefit::RegisterDoctorCommand(app);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const moefit::Error& error) {
    std::fprintf(stderr, "moefit: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "moefit: unexpected error: %s\n", error.what());
    return 2;
  }
  return 0;
}
