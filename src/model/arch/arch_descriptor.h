// SPDX-License-Identifier: MIT
// ArchDescriptor: everything that differs between architectures, as data. One file per
// architecture defines one; arch/registry.cpp lists them. No other code branches on names.
#pragma once

#include <span>
#include <string_view>

#include "model/model_spec.h"

namespace moefit {

struct ArchDescriptor {
  std::string_view name;  // general.architecture
  RopeStyle rope_style = RopeStyle::kNeox;
  QkNorm qk_norm = QkNorm::kNone;
  bool qkv_bias = false;  // Q/K/V biases are required (else taken when present)
  Gating gating = Gating::kSoftmax;
  bool norm_topk = false;  // default when the file has no expert_weights_norm key
  bool shared_expert_gate = false;
  bool moe_required = false;  // refuse the file without expert tensors
  AttentionKind attention = AttentionKind::kGqa;
  float default_rms_eps = 1e-6f;
};

// The descriptor of an architecture string, or nullptr.
const ArchDescriptor* FindArch(std::string_view name);
std::span<const ArchDescriptor* const> AllArchs();

// Per-architecture descriptors (defined in arch/<name>.cpp).
extern const ArchDescriptor kQwen3MoeArch;
extern const ArchDescriptor kQwen2MoeArch;
extern const ArchDescriptor kLlamaArch;
extern const ArchDescriptor kOlmoeArch;
extern const ArchDescriptor kQwen3Arch;
extern const ArchDescriptor kQwen2Arch;

}  // namespace moefit
