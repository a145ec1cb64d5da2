// SPDX-License-Identifier: MIT
// KvCache cell bookkeeping: append, reuse after removal, refusal when full; sizes and views per
// KV type; refusal of types and head sizes the cache cannot hold.
#include "runtime/kv_cache.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

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

// Shared prefixes: the same cells, freed only when no sequence holds them any more.
TEST(KvCache, SharedPrefixCellsAreFreedByTheirLastHolder) {
  KvCache cache(SmallSpec(), 10);
  cache.Append(1, 4);
  cache.SharePrefix(1, 2, 3);
  EXPECT_EQ(cache.Length(2), 3);
  EXPECT_EQ(cache.free_cells(), 6);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cache.Cells(2)[static_cast<size_t>(i)], cache.Cells(1)[static_cast<size_t>(i)]);
  cache.Append(2, 2);  // new cells of its own after the shared ones
  EXPECT_EQ(cache.free_cells(), 4);
  const int32_t own = cache.Cells(2)[3];
  for (int32_t c : cache.Cells(1)) EXPECT_NE(c, own);
  cache.SharePrefix(2, 3, 5);
  cache.Remove(1);  // its 4th cell only is free: 1..3 are held by 2 and 3
  EXPECT_EQ(cache.free_cells(), 5);
  cache.Remove(2);
  EXPECT_EQ(cache.free_cells(), 5);  // all five still held by 3
  cache.Truncate(3, 1);
  EXPECT_EQ(cache.free_cells(), 9);
  cache.Remove(3);
  EXPECT_EQ(cache.free_cells(), 10);
  // Every cell comes back once: ten appends fit, an eleventh does not.
  cache.Append(4, 10);
  std::set<int32_t> distinct(cache.Cells(4).begin(), cache.Cells(4).end());
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_THROW(cache.Append(5, 1), Error);
}

// Sequences that grow side by side take their own regions' cells, lowest first; when a region
// runs out the cells come from outside every region, then from the region with the most free.
TEST(KvCache, SequenceRegionsKeepEachSequenceContiguous) {
  KvCache cache(SmallSpec(), 20);
  cache.SetSequenceRegions(8);  // regions [0, 8) and [8, 16); cells 16..19 in none
  for (int step = 0; step < 6; ++step) {
    cache.Append(0, 1);
    cache.Append(1, 1);
  }
  EXPECT_EQ(std::vector<int32_t>(cache.Cells(0).begin(), cache.Cells(0).end()), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(std::vector<int32_t>(cache.Cells(1).begin(), cache.Cells(1).end()), (std::vector<int32_t>{8, 9, 10, 11, 12, 13}));
  cache.Append(0, 4);  // 6, 7, then outside the regions: 16, 17
  EXPECT_EQ(cache.Cells(0)[7], 7);
  EXPECT_EQ(cache.Cells(0)[8], 16);
  cache.Append(2, 3);  // no region: 18, 19, then region 1's free cells (it has the most)
  EXPECT_EQ(cache.Cells(2)[0], 18);
  EXPECT_EQ(cache.Cells(2)[2], 14);
  EXPECT_EQ(cache.free_cells(), 1);
  cache.Truncate(0, 3);  // its cells go back to where they belong, lowest on top
  EXPECT_EQ(cache.free_cells(), 8);
  cache.Append(0, 2);
  EXPECT_EQ(cache.Cells(0)[3], 3);
  EXPECT_EQ(cache.Cells(0)[4], 4);
  // Regions set while cells are held keep those cells and sort the free ones anew.
  cache.SetSequenceRegions(0);
  EXPECT_EQ(cache.free_cells(), 6);
  cache.Remove(0);
  cache.Remove(1);
  cache.Remove(2);
  EXPECT_EQ(cache.free_cells(), 20);
  cache.Append(3, 20);
  std::set<int32_t> distinct(cache.Cells(3).begin(), cache.Cells(3).end());
  EXPECT_EQ(distinct.size(), 20u);
}

TEST(KvCache, SharePrefixRefusesWhatItCannotDo) {
  KvCache cache(SmallSpec(), 8);
  cache.Append(1, 3);
  cache.Append(2, 1);
  EXPECT_THROW(cache.SharePrefix(1, 2, 2), Error) << "the target already holds cells";
  EXPECT_THROW(cache.SharePrefix(1, 3, 4), Error) << "longer than the source";
  EXPECT_THROW(cache.SharePrefix(1, 1, 2), Error) << "itself";
  cache.SharePrefix(1, 3, 0);
  EXPECT_EQ(cache.Length(3), 0);
}

ModelSpec SpecWithHeads(int head_dim, int value_head_dim) {
  ModelSpec spec;
  spec.n_layers = 3;
  spec.n_heads = 8;
  spec.n_kv_heads = 2;
  spec.head_dim = head_dim;
  spec.value_head_dim = value_head_dim;
  return spec;
}

TEST(KvCache, BytesAndViewsPerType) {
  const ModelSpec spec = SpecWithHeads(64, 32);
  // (K row bytes, V row bytes) of one layer: 2 heads of 64 / of 32 values.
  const struct {
    DType type;
    int64_t k, v;
  } cases[] = {{DType::kF16, 256, 128}, {DType::kBF16, 256, 128}, {DType::kQ8_0, 4 * 34, 2 * 34}, {DType::kQ4_0, 4 * 18, 2 * 18}};
  for (const auto& c : cases) {
    SCOPED_TRACE(KvTypeName(c.type));
    EXPECT_EQ(KvCache::BytesPerCell(spec, c.type), static_cast<uint64_t>(3 * (c.k + c.v)));
    EXPECT_EQ(KvCache::Bytes(spec, c.type, 10), 10 * (KvCache::BytesPerCell(spec, c.type) + 10));  // free list, cell lists, holders
    KvCache cache(spec, 10, c.type);
    EXPECT_EQ(cache.type(), c.type);
    EXPECT_EQ(cache.bytes(), 10 * KvCache::BytesPerCell(spec, c.type));
    ASSERT_EQ(cache.layers().size(), 3u);
    for (size_t layer = 0; layer < 3; ++layer) {
      const KvLayerView& view = cache.layers()[layer];
      EXPECT_EQ(view.type, c.type);
      // Head-major: each of the 2 KV heads' 10 cells side by side.
      EXPECT_EQ(view.k_row_bytes, c.k / 2);
      EXPECT_EQ(view.v_row_bytes, c.v / 2);
      EXPECT_EQ(view.k_head_stride, 10 * c.k / 2);
      EXPECT_EQ(view.v_head_stride, 10 * c.v / 2);
      EXPECT_EQ(view.v, view.k + 10 * c.k);  // layer by layer: K rows, then V rows
      if (layer > 0) {
        EXPECT_EQ(view.k, cache.layers()[layer - 1].v + 10 * c.v);
      }
    }
  }
}

TEST(KvCache, RefusesWhatItCannotHold) {
  // Block types need heads that are multiples of 32; the message names the type and the size.
  for (const auto& [key, value] : std::vector<std::pair<int, int>>{{16, 16}, {64, 48}, {80, 80}}) {
    for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
      try {
        KvCache cache(SpecWithHeads(key, value), 8, type);
        ADD_FAILURE() << KvTypeName(type) << " accepted heads of " << key << "/" << value;
      } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find(KvTypeName(type)), std::string::npos) << message;
        EXPECT_NE(message.find(std::to_string(key % 32 != 0 ? key : value)), std::string::npos) << message;
        EXPECT_NE(message.find("f16"), std::string::npos) << message;  // what to use instead
      }
      EXPECT_THROW(KvCache::BytesPerCell(SpecWithHeads(key, value), type), Error);
    }
    EXPECT_NO_THROW(KvCache(SpecWithHeads(key, value), 8, DType::kF16));
    EXPECT_NO_THROW(KvCache(SpecWithHeads(key, value), 8, DType::kBF16));
  }
  EXPECT_THROW(KvCache(SpecWithHeads(64, 64), 8, DType::kQ4_K), Error);
  EXPECT_THROW(KvCache(SpecWithHeads(64, 64), 8, DType::kF32), Error);
}

TEST(KvCache, ParsesKvTypeNames) {
  EXPECT_EQ(ParseKvType("f16"), DType::kF16);
  EXPECT_EQ(ParseKvType("bf16"), DType::kBF16);
  EXPECT_EQ(ParseKvType("q8_0"), DType::kQ8_0);
  EXPECT_EQ(ParseKvType("Q4_0"), DType::kQ4_0);
  for (DType type : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) EXPECT_EQ(ParseKvType(KvTypeName(type)), type);
  EXPECT_EQ(KvTypeName(DType::kQ8_0), "q8_0");
  for (const char* bad : {"f32", "q4_k", "q5_0", "", "int8"}) {
    try {
      ParseKvType(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("use f16, bf16, q8_0 or q4_0"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace moefit
