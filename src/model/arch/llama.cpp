// SPDX-License-Identifier: MIT
// llama: dense Llama, and Mixtral-style experts (ffn_*_exps) under the same architecture string:
// NORM RoPE (consecutive pairs), softmax router with top-k weights renormalised.
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kLlamaArch = {
    .name = "llama",
    .rope_style = RopeStyle::kNorm,
    .gating = Gating::kSoftmax,
    .norm_topk = true,
    .default_rms_eps = 1e-5f,
};

}  // namespace moefit
