// SPDX-License-Identifier: MIT
// `moefit inspect FILE [--json] [--tensors]`: what a GGUF model is, without loading it.
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/format.h"
#include "gguf/gguf_file.h"
#include "model/model_summary.h"

namespace moefit {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool tensors = false;
};

std::string Dims(const std::vector<int64_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return text;
}

std::string TypeMix(const ModelSummary& summary) {
  std::string text;
  for (const TypeShare& share : summary.type_mix) {
    const double percent = summary.total_bytes ? 100.0 * static_cast<double>(share.bytes) / static_cast<double>(summary.total_bytes) : 0;
    if (!text.empty()) text += " · ";
    text += fmt::format("{} {}%", DTypeName(share.type), percent >= 1 || percent == 0 ? fmt::format("{:.0f}", percent) : "<1");
  }
  return text;
}

void PrintText(const GgufFile& file, const ModelSummary& summary, bool list_tensors) {
  std::printf("file          %s (GGUF v%u, %s)\n", file.path().c_str(), file.version(), FormatBytes(file.file_size()).c_str());
  std::printf("architecture  %s%s\n", summary.architecture.empty() ? "(none)" : summary.architecture.c_str(),
              summary.name.empty() ? "" : fmt::format("  \"{}\"", summary.name).c_str());
  for (const auto& [name, value] : summary.hyperparameters) std::printf("  %-22s %s\n", name.c_str(), value.c_str());
  const TokenizerSummary& tokenizer = summary.tokenizer;
  if (tokenizer.present) {
    std::printf("tokenizer     %s, pre-tokenizer %s, %lld tokens, %lld merges, chat template %s\n", tokenizer.model.c_str(),
                tokenizer.pre_tokenizer.empty() ? "(none)" : tokenizer.pre_tokenizer.c_str(),
                static_cast<long long>(tokenizer.vocab_size), static_cast<long long>(tokenizer.merges),
                tokenizer.chat_template ? "yes" : "no");
    for (const auto& [name, token] : tokenizer.special_tokens) std::printf("  %-22s %s\n", name.c_str(), token.c_str());
  } else {
    std::printf("tokenizer     (none)\n");
  }
  if (summary.tensor_count == 0) {
    std::printf("tensors       none (vocabulary-only file)\n");
    return;
  }
  std::printf("\n%-16s %8s %16s %12s\n", "role", "tensors", "params", "bytes");
  for (const RoleTotals& role : summary.roles) {
    if (role.tensors == 0) continue;
    std::printf("%-16s %8d %16s %12s\n", std::string(TensorRoleName(role.role)).c_str(), role.tensors,
                FormatGrouped(role.params).c_str(), FormatBytes(role.bytes).c_str());
  }
  std::printf("%-16s %8d %16s %12s\n", "total", summary.tensor_count, FormatGrouped(summary.total_params).c_str(),
              FormatBytes(summary.total_bytes).c_str());
  std::printf("\ntypes         %s\n", TypeMix(summary).c_str());
  std::printf("params        %s total, %s active per token", FormatCount(summary.total_params).c_str(),
              FormatCount(summary.active_params).c_str());
  if (summary.n_experts > 0)
    std::printf(" (%lld of %lld experts)", static_cast<long long>(summary.n_active_experts),
                static_cast<long long>(summary.n_experts));
  std::printf("\nbits/weight   %.2f\n", summary.total_params ? 8.0 * static_cast<double>(summary.total_bytes) / static_cast<double>(summary.total_params) : 0.0);
  if (list_tensors) {
    std::printf("\n%-40s %-8s %-22s %-15s %12s\n", "tensor", "type", "dims", "role", "bytes");
    for (const GgufTensorInfo& tensor : file.tensors())
      std::printf("%-40.*s %-8s %-22s %-15s %12s\n", static_cast<int>(tensor.name.size()), tensor.name.data(),
                  std::string(DTypeName(tensor.type)).c_str(), Dims(tensor.dims).c_str(),
                  std::string(TensorRoleName(ClassifyTensor(tensor.name))).c_str(), FormatBytes(tensor.bytes).c_str());
  }
}

void PrintJson(const GgufFile& file, const ModelSummary& summary, bool list_tensors) {
  nlohmann::ordered_json out;
  out["file"] = file.path();
  out["gguf_version"] = file.version();
  out["file_bytes"] = file.file_size();
  out["architecture"] = summary.architecture;
  out["name"] = summary.name;
  nlohmann::ordered_json hyper = nlohmann::ordered_json::object();
  const std::string prefix = summary.architecture + ".";
  for (const auto& [key, value] : file.metadata()) {
    if (!key.starts_with(prefix)) continue;
    if (value.IsInteger()) hyper[std::string(key.substr(prefix.size()))] = value.AsInt();
    else if (value.IsNumber()) hyper[std::string(key.substr(prefix.size()))] = value.AsDouble();
    else hyper[std::string(key.substr(prefix.size()))] = value.ToString();
  }
  out["hyperparameters"] = hyper;
  const TokenizerSummary& tokenizer = summary.tokenizer;
  out["tokenizer"] = {{"present", tokenizer.present},     {"model", tokenizer.model},
                      {"pre", tokenizer.pre_tokenizer},  {"vocab_size", tokenizer.vocab_size},
                      {"merges", tokenizer.merges},      {"chat_template", tokenizer.chat_template}};
  for (const auto& [name, token] : tokenizer.special_tokens) out["tokenizer"]["special"][name] = token;
  nlohmann::ordered_json roles = nlohmann::ordered_json::object();
  for (const RoleTotals& role : summary.roles)
    if (role.tensors > 0)
      roles[std::string(TensorRoleName(role.role))] = {{"tensors", role.tensors}, {"params", role.params}, {"bytes", role.bytes}};
  out["roles"] = roles;
  nlohmann::ordered_json types = nlohmann::ordered_json::array();
  for (const TypeShare& share : summary.type_mix)
    types.push_back({{"type", DTypeName(share.type)}, {"params", share.params}, {"bytes", share.bytes}});
  out["types"] = types;
  out["n_experts"] = summary.n_experts;
  out["n_active_experts"] = summary.n_active_experts;
  out["total_params"] = summary.total_params;
  out["active_params"] = summary.active_params;
  out["total_bytes"] = summary.total_bytes;
  if (list_tensors) {
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const GgufTensorInfo& tensor : file.tensors())
      tensors.push_back({{"name", tensor.name},
                         {"type", DTypeName(tensor.type)},
                         {"dims", tensor.dims},
                         {"role", TensorRoleName(ClassifyTensor(tensor.name))},
                         {"offset", file.data_offset() + tensor.offset},
                         {"bytes", tensor.bytes}});
    out["tensors"] = tensors;
  }
  std::puts(out.dump(2).c_str());
}

}  // namespace

void RegisterInspectCommand(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand("inspect", "Show a GGUF model's architecture, shapes, tensors by role and type mix");
  command->add_option("file", options->path, "GGUF file")->required();
  command->add_flag("--json", options->json, "Machine-readable output");
  command->add_flag("--tensors", options->tensors, "List every tensor");
  command->callback([options] {
    const GgufFile file = GgufFile::Open(options->path);
    const ModelSummary summary = SummarizeModel(file);
    if (options->json) PrintJson(file, summary, options->tensors);
    else PrintText(file, summary, options->tensors);
  });
}

}  // namespace moefit
