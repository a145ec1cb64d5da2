// SPDX-License-Identifier: MIT
// Planning flags shared by `plan` and `doctor`: --kv-type, and a catalog model by name and type.
#pragma once

#include <string>

#include "core/dtype.h"
#include "plan/model_inventory.h"

namespace moefit {

// "f16", "bf16", "q8_0", "q4_0" -> the KV cache type; throws moefit::Error naming them otherwise.
DType ParseKvType(const std::string& name);

// The catalog model `name` as a file of `type` ("q4_k_m" when empty); throws moefit::Error listing
// the known names for an unknown model or type.
ModelInventory CatalogInventory(const std::string& name, const std::string& type);

}  // namespace moefit
