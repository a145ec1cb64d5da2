// SPDX-License-Identifier: MIT
// Text normalisation before splitting: Unicode NFC (utf8proc), as Qwen's tokenizer does.
#pragma once

#include <string>
#include <string_view>

namespace moefit {

// The NFC form of well-formed UTF-8 `text`: `text` itself when it is already in NFC (the usual
// case, found without copying), else a view of `buffer`, which receives the normalised text.
std::string_view NormalizeNfc(std::string_view text, std::string& buffer);

}  // namespace moefit
