// SPDX-License-Identifier: MIT
// Text normalisation before splitting: Unicode NFC (utf8proc).
#include "tokenizer/normalizer.h"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "core/error.h"

namespace moefit {

void AppendNfc(std::string_view text, std::string& out) {
  // Text before the first non-ASCII byte is already in NFC (ASCII never composes with what
  // precedes it, but a following combining mark may compose with the last ASCII letter).
  size_t ascii = 0;
  while (ascii < text.size() && static_cast<uint8_t>(text[ascii]) < 0x80) ++ascii;
  if (ascii == text.size()) {
    out.append(text);
    return;
  }
  if (ascii > 0) --ascii;  // keep the letter a combining mark may attach to
  out.append(text.substr(0, ascii));
  text.remove_prefix(ascii);

  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) Fail("NFC normalisation failed: {}", utf8proc_errmsg(length));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
  out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
}

}  // namespace moefit
