// SPDX-License-Identifier: MIT
// The list of supported architectures: one line each.
#include "model/arch/arch_descriptor.h"

namespace moefit {
namespace {

const ArchDescriptor* const kArchs[] = {
    &kQwen3MoeArch, &kQwen2MoeArch, &kLlamaArch, &kOlmoeArch, &kQwen3Arch, &kQwen2Arch,
};

}  // namespace

const ArchDescriptor* FindArch(std::string_view name) {
  for (const ArchDescriptor* arch : kArchs)
    if (arch->name == name) return arch;
  return nullptr;
}

std::span<const ArchDescriptor* const> AllArchs() { return kArchs; }

}  // namespace moefit
