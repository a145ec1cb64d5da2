// SPDX-License-Identifier: MIT
// ApiError: a request the server refuses, with the HTTP status and the OpenAI error object fields.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace moefit {

class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::string type = "invalid_request_error", std::string code = {},
           std::string param = {})
      : Error(message), status_(status), type_(std::move(type)), code_(std::move(code)), param_(std::move(param)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }

  // {"error": {"message", "type", "param", "code"}}, absent param/code as null, as OpenAI sends them.
  nlohmann::ordered_json ToJson() const;

 private:
  int status_;
  std::string type_, code_, param_;
};

// 400 invalid_request_error naming the field at fault.
template <typename... Args>
[[noreturn]] void FailField(const std::string& param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError(400, fmt::format(format, std::forward<Args>(args)...), "invalid_request_error", {}, param);
}

}  // namespace moefit
