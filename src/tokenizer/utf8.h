// SPDX-License-Identifier: MIT
// UTF-8 helpers for the tokenizer: validation, lossy repair, incomplete tails, code points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moefit {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Appends the UTF-8 encoding of `code_point` (which must be a Unicode scalar value).
void AppendUtf8(uint32_t code_point, std::string& out);

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// Appends `bytes` with every ill-formed subsequence replaced by U+FFFD, one per maximal subpart
// (the Unicode recommendation, which is also what Python, Rust and browsers do).
void AppendLossyUtf8(std::string_view bytes, std::string& out);

// The number of bytes (0..3) at the end of `bytes` that form a well-formed but unfinished
// sequence: a lead byte and the continuation bytes seen so far. Another token may complete it.
size_t IncompleteUtf8Tail(std::string_view bytes);

// Decodes the code point that starts at `bytes[*pos]` (well-formed input only) and advances *pos.
uint32_t NextCodePoint(std::string_view bytes, size_t* pos);

}  // namespace moefit
