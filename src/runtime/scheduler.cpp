// SPDX-License-Identifier: MIT
// Scheduler: admission (bounded queue, KV reservations), one batch per step, per-sequence sampling.
#include "runtime/scheduler.h"

#include <omp.h>

#include <algorithm>
#include <utility>

#include "core/log.h"

namespace moefit {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kEndToken: return "end_token";
    case FinishReason::kLength: return "length";
    case FinishReason::kContextFull: return "context_full";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "unknown";
}

bool GenerationStream::Wait(GenerationUpdate& update, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !pending_.empty() || finish_ != FinishReason::kNone; });
  if (pending_.empty() && finish_ == FinishReason::kNone) return false;
  update.tokens.swap(pending_);
  pending_.clear();
  update.finish = finish_;
  update.error = error_;
  update.prompt_tokens = prompt_tokens_;
  update.cached_tokens = cached_tokens_;
  update.generated_tokens = generated_tokens_;
  return true;
}

void GenerationStream::Push(int32_t token) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(token);
    ++generated_tokens_;
  }
  changed_.notify_all();
}

void GenerationStream::Finish(FinishReason reason, std::string error) {
  {
    std::lock_guard lock(mutex_);
    if (finish_ != FinishReason::kNone) return;
    finish_ = reason;
    error_ = std::move(error);
  }
  changed_.notify_all();
}

// One admitted request: its slot (the engine's sequence id), progress and sampler.
struct Scheduler::Sequence {
  GenerationRequest request;
  std::shared_ptr<GenerationStream> stream;
  int32_t slot = 0;
  int64_t reserved_cells = 0;  // prompt + the most it may generate, capped by the context
  size_t prompt_done = 0;      // prompt tokens already in the cache
  int64_t generated = 0;
  int32_t next_token = -1;     // sampled, evaluated in the next step
  Sampler sampler;
  bool retired = false;

  Sequence(GenerationRequest r, std::shared_ptr<GenerationStream> s) : request(std::move(r)), stream(std::move(s)), sampler(request.sampler) {
    for (int32_t token : request.prompt) sampler.Accept(token);
  }
  bool decoding() const { return prompt_done == request.prompt.size(); }
};

Scheduler::Scheduler(Engine& engine, const SchedulerOptions& options) : engine_(engine), options_(options) {
  kv_capacity_ = engine_.kv_cache().capacity();
  if (options_.max_sequences < 1) Fail("the scheduler needs at least one sequence (--parallel), got {}", options_.max_sequences);
  if (options_.queue_capacity < 0) Fail("the request queue capacity cannot be negative");
  if (options_.batch_tokens < options_.max_sequences)
    Fail("a batch of {} tokens cannot hold one token for each of {} sequences", options_.batch_tokens, options_.max_sequences);
  options_.context = std::min(options_.context, kv_capacity_);
  if (options_.context < 2) Fail("a context of {} positions is too small", options_.context);
  stats_.kv_capacity = kv_capacity_;
  // Slot s takes its cells from [s x context, (s + 1) x context) first: sequences decoding side
  // by side each keep contiguous cells (attention reads them as a stream).
  engine_.kv_cache().SetSequenceRegions(options_.context);
  stats_.kv_bytes = engine_.kv_cache().bytes();
  stats_.engine_bytes = engine_.host_budget().used();
  for (int slot = options_.max_sequences - 1; slot >= 0; --slot) free_slots_.push_back(slot);
  slots_.resize(static_cast<size_t>(options_.max_sequences));
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<GenerationStream> Scheduler::Submit(GenerationRequest request) {
  using Kind = SchedulerRefusal::Kind;
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  if (prompt == 0) throw SchedulerRefusal(Kind::kInvalid, "the prompt is empty");
  if (prompt >= options_.context)
    throw SchedulerRefusal(Kind::kContextExceeded,
                           fmt::format("This model's maximum context length is {} tokens, but the prompt has {} tokens "
                                       "(and at least one token must be generated).",
                                       options_.context, prompt));
  const int32_t vocab = engine_.spec().vocab_size;
  auto outside = [vocab](int32_t token) { return token < 0 || token >= vocab; };
  if (std::any_of(request.prompt.begin(), request.prompt.end(), outside) ||
      std::any_of(request.scripted_tokens.begin(), request.scripted_tokens.end(), outside) ||
      std::any_of(request.end_tokens.begin(), request.end_tokens.end(), outside))
    throw SchedulerRefusal(Kind::kInvalid, fmt::format("a token id is outside the vocabulary (0..{})", vocab - 1));
  auto stream = std::make_shared<GenerationStream>();
  stream->prompt_tokens_ = prompt;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw SchedulerRefusal(Kind::kStopped, "the server is shutting down");
    // Requests that a free sequence will take at the next step are not waiting.
    const int free_sequences = std::max(0, options_.max_sequences - static_cast<int>(active_.size()));
    const int waiting = static_cast<int>(queue_.size()) - free_sequences;
    if (waiting >= options_.queue_capacity)
      throw SchedulerRefusal(Kind::kQueueFull,
                             fmt::format("The server is busy: {} requests are waiting. Retry later.", std::max(waiting, 0)));
    queue_.emplace_back(std::move(request), stream);
    stats_.queued = static_cast<int>(queue_.size());
  }
  wake_.notify_all();
  return stream;
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard lock(mutex_);
  SchedulerStats stats = stats_;
  if (stats.active == 0 && Clock::now() - last_step_ > std::chrono::seconds(2)) stats.recent_tokens_per_second = 0;
  return stats;
}

void Scheduler::Loop() {
  // OpenMP thread counts are per thread: this one runs the forward passes.
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active_.empty(); });
      if (stopping_) break;
      AdmitAndDropCancelled();
      if (active_.empty()) continue;  // only cancelled requests were waiting
    }
    Step();
  }
  // Stopping: whatever is left ends as cancelled.
  std::lock_guard lock(mutex_);
  for (std::unique_ptr<Sequence>& sequence : active_) Retire(*sequence, FinishReason::kCancelled);
  active_.clear();
  for (auto& [request, stream] : queue_) stream->Finish(FinishReason::kCancelled);
  queue_.clear();
  stats_.active = 0;
  stats_.queued = 0;
}

void Scheduler::AdmitAndDropCancelled() {
  // Cancelled sequences go first, so their cells are free for the requests admitted below.
  for (std::unique_ptr<Sequence>& sequence : active_)
    if (sequence->stream->cancelled()) Retire(*sequence, FinishReason::kCancelled);
  std::erase_if(active_, [](const std::unique_ptr<Sequence>& sequence) { return sequence->retired; });
  std::erase_if(queue_, [](const auto& entry) {
    if (!entry.second->cancelled()) return false;
    entry.second->Finish(FinishReason::kCancelled);
    return true;
  });
  // First come, first served: the head waits until its reservation fits, and nobody overtakes it.
  while (!queue_.empty() && static_cast<int>(active_.size()) < options_.max_sequences) {
    GenerationRequest& request = queue_.front().first;
    const int64_t prompt = static_cast<int64_t>(request.prompt.size());
    const int64_t most = request.max_tokens < 0 ? options_.context : std::min(options_.context, prompt + request.max_tokens);
    if (reserved_cells_ + most > kv_capacity_) break;
    auto sequence = std::make_unique<Sequence>(std::move(request), std::move(queue_.front().second));
    queue_.pop_front();
    int64_t reused = 0;
    sequence->slot = TakeSlot(sequence->request.prompt, reused);
    sequence->prompt_done = static_cast<size_t>(reused);
    sequence->reserved_cells = most;
    reserved_cells_ += most;
    stats_.prompt_tokens_cached_total += reused;
    {
      std::lock_guard stream_lock(sequence->stream->mutex_);
      sequence->stream->cached_tokens_ = reused;
    }
    active_.push_back(std::move(sequence));
  }
  EnsureCells();
  stats_.queued = static_cast<int>(queue_.size());
  stats_.active = static_cast<int>(active_.size());
  PublishCellStats();
}

int32_t Scheduler::TakeSlot(const std::vector<int32_t>& prompt, int64_t& reused) {
  MOEFIT_CHECK(!free_slots_.empty());
  auto common_prefix = [&](const std::vector<int32_t>& cached) {
    return static_cast<size_t>(std::mismatch(cached.begin(), cached.end(), prompt.begin(), prompt.end()).first - cached.begin());
  };
  // A slot this prompt continues (it keeps at least half of the slot's tokens: a chat's next
  // turn), else an empty one, else the one freed longest ago: a conversation's cache is not
  // cut back for another prompt while a slot is empty.
  size_t continued = free_slots_.size(), empty = free_slots_.size(), oldest = 0, best_common = 0;
  for (size_t i = 0; i < free_slots_.size(); ++i) {
    const Slot& slot = slots_[static_cast<size_t>(free_slots_[i])];
    const size_t common = common_prefix(slot.tokens);
    if (common > best_common && 2 * common >= slot.tokens.size()) {
      continued = i;
      best_common = common;
    }
    if (slot.tokens.empty() && empty == free_slots_.size()) empty = i;
    if (slot.freed_at < slots_[static_cast<size_t>(free_slots_[oldest])].freed_at) oldest = i;
  }
  const size_t chosen = continued < free_slots_.size() ? continued : empty < free_slots_.size() ? empty : oldest;
  const int32_t slot = free_slots_[chosen];
  free_slots_.erase(free_slots_.begin() + static_cast<std::ptrdiff_t>(chosen));
  Slot& state = slots_[static_cast<size_t>(slot)];
  // The prompt's last token is evaluated even when it is cached: its logits give the first token.
  const size_t most = options_.reuse_prefix ? prompt.size() - 1 : 0;
  size_t kept = std::min(common_prefix(state.tokens), most);
  engine_.TruncateSequence(slot, static_cast<int64_t>(kept));
  state.tokens.resize(kept);
  // Another slot, running or finished, may hold a longer prefix of the prompt (its system
  // prompt and history, a turn whose reply the template leaves out of the history): this slot
  // starts with those cells instead, shared, not copied.
  int32_t source = -1;
  for (size_t id = 0; id < slots_.size(); ++id) {
    const size_t common = std::min(common_prefix(slots_[id].tokens), most);
    if (static_cast<int32_t>(id) != slot && common > kept) {
      kept = common;
      source = static_cast<int32_t>(id);
    }
  }
  if (source >= 0) {
    engine_.TruncateSequence(slot, 0);
    engine_.SharePrefix(source, slot, static_cast<int64_t>(kept));
    state.tokens.assign(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(kept));
  }
  reused = static_cast<int64_t>(kept);
  return slot;
}

void Scheduler::EnsureCells() {
  int64_t needed = 0;  // cells the active sequences may still append
  for (const std::unique_ptr<Sequence>& sequence : active_)
    needed += sequence->reserved_cells - static_cast<int64_t>(slots_[static_cast<size_t>(sequence->slot)].tokens.size());
  while (engine_.kv_cache().free_cells() < needed) {
    Slot* oldest = nullptr;
    int32_t oldest_id = -1;
    for (int32_t id : free_slots_) {
      Slot& slot = slots_[static_cast<size_t>(id)];
      if (!slot.tokens.empty() && (oldest == nullptr || slot.freed_at < oldest->freed_at)) {
        oldest = &slot;
        oldest_id = id;
      }
    }
    if (oldest == nullptr) break;  // cannot happen: reservations never exceed the capacity
    engine_.RemoveSequence(oldest_id);
    oldest->tokens.clear();
  }
}

void Scheduler::PublishCellStats() {
  // Cells the active sequences hold (a shared prefix counts once); the rest of the cells in use
  // are only kept for prompts that start the same way.
  const KvCache& cache = engine_.kv_cache();
  marks_.assign(static_cast<size_t>(kv_capacity_), 0);
  int64_t used = 0;
  for (const std::unique_ptr<Sequence>& sequence : active_)
    for (int32_t cell : cache.Cells(sequence->slot)) used += std::exchange(marks_[static_cast<size_t>(cell)], 1) == 0 ? 1 : 0;
  stats_.kv_cells_used = used;
  stats_.kv_cells_cached = kv_capacity_ - cache.free_cells() - used;
}

void Scheduler::Retire(Sequence& sequence, FinishReason reason, const std::string& error) {
  Slot& slot = slots_[static_cast<size_t>(sequence.slot)];
  if (!options_.reuse_prefix || reason == FinishReason::kError) {
    engine_.RemoveSequence(sequence.slot);
    slot.tokens.clear();
  }
  slot.freed_at = ++retirements_;
  free_slots_.push_back(sequence.slot);
  reserved_cells_ -= sequence.reserved_cells;
  sequence.retired = true;
  sequence.stream->Finish(reason, error);
}

void Scheduler::Step() {
  const Clock::time_point start = Clock::now();
  // Decoding sequences feed their last token; prompts share what is left of the batch, in
  // admission order. `wanting` lists the sequences whose logits come back, in item order.
  items_.clear();
  std::vector<Sequence*>& wanting = wanting_;
  wanting.clear();
  for (std::unique_ptr<Sequence>& sequence : active_)
    if (sequence->decoding()) {
      items_.push_back({.seq = sequence->slot, .token = sequence->next_token, .want_logits = true});
      wanting.push_back(sequence.get());
    }
  int64_t budget = options_.batch_tokens - static_cast<int64_t>(items_.size());
  int64_t prompt_items = 0;
  std::vector<std::pair<Sequence*, size_t>>& chunks = chunks_;
  chunks.clear();
  for (std::unique_ptr<Sequence>& sequence : active_) {
    if (sequence->decoding() || budget <= 0) continue;
    const std::vector<int32_t>& prompt = sequence->request.prompt;
    const size_t chunk = std::min(prompt.size() - sequence->prompt_done, static_cast<size_t>(budget));
    for (size_t i = 0; i < chunk; ++i) {
      const size_t index = sequence->prompt_done + i;
      items_.push_back({.seq = sequence->slot, .token = prompt[index], .want_logits = index + 1 == prompt.size()});
    }
    if (sequence->prompt_done + chunk == prompt.size()) wanting.push_back(sequence.get());
    chunks.emplace_back(sequence.get(), chunk);
    budget -= static_cast<int64_t>(chunk);
    prompt_items += static_cast<int64_t>(chunk);
  }

  std::span<const float> logits;
  try {
    logits = engine_.Evaluate(items_);
  } catch (const std::exception& error) {
    // Nothing should fail here (tokens were checked, cells reserved); if it does, the active
    // sequences end with the reason and the scheduler carries on with the queue.
    Log(LogLevel::kError, "scheduler: a forward pass failed: {}", error.what());
    std::lock_guard lock(mutex_);
    for (std::unique_ptr<Sequence>& sequence : active_) Retire(*sequence, FinishReason::kError, error.what());
    active_.clear();
    stats_.active = 0;
    return;
  }
  for (auto& [sequence, chunk] : chunks) sequence->prompt_done += chunk;
  for (const BatchItem& item : items_) slots_[static_cast<size_t>(item.seq)].tokens.push_back(item.token);

  const size_t vocab = static_cast<size_t>(engine_.spec().vocab_size);
  int64_t emitted = 0;
  std::vector<std::pair<Sequence*, FinishReason>>& finished = finished_;
  finished.clear();
  for (size_t i = 0; i < wanting.size(); ++i) {
    Sequence& sequence = *wanting[i];
    const GenerationRequest& request = sequence.request;
    if (request.max_tokens >= 0 && sequence.generated >= request.max_tokens) {
      finished.emplace_back(&sequence, FinishReason::kLength);
      continue;
    }
    int32_t token;
    if (!request.scripted_tokens.empty()) {
      const size_t at = static_cast<size_t>(sequence.generated);
      token = at < request.scripted_tokens.size() ? request.scripted_tokens[at] : -1;
    } else {
      token = sequence.sampler.Sample(logits.subspan(i * vocab, vocab));
    }
    if (token < 0 || std::find(request.end_tokens.begin(), request.end_tokens.end(), token) != request.end_tokens.end()) {
      finished.emplace_back(&sequence, FinishReason::kEndToken);
      continue;
    }
    sequence.sampler.Accept(token);
    sequence.next_token = token;
    ++sequence.generated;
    ++emitted;
    sequence.stream->Push(token);
    const int64_t length = static_cast<int64_t>(request.prompt.size()) + sequence.generated;
    if (request.max_tokens >= 0 && sequence.generated >= request.max_tokens)
      finished.emplace_back(&sequence, FinishReason::kLength);
    else if (length >= options_.context)
      finished.emplace_back(&sequence, FinishReason::kContextFull);
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::lock_guard lock(mutex_);
  for (auto& [sequence, reason] : finished) Retire(*sequence, reason);
  std::erase_if(active_, [](const std::unique_ptr<Sequence>& sequence) { return sequence->retired; });
  stats_.active = static_cast<int>(active_.size());
  PublishCellStats();
  stats_.kv_bytes = engine_.kv_cache().bytes();
  stats_.engine_bytes = engine_.host_budget().used();
  stats_.prompt_tokens_total += prompt_items;
  stats_.generated_tokens_total += emitted;
  ++stats_.steps_total;
  stats_.busy_seconds_total += seconds;
  // Decaying sums: the rate follows the last few dozen steps.
  constexpr double kDecay = 0.95;
  recent_tokens_ = recent_tokens_ * kDecay + static_cast<double>(emitted);
  recent_seconds_ = recent_seconds_ * kDecay + seconds;
  stats_.recent_tokens_per_second = recent_seconds_ > 0 ? recent_tokens_ / recent_seconds_ : 0;
  last_step_ = Clock::now();
}

}  // namespace moefit
