// SPDX-License-Identifier: MIT
// Look-ups in the DType layout table.
#include "core/dtype.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace moefit {
namespace {

// Index by id, built once; entries for retired ids stay empty.
struct LayoutIndex {
  std::array<const DTypeLayout*, kDTypeIdLimit> by_id{};
  constexpr LayoutIndex() {
    for (const DTypeLayout& layout : kDTypeLayouts) by_id[static_cast<uint32_t>(layout.type)] = &layout;
  }
};
constexpr LayoutIndex kIndex;

constexpr bool IdsStrictlyIncrease() {
  for (size_t i = 1; i < std::size(kDTypeLayouts); ++i)
    if (static_cast<uint32_t>(kDTypeLayouts[i - 1].type) >= static_cast<uint32_t>(kDTypeLayouts[i].type)) return false;
  return true;
}
static_assert(IdsStrictlyIncrease(), "kDTypeLayouts must list each type once, in id order");
static_assert(std::size(kDTypeLayouts) == 32, "every GGUF type id has a row");

}  // namespace

std::optional<DTypeLayout> FindDTypeLayout(uint32_t gguf_id) {
  if (gguf_id >= kDTypeIdLimit || kIndex.by_id[gguf_id] == nullptr) return std::nullopt;
  return *kIndex.by_id[gguf_id];
}

const DTypeLayout& Layout(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  MOEFIT_CHECK(id < kDTypeIdLimit && kIndex.by_id[id] != nullptr);
  return *kIndex.by_id[id];
}

std::string_view DTypeName(DType type) { return Layout(type).name; }

std::optional<DType> ParseDType(std::string_view name) {
  for (const DTypeLayout& layout : kDTypeLayouts) {
    if (layout.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::toupper(static_cast<unsigned char>(name[i])) == layout.name[i];
    if (same) return layout.type;
  }
  return std::nullopt;
}

int64_t RowBytes(DType type, int64_t elements) { return RowBytes(Layout(type), elements); }

}  // namespace moefit
