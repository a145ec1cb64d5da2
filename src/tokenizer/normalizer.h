// SPDX-License-Identifier: MIT
// Text normalisation before splitting: Unicode NFC (utf8proc), as Qwen's tokenizer does.
#pragma once

#include <string>
#include <string_view>

namespace moefit {

// Appends the NFC form of well-formed UTF-8 `text` to `out`.
void AppendNfc(std::string_view text, std::string& out);

}  // namespace moefit
