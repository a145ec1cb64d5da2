// SPDX-License-Identifier: MIT
// qwen3 (dense): per-head Q/K RMS-norm, NEOX RoPE.
#include "model/arch/arch_descriptor.h"

namespace moefit {

const ArchDescriptor kQwen3Arch = {
    .name = "qwen3",
    .rope_style = RopeStyle::kNeox,
    .qk_norm = QkNorm::kPerHead,
};

}  // namespace moefit
