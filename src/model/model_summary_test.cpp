// SPDX-License-Identifier: MIT
// Inspect figures against the shapes the fixture README gives.
#include "model/model_summary.h"

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace moefit {
namespace {

namespace fs = std::filesystem;

const RoleTotals& Role(const ModelSummary& summary, TensorRole role) { return summary.roles[static_cast<int>(role)]; }

TEST(TensorRole, ClassifiesGgufNames) {
  EXPECT_EQ(ClassifyTensor("token_embd.weight"), TensorRole::kEmbedding);
  EXPECT_EQ(ClassifyTensor("output.weight"), TensorRole::kOutput);
  EXPECT_EQ(ClassifyTensor("output_norm.weight"), TensorRole::kNorm);
  EXPECT_EQ(ClassifyTensor("blk.3.attn_q.weight"), TensorRole::kAttention);
  EXPECT_EQ(ClassifyTensor("blk.3.attn_q.bias"), TensorRole::kAttention);
  EXPECT_EQ(ClassifyTensor("blk.3.attn_k_norm.weight"), TensorRole::kNorm);
  EXPECT_EQ(ClassifyTensor("blk.3.attn_kv_a_mqa.weight"), TensorRole::kAttention);
  EXPECT_EQ(ClassifyTensor("blk.3.ffn_gate_inp.weight"), TensorRole::kRouter);
  EXPECT_EQ(ClassifyTensor("blk.3.exp_probs_b.bias"), TensorRole::kRouter);
  EXPECT_EQ(ClassifyTensor("blk.3.ffn_gate_inp_shexp.weight"), TensorRole::kSharedExperts);
  EXPECT_EQ(ClassifyTensor("blk.3.ffn_down_shexp.weight"), TensorRole::kSharedExperts);
  EXPECT_EQ(ClassifyTensor("blk.3.ffn_up_exps.weight"), TensorRole::kRoutedExperts);
  EXPECT_EQ(ClassifyTensor("blk.0.ffn_up.weight"), TensorRole::kDenseFfn);
  EXPECT_EQ(ClassifyTensor("rope_freqs.weight"), TensorRole::kOther);
  EXPECT_EQ(TensorLayer("blk.17.attn_q.weight"), 17);
  EXPECT_FALSE(TensorLayer("output.weight").has_value());
}

// tiny-qwen3moe: 2 layers, model_dim 256, 4 query heads and 2 KV heads of 64, 8 experts (4
// active) of expert_ffn_dim 256, vocabulary 4122, untied output.
TEST(ModelSummary, TinyQwen3MoeFiguresMatchTheShapes) {
  const fs::path dir = fs::path(MOEFIT_FIXTURES_DIR) / "models";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures not found at " << dir;
  constexpr int64_t kLayers = 2, kDim = 256, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kExperts = 8, kActive = 4,
                    kExpertFfn = 256, kVocab = 4122;
  const int64_t attention = kLayers * (kDim * kHeads * kHeadDim * 2 + kDim * kKvHeads * kHeadDim * 2);
  const int64_t norms = kLayers * (2 * kDim + 2 * kHeadDim) + kDim;
  const int64_t router = kLayers * kDim * kExperts;
  const int64_t experts = kLayers * 3 * kExperts * kDim * kExpertFfn;
  const int64_t embedding = kVocab * kDim;
  for (const char* type : {"f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m"}) {
    SCOPED_TRACE(type);
    const GgufFile file = GgufFile::Open((dir / fmt::format("tiny-qwen3moe-{}.gguf", type)).string());
    const ModelSummary summary = SummarizeModel(file);
    EXPECT_EQ(summary.architecture, "qwen3moe");
    EXPECT_EQ(Role(summary, TensorRole::kAttention).params, attention);
    EXPECT_EQ(Role(summary, TensorRole::kNorm).params, norms);
    EXPECT_EQ(Role(summary, TensorRole::kRouter).params, router);
    EXPECT_EQ(Role(summary, TensorRole::kRoutedExperts).params, experts);
    EXPECT_EQ(Role(summary, TensorRole::kEmbedding).params, embedding);
    EXPECT_EQ(Role(summary, TensorRole::kOutput).params, embedding);
    EXPECT_EQ(Role(summary, TensorRole::kOther).tensors, 0);
    EXPECT_EQ(summary.total_params, attention + norms + router + experts + 2 * embedding);
    EXPECT_EQ(summary.active_params, summary.total_params - experts + experts / kExperts * kActive);
    EXPECT_EQ(summary.n_experts, kExperts);
    EXPECT_EQ(summary.n_active_experts, kActive);
    EXPECT_EQ(summary.tokenizer.vocab_size, kVocab);
    EXPECT_EQ(summary.tokenizer.pre_tokenizer, "qwen2");
    EXPECT_TRUE(summary.tokenizer.chat_template);
    // Bytes: every tensor's bytes counted once, and norms are F32.
    uint64_t bytes = 0;
    for (const RoleTotals& role : summary.roles) bytes += role.bytes;
    EXPECT_EQ(bytes, summary.total_bytes);
    EXPECT_EQ(Role(summary, TensorRole::kNorm).bytes, static_cast<uint64_t>(norms * 4));
    if (std::string(type) == "f16") {
      EXPECT_EQ(Role(summary, TensorRole::kRoutedExperts).bytes, static_cast<uint64_t>(experts * 2));
    }
    if (std::string(type) == "q8_0") {
      EXPECT_EQ(Role(summary, TensorRole::kRoutedExperts).bytes, static_cast<uint64_t>(experts / 32 * 34));
    }
  }
}

// The per-architecture fixtures: model_dim 64, 4 heads of 16, 2 layers.
TEST(ModelSummary, ArchFixtures) {
  const fs::path dir = fs::path(MOEFIT_FIXTURES_DIR) / "models/arch";
  if (!fs::exists(dir)) GTEST_SKIP() << "fixtures not found at " << dir;
  const ModelSummary qwen2moe = SummarizeModel(GgufFile::Open((dir / "tiny-qwen2moe-q8_0.gguf").string()));
  EXPECT_EQ(qwen2moe.n_experts, 4);
  EXPECT_EQ(qwen2moe.n_active_experts, 2);
  // Shared expert of ffn 128: gate, up, down + the 64-wide sigmoid gate, per layer.
  EXPECT_EQ(Role(qwen2moe, TensorRole::kSharedExperts).params, 2 * (3 * 64 * 128 + 64));
  const ModelSummary llama = SummarizeModel(GgufFile::Open((dir / "tiny-llama-q8_0.gguf").string()));
  EXPECT_EQ(llama.n_experts, 0);
  EXPECT_EQ(llama.active_params, llama.total_params);
  EXPECT_EQ(Role(llama, TensorRole::kRoutedExperts).tensors, 0);
  EXPECT_GT(Role(llama, TensorRole::kDenseFfn).params, 0);
}

}  // namespace
}  // namespace moefit
