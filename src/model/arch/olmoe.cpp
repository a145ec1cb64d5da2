// SPDX-License-Identifier: MIT
// olmoe (OLMoE-1B-7B): Q and K RMS-normed over the whole projection before the split into
// heads, NEOX RoPE, softmax router with top-k weights not renormalised.
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kOlmoeArch = {
    .name = "olmoe",
    .rope_style = RopeStyle::kNeox,
    .qk_norm = QkNorm::kFull,
    .gating = Gating::kSoftmax,
    .norm_topk = false,
    .moe_required = true,
    .default_rms_eps = 1e-5f,
};

}  // namespace moefit
