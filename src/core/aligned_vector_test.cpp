// SPDX-License-Identifier: MIT
#include "core/aligned_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace moefit {
namespace {

bool OnALine(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

TEST(AlignedVector, StorageStartsOnACacheLineAtEverySize) {
  // Small blocks and large ones (malloc serves the large from mmap, 16 bytes past a page).
  for (size_t n : {1u, 3u, 17u, 1000u, 100000u, 3000000u}) {
    AlignedVector<float> floats(n, 1.0f);
    EXPECT_TRUE(OnALine(floats.data())) << n;
    AlignedVector<uint8_t> bytes(n + 1);
    EXPECT_TRUE(OnALine(bytes.data())) << n;
  }
  AlignedVector<float> grown;
  for (size_t n = 1; n < 5000000; n = n * 3 + 1) {
    grown.resize(n, 2.0f);
    ASSERT_TRUE(OnALine(grown.data())) << n;
  }
  EXPECT_EQ(grown.front(), 2.0f);
  AlignedVector<float> copy = grown;  // copies and moves keep the allocator
  EXPECT_TRUE(OnALine(copy.data()));
  EXPECT_EQ(copy, grown);
}

}  // namespace
}  // namespace moefit
