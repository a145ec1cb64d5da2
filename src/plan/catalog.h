// SPDX-License-Identifier: MIT
// Popular model shapes from their published configs, so a plan can be made before downloading.
#pragma once

#include <string_view>
#include <vector>

#include "plan/file_type.h"
#include "plan/model_inventory.h"

namespace moefit {

// The tensors a shape alone does not imply (biases, norms, gates), as the GGUF converter writes them.
struct CatalogLayout {
  bool qkv_bias = false;            // attn_q/k/v.bias
  bool output_bias = false;         // attn_output.bias
  QkNorm qk_norm = QkNorm::kNone;   // per head (qwen3) or over the whole projection (olmoe: kFull)
  bool attention_sinks = false;     // attn_sinks (gpt-oss)
  bool router_bias = false;         // ffn_gate_inp.bias (gpt-oss)
  bool expert_score_bias = false;   // exp_probs_b: sigmoid routing with a selection bias
  bool expert_biases = false;       // biases on every expert projection (gpt-oss)
  bool shared_expert_gate = false;  // ffn_gate_inp_shexp: sigmoid gate of the shared expert (qwen2moe)
  bool experts_in_mxfp4 = false;    // released in MXFP4 and kept so by every published GGUF
};

struct CatalogModel {
  std::string_view id;       // what --model takes: "qwen3-30b-a3b"
  std::string_view alias;    // another accepted id ("deepseek-r1"), or ""
  std::string_view display;  // "Qwen3-30B-A3B"
  std::string_view source;   // where the figures come from
  double published_params_billions;  // as the model card quotes it (checked against the shape)
  ModelShape shape;
  CatalogLayout layout;
};

const std::vector<CatalogModel>& Catalog();
// By id, alias or display name, case-insensitive; nullptr when unknown.
const CatalogModel* FindCatalogModel(std::string_view name);

// Every tensor of the model's GGUF, named as the converter names them, in unquantized types
// (BF16 weights, F32 vectors and routers; MXFP4 experts where released so).
std::vector<TensorEntry> CatalogTensors(const ModelShape& shape, const CatalogLayout& layout);

// The model as a `type` file would hold it.
ModelInventory InventoryFromCatalog(const CatalogModel& model, FileType type);
ModelInventory InventoryFromShape(const ModelShape& shape, const CatalogLayout& layout, FileType type);

}  // namespace moefit
