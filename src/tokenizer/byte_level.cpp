// SPDX-License-Identifier: MIT
// The GPT-2 byte-level alphabet (see byte_level.h).
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace moefit {
namespace {

// Bytes that are their own stand-in: '!'..'~', '¡'..'¬', '®'..'ÿ'.
constexpr bool StandsForItself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

// The highest stand-in: 256 + (number of bytes that are not their own stand-in) - 1.
constexpr int kLastStandIn = 0x143;

struct Alphabet {
  std::array<uint32_t, 256> char_of{};
  std::array<int16_t, kLastStandIn + 1> byte_of{};
};

constexpr Alphabet MakeAlphabet() {
  Alphabet alphabet;
  for (auto& byte : alphabet.byte_of) byte = -1;
  uint32_t next_stand_in = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const uint32_t stand_in = StandsForItself(byte) ? static_cast<uint32_t>(byte) : next_stand_in++;
    alphabet.char_of[static_cast<size_t>(byte)] = stand_in;
    alphabet.byte_of[stand_in] = static_cast<int16_t>(byte);
  }
  return alphabet;
}

constexpr Alphabet kAlphabet = MakeAlphabet();
static_assert(kAlphabet.char_of[0x20] == 0x120, "space stands as U+0120 'Ġ'");
static_assert(kAlphabet.char_of[0xFF] == 0xFF);
static_assert(kAlphabet.byte_of[kLastStandIn] == 0xAD, "the last stand-in is for the soft hyphen");

}  // namespace

uint32_t ByteLevelCharOf(uint8_t byte) { return kAlphabet.char_of[byte]; }

int ByteLevelByteOf(uint32_t code_point) {
  return code_point <= static_cast<uint32_t>(kLastStandIn) ? kAlphabet.byte_of[code_point] : -1;
}

std::string ByteLevelEncode(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (char byte : bytes) AppendUtf8(ByteLevelCharOf(static_cast<uint8_t>(byte)), text);
  return text;
}

std::string ByteLevelDecode(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const uint32_t code_point = NextCodePoint(text, &pos);
    const int byte = ByteLevelByteOf(code_point);
    if (byte >= 0) {
      bytes.push_back(static_cast<char>(byte));
    } else {
      bytes.append(text.substr(start, pos - start));
    }
  }
  return bytes;
}

}  // namespace moefit
