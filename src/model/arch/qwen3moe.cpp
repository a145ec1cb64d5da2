// SPDX-License-Identifier: MIT
// qwen3moe (Qwen3-30B-A3B, Qwen3-235B-A22B): GQA, per-head Q/K RMS-norm, NEOX RoPE, softmax
// router with top-k weights renormalised, SwiGLU experts.
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kQwen3MoeArch = {
    .name = "qwen3moe",
    .rope_style = RopeStyle::kNeox,
    .qk_norm = QkNorm::kPerHead,
    .gating = Gating::kSoftmax,
    .norm_topk = true,
    .moe_required = true,
};

}  // namespace moefit
