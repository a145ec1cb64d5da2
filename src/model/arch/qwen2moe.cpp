// SPDX-License-Identifier: MIT
// qwen2moe (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): Q/K/V biases, NEOX RoPE, softmax router with
// top-k weights not renormalised, plus a shared expert scaled by sigmoid(ffn_gate_inp_shexp . x).
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kQwen2MoeArch = {
    .name = "qwen2moe",
    .rope_style = RopeStyle::kNeox,
    .qkv_bias = true,
    .gating = Gating::kSoftmax,
    .norm_topk = false,
    .shared_expert_gate = true,
    .moe_required = true,
};

}  // namespace moefit
