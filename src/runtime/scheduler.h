// SPDX-License-Identifier: MIT
// Scheduler: the thread that owns the Engine. Requests from any thread go into a bounded queue;
// each step evaluates one batch holding every active sequence (a token each for those decoding,
// prompt chunks for new ones), samples per sequence, and streams tokens back to each request.
// A finished sequence's KV cells stay in its slot: a later prompt that starts with the same
// tokens (a chat's next turn) takes that slot and evaluates only what follows the common prefix.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace moefit {

struct SchedulerOptions {
  int max_sequences = 4;     // sequences decoding together (--parallel)
  int queue_capacity = 64;   // requests waiting for a sequence (none free); beyond it Submit refuses
  int64_t context = 4096;    // positions one sequence may use, prompt + generated (capped by the cache)
  int batch_tokens = 512;    // tokens per forward pass; prompts are cut into chunks to fit
  int threads = 0;           // compute threads of the scheduler thread (0: the OpenMP default)
  // Keep each finished sequence's KV cells for prompts that start with the same tokens (they
  // are given back, oldest first, when a reservation needs them). false: freed at once.
  bool reuse_prefix = true;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;       // must not be empty
  int max_tokens = -1;               // < 0: until the context is full
  SamplerOptions sampler;
  std::vector<int32_t> end_tokens;   // sampling one of these ends the generation (it is not emitted)
  // Testing hook: emit these tokens in order instead of sampling (each is still evaluated), then
  // end as if an end token came. Lets protocol tests script what a random-weight model "says".
  std::vector<int32_t> scripted_tokens;
};

enum class FinishReason {
  kNone,         // still running
  kEndToken,     // an end-of-turn token was sampled
  kLength,       // max_tokens reached
  kContextFull,  // the sequence filled its context
  kCancelled,    // the requester cancelled
  kError,        // the engine failed (message in GenerationUpdate::error)
};
const char* FinishReasonName(FinishReason reason);

// What a stream delivers: the tokens produced since the last Wait, and once finished, why.
struct GenerationUpdate {
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kNone;
  std::string error;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;     // of the prompt, tokens whose KV cells came from an earlier request
  int64_t generated_tokens = 0;  // all tokens emitted so far
  bool finished() const { return finish != FinishReason::kNone; }
};

// Per-request channel between the scheduler thread (producer) and the requester (consumer).
class GenerationStream {
 public:
  // Waits up to `timeout` for news; fills `update` and returns true when there are new tokens
  // or the generation finished (tokens are drained, so each arrives once), false on timeout.
  bool Wait(GenerationUpdate& update, std::chrono::milliseconds timeout);
  // Thread-safe and idempotent: the scheduler drops the sequence (and frees its KV cells) at
  // its next step; the stream then finishes with kCancelled.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  friend class Scheduler;
  void Push(int32_t token);
  void Finish(FinishReason reason, std::string error = {});

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int32_t> pending_;
  FinishReason finish_ = FinishReason::kNone;
  std::string error_;
  int64_t prompt_tokens_ = 0;
  int64_t cached_tokens_ = 0;
  int64_t generated_tokens_ = 0;
  std::atomic<bool> cancelled_{false};
};

// Why Submit refused a request; the server maps kQueueFull to 503, kContextExceeded and
// kInvalid to 400.
class SchedulerRefusal : public Error {
 public:
  enum class Kind { kQueueFull, kContextExceeded, kInvalid, kStopped };
  SchedulerRefusal(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct SchedulerStats {
  int queued = 0;                  // waiting for a sequence
  int active = 0;                  // holding a sequence
  int64_t kv_cells_used = 0;      // held by active sequences
  int64_t kv_cells_cached = 0;    // kept from finished sequences for prompts that start the same way
  int64_t kv_capacity = 0;
  uint64_t kv_bytes = 0;
  uint64_t engine_bytes = 0;           // host memory the engine has charged (KV, scratch, logits, owned weights)
  int64_t prompt_tokens_total = 0;     // prompt tokens evaluated
  int64_t prompt_tokens_cached_total = 0;  // prompt tokens not evaluated: their cells were reused
  int64_t generated_tokens_total = 0;  // tokens emitted
  int64_t steps_total = 0;             // forward passes
  double busy_seconds_total = 0;       // time spent in forward passes and sampling
  double recent_tokens_per_second = 0; // generated tokens/s over the last few dozen steps; 0 when idle
};

// Usage (any thread):
//   Scheduler scheduler(engine, {.max_sequences = 4});
//   std::shared_ptr<GenerationStream> stream = scheduler.Submit({.prompt = ids, .max_tokens = 64});
//   GenerationUpdate update;
//   while (...) if (stream->Wait(update, 100ms)) { use update.tokens; if (update.finished()) break; }
// From construction until destruction only the scheduler thread touches the engine.
class Scheduler {
 public:
  Scheduler(Engine& engine, const SchedulerOptions& options);
  ~Scheduler();  // finishes what is left with kCancelled and joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Throws SchedulerRefusal when the queue is full, the prompt is empty or
  // does not fit the context, or the scheduler is stopping. Thread-safe.
  std::shared_ptr<GenerationStream> Submit(GenerationRequest request);
  SchedulerStats Stats() const;
  int64_t context() const { return options_.context; }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence;
  void Loop();
  void AdmitAndDropCancelled();  // under mutex_
  void Step();
  void Retire(Sequence& sequence, FinishReason reason, const std::string& error = {});
  // A free slot for `prompt` (the one it continues, else an empty one, else the one freed
  // longest ago), holding the longest prefix of the prompt that any slot has (its own cells cut
  // back to it, or another slot's shared): `reused` tokens.
  int32_t TakeSlot(const std::vector<int32_t>& prompt, int64_t& reused);
  // Gives back cached cells, oldest slot first, until the active sequences can grow to their
  // reservations.
  void EnsureCells();
  void PublishCellStats();  // under mutex_

  Engine& engine_;
  SchedulerOptions options_;
  int64_t kv_capacity_ = 0;

  mutable std::mutex mutex_;  // guards queue_, stopping_, stats_ and the reservations
  std::condition_variable wake_;
  std::deque<std::pair<GenerationRequest, std::shared_ptr<GenerationStream>>> queue_;
  bool stopping_ = false;
  SchedulerStats stats_;
  int64_t reserved_cells_ = 0;
  double recent_tokens_ = 0, recent_seconds_ = 0;  // decaying sums behind recent_tokens_per_second
  std::chrono::steady_clock::time_point last_step_;

  std::vector<std::unique_ptr<Sequence>> active_;  // scheduler thread only (admitted under mutex_)
  std::vector<int32_t> free_slots_;
  // Per slot (engine sequence id): the tokens whose K/V its cells hold, in position order (an
  // active sequence's so far; a free slot's from its last sequence), and when it was last freed.
  struct Slot {
    std::vector<int32_t> tokens;
    uint64_t freed_at = 0;
  };
  std::vector<Slot> slots_;
  uint64_t retirements_ = 0;
  std::vector<uint8_t> marks_;  // per KV cell, scratch of PublishCellStats
  // Per-step scratch, reused: the batch, the sequences whose logits come back (in item order),
  // the prompt chunks taken, the sequences that end.
  std::vector<BatchItem> items_;
  std::vector<Sequence*> wanting_;
  std::vector<std::pair<Sequence*, size_t>> chunks_;
  std::vector<std::pair<Sequence*, FinishReason>> finished_;
  std::thread thread_;
};

}  // namespace moefit
