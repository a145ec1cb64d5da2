// SPDX-License-Identifier: MIT
// Tests for NormalizeNfc: the piecewise fast path must equal utf8proc's NFC of the whole text.
#include "tokenizer/normalizer.h"

#include <cstdlib>
#include <random>

#include <gtest/gtest.h>
#include <utf8proc.h>

#include "tokenizer/utf8.h"

namespace moefit {
namespace {

std::string ReferenceNfc(const std::string& text) {
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  EXPECT_GE(length, 0);
  std::string normalized(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
  std::free(result);
  return normalized;
}

std::string Nfc(const std::string& text) {
  std::string buffer;
  return std::string(NormalizeNfc(text, buffer));
}

TEST(Nfc, KnownCases) {
  EXPECT_EQ(Nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(Nfc("e\xCC\x81"), "\xC3\xA9");                       // e + U+0301 -> é
  EXPECT_EQ(Nfc("caf" "e\xCC\x81 ok"), "caf\xC3\xA9 ok");
  EXPECT_EQ(Nfc("\xE2\x84\xAB"), "\xC3\x85");                    // Angstrom sign -> Å
  EXPECT_EQ(Nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // jamo -> 각
  EXPECT_EQ(Nfc("\xEA\xB0\x80\xE1\x86\xA8"), "\xEA\xB0\x81");    // 가 + jamo T -> 각
  EXPECT_EQ(Nfc("\xE4\xBD\xA0\xE5\xA5\xBD"), "\xE4\xBD\xA0\xE5\xA5\xBD");  // unchanged
  // Text already in NFC comes back without a copy.
  const std::string stable = "\xE4\xBD\xA0\xE5\xA5\xBD world";
  std::string buffer;
  EXPECT_EQ(NormalizeNfc(stable, buffer).data(), stable.data());
}

TEST(Nfc, RandomMixesMatchTheReference) {
  // Starters, marks that compose or reorder, Hangul parts, singletons, CJK, emoji.
  const uint32_t pool[] = {'a',    'e',    'o',    'A',    ' ',    '.',    0x00E9, 0x0301,
                           0x0300, 0x0308, 0x0323, 0x0328, 0x0344, 0x0958, 0x093C, 0x1100,
                           0x1161, 0x11A8, 0xAC00, 0xAC01, 0x212B, 0x2126, 0x4F60, 0x1F680,
                           0x0CBF, 0x0CD5, 0x0DD9, 0x0DCA, 0x0DCF, 0x3099, 0x304B, 0x0F73,
                           0x1E0A, 0x0307, 0x0041, 0x030A, 0xFB2C, 0x05BC, 0x05C1, 0x2ADC};
  std::mt19937 random(7);
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 12);
    for (int i = 0; i < length; ++i) AppendUtf8(pool[random() % std::size(pool)], text);
    ASSERT_EQ(Nfc(text), ReferenceNfc(text)) << ::testing::PrintToString(text);
  }
}

TEST(Nfc, EveryCodePointAfterALetterMatchesTheReference) {
  // Each assigned code point alone and after a letter it might compose with.
  for (uint32_t code_point = 0x80; code_point < 0x30000; ++code_point) {
    if (code_point >= 0xD800 && code_point < 0xE000) continue;
    std::string text = "A";
    AppendUtf8(code_point, text);
    ASSERT_EQ(Nfc(text), ReferenceNfc(text)) << "U+" << std::hex << code_point;
  }
}

}  // namespace
}  // namespace moefit
