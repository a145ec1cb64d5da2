// SPDX-License-Identifier: MIT
// Tests for the GPT-2 byte-level alphabet.
#include "tokenizer/byte_level.h"

#include <set>

#include <gtest/gtest.h>

namespace moefit {
namespace {

TEST(ByteLevel, KnownStandIns) {
  EXPECT_EQ(ByteLevelCharOf(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(ByteLevelCharOf('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(ByteLevelCharOf('\t'), 0x109u);  // 'ĉ'
  EXPECT_EQ(ByteLevelCharOf('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(ByteLevelCharOf(0xE4), 0xE4u);
  EXPECT_EQ(ByteLevelEncode("Hello world\n"), "Hello\xC4\xA0world\xC4\x8A");
}

TEST(ByteLevel, IsABijection) {
  std::set<uint32_t> seen;
  for (int byte = 0; byte < 256; ++byte) {
    const uint32_t stand_in = ByteLevelCharOf(static_cast<uint8_t>(byte));
    EXPECT_TRUE(seen.insert(stand_in).second);
    EXPECT_EQ(ByteLevelByteOf(stand_in), byte);
  }
  EXPECT_EQ(ByteLevelByteOf(0x20), -1);  // a plain space is not in the alphabet
  EXPECT_EQ(ByteLevelByteOf(0x4F60), -1);
}

TEST(ByteLevel, DecodeInvertsEncode) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all.push_back(static_cast<char>(byte));
  EXPECT_EQ(ByteLevelDecode(ByteLevelEncode(all)), all);
  // A character outside the alphabet is kept as its own bytes.
  EXPECT_EQ(ByteLevelDecode("a\xE4\xBD\xA0"), "a\xE4\xBD\xA0");
}

}  // namespace
}  // namespace moefit
