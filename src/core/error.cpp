// SPDX-License-Identifier: MIT
// Out-of-line part of the error helpers.
#include "core/error.h"

namespace moefit {

void FailCheck(const char* condition, const char* file, int line) {
  throw Error(fmt::format("internal error: check '{}' failed at {}:{}", condition, file, line));
}

}  // namespace moefit
