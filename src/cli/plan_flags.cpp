// SPDX-License-Identifier: MIT
// --kv-type and --model/--type parsing with messages that list what is accepted.
#include "cli/plan_flags.h"

#include <optional>

#include "core/error.h"
#include "plan/catalog.h"
#include "plan/file_type.h"

namespace moefit {
namespace {

std::string KnownModels() {
  std::string names;
  for (const CatalogModel& model : Catalog()) names += (names.empty() ? "" : ", ") + std::string(model.id);
  return names;
}

std::string KnownTypes() {
  std::string names;
  for (const FileTypeInfo& info : FileTypes()) names += (names.empty() ? "" : ", ") + std::string(info.name);
  return names;
}

}  // namespace

ModelInventory CatalogInventory(const std::string& name, const std::string& type) {
  const CatalogModel* model = FindCatalogModel(name);
  if (model == nullptr) Fail("unknown model '{}': known models are {}", name, KnownModels());
  const std::string type_name = type.empty() ? "q4_k_m" : type;
  const std::optional<FileType> file_type = ParseFileType(type_name);
  if (!file_type) Fail("unknown --type '{}': known types are {}", type_name, KnownTypes());
  return InventoryFromCatalog(*model, *file_type);
}

}  // namespace moefit
