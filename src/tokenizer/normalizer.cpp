// SPDX-License-Identifier: MIT
// Text normalisation before splitting: Unicode NFC, with a quick check so that only the
// stretches around characters NFC may change go through utf8proc.
#include "tokenizer/normalizer.h"

#include <bitset>
#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace moefit {
namespace {

// No character at or above this code point is changed by NFC or composes with a neighbour.
constexpr uint32_t kQuickCheckLimit = 0x30000;

void AppendNfcWithUtf8proc(std::string_view text, std::string& out) {
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) Fail("NFC normalisation failed: {}", utf8proc_errmsg(length));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
  out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
}

// Characters NFC may change or merge: combining marks (ccc != 0), characters NFC replaces,
// and characters that can compose with the character before them (the non-initial parts of
// canonical decompositions, Hangul vowels and trailing consonants among them). Every other
// character is "stable": it stays as it is and nothing before it reaches past it, so NFC can
// be applied piecewise between stable characters.
class NfcQuickCheck {
 public:
  NfcQuickCheck() {
    utf8proc_int32_t parts[32];
    for (uint32_t code_point = 0x80; code_point < kQuickCheckLimit; ++code_point) {
      const auto cp = static_cast<utf8proc_int32_t>(code_point);
      const utf8proc_property_t* property = utf8proc_get_property(cp);
      if (property->category == UTF8PROC_CATEGORY_CN) continue;
      if (property->combining_class != 0) unstable_.set(code_point);
      utf8proc_int32_t boundclass = 0;
      const utf8proc_ssize_t count = utf8proc_decompose_char(
          cp, parts, 32, UTF8PROC_DECOMPOSE, &boundclass);
      if (count <= 0 || (count == 1 && parts[0] == cp)) continue;  // no decomposition
      for (utf8proc_ssize_t i = 1; i < count && i < 32; ++i) {
        if (static_cast<uint32_t>(parts[i]) < kQuickCheckLimit) unstable_.set(static_cast<uint32_t>(parts[i]));
      }
      if (!ComposesBackToItself(code_point)) unstable_.set(code_point);
    }
  }

  bool Stable(uint32_t code_point) const {
    return code_point >= kQuickCheckLimit || !unstable_.test(code_point);
  }

 private:
  static bool ComposesBackToItself(uint32_t code_point) {
    std::string alone;
    AppendUtf8(code_point, alone);
    std::string normalized;
    AppendNfcWithUtf8proc(alone, normalized);
    return normalized == alone;
  }

  std::bitset<kQuickCheckLimit> unstable_;
};

const NfcQuickCheck& QuickCheck() {
  static const NfcQuickCheck* const check = new NfcQuickCheck();  // built once, never freed
  return *check;
}

}  // namespace

std::string_view NormalizeNfc(std::string_view text, std::string& buffer) {
  size_t pos = 0;
  while (pos < text.size() && static_cast<uint8_t>(text[pos]) < 0x80) ++pos;
  if (pos == text.size()) return text;  // ASCII is always in NFC

  const NfcQuickCheck& check = QuickCheck();
  size_t copied = 0;       // text[0, copied) is already in `buffer`
  size_t last_stable = 0;  // start of the last stable character seen
  bool changed = false;
  while (pos < text.size()) {
    const size_t start = pos;
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      last_stable = start;
      continue;
    }
    if (check.Stable(NextCodePoint(text, &pos))) {
      last_stable = start;
      continue;
    }
    // Normalise from the last stable character (a mark may compose with it) up to the next one.
    size_t end = pos;
    while (end < text.size()) {
      size_t next = end;
      if (check.Stable(NextCodePoint(text, &next))) break;
      end = next;
    }
    if (!changed) {
      buffer.clear();
      changed = true;
    }
    buffer.append(text.substr(copied, last_stable - copied));
    AppendNfcWithUtf8proc(text.substr(last_stable, end - last_stable), buffer);
    copied = last_stable = pos = end;
  }
  if (!changed) return text;
  buffer.append(text.substr(copied));
  return buffer;
}

}  // namespace moefit
