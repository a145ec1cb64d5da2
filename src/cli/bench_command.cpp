// SPDX-License-Identifier: MIT
// `moefit bench`: prompt processing (pp) and token generation (tg) speed, like the ecosystem's
// bench tools (random tokens, empty cache; tg = n single-token steps), and `--membw`: the
// machine's memory read bandwidth, the ceiling decode is measured against.
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/run_memory.h"
#include "core/error.h"
#include "kernels/ops.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/model_summary.h"
#include "runtime/engine.h"

namespace moefit {
namespace {

struct BenchOptions {
  std::string model;
  int prompt = 512;
  int generate = 128;
  int repetitions = 3;
  int threads = 0;
  int parallel = 1;
  int depth = 0;  // tokens already in each sequence's cache when pp and tg are measured
  int batch = 512;
  std::string output = "md";
  std::string kv_type = "f16";
  bool membw = false;
  bool with_membw = false;  // read-bandwidth passes between the tg repetitions
  bool profile = false;     // time per forward phase
  bool mmap = false;       // compute from the file mapping instead of loaded weights
  bool no_repack = false;  // load weights in the file's row order (for comparisons)
  bool interleave_only = false;  // interleave rows but keep the file's block encoding
};

using Clock = std::chrono::steady_clock;

struct Stats {
  double mean = 0, stddev = 0, median = 0;
};

Stats Summarize(std::vector<double> values) {
  Stats s;
  if (values.empty()) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.stddev = values.size() > 1 ? std::sqrt(sq / static_cast<double>(values.size() - 1)) : 0.0;
  std::sort(values.begin(), values.end());
  s.median = values[values.size() / 2];
  return s;
}

// Read bandwidth: every thread reads its share of a 1 GiB huge-page buffer as four prefetched
// streams (StreamRead, as the kernels read weights). The buffer lives while the object does, so
// a benchmark can make passes between its repetitions: the same sitting as the decode it is
// compared with (on these machines one pass may differ from the next by 30%).
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(int threads) : threads_(threads) {
    // 2 MiB-aligned and advised for transparent huge pages, as model weights are.
    void* memory = std::aligned_alloc(size_t{2} << 20, kBytes);
    if (memory == nullptr) Fail("bench: cannot allocate 1 GiB to measure the read bandwidth");
    ::madvise(memory, kBytes, MADV_HUGEPAGE);
    buffer_.reset(static_cast<uint64_t*>(memory));
    uint64_t* data = buffer_.get();
    const size_t words = kBytes / sizeof(uint64_t);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < words; ++i) data[i] = i;
  }
  ~ReadBandwidthProbe() {
    if (sink_ == 42) std::puts("");  // keeps the reads
  }

  // One pass over the buffer; its GB/s (1 GB = 1e9 B), also kept in passes().
  double Pass() {
    const auto start = Clock::now();
    uint64_t total = 0;
    const auto* bytes = reinterpret_cast<const uint8_t*>(buffer_.get());
#pragma omp parallel num_threads(threads_) reduction(+ : total)
    {
      // Each thread its own contiguous share, read as the kernels read weights (kernels/ops.h).
      const int64_t n = omp_get_num_threads(), id = omp_get_thread_num(), all = static_cast<int64_t>(kBytes);
      const int64_t begin = all * id / n / 256 * 256, end = all * (id + 1) / n / 256 * 256;
      total += StreamRead(bytes + begin, end - begin);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    sink_ += total;
    passes_.push_back(static_cast<double>(kBytes) / seconds / 1e9);
    return passes_.back();
  }

  const std::vector<double>& passes() const { return passes_; }
  double Best() const { return passes_.empty() ? 0.0 : *std::max_element(passes_.begin(), passes_.end()); }
  double Median() const { return Summarize(passes_).median; }

 private:
  static constexpr size_t kBytes = size_t{1} << 30;
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  int threads_;
  std::unique_ptr<uint64_t[], Free> buffer_;
  std::vector<double> passes_;
  uint64_t sink_ = 0;
};

// Weight bytes one decode step reads: everything but the embedding table and the routed experts
// not chosen (n_active of n_experts of them); a tied LM head reads the whole embedding table.
uint64_t DecodeBytesPerToken(const ModelSummary& s) {
  auto bytes = [&](TensorRole role) { return s.roles[static_cast<size_t>(role)].bytes; };
  uint64_t total = 0;
  for (const RoleTotals& r : s.roles)
    if (r.role != TensorRole::kEmbedding && r.role != TensorRole::kRoutedExperts) total += r.bytes;
  if (s.roles[static_cast<size_t>(TensorRole::kOutput)].tensors == 0) total += bytes(TensorRole::kEmbedding);
  if (s.n_experts > 0)
    total += static_cast<uint64_t>(static_cast<double>(bytes(TensorRole::kRoutedExperts)) * static_cast<double>(s.n_active_experts) /
                                   static_cast<double>(s.n_experts));
  return total;
}

// Where a test's time went, phase by phase: ms per prompt (pp) or step (tg), share, and for the
// matrix phases the weights' read rate and the multiply-add rate (1 GOP = 1e9 x 2 operations).
void PrintProfile(const std::string& test, const ForwardProfile& profile, double units, const char* unit) {
  double total = 0;
  for (double seconds : profile.seconds) total += seconds;
  if (total <= 0 || units <= 0) return;
  std::printf("\nwhere %s's time goes (ms per %s; %lld forward passes, %lld tokens):\n\n", test.c_str(), unit,
              static_cast<long long>(profile.passes), static_cast<long long>(profile.tokens));
  std::printf("| phase | ms | share | weights GB/s | GOP/s |\n|---|---:|---:|---:|---:|\n");
  for (int i = 0; i < kForwardPhases; ++i) {
    const double seconds = profile.seconds[i];
    const std::string rate = profile.weight_bytes[i] > 0 && seconds > 0
                                 ? fmt::format("{:.1f}", static_cast<double>(profile.weight_bytes[i]) / seconds / 1e9)
                                 : "";
    const std::string ops = profile.multiply_adds[i] > 0 && seconds > 0
                                ? fmt::format("{:.1f}", 2.0 * static_cast<double>(profile.multiply_adds[i]) / seconds / 1e9)
                                : "";
    std::printf("| %s | %.2f | %.1f%% | %s | %s |\n", ForwardPhaseName(static_cast<ForwardPhase>(i)), seconds / units * 1e3,
                100.0 * seconds / total, rate.c_str(), ops.c_str());
  }
  std::printf("| total | %.2f | | | |\n", total / units * 1e3);
}

}  // namespace

void RegisterBenchCommand(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "Measure prompt (pp) and generation (tg) speed, or memory bandwidth");
  command->add_option("-m,--model", o->model, "GGUF model");
  command->add_option("-p,--prompt", o->prompt, "Prompt tokens for pp (0: skip)")->capture_default_str();
  command->add_option("-n,--generate", o->generate, "Generated tokens for tg (0: skip)")->capture_default_str();
  command->add_option("-r,--repetitions", o->repetitions, "Repetitions")->capture_default_str();
  command->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  command->add_option("--parallel", o->parallel, "Sequences decoding together in tg")->capture_default_str();
  command->add_option("-d,--depth", o->depth,
                      "Tokens already in each sequence's cache when pp and tg are measured (random, filled once, not timed)")
      ->capture_default_str();
  command->add_option("-b,--batch", o->batch, "Prompt tokens per forward pass")->capture_default_str();
  command->add_option("-o,--output", o->output, "md or json")->capture_default_str();
  command->add_flag("--membw", o->membw, "Measure memory read bandwidth instead (5 passes over 1 GiB)");
  command->add_flag("--profile", o->profile,
                    "Also time each phase of the forward pass (projections, attention, experts, ...) in the measured repetitions");
  command->add_flag("--with-membw", o->with_membw,
                    "Also measure the read bandwidth between the tg repetitions and report decode's share of it");
  command->add_flag("--mmap", o->mmap, "Compute from the file mapping (default: weights loaded into RAM, as run does)");
  command->add_flag("--no-repack", o->no_repack, "Load weights in the file's row order (no interleaving), to compare");
  command->add_flag("--interleave-only", o->interleave_only,
                    "Interleave rows by block but keep the file's block encoding (no Q4_K repacking), to compare");
  AddKvTypeFlag(*command, o->kv_type);
  command->callback([o] {
    const int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    if (o->membw) {
      ReadBandwidthProbe probe(threads);
      for (int pass = 0; pass < 5; ++pass) probe.Pass();
      if (o->output == "json") {
        std::printf("%s\n", nlohmann::json{{"test", "membw"},
                                           {"threads", threads},
                                           {"read_gb_per_s", probe.Best()},
                                           {"median_gb_per_s", probe.Median()},
                                           {"passes_gb_per_s", probe.passes()}}
                                .dump()
                                .c_str());
      } else {
        std::printf("memory read bandwidth: %.1f GB/s (%d threads, best of 5 passes over 1 GiB; median %.1f)\n", probe.Best(),
                    threads, probe.Median());
      }
      return;
    }
    if (o->model.empty()) Fail("bench needs -m MODEL (or --membw)");
    if (o->repetitions <= 0 || o->parallel <= 0 || o->batch <= 0 || o->prompt < 0 || o->generate < 0 || o->depth < 0)
      Fail("bench: -r, --parallel and --batch must be positive, -p, -n and -d not negative");
    if (o->output != "md" && o->output != "json") Fail("bench -o {}: use md or json", o->output);
    const GgufFile file = GgufFile::Open(o->model);
    const Model model = Model::Load(file);
    const ModelSummary summary = SummarizeModel(file);
    const int64_t depth = o->depth;
    const int64_t cells = std::max<int64_t>(depth + o->prompt, (depth + o->generate) * o->parallel) + 16;
    const DType kv_type = ParseKvType(o->kv_type);
    EngineOptions engine_options{.kv_cells = cells, .kv_type = kv_type, .threads = threads};
    engine_options.max_batch_tokens = o->batch;
    engine_options.logit_rows = o->parallel;
    auto last_reported = std::make_shared<uint64_t>(0);
    if (!o->mmap) {
      engine_options.weights = WeightResidence::kLoaded;
      engine_options.file = &file;
      engine_options.interleave_weights = !o->no_repack;
      engine_options.repack_weights = !o->interleave_only;
      engine_options.progress = [last_reported](const LoadProgress& p) {
        uint64_t& last = *last_reported;
        if (p.bytes_done - last < (uint64_t{1} << 30) && p.bytes_done != p.bytes_total) return;
        last = p.bytes_done;
        std::fprintf(stderr, "\rloading weights: %s of %s", FormatBytes(p.bytes_done).c_str(), FormatBytes(p.bytes_total).c_str());
        if (p.bytes_done == p.bytes_total) std::fprintf(stderr, "\n");
      };
    }
    const auto load_start = Clock::now();
    Engine engine(model, engine_options);
    const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
    const uint64_t bytes_per_token = DecodeBytesPerToken(summary);
    const std::string weights = o->mmap             ? "mmap"
                                : o->no_repack       ? "loaded"
                                : engine.repacked_weight_bytes() == 0 ? "loaded+interleaved"
                                                                      : "loaded+repacked";
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(0, model.spec().vocab_size - 1);
    struct Test {
      std::string name;
      Stats stats;
      ForwardProfile profile;  // of the measured repetitions, with --profile
      double units = 0;        // what a profile row is per: prompts (pp) or steps (tg)
    };
    std::vector<Test> tests;
    // --depth: sequences 0 .. k-1 get `depth` random tokens once (in batches, not timed or
    // profiled); every repetition then starts from them and is cut back to them afterwards.
    int filled = 0;  // sequences holding the depth tokens
    const auto fill = [&](int sequences) {
      for (; filled < sequences && depth > 0; ++filled) {
        std::vector<int32_t> tokens(static_cast<size_t>(depth));
        for (int32_t& t : tokens) t = token(rng);
        for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(o->batch)) {
          const size_t count = std::min(tokens.size() - begin, static_cast<size_t>(o->batch));
          engine.EvaluateSequence(filled, std::span<const int32_t>(tokens).subspan(begin, count));
          std::fprintf(stderr, "\rfilling the cache of sequence %d: %zu of %lld tokens", filled, begin + count,
                       static_cast<long long>(depth));
        }
        std::fprintf(stderr, "\n");
      }
    };
    const std::string at_depth = depth > 0 ? fmt::format(" @ d{}", depth) : "";
    // One warm-up pass of each kind so page faults and first-touch are not measured.
    if (o->prompt > 0) {
      fill(1);
      std::vector<double> rates;
      ForwardProfile profile;
      for (int r = 0; r <= o->repetitions; ++r) {
        engine.SetProfile(o->profile && r > 0 ? &profile : nullptr);
        std::vector<int32_t> prompt(static_cast<size_t>(o->prompt));
        for (int32_t& t : prompt) t = token(rng);
        const auto start = Clock::now();
        for (size_t begin = 0; begin < prompt.size(); begin += static_cast<size_t>(o->batch)) {
          const size_t count = std::min(prompt.size() - begin, static_cast<size_t>(o->batch));
          engine.EvaluateSequence(0, std::span<const int32_t>(prompt).subspan(begin, count));
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        engine.TruncateSequence(0, depth);
        if (r > 0) rates.push_back(o->prompt / seconds);
      }
      engine.SetProfile(nullptr);
      tests.push_back({fmt::format("pp{}{}", o->prompt, at_depth), Summarize(rates), profile, static_cast<double>(o->repetitions)});
    }
    // Read-bandwidth passes before every measured tg repetition and after the last: decode's
    // ceiling, measured in the same sitting.
    std::unique_ptr<ReadBandwidthProbe> probe;
    if (o->with_membw && o->generate > 0) probe = std::make_unique<ReadBandwidthProbe>(threads);
    if (o->generate > 0) {
      fill(o->parallel);
      std::vector<double> rates;
      ForwardProfile profile;
      for (int r = 0; r <= o->repetitions; ++r) {
        const int steps = r == 0 ? std::min(o->generate, 8) : o->generate;
        engine.SetProfile(o->profile && r > 0 ? &profile : nullptr);
        if (probe != nullptr && r > 0) probe->Pass();
        const auto start = Clock::now();
        std::vector<BatchItem> items(static_cast<size_t>(o->parallel));
        for (int step = 0; step < steps; ++step) {
          for (int s = 0; s < o->parallel; ++s) items[static_cast<size_t>(s)] = {s, token(rng), true};
          engine.Evaluate(items);
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        for (int s = 0; s < o->parallel; ++s) engine.TruncateSequence(s, depth);
        if (r > 0) rates.push_back(static_cast<double>(steps) * o->parallel / seconds);
      }
      if (probe != nullptr) probe->Pass();
      engine.SetProfile(nullptr);
      tests.push_back({(o->parallel > 1 ? fmt::format("tg{} x{}", o->generate, o->parallel) : fmt::format("tg{}", o->generate)) + at_depth,
                       Summarize(rates), profile, static_cast<double>(o->repetitions) * o->generate});
    }
    // Decode's read rate: one step's weight bytes, plus at a depth the K/V rows it attends to
    // (the average cache length of the measured steps), at the median rate (one sequence only:
    // the distinct experts of several sequences' tokens are not counted here).
    const bool decode_ratio = probe != nullptr && o->parallel == 1;
    const uint64_t kv_bytes_per_step =
        KvCache::BytesPerCell(model.spec(), kv_type) * static_cast<uint64_t>(depth + (o->generate + 1) / 2);
    const uint64_t step_bytes = bytes_per_token + (depth > 0 ? kv_bytes_per_step : 0);
    const double decode_gbps = decode_ratio ? static_cast<double>(step_bytes) * tests.back().stats.median / 1e9 : 0.0;
    if (o->output == "json") {  // one JSON object per line and test
      for (const Test& t : tests) {
        nlohmann::json line{{"test", t.name},
                            {"avg_ts", t.stats.mean},
                            {"stddev_ts", t.stats.stddev},
                            {"median_ts", t.stats.median},
                            {"repetitions", o->repetitions},
                            {"model", o->model},
                            {"architecture", summary.architecture},
                            {"model_bytes", summary.total_bytes},
                            {"params", summary.total_params},
                            {"active_params", summary.active_params},
                            {"decode_bytes_per_token", bytes_per_token},
                            {"threads", threads},
                            {"kv_type", KvTypeName(kv_type)},
                            {"batch", o->batch},
                            {"parallel", o->parallel},
                            {"depth", depth},
                            {"weights", weights},
                            {"load_s", load_seconds}};
        if (probe != nullptr && t.name.starts_with("tg")) {
          line["membw_passes_gb_per_s"] = probe->passes();
          line["membw_median_gb_per_s"] = probe->Median();
          line["membw_best_gb_per_s"] = probe->Best();
          if (decode_ratio) {
            line["decode_gb_per_s"] = decode_gbps;
            line["decode_step_bytes"] = step_bytes;
          }
        }
        if (o->profile) {
          nlohmann::json phases = nlohmann::json::array();
          for (int i = 0; i < kForwardPhases; ++i)
            phases.push_back({{"phase", ForwardPhaseName(static_cast<ForwardPhase>(i))},
                              {"seconds", t.profile.seconds[i]},
                              {"weight_bytes", t.profile.weight_bytes[i]},
                              {"multiply_adds", t.profile.multiply_adds[i]}});
          line["profile"] = {{"passes", t.profile.passes}, {"tokens", t.profile.tokens}, {"phases", phases}};
        }
        std::printf("%s\n", line.dump().c_str());
      }
      return;
    }
    std::printf("weights %s (load %.1f s) · decode reads %s of weights per token\n\n", weights.c_str(), load_seconds,
                FormatBytes(bytes_per_token).c_str());
    std::printf("| model | size | params | active | threads | kv | test | t/s (mean ± sd) | median |\n");
    std::printf("|---|---:|---:|---:|---:|---|---|---:|---:|\n");
    for (const Test& t : tests)
      std::printf("| %s | %s | %s | %s | %d | %s | %s | %.2f ± %.2f | %.2f |\n", summary.architecture.c_str(),
                  FormatBytes(summary.total_bytes).c_str(), FormatCount(summary.total_params).c_str(),
                  FormatCount(summary.active_params).c_str(), threads, KvTypeName(kv_type).c_str(), t.name.c_str(), t.stats.mean,
                  t.stats.stddev, t.stats.median);
    if (probe != nullptr) {
      std::string passes;
      for (double p : probe->passes()) passes += fmt::format("{}{:.1f}", passes.empty() ? "" : " ", p);
      std::printf("\nread bandwidth between the tg repetitions: median %.1f GB/s, best %.1f (passes: %s)\n", probe->Median(),
                  probe->Best(), passes.c_str());
      if (decode_ratio)
        std::printf("decode reads %.1f GB/s (%s per token%s at the median t/s): %.0f%% of the median bandwidth, %.0f%% of the best\n",
                    decode_gbps, FormatBytes(step_bytes).c_str(), depth > 0 ? ", with the K/V rows" : "",
                    100.0 * decode_gbps / probe->Median(),
                    100.0 * decode_gbps / probe->Best());
    }
    if (o->profile)
      for (const Test& t : tests) PrintProfile(t.name, t.profile, t.units, t.name.starts_with("pp") ? "prompt" : "step");
  });
}

}  // namespace moefit
