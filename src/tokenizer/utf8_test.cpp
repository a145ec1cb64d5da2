// SPDX-License-Identifier: MIT
// Tests for the UTF-8 helpers: validation, lossy repair, unfinished tails.
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace moefit {
namespace {

std::string Lossy(std::string_view bytes) {
  std::string out;
  AppendLossyUtf8(bytes, out);
  return out;
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xE4\xBD\xA0\xE5\xA5\xBD"));      // 你好
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x9A\x80"));              // 🚀
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));     // NUL is a character
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                     // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                 // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));             // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE4\xBD"));                     // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));                         // lone continuation
}

TEST(Utf8, LossyReplacesEachMaximalSubpartOnce) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(Lossy("ok"), "ok");
  EXPECT_EQ(Lossy("a\xE4\xBD" "b"), "a" + fffd + "b");        // truncated 3-byte: one U+FFFD
  EXPECT_EQ(Lossy("\x80\x80"), fffd + fffd);                  // each stray continuation
  EXPECT_EQ(Lossy("\xF0\x9F\x9A"), fffd);                     // truncated at the end
  EXPECT_EQ(Lossy("\xE0\x80\x80"), fffd + fffd + fffd);       // E0 80 is never valid
  EXPECT_EQ(Lossy("\xF0\x9F\x9A\x80\xFF"), "\xF0\x9F\x9A\x80" + fffd);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(IncompleteUtf8Tail(""), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("abc"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4"), 1u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4\xBD"), 2u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4\xBD\xA0"), 0u);      // complete
  EXPECT_EQ(IncompleteUtf8Tail("\xF0\x9F\x9A"), 3u);
  EXPECT_EQ(IncompleteUtf8Tail("\xE0\x80"), 0u);           // can never complete
  EXPECT_EQ(IncompleteUtf8Tail("\x80\x80\x80\x80"), 0u);   // no lead byte
  EXPECT_EQ(IncompleteUtf8Tail("\xFF"), 0u);
}

TEST(Utf8, CodePoints) {
  const std::string text = "a\xC3\xA9\xE4\xBD\xA0\xF0\x9F\x9A\x80";
  size_t pos = 0;
  EXPECT_EQ(NextCodePoint(text, &pos), 0x61u);
  EXPECT_EQ(NextCodePoint(text, &pos), 0xE9u);
  EXPECT_EQ(NextCodePoint(text, &pos), 0x4F60u);
  EXPECT_EQ(NextCodePoint(text, &pos), 0x1F680u);
  EXPECT_EQ(pos, text.size());
  std::string encoded;
  for (uint32_t cp : {0x61u, 0xE9u, 0x4F60u, 0x1F680u}) AppendUtf8(cp, encoded);
  EXPECT_EQ(encoded, text);
}

}  // namespace
}  // namespace moefit
