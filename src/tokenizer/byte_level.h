// SPDX-License-Identifier: MIT
// The GPT-2 byte-level alphabet: every byte has a printable stand-in character, so that
// byte-level BPE vocabularies and merges can be stored as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moefit {

// The code point that stands for `byte` (printable ASCII and most of Latin-1 stand for
// themselves; the rest map to U+0100.. in byte order).
uint32_t ByteLevelCharOf(uint8_t byte);

// The byte a stand-in character represents, or -1 for a character outside the alphabet.
int ByteLevelByteOf(uint32_t code_point);

// Bytes -> stand-in text ("Hello world" -> "HelloĠworld").
std::string ByteLevelEncode(std::string_view bytes);

// Stand-in text -> bytes. A character outside the alphabet is kept as its own UTF-8 bytes
// (what the reference decoder does). `text` must be well-formed UTF-8.
std::string ByteLevelDecode(std::string_view text);

}  // namespace moefit
