// SPDX-License-Identifier: MIT
// KvCache cell bookkeeping: append, reuse after removal, refusal when full.
#include "runtime/kv_cache.h"

#include <set>

#include <gtest/gtest.h>

#include "core/error.h"

namespace moefit {
namespace {

ModelSpec SmallSpec() {
  ModelSpec spec;
  spec.n_layers = 2;
  spec.n_kv_heads = 2;
  spec.head_dim = 4;
  spec.value_head_dim = 4;
  return spec;
}

TEST(KvCache, AppendTruncateRemoveReuse) {
  KvCache cache(SmallSpec(), 8);
  EXPECT_EQ(cache.bytes(), 2u * 8 * (8 + 8) * 2);
  EXPECT_EQ(KvCache::BytesPerCell(SmallSpec()), 2u * 2 * (4 + 4) * 2);
  cache.Append(1, 3);
  cache.Append(2, 4);
  cache.Append(1, 1);
  EXPECT_EQ(cache.Length(1), 4);
  EXPECT_EQ(cache.Length(2), 4);
  EXPECT_EQ(cache.free_cells(), 0);
  std::set<int32_t> all;
  for (int32_t c : cache.Cells(1)) all.insert(c);
  for (int32_t c : cache.Cells(2)) all.insert(c);
  EXPECT_EQ(all.size(), 8u);
  EXPECT_THROW(cache.Append(3, 1), Error);
  cache.Truncate(1, 2);
  EXPECT_EQ(cache.free_cells(), 2);
  cache.Remove(2);
  EXPECT_EQ(cache.free_cells(), 6);
  EXPECT_EQ(cache.Length(2), 0);
  cache.Append(3, 6);
  EXPECT_EQ(cache.free_cells(), 0);
  EXPECT_THROW(KvCache(SmallSpec(), 0), Error);
}

}  // namespace
}  // namespace moefit
