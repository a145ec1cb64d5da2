// SPDX-License-Identifier: MIT
// `moefit serve`: loads a model and serves the OpenAI-compatible API until SIGINT/SIGTERM.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/preflight.h"
#include "cli/run_memory.h"
#include "core/error.h"
#include "core/log.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/scheduler.h"
#include "server/served_model.h"
#include "server/server.h"

namespace moefit {
namespace {

struct ServeOptions {
  std::string model;
  ServerOptions server;
  ServedModelOptions served;
  SchedulerOptions scheduler;
  int64_t context = 0;   // per sequence; 0: the model's, at most 4096
  MemoryFlags memory;    // --ram, --mmap, ...: the plan sizes the KV cache (context × parallel)
  bool reference = false;
  double exit_after_seconds = 0;
};

// Watches for SIGINT/SIGTERM (blocked in every other thread) and the optional deadline, then
// stops the server. Ends when `done` is set.
void WatchSignals(Server& server, const sigset_t& signals, double exit_after_seconds, const std::atomic<bool>& done) {
  const auto start = std::chrono::steady_clock::now();
  const timespec poll{.tv_sec = 0, .tv_nsec = 200'000'000};
  while (!done.load()) {
    const int signal = sigtimedwait(&signals, nullptr, &poll);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (signal > 0 || (exit_after_seconds > 0 && elapsed >= exit_after_seconds)) {
      Log(LogLevel::kWarn, "moefit serve: {}, stopping", signal > 0 ? "signal received" : "--exit-after reached");
      server.Stop();
      return;
    }
  }
}

void Serve(ServeOptions o) {
  PreflightOrRefuse({.file = o.model, .memory = o.memory, .ctx = o.context, .ubatch = o.scheduler.batch_tokens,
                     .parallel = o.scheduler.max_sequences, .threads = o.scheduler.threads},
                    "serve");
  if (o.server.api_key.empty())
    if (const char* key = std::getenv("MOEFIT_API_KEY")) o.server.api_key = key;
  // Threads started from here on inherit the mask: only the watcher takes these signals, and a
  // client that hangs up turns into a failed write instead of SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const GgufFile file = GgufFile::Open(o.model);
  const Model model = Model::Load(file);
  const ServedModel served = ServedModel::Load(file, o.served);
  const int64_t model_context = model.spec().context_length > 0 ? model.spec().context_length : 4096;
  o.scheduler.context = o.context > 0 ? o.context : std::min<int64_t>(model_context, 4096);
  // The plan sizes everything under the RAM cap: KV for context × parallel, passes of --batch.
  const RunMemory memory = PlanRun(file, o.memory, o.scheduler.context, o.scheduler.batch_tokens, o.scheduler.max_sequences);
  EngineOptions engine_options = memory.options;
  if (o.memory.mmap) {
    engine_options.kv_cells = o.scheduler.context * o.scheduler.max_sequences;
    engine_options.max_batch_tokens = o.scheduler.batch_tokens;
    engine_options.logit_rows = o.scheduler.max_sequences;  // one row per decoding sequence
  }
  engine_options.path = o.reference ? MatMulPath::kReference : MatMulPath::kFast;
  engine_options.threads = o.scheduler.threads;
  Engine engine(model, engine_options);
  const int64_t kv_cells = engine.kv_cache().capacity();
  Scheduler scheduler(engine, o.scheduler);
  Server server(served, scheduler, o.server);
  const int port = server.Bind();
  std::fprintf(stderr,
               "moefit serve: %s (%s), %d parallel sequences, context %lld per sequence, %lld KV cells, tool calls: %s, "
               "reasoning: %s, chat template: %s\n",
               served.id.c_str(), model.spec().architecture.c_str(), o.scheduler.max_sequences,
               static_cast<long long>(scheduler.context()), static_cast<long long>(kv_cells),
               ToolCallFormatName(served.tool_call_format), served.reasoning ? "on" : "off",
               served.chat_template ? "yes" : "none");
  if (!served.scripted_replies.empty())
    Log(LogLevel::kWarn, "moefit serve: TESTING MODE: {} scripted replies replace sampling for matching messages",
        served.scripted_replies.size());
  // Scripts and tests read this line to find the port.
  std::printf("listening on http://%s:%d\n", o.server.host.c_str(), port);
  std::fflush(stdout);

  std::atomic<bool> done{false};
  std::thread watcher(WatchSignals, std::ref(server), std::cref(signals), o.exit_after_seconds, std::cref(done));
  server.Run();
  done.store(true);
  watcher.join();
  std::fprintf(stderr, "moefit serve: stopped\n");
}

}  // namespace

void RegisterServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* command = app.add_subcommand("serve", "Serve the OpenAI-compatible HTTP API (chat, completions, models)");
  command->add_option("-m,--model", o->model, "GGUF model")->required();
  command->add_option("--host", o->server.host, "Address to bind (0.0.0.0: the whole network)")->capture_default_str();
  command->add_option("--port", o->server.port, "Port (0: any free port)")->capture_default_str();
  command->add_option("--parallel", o->scheduler.max_sequences, "Sequences decoded together")->capture_default_str();
  command->add_option("-c,--ctx", o->context, "Context per sequence (default: the model's, at most 4096)");
  command->add_option("--queue", o->scheduler.queue_capacity, "Requests that may wait; more get 503")->capture_default_str();
  command->add_option("-b,--batch", o->scheduler.batch_tokens, "Tokens per forward pass")->capture_default_str();
  command->add_option("-t,--threads", o->scheduler.threads, "Compute threads (default: all cores)");
  command->add_flag("!--no-prefix-reuse", o->scheduler.reuse_prefix,
                    "Free a finished request's KV cells at once instead of keeping them for a prompt that starts the same way "
                    "(a chat's next turn then evaluates only the new part)");
  command->add_option("--api-key", o->server.api_key, "Require 'Authorization: Bearer KEY' (or set MOEFIT_API_KEY)");
  command->add_option("--alias", o->served.id, "Model id clients use (default: the file name)");
  command->add_option("--chat-template-file", o->served.chat_template_file, "Jinja chat template replacing the model's");
  command->add_option("--tool-call-format", o->served.tool_call_format, "auto, none, hermes, llama3, deepseek-v3")
      ->capture_default_str();
  command->add_option("--reasoning", o->served.reasoning, "Split <think> reasoning out: auto, on, off")->capture_default_str();
  command->add_option("--timeout", o->server.timeout_seconds, "Seconds a read or write may take")->capture_default_str();
  command->add_option("--keep-alive", o->server.keep_alive_seconds, "Seconds an idle keep-alive connection stays open")
      ->capture_default_str();
  command->add_option("--max-body", o->server.max_body_bytes, "Largest request body in bytes")->capture_default_str();
  AddMemoryFlags(*command, o->memory);
  command->add_flag("--reference", o->reference, "Use the scalar reference path (slow; the oracle)");
  command->add_option("--exit-after", o->exit_after_seconds, "Stop after this many seconds (for scripts and tests)");
  command->add_option("--testing-scripted-replies", o->served.scripted_replies_file,
                      "TESTING ONLY: JSON {last message: reply}; matching chats get the reply instead of sampled text");
  command->callback([o] {
    if (o->scheduler.max_sequences < 1 || o->scheduler.batch_tokens < 1 || o->context < 0)
      Fail("--parallel, --batch and --ctx must be positive");
    if (o->server.port < 0 || o->server.port > 65535) Fail("--port must be 0..65535");
    Serve(*o);
  });
}

}  // namespace moefit
