// SPDX-License-Identifier: MIT
// ApiError's JSON form.
#include "server/api_error.h"

namespace moefit {

nlohmann::ordered_json ApiError::ToJson() const {
  nlohmann::ordered_json error;
  error["message"] = what();
  error["type"] = type_;
  error["param"] = param_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param_);
  error["code"] = code_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(code_);
  return {{"error", error}};
}

}  // namespace moefit
