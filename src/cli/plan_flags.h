// SPDX-License-Identifier: MIT
// Planning flags shared by `plan` and `doctor`: a catalog model by name and type (--kv-type:
// ParseKvType in runtime/kv_cache.h).
#pragma once

#include <string>

#include "core/dtype.h"
#include "plan/model_inventory.h"
#include "runtime/kv_cache.h"

namespace moefit {

// The catalog model `name` as a file of `type` ("q4_k_m" when empty); throws moefit::Error listing
// the known names for an unknown model or type.
ModelInventory CatalogInventory(const std::string& name, const std::string& type);

}  // namespace moefit
