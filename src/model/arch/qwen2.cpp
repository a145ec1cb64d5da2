// SPDX-License-Identifier: MIT
// qwen2 (dense): Q/K/V biases, NEOX RoPE.
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kQwen2Arch = {
    .name = "qwen2",
    .rope_style = RopeStyle::kNeox,
    .qkv_bias = true,
};

}  // namespace moefit
