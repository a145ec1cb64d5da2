// SPDX-License-Identifier: MIT
// Each subcommand registers itself on the CLI11 app; main.cpp calls these and runs the chosen one.
#pragma once

#include <CLI/CLI.hpp>

namespace moefit {

void RegisterInspectCommand(CLI::App& app);
void RegisterSynthCommand(CLI::App& app);
void RegisterLogitsCommand(CLI::App& app);
void RegisterTokenizeCommand(CLI::App& app);
void RegisterRunCommand(CLI::App& app);
void RegisterTemplateCommand(CLI::App& app);
void RegisterBenchCommand(CLI::App& app);
void RegisterPlanCommand(CLI::App& app);
void RegisterServeCommand(CLI::App& app);
void RegisterDoctorCommand(CLI::App& app);

}  // namespace moefit
