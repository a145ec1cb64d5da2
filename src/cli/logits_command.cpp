// SPDX-License-Identifier: MIT
// `moefit logits`: evaluates token ids as one batch; writes every position's logits as raw
// little-endian float32 (positions x vocab) and prints the top 5 per position.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>

#include "cli/commands.h"
#include "cli/run_memory.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/engine.h"

namespace moefit {
namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  bool reference = false;
  int threads = 0;
  MemoryFlags memory;
};

std::vector<int32_t> ParseTokens(const std::string& text) {
  std::vector<int32_t> ids;
  std::string item;
  std::istringstream in(text);
  while (in >> item) {
    for (char& c : item)
      if (c == ',') c = ' ';
    std::istringstream parts(item);
    std::string part;
    while (parts >> part) {
      size_t used = 0;
      long value = 0;
      try {
        value = std::stol(part, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != part.size() || value < 0 || value > INT32_MAX) Fail("--tokens: '{}' is not a token id", part);
      ids.push_back(static_cast<int32_t>(value));
    }
  }
  if (ids.empty()) Fail("--tokens: no token ids given");
  return ids;
}

}  // namespace

void RegisterLogitsCommand(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  CLI::App* command = app.add_subcommand("logits", "Evaluate token ids as one batch and dump every position's logits");
  command->add_option("-m,--model", o->model, "GGUF model")->required();
  command->add_option("--tokens", o->tokens, "Token ids, space or comma separated")->required();
  command->add_option("--out", o->out, "Write logits here: float32 little-endian, positions x vocab");
  command->add_flag("--reference", o->reference, "Use the scalar reference path (slow; the oracle)");
  command->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  AddMemoryFlags(*command, o->memory);
  command->add_flag("--quiet", o->memory.quiet, "Do not print the plan");
  command->callback([o] {
    const std::vector<int32_t> tokens = ParseTokens(o->tokens);
    const GgufFile file = GgufFile::Open(o->model);
    const Model model = Model::Load(file);
    const int64_t positions = static_cast<int64_t>(tokens.size());
    const RunMemory memory = PlanRun(file, o->memory, positions, positions);
    EngineOptions options = memory.options;
    options.kv_cells = positions;
    options.max_batch_tokens = positions;
    options.logit_rows = positions;  // every position's logits: beyond the plan's one row, charged
    options.path = o->reference ? MatMulPath::kReference : MatMulPath::kFast;
    options.threads = o->threads;
    Engine engine(model, options);
    std::vector<BatchItem> items;
    for (int32_t token : tokens) items.push_back({0, token, true});
    const std::span<const float> logits = engine.Evaluate(items);
    const size_t vocab = static_cast<size_t>(model.spec().vocab_size);
    if (!o->out.empty()) {
      std::ofstream out(o->out, std::ios::binary);
      out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size_bytes()));
      if (!out) Fail("cannot write '{}'", o->out);
    }
    std::vector<int32_t> order(vocab);
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      const std::span<const float> row = logits.subspan(pos * vocab, vocab);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      std::printf("%4zu  token %6d  top5:", pos, tokens[pos]);
      for (int i = 0; i < 5 && i < static_cast<int>(vocab); ++i) std::printf("  %d (%.4f)", order[i], row[order[i]]);
      std::printf("\n");
    }
    if (!o->out.empty())
      std::printf("wrote %zu x %zu float32 logits to %s\n", tokens.size(), vocab, o->out.c_str());
  });
}

}  // namespace moefit
