// SPDX-License-Identifier: MIT
// `moefit run`: loads a model, evaluates the prompt, streams generated text, reports speed.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/preflight.h"
#include "cli/run_memory.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/gguf_vocabulary.h"

namespace moefit {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt = "Once upon a time";
  int max_tokens = 128;
  int64_t context = 4096;
  int threads = 0;
  int batch = 512;  // prompt tokens per forward pass
  bool chat = false;
  std::string template_file;
  std::string system;
  bool reference = false;
  bool quiet_stats = false;
  bool print_token_ids = false;
  std::vector<std::string> stop;
  SamplerOptions sampler;
  int64_t seed = -1;
  MemoryFlags memory;
};

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// Tokens that end a turn: EOS, and the control tokens the common templates end turns with.
std::vector<TokenId> EndOfGenerationTokens(const Vocabulary& vocab, const GgufFile& file) {
  std::vector<TokenId> ends;
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (file.Has(key)) ends.push_back(static_cast<TokenId>(file.GetInt(key)));
  for (const char* text : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<end_of_turn>",
                           "<｜end▁of▁sentence｜>"}) {
    const TokenId id = vocab.Find(text);
    if (id != kNoToken && vocab.Type(id) == TokenType::kControl) ends.push_back(id);
  }
  return ends;
}

void Run(const RunOptions& o) {
  PreflightOrRefuse({.file = o.model, .memory = o.memory, .ctx = o.context, .ubatch = o.batch, .threads = o.threads}, "run");
  const Clock::time_point load_start = Clock::now();
  const GgufFile file = GgufFile::Open(o.model);
  const Model model = Model::Load(file);
  const Tokenizer tokenizer = LoadTokenizer(file);
  std::string prompt_text = o.prompt;
  if (o.chat) {
    // One user turn (after an optional system message), rendered by the model's own template.
    const ChatTemplate chat_template(ChatTemplateSource(file, o.template_file));
    nlohmann::ordered_json context;
    context["messages"] = nlohmann::ordered_json::array();
    if (!o.system.empty()) context["messages"].push_back({{"role", "system"}, {"content", o.system}});
    context["messages"].push_back({{"role", "user"}, {"content", o.prompt}});
    context["add_generation_prompt"] = true;
    AddDefaultTemplateVariables(file, context);
    prompt_text = chat_template.Render(context);
  }
  const RunMemory memory = PlanRun(file, o.memory, o.context, o.batch);
  EngineOptions engine_options = memory.options;
  if (o.memory.mmap) {
    engine_options.kv_cells = o.context;
    engine_options.max_batch_tokens = o.batch;
  }
  engine_options.path = o.reference ? MatMulPath::kReference : MatMulPath::kFast;
  engine_options.threads = o.threads;
  Engine engine(model, engine_options);
  const double load_seconds = Seconds(load_start);

  // A rendered template already carries BOS where the model wants it.
  std::vector<TokenId> prompt = tokenizer.Encode(prompt_text, {.parse_special = true, .add_special = !o.chat});
  if (prompt.empty()) Fail("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) + o.max_tokens > o.context)
    Fail("prompt ({} tokens) + {} new tokens exceed the context of {} (raise --ctx)", prompt.size(), o.max_tokens,
         o.context);
  const std::vector<TokenId> ends = EndOfGenerationTokens(tokenizer.vocabulary(), file);
  SamplerOptions sampler_options = o.sampler;
  if (o.seed >= 0) sampler_options.seed = static_cast<uint64_t>(o.seed);
  Sampler sampler(sampler_options);
  for (TokenId id : prompt) sampler.Accept(id);

  std::fputs(prompt_text.c_str(), stdout);
  std::fflush(stdout);
  const Clock::time_point prompt_start = Clock::now();
  std::span<const float> logits;
  for (size_t start = 0; start < prompt.size(); start += static_cast<size_t>(o.batch)) {
    const size_t count = std::min(prompt.size() - start, static_cast<size_t>(o.batch));
    logits = engine.EvaluateSequence(0, std::span<const TokenId>(prompt).subspan(start, count));
  }
  const double prompt_seconds = Seconds(prompt_start);

  StreamDecoder decoder(tokenizer, {.skip_special = true});
  std::string generated;
  std::vector<TokenId> generated_ids;
  int generated_tokens = 0;
  const Clock::time_point generation_start = Clock::now();
  std::string finish = "length";
  while (generated_tokens < o.max_tokens) {
    const TokenId next = sampler.Sample(logits);
    ++generated_tokens;
    if (std::find(ends.begin(), ends.end(), next) != ends.end()) {
      finish = "end of turn";
      break;
    }
    sampler.Accept(next);
    generated_ids.push_back(next);
    const std::string piece = decoder.Push(next);
    generated += piece;
    std::fputs(piece.c_str(), stdout);
    std::fflush(stdout);
    bool stopped = false;
    for (const std::string& stop : o.stop)
      if (!stop.empty() && generated.find(stop) != std::string::npos) stopped = true;
    if (stopped) {
      finish = "stop string";
      break;
    }
    if (generated_tokens == o.max_tokens) break;
    const TokenId one[] = {next};
    logits = engine.EvaluateSequence(0, one);
  }
  std::fputs(decoder.Finish().c_str(), stdout);
  const double generation_seconds = Seconds(generation_start);
  std::fputs("\n", stdout);
  if (!o.quiet_stats)
    std::fprintf(stderr,
                 "\n[%s] load %.2f s · prompt %zu tokens in %.2f s (%.1f tokens/s) · generated %d tokens in %.2f s "
                 "(%.1f tokens/s) · stopped: %s\n",
                 model.spec().architecture.c_str(), load_seconds, prompt.size(), prompt_seconds,
                 static_cast<double>(prompt.size()) / prompt_seconds, generated_tokens, generation_seconds,
                 generated_tokens / generation_seconds, finish.c_str());
  if (!o.quiet_stats) PrintMemoryReport(memory, engine);
  if (o.print_token_ids) {
    std::string ids;
    for (const TokenId id : generated_ids) ids += (ids.empty() ? "" : " ") + std::to_string(id);
    std::fprintf(stderr, "generated token ids: %s\n", ids.c_str());
  }
}

}  // namespace

void RegisterRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Generate text from a prompt, streamed as it is produced");
  command->add_option("-m,--model", o->model, "GGUF model")->required();
  command->add_option("-p,--prompt", o->prompt, "Prompt text")->capture_default_str();
  command->add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate")->capture_default_str();
  command->add_option("-c,--ctx", o->context, "Context (KV cache positions)")->capture_default_str();
  command->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  command->add_option("-b,--batch", o->batch, "Prompt tokens per forward pass")->capture_default_str();
  command->add_flag("--chat", o->chat, "Apply the model's chat template to the prompt (one user turn)");
  command->add_option("--system", o->system, "System message for --chat");
  command->add_option("--chat-template-file", o->template_file, "Use this chat template instead of the model's");
  command->add_flag("--reference", o->reference, "Use the scalar reference path (slow; the oracle)");
  command->add_flag("--no-stats", o->quiet_stats, "Do not print timings");
  command->add_flag("--print-token-ids", o->print_token_ids,
                    "Print the generated token ids to stderr at the end (compare runs whose text does not show)");
  command->add_option("--stop", o->stop, "Stop when this text appears (repeatable)");
  command->add_option("--temp", o->sampler.temperature, "Temperature (0: greedy)")->capture_default_str();
  command->add_option("--top-k", o->sampler.top_k, "Top-k (0: off)")->capture_default_str();
  command->add_option("--top-p", o->sampler.top_p, "Top-p (1: off)")->capture_default_str();
  command->add_option("--min-p", o->sampler.min_p, "Min-p (0: off)")->capture_default_str();
  command->add_option("--repeat-penalty", o->sampler.repetition_penalty, "Repetition penalty (1: off)");
  command->add_option("--presence-penalty", o->sampler.presence_penalty, "Presence penalty");
  command->add_option("--frequency-penalty", o->sampler.frequency_penalty, "Frequency penalty");
  command->add_option("--seed", o->seed, "Sampling seed");
  AddMemoryFlags(*command, o->memory);
  command->callback([o] {
    if (o->max_tokens < 0 || o->batch <= 0 || o->context <= 0) Fail("-n, --batch and --ctx must be positive");
    o->memory.quiet = o->quiet_stats;
    Run(*o);
  });
}

}  // namespace moefit
