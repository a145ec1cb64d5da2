// SPDX-License-Identifier: MIT
// Engine: charges and allocates everything up front (KV cache, scratch, logits, owned weights,
// expert cache), then builds the ForwardBatch (positions, cache cells, attention spans) and runs
// Forward in passes of at most max_batch_tokens tokens.
#include "runtime/engine.h"

#include <omp.h>

#include <limits>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/cpu/dispatch.h"
#include "quant/repack.h"
#include "plan/memory_model.h"

namespace moefit {

// The planner sizes attention scratch for the chunk the kernels use.
static_assert(kAttentionChunk == kAttentionChunkCells);
namespace {

const EngineOptions& Checked(const EngineOptions& options) {
  if (options.kv_cells <= 0 || options.kv_cells > (int64_t{1} << 30)) Fail("KV cache of {} cells is not possible", options.kv_cells);
  if (options.max_batch_tokens < 1) Fail("max_batch_tokens must be at least 1 (got {})", options.max_batch_tokens);
  if (options.logit_rows < 0) Fail("logit_rows cannot be negative (got {})", options.logit_rows);
  bool streams = false;
  for (int64_t slots : options.expert_cache_slots) streams = streams || slots > 0;
  if ((options.weights == WeightResidence::kLoaded || streams) && options.file == nullptr)
    Fail("loading weights or streaming experts needs the model's file (EngineOptions::file)");
  // The thread count is process-wide (OpenMP) and sizes the per-thread attention scratch, which
  // is charged next: set it first.
  if (options.threads > 0) omp_set_num_threads(options.threads);
  return options;
}

int64_t PassTokens(const EngineOptions& options) { return std::min(options.max_batch_tokens, options.kv_cells); }

// Norm weights and biases: the Model holds them as floats.
uint64_t VectorBytes(const ModelWeights& w) {
  uint64_t floats = static_cast<uint64_t>(w.output_norm.size);
  for (const LayerWeights& l : w.layers)
    for (const FloatVector* v : {&l.attn_norm, &l.attn_q_bias, &l.attn_k_bias, &l.attn_v_bias, &l.attn_q_norm,
                                 &l.attn_k_norm, &l.ffn_norm, &l.ffn_gate_inp_shexp})
      floats += static_cast<uint64_t>(v->size);
  return floats * sizeof(float);
}

uint64_t LogitBytes(const ModelSpec& spec, int64_t rows) {
  return static_cast<uint64_t>(rows) * static_cast<uint64_t>(spec.vocab_size) * sizeof(float);
}

bool StreamsLayer(const ModelSpec& spec, const EngineOptions& options, int layer) {
  const size_t index = static_cast<size_t>(layer);
  if (index >= options.expert_cache_slots.size() || !spec.LayerIsMoe(layer)) return false;
  const int64_t slots = options.expert_cache_slots[index];
  return slots > 0 && slots < spec.n_experts;
}

}  // namespace

Engine::Engine(const Model& model, const EngineOptions& options)
    : model_(model),
      options_(Checked(options)),
      own_budget_(options.host_budget != nullptr ? nullptr
                                                 : std::make_unique<Budget>("host RAM", std::numeric_limits<uint64_t>::max())),
      budget_(options.host_budget != nullptr ? options.host_budget : own_budget_.get()),
      vectors_reservation_(*budget_, VectorBytes(model.weights()), "norm weights and biases"),
      kv_reservation_(*budget_, KvCache::Bytes(model.spec(), options.kv_type, options.kv_cells),
                      fmt::format("the KV cache ({} cells, {})", options.kv_cells, KvTypeName(options.kv_type))),
      scratch_reservation_(*budget_, ForwardScratch::Bytes(model.spec(), PassTokens(options)),
                           fmt::format("activations of {}-token passes", PassTokens(options))),
      logits_reservation_(*budget_, LogitBytes(model.spec(), options.logit_rows),
                          fmt::format("logits of {} positions", options.logit_rows)),
      kv_(model.spec(), options.kv_cells, options.kv_type),
      weights_(model.weights()) {
  scratch_.Reserve(spec(), PassTokens(options_));
  logits_.resize(static_cast<size_t>(LogitBytes(spec(), options_.logit_rows) / sizeof(float)));
  LoadWeights();
  ExpertStoreOptions store;
  store.cache_slots.assign(static_cast<size_t>(spec().n_layers), 0);
  for (int layer = 0; layer < spec().n_layers; ++layer)
    if (StreamsLayer(spec(), options_, layer)) store.cache_slots[static_cast<size_t>(layer)] = options_.expert_cache_slots[static_cast<size_t>(layer)];
  experts_ = std::make_unique<ExpertStore>(options_.file, spec(), weights_.layers, store, *budget_);
  if (options_.prefill_expert_cache) experts_->Prefill(options_.progress);
}

uint64_t Engine::repacked_weight_bytes() const {
  uint64_t bytes = 0;
  for (const OwnedTensor& tensor : owned_)
    if (tensor.view.repacked) bytes += tensor.buffer.size();
  return bytes;
}

uint64_t Engine::owned_weight_bytes() const {
  uint64_t bytes = 0;
  for (const OwnedTensor& tensor : owned_) bytes += tensor.buffer.size();
  return bytes;
}

// Reads every matrix the CPU computes with into owned memory (each charged first), except the
// routed experts of streamed layers, and points weights_ at the copies.
void Engine::LoadWeights() {
  if (options_.weights != WeightResidence::kLoaded) return;
  const GgufFile& file = *options_.file;
  std::vector<TensorView*> views = {&weights_.token_embd, &weights_.output};
  for (int layer = 0; layer < spec().n_layers; ++layer) {
    LayerWeights& l = weights_.layers[static_cast<size_t>(layer)];
    for (TensorView* view : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down,
                             &l.ffn_gate_inp, &l.ffn_gate_shexp, &l.ffn_up_shexp, &l.ffn_down_shexp})
      views.push_back(view);
    if (!StreamsLayer(spec(), options_, layer))
      for (TensorView* view : {&l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) views.push_back(view);
  }
  std::map<const void*, size_t> index;  // file data -> position in `tensors` (tied output: once)
  std::vector<const GgufTensorInfo*> tensors;
  std::vector<WeightLayout> layouts;
  for (const TensorView* view : views) {
    if (!*view || index.count(view->data) != 0) continue;
    const GgufTensorInfo* tensor = TensorAt(file, view->data);
    if (tensor == nullptr) Fail("{}: a weight of the model is not a view of this file, so it cannot be loaded from it", file.path());
    index.emplace(view->data, tensors.size());
    tensors.push_back(tensor);
    // The token embedding is read a row at a time (and may be the tied output): it stays plain.
    const bool interleave = options_.interleave_weights && view->data != model_.weights().token_embd.data &&
                            CanInterleave(view->type) && view->n_dims >= 2;
    // Repacked where this machine's kernel table computes from that encoding.
    const bool repack = interleave && options_.repack_weights && CanRepack(view->type) && view->rows() % kRepackRows == 0 &&
                        CpuKernels().Dot(view->type).repacked_tile != nullptr;
    layouts.push_back(repack ? WeightLayout::kRepacked : interleave ? WeightLayout::kInterleaved : WeightLayout::kPlain);
  }
  const FileReader reader(file.path());
  owned_ = LoadTensors(reader, file, tensors, *budget_, options_.progress, layouts);
  for (TensorView* view : views) {
    if (!*view) continue;
    const OwnedTensor& owned = owned_[index.at(view->data)];
    view->data = owned.buffer.data();
    view->row_group = owned.view.row_group;
    view->repacked = owned.view.repacked;
  }
}

std::span<const float> Engine::Evaluate(std::span<const BatchItem> items) {
  const int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) return {};
  const int vocab = spec().vocab_size;
  // Check everything first, so a refused batch leaves the engine as it was.
  std::map<int32_t, int64_t> per_sequence;
  int64_t logit_rows = 0;
  for (const BatchItem& item : items) {
    if (item.token < 0 || item.token >= vocab) Fail("token id {} is outside the vocabulary (0..{})", item.token, vocab - 1);
    ++per_sequence[item.seq];
    logit_rows += item.want_logits ? 1 : 0;
  }
  int64_t needed = 0;
  for (const auto& [seq, count] : per_sequence) needed += count;
  if (needed > kv_.free_cells())
    Fail("KV cache full: the batch needs {} cells, {} of {} are free", needed, kv_.free_cells(), kv_.capacity());
  const size_t logit_floats = static_cast<size_t>(logit_rows) * static_cast<size_t>(vocab);
  if (logit_floats > logits_.size()) {
    // More rows than reserved: charge the difference before growing (refused past the cap).
    const int64_t have = static_cast<int64_t>(logits_.size() / static_cast<size_t>(vocab));
    extra_logits_.emplace_back(*budget_, LogitBytes(spec(), logit_rows - have),
                               fmt::format("logits of {} positions (beyond the {} reserved)", logit_rows, have));
    logits_.resize(logit_floats);
  }
  std::map<int32_t, int64_t> next_position;
  for (const auto& [seq, count] : per_sequence) {
    next_position[seq] = kv_.Length(seq);
    kv_.Append(seq, count);
  }
  tokens_.resize(static_cast<size_t>(n));
  positions_.resize(static_cast<size_t>(n));
  cells_.resize(static_cast<size_t>(n));
  attend_.resize(static_cast<size_t>(n));
  logit_tokens_.clear();
  std::map<int32_t, int64_t> start_length = next_position;
  for (int64_t i = 0; i < n; ++i) {
    const BatchItem& item = items[static_cast<size_t>(i)];
    const int64_t position = next_position[item.seq]++;
    const std::span<const int32_t> cells = kv_.Cells(item.seq);
    tokens_[i] = item.token;
    positions_[i] = static_cast<int32_t>(position);
    cells_[i] = cells[static_cast<size_t>(position)];
    attend_[i] = cells.first(static_cast<size_t>(position + 1));
    if (item.want_logits) logit_tokens_.push_back(static_cast<int32_t>(i));
  }
  try {
    RunPasses(n);
  } catch (...) {
    for (const auto& [seq, length] : start_length) kv_.Truncate(seq, length);
    throw;
  }
  return std::span<const float>(logits_).first(logit_floats);
}

// Runs the prepared batch in passes of at most PassTokens tokens, in item order: a token's
// earlier positions are always in its pass or an earlier one, so their K/V are written.
void Engine::RunPasses(int64_t n) {
  const int64_t pass = PassTokens(options_);
  const size_t vocab = static_cast<size_t>(spec().vocab_size);
  size_t logit_row = 0, next_logit = 0;
  for (int64_t first = 0; first < n; first += pass) {
    const int64_t count = std::min(pass, n - first);
    pass_logit_tokens_.clear();
    while (next_logit < logit_tokens_.size() && logit_tokens_[next_logit] < first + count)
      pass_logit_tokens_.push_back(static_cast<int32_t>(logit_tokens_[next_logit++] - first));
    const size_t offset = static_cast<size_t>(first), size = static_cast<size_t>(count);
    const ForwardBatch batch{.tokens = std::span<const int32_t>(tokens_).subspan(offset, size),
                             .positions = std::span<const int32_t>(positions_).subspan(offset, size),
                             .cells = std::span<const int32_t>(cells_).subspan(offset, size),
                             .attend = std::span<const std::span<const int32_t>>(attend_).subspan(offset, size),
                             .logit_tokens = pass_logit_tokens_};
    Forward(spec(), weights_, batch, kv_.layers(), {.path = options_.path, .experts = experts_.get(), .profile = profile_}, scratch_,
            logits_.data() + logit_row * vocab);
    logit_row += pass_logit_tokens_.size();
  }
}

std::span<const float> Engine::EvaluateSequence(int32_t seq, std::span<const int32_t> tokens) {
  std::vector<BatchItem> items;
  items.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) items.push_back({seq, tokens[i], i + 1 == tokens.size()});
  return Evaluate(items);
}

}  // namespace moefit
