// SPDX-License-Identifier: MIT
// Scheduler on a tiny synthesized model: generation ends for each reason, batched results equal
// solo results (greedy and seeded sampling), new requests join running ones, cancellation frees
// KV cells at once, full queues, oversized prompts and bad tokens are refused, and a prompt that
// starts like an earlier request's tokens reuses their KV cells with the same results.
#include "runtime/scheduler.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/synth.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TinyModel {
  fs::path path;
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  TinyModel() {
    SynthOptions options = SynthPreset("tiny");
    options.n_layers = 2;
    options.model_dim = 64;
    options.vocab_size = 300;
    options.seed = 7;
    path = fs::temp_directory_path() / fmt::format("moefit_scheduler_test_{}.gguf", ::getpid());
    SynthesizeModel(options, path.string());
    file = std::make_unique<GgufFile>(GgufFile::Open(path.string()));
    model = std::make_unique<Model>(Model::Load(*file));
  }
  ~TinyModel() { fs::remove(path); }
};

const Model& Tiny() {
  static TinyModel tiny;
  return *tiny.model;
}

std::vector<int32_t> Prompt(int length, int32_t first) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < length; ++i) prompt.push_back((first + i * 7) % 250 + 3);
  return prompt;
}

struct Result {
  std::vector<int32_t> tokens;
  GenerationUpdate last;
};

// Drains a stream until it finishes (bounded: a hung scheduler fails the test instead of hanging).
Result Collect(GenerationStream& stream) {
  Result result;
  for (int polls = 0; polls < 3000; ++polls) {
    GenerationUpdate update;
    if (!stream.Wait(update, 10ms)) continue;
    result.tokens.insert(result.tokens.end(), update.tokens.begin(), update.tokens.end());
    result.last = update;
    if (update.finished()) return result;
  }
  ADD_FAILURE() << "the stream did not finish";
  return result;
}

SamplerOptions Greedy() { return {.temperature = 0.0f}; }

// The plain single-sequence loop the scheduler must reproduce.
std::vector<int32_t> DirectGreedy(const std::vector<int32_t>& prompt, int n) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Sampler sampler(Greedy());
  std::span<const float> logits = engine.EvaluateSequence(0, prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const int32_t token = sampler.Sample(logits);
    out.push_back(token);
    const int32_t one[] = {token};
    logits = engine.EvaluateSequence(0, one);
  }
  return out;
}

TEST(Scheduler, GeneratesMaxTokensLikeTheDirectLoop) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .batch_tokens = 8, .threads = 1});  // prompt in 3 chunks
  const std::vector<int32_t> prompt = Prompt(20, 1);
  auto stream = scheduler.Submit({.prompt = prompt, .max_tokens = 12, .sampler = Greedy()});
  const Result result = Collect(*stream);
  EXPECT_EQ(result.last.finish, FinishReason::kLength);
  EXPECT_EQ(result.last.prompt_tokens, 20);
  EXPECT_EQ(result.last.generated_tokens, 12);
  EXPECT_EQ(result.tokens, DirectGreedy(prompt, 12));
  const SchedulerStats stats = scheduler.Stats();
  EXPECT_EQ(stats.kv_cells_used, 0);
  EXPECT_EQ(stats.generated_tokens_total, 12);
  EXPECT_EQ(stats.prompt_tokens_total, 20);
}

TEST(Scheduler, EndTokenStopsAndIsNotEmitted) {
  Engine engine(Tiny(), {.kv_cells = 128, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  auto scripted = scheduler.Submit({.prompt = Prompt(5, 2), .max_tokens = 50, .scripted_tokens = {10, 11, 12}});
  const Result a = Collect(*scripted);
  EXPECT_EQ(a.tokens, (std::vector<int32_t>{10, 11, 12}));
  EXPECT_EQ(a.last.finish, FinishReason::kEndToken);
  // Greedy continuation whose first token is declared an end token: nothing is emitted.
  const std::vector<int32_t> prompt = Prompt(6, 3);
  const int32_t first = DirectGreedy(prompt, 1)[0];
  auto ended = scheduler.Submit({.prompt = prompt, .max_tokens = 50, .sampler = Greedy(), .end_tokens = {first}});
  const Result b = Collect(*ended);
  EXPECT_TRUE(b.tokens.empty());
  EXPECT_EQ(b.last.finish, FinishReason::kEndToken);
}

TEST(Scheduler, StopsWhenTheContextIsFull) {
  Engine engine(Tiny(), {.kv_cells = 128, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .context = 32, .threads = 1});
  auto stream = scheduler.Submit({.prompt = Prompt(20, 4), .sampler = Greedy()});
  const Result result = Collect(*stream);
  EXPECT_EQ(result.last.finish, FinishReason::kContextFull);
  EXPECT_EQ(result.tokens.size(), 12u);  // 20 + 12 = the context
}

// Same seed + temperature 0 (and a seeded sampler too) give the same tokens alone or batched.
TEST(Scheduler, BatchedEqualsAlone) {
  const std::vector<int32_t> prompt = Prompt(17, 5);
  const SamplerOptions seeded{.temperature = 0.9f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 99};
  Result greedy_alone, seeded_alone;
  {
    Engine engine(Tiny(), {.kv_cells = 512, .threads = 1});
    Scheduler scheduler(engine, {.max_sequences = 4, .threads = 1});
    greedy_alone = Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 24, .sampler = Greedy()}));
    seeded_alone = Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 24, .sampler = seeded}));
  }
  Engine engine(Tiny(), {.kv_cells = 512, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 4, .batch_tokens = 16, .threads = 1});
  // Others first, so the two under test join a batch already decoding.
  const SamplerOptions other{.temperature = 1.0f, .seed = 5};
  auto noise1 = scheduler.Submit({.prompt = Prompt(30, 6), .max_tokens = 40, .sampler = other});
  auto noise2 = scheduler.Submit({.prompt = Prompt(9, 7), .max_tokens = 30, .sampler = Greedy()});
  auto greedy = scheduler.Submit({.prompt = prompt, .max_tokens = 24, .sampler = Greedy()});
  auto sampled = scheduler.Submit({.prompt = prompt, .max_tokens = 24, .sampler = seeded});
  EXPECT_EQ(Collect(*greedy).tokens, greedy_alone.tokens);
  EXPECT_EQ(Collect(*sampled).tokens, seeded_alone.tokens);
  EXPECT_EQ(Collect(*noise1).tokens.size(), 40u);
  EXPECT_EQ(Collect(*noise2).tokens.size(), 30u);
  EXPECT_EQ(scheduler.Stats().kv_cells_used, 0);
}

TEST(Scheduler, NewRequestStartsWhileAnotherRuns) {
  Engine engine(Tiny(), {.kv_cells = 8192, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .context = 8192, .threads = 1});
  // Long, but leaving cells to spare: a request without max_tokens reserves its whole context.
  auto endless = scheduler.Submit({.prompt = Prompt(8, 8), .max_tokens = 4000, .sampler = Greedy()});
  GenerationUpdate update;
  ASSERT_TRUE(endless->Wait(update, 10s));  // it is decoding
  auto quick = scheduler.Submit({.prompt = Prompt(8, 9), .max_tokens = 3, .sampler = Greedy()});
  const Result result = Collect(*quick);
  EXPECT_EQ(result.tokens.size(), 3u);
  GenerationUpdate later;
  ASSERT_TRUE(endless->Wait(later, 1s));
  EXPECT_FALSE(later.finished()) << "the long request still runs";
  endless->Cancel();
  EXPECT_EQ(Collect(*endless).last.finish, FinishReason::kCancelled);
}

TEST(Scheduler, CancelFreesCellsAtOnce) {
  Engine engine(Tiny(), {.kv_cells = 512, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .context = 512, .threads = 1, .reuse_prefix = false});
  auto stream = scheduler.Submit({.prompt = Prompt(40, 10), .sampler = Greedy()});
  GenerationUpdate update;
  int64_t received = 0;
  while (received < 2 && stream->Wait(update, 10s)) received += static_cast<int64_t>(update.tokens.size());
  // Stats are published at the end of each step: after the second token, the first step's are in.
  EXPECT_GE(scheduler.Stats().kv_cells_used, 40);  // the prompt at least
  stream->Cancel();
  const Result result = Collect(*stream);
  EXPECT_EQ(result.last.finish, FinishReason::kCancelled);
  EXPECT_EQ(scheduler.Stats().kv_cells_used, 0);
  EXPECT_EQ(engine.kv_cache().free_cells(), 512);
  EXPECT_EQ(scheduler.Stats().active, 0);
}

// ---- Prefix reuse --------------------------------------------------------------------------

// A chat's next turn: the earlier prompt, the reply, a new message. Only what follows the tokens
// the first request left in the cache is evaluated, and the reply is the one a fresh start gives
// (a token's K/V do not depend on the batch that computed them).
TEST(Scheduler, ANextTurnReusesThePrefixWithTheSameResult) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .batch_tokens = 8, .threads = 1});
  const std::vector<int32_t> first = Prompt(20, 21);
  const Result a = Collect(*scheduler.Submit({.prompt = first, .max_tokens = 8, .sampler = Greedy()}));
  ASSERT_EQ(a.tokens.size(), 8u);
  EXPECT_EQ(a.last.cached_tokens, 0);
  // The prompt and 7 replies are in the cache (the 8th was sampled, never evaluated).
  EXPECT_EQ(scheduler.Stats().kv_cells_cached, 27);
  EXPECT_EQ(scheduler.Stats().kv_cells_used, 0);
  EXPECT_EQ(engine.kv_cache().free_cells(), 256 - 27);

  std::vector<int32_t> next = first;
  next.insert(next.end(), a.tokens.begin(), a.tokens.end());
  const std::vector<int32_t> message = Prompt(5, 22);
  next.insert(next.end(), message.begin(), message.end());
  const Result b = Collect(*scheduler.Submit({.prompt = next, .max_tokens = 6, .sampler = Greedy()}));
  EXPECT_EQ(b.last.cached_tokens, 27);
  EXPECT_EQ(b.last.prompt_tokens, 33);
  EXPECT_EQ(b.tokens, DirectGreedy(next, 6));
  const SchedulerStats stats = scheduler.Stats();
  EXPECT_EQ(stats.prompt_tokens_total, 20 + 6);
  EXPECT_EQ(stats.prompt_tokens_cached_total, 27);
}

TEST(Scheduler, TheSamePromptAgainEvaluatesOnlyItsLastToken) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 1, .threads = 1});
  const std::vector<int32_t> prompt = Prompt(15, 23);
  const Result a = Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 5, .sampler = Greedy()}));
  const Result b = Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 5, .sampler = Greedy()}));
  EXPECT_EQ(b.last.cached_tokens, 14);
  EXPECT_EQ(b.tokens, a.tokens);
  EXPECT_EQ(a.tokens, DirectGreedy(prompt, 5));
  // A prompt shorter than the cached tokens: all but its last token are reused.
  const std::vector<int32_t> shorter(prompt.begin(), prompt.begin() + 9);
  const Result c = Collect(*scheduler.Submit({.prompt = shorter, .max_tokens = 3, .sampler = Greedy()}));
  EXPECT_EQ(c.last.cached_tokens, 8);
  EXPECT_EQ(c.tokens, DirectGreedy(shorter, 3));
  EXPECT_EQ(scheduler.Stats().prompt_tokens_total, 15 + 1 + 1);
}

TEST(Scheduler, NoPrefixReuseWhenTurnedOff) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 1, .threads = 1, .reuse_prefix = false});
  const std::vector<int32_t> prompt = Prompt(12, 24);
  Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 3, .sampler = Greedy()}));
  EXPECT_EQ(engine.kv_cache().free_cells(), 256);
  const Result again = Collect(*scheduler.Submit({.prompt = prompt, .max_tokens = 3, .sampler = Greedy()}));
  EXPECT_EQ(again.last.cached_tokens, 0);
  EXPECT_EQ(scheduler.Stats().prompt_tokens_total, 24);
  EXPECT_EQ(scheduler.Stats().kv_cells_cached, 0);
}

// Another conversation takes an empty slot rather than cutting back one it barely shares a
// beginning with (it shares those cells instead); the first conversation's next turn still
// finds its own.
TEST(Scheduler, AnotherConversationTakesAnEmptySlotFirst) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  const std::vector<int32_t> one = Prompt(16, 25);
  const Result a = Collect(*scheduler.Submit({.prompt = one, .max_tokens = 4, .sampler = Greedy()}));
  std::vector<int32_t> other = Prompt(16, 26);
  other[0] = one[0];  // the same first token (a shared system prompt, say), then not
  const Result b = Collect(*scheduler.Submit({.prompt = other, .max_tokens = 4, .sampler = Greedy()}));
  EXPECT_EQ(b.last.cached_tokens, 1);  // the first token's cells, shared with the other slot
  EXPECT_EQ(b.tokens, DirectGreedy(other, 4));
  std::vector<int32_t> next = one;
  next.insert(next.end(), a.tokens.begin(), a.tokens.end());
  next.push_back(7);
  const Result c = Collect(*scheduler.Submit({.prompt = next, .max_tokens = 4, .sampler = Greedy()}));
  EXPECT_EQ(c.last.cached_tokens, 16 + 3);
  EXPECT_EQ(c.tokens, DirectGreedy(next, 4));
}

// A turn whose history leaves out most of what the slot holds (Qwen3's template drops earlier
// replies' reasoning): not a continuation of that slot, so it takes the empty one and shares
// the common prefix's cells; the first slot keeps all of its own.
TEST(Scheduler, AShorterHistorySharesThePrefixOfAnotherSlot) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  const std::vector<int32_t> first = Prompt(10, 31);
  const Result a = Collect(*scheduler.Submit({.prompt = first, .max_tokens = 30, .sampler = Greedy()}));
  ASSERT_EQ(a.tokens.size(), 30u);
  std::vector<int32_t> next = first;  // the reply left out; a new message instead
  const std::vector<int32_t> message = Prompt(6, 32);
  next.insert(next.end(), message.begin(), message.end());
  const Result b = Collect(*scheduler.Submit({.prompt = next, .max_tokens = 5, .sampler = Greedy()}));
  EXPECT_EQ(b.last.cached_tokens, 10);
  EXPECT_EQ(b.tokens, DirectGreedy(next, 5));
  // Both slots hold their tokens; the 10 shared cells count once.
  EXPECT_EQ(scheduler.Stats().kv_cells_cached, 39 + (16 + 4 - 10));
  EXPECT_EQ(engine.kv_cache().free_cells(), 256 - 39 - 10);
  // The first conversation, continued with its reply, still finds all of its cells.
  std::vector<int32_t> continued = first;
  continued.insert(continued.end(), a.tokens.begin(), a.tokens.end());
  continued.push_back(5);
  const Result c = Collect(*scheduler.Submit({.prompt = continued, .max_tokens = 3, .sampler = Greedy()}));
  EXPECT_EQ(c.last.cached_tokens, 39);
  EXPECT_EQ(c.tokens, DirectGreedy(continued, 3));
}

// A request shares the cells of another while that one is still running (the same system
// prompt, say); neither result changes.
TEST(Scheduler, ARunningSequenceSharesItsPrefix) {
  Engine engine(Tiny(), {.kv_cells = 512, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  const std::vector<int32_t> system = Prompt(24, 33);
  std::vector<int32_t> one = system, two = system;
  for (int32_t token : Prompt(4, 34)) one.push_back(token);
  for (int32_t token : Prompt(5, 35)) two.push_back(token);
  auto running = scheduler.Submit({.prompt = one, .max_tokens = 60, .sampler = Greedy()});
  GenerationUpdate update;
  ASSERT_TRUE(running->Wait(update, 10s));  // its prompt is in the cache
  const Result b = Collect(*scheduler.Submit({.prompt = two, .max_tokens = 6, .sampler = Greedy()}));
  EXPECT_EQ(b.last.cached_tokens, 24);
  EXPECT_EQ(b.tokens, DirectGreedy(two, 6));
  Result a = Collect(*running);
  a.tokens.insert(a.tokens.begin(), update.tokens.begin(), update.tokens.end());
  EXPECT_EQ(a.tokens, DirectGreedy(one, 60));
}

// Two sequences decoding side by side each hold one run of cells (their regions), not every
// other cell.
TEST(Scheduler, SequencesDecodingTogetherKeepContiguousCells) {
  Engine engine(Tiny(), {.kv_cells = 128, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .context = 64, .threads = 1});
  auto one = scheduler.Submit({.prompt = Prompt(6, 36), .max_tokens = 30, .sampler = Greedy()});
  auto two = scheduler.Submit({.prompt = Prompt(7, 37), .max_tokens = 30, .sampler = Greedy()});
  EXPECT_EQ(Collect(*one).tokens, DirectGreedy(Prompt(6, 36), 30));
  EXPECT_EQ(Collect(*two).tokens, DirectGreedy(Prompt(7, 37), 30));
  for (int32_t slot = 0; slot < 2; ++slot) {
    const std::span<const int32_t> cells = engine.kv_cache().Cells(slot);
    ASSERT_GE(cells.size(), 35u);
    for (size_t i = 1; i < cells.size(); ++i) EXPECT_EQ(cells[i], cells[i - 1] + 1) << "slot " << slot << " position " << i;
  }
}

// Cached cells are not reserved: a request that needs them gets them back, and runs as it would
// on an empty cache.
TEST(Scheduler, CachedCellsAreGivenBackWhenAReservationNeedsThem) {
  Engine engine(Tiny(), {.kv_cells = 64, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  const std::vector<int32_t> kept = Prompt(30, 27);
  Collect(*scheduler.Submit({.prompt = kept, .max_tokens = 10, .sampler = Greedy()}));
  EXPECT_EQ(scheduler.Stats().kv_cells_cached, 39);
  // No max_tokens: it reserves the whole context (64 cells), so the 39 cached cells must go.
  const std::vector<int32_t> prompt = Prompt(20, 28);
  const Result b = Collect(*scheduler.Submit({.prompt = prompt, .sampler = Greedy()}));
  EXPECT_EQ(b.last.finish, FinishReason::kContextFull);
  ASSERT_EQ(b.tokens.size(), 44u);
  EXPECT_EQ(b.tokens, DirectGreedy(prompt, 44));
  EXPECT_EQ(scheduler.Stats().kv_cells_cached, 63);  // b's 20 + 43: the other slot's were given back
  const Result again = Collect(*scheduler.Submit({.prompt = kept, .max_tokens = 2, .sampler = Greedy()}));
  EXPECT_EQ(again.last.cached_tokens, 0);
}

TEST(Scheduler, RefusesWhenTheQueueIsFull) {
  Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 1, .queue_capacity = 1, .context = 256, .threads = 1});
  auto running = scheduler.Submit({.prompt = Prompt(4, 11), .sampler = Greedy()});
  GenerationUpdate update;
  ASSERT_TRUE(running->Wait(update, 10s));  // admitted, so the queue is empty again
  auto waiting = scheduler.Submit({.prompt = Prompt(4, 12), .max_tokens = 2, .sampler = Greedy()});
  try {
    scheduler.Submit({.prompt = Prompt(4, 13), .max_tokens = 2});
    ADD_FAILURE() << "a third request was accepted";
  } catch (const SchedulerRefusal& refusal) {
    EXPECT_EQ(refusal.kind(), SchedulerRefusal::Kind::kQueueFull);
  }
  EXPECT_EQ(scheduler.Stats().queued, 1);
  // A cancelled waiting request leaves the queue without ever running.
  waiting->Cancel();
  EXPECT_EQ(Collect(*waiting).last.finish, FinishReason::kCancelled);
  EXPECT_EQ(Collect(*waiting).tokens.size(), 0u);
  running->Cancel();
  Collect(*running);
}

TEST(Scheduler, RefusesPromptsThatDoNotFitAndBadTokens) {
  Engine engine(Tiny(), {.kv_cells = 64, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .context = 4096, .threads = 1});
  EXPECT_EQ(scheduler.context(), 64);  // capped by the cache
  auto kind_of = [&](GenerationRequest request) {
    try {
      scheduler.Submit(std::move(request));
    } catch (const SchedulerRefusal& refusal) {
      return refusal.kind();
    }
    return SchedulerRefusal::Kind::kStopped;
  };
  EXPECT_EQ(kind_of({.prompt = Prompt(64, 1)}), SchedulerRefusal::Kind::kContextExceeded);
  EXPECT_EQ(kind_of({.prompt = {}}), SchedulerRefusal::Kind::kInvalid);
  EXPECT_EQ(kind_of({.prompt = {1, 2, 300}}), SchedulerRefusal::Kind::kInvalid);
  EXPECT_EQ(kind_of({.prompt = {1}, .scripted_tokens = {-4}}), SchedulerRefusal::Kind::kInvalid);
}

// Reservations: two requests that may each fill the cache run one after the other, never
// running out of cells mid-generation.
TEST(Scheduler, WaitsForCellsInsteadOfOverbooking) {
  Engine engine(Tiny(), {.kv_cells = 40, .threads = 1});
  Scheduler scheduler(engine, {.max_sequences = 2, .threads = 1});
  auto first = scheduler.Submit({.prompt = Prompt(10, 14), .sampler = Greedy()});
  auto second = scheduler.Submit({.prompt = Prompt(10, 15), .sampler = Greedy()});
  const Result a = Collect(*first);
  const Result b = Collect(*second);
  EXPECT_EQ(a.last.finish, FinishReason::kContextFull);
  EXPECT_EQ(b.last.finish, FinishReason::kContextFull);
  EXPECT_EQ(a.tokens.size(), 30u);
  EXPECT_EQ(b.tokens.size(), 30u);
}

TEST(Scheduler, ShutdownCancelsWhatIsLeft) {
  std::shared_ptr<GenerationStream> running, waiting;
  {
    Engine engine(Tiny(), {.kv_cells = 256, .threads = 1});
    Scheduler scheduler(engine, {.max_sequences = 1, .context = 256, .threads = 1});
    running = scheduler.Submit({.prompt = Prompt(4, 16), .sampler = Greedy()});
    waiting = scheduler.Submit({.prompt = Prompt(4, 17), .sampler = Greedy()});
  }
  EXPECT_EQ(Collect(*running).last.finish, FinishReason::kCancelled);
  EXPECT_EQ(Collect(*waiting).last.finish, FinishReason::kCancelled);
}

}  // namespace
}  // namespace moefit
