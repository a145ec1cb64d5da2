// SPDX-License-Identifier: MIT
// Attention over the KV cache, every KV type on every ISA level this machine has: the dispatched
// flash kernels against the scalar flash kernel (same algorithm) and against the reference
// (dequantized rows, double, full softmax); GQA, head sizes 64 and 128, value heads of another
// size than key heads, cells scattered over the cache, tiles of several queries; a query's bits
// do not depend on its tile or on how the KV heads are split; KV rows quantize bit-exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/test_isas.h"
#include "kernels/ops.h"
#include "quant/dtype_traits.h"

namespace moefit {
namespace {

constexpr DType kKvTypes[] = {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

struct Shape {
  const char* name;
  AttentionShape shape;
  bool float_types_only;  // head sizes that are not multiples of 32
};

const Shape kShapes[] = {
    {"gqa4_head64", {.n_heads = 8, .n_kv_heads = 2, .head_dim = 64, .value_head_dim = 64}, false},
    {"mha_head128", {.n_heads = 4, .n_kv_heads = 4, .head_dim = 128, .value_head_dim = 128}, false},
    {"gqa3_head128", {.n_heads = 6, .n_kv_heads = 2, .head_dim = 128, .value_head_dim = 128}, false},
    // DeepSeek-style: key heads of 192 (128 + 64 rope), value heads of 128.
    {"mqa_k192_v128", {.n_heads = 4, .n_kv_heads = 1, .head_dim = 192, .value_head_dim = 128}, false},
    {"gqa2_k64_v96", {.n_heads = 4, .n_kv_heads = 2, .head_dim = 64, .value_head_dim = 96}, false},
    // Qwen3-30B-A3B's groups of 8 heads of 128 (the AVX-512 scores take a token's 8 heads at a
    // constant stride).
    {"gqa8_head128", {.n_heads = 16, .n_kv_heads = 2, .head_dim = 128, .value_head_dim = 128}, false},
    // 32 query heads per KV head: tiles of 4 queries (AttentionTileQueries).
    {"gqa32_head64", {.n_heads = 64, .n_kv_heads = 2, .head_dim = 64, .value_head_dim = 64}, false},
    // Sizes that are not multiples of 8 (float types only): every SIMD tail.
    {"gqa2_k20_v13", {.n_heads = 4, .n_kv_heads = 2, .head_dim = 20, .value_head_dim = 13}, true},
    // Groups of 5: four rows summed together and one alone, value heads of 16 + 5.
    {"gqa5_k20_v21", {.n_heads = 10, .n_kv_heads = 2, .head_dim = 20, .value_head_dim = 21}, true},
};

// A KV cache of `n_cache` cells of random K/V written through QuantizeKvRow, and queries. The
// cache is cell-major (a cell's KV heads side by side); HeadMajor() gives the engine's layout.
struct Problem {
  AttentionShape shape;
  DType kv_type;
  int64_t k_row_bytes = 0, v_row_bytes = 0;
  int64_t k_head_stride = 0, v_head_stride = 0;
  std::vector<uint8_t> k, v;
  std::vector<int32_t> cells;  // the sequence's cells: scattered, in position order
  std::vector<float> q;        // (kAttentionMaxQueries, n_heads, head_dim)

  Problem(const AttentionShape& s, DType type, int64_t n_cache, int64_t n_cells, float query_scale, std::mt19937& rng)
      : shape(s), kv_type(type) {
    const int64_t k_dim = int64_t{s.n_kv_heads} * s.head_dim, v_dim = int64_t{s.n_kv_heads} * s.value_head_dim;
    k_row_bytes = RowBytes(type, k_dim);
    v_row_bytes = RowBytes(type, v_dim);
    k_head_stride = RowBytes(type, s.head_dim);
    v_head_stride = RowBytes(type, s.value_head_dim);
    k.resize(static_cast<size_t>(n_cache * k_row_bytes));
    v.resize(static_cast<size_t>(n_cache * v_row_bytes));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(std::max(k_dim, v_dim)));
    for (int64_t c = 0; c < n_cache; ++c) {
      for (int64_t i = 0; i < k_dim; ++i) row[i] = normal(rng);
      QuantizeKvRow(type, row.data(), k.data() + c * k_row_bytes, k_dim);
      for (int64_t i = 0; i < v_dim; ++i) row[i] = normal(rng) + 0.5f;
      QuantizeKvRow(type, row.data(), v.data() + c * v_row_bytes, v_dim);
    }
    std::vector<int32_t> all(static_cast<size_t>(n_cache));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    cells.assign(all.begin(), all.begin() + n_cells);
    q.resize(static_cast<size_t>(kAttentionMaxQueries) * s.n_heads * s.head_dim);
    for (float& x : q) x = normal(rng) * query_scale;
  }

  // The same cache with each KV head's cells side by side (KvLayerView's layout).
  Problem HeadMajor() const {
    Problem p = *this;
    const int64_t n_cache = static_cast<int64_t>(k.size()) / k_row_bytes;
    const auto regroup = [&](const std::vector<uint8_t>& from, int64_t row_bytes, int64_t head_bytes, std::vector<uint8_t>& to) {
      for (int h = 0; h < shape.n_kv_heads; ++h)
        for (int64_t c = 0; c < n_cache; ++c)
          std::memcpy(to.data() + (h * n_cache + c) * head_bytes, from.data() + c * row_bytes + h * head_bytes,
                      static_cast<size_t>(head_bytes));
    };
    regroup(k, k_row_bytes, k_head_stride, p.k);
    regroup(v, v_row_bytes, v_head_stride, p.v);
    p.k_row_bytes = k_head_stride;
    p.v_row_bytes = v_head_stride;
    p.k_head_stride = n_cache * k_head_stride;
    p.v_head_stride = n_cache * v_head_stride;
    return p;
  }

  size_t out_size() const { return static_cast<size_t>(kAttentionMaxQueries) * shape.n_heads * shape.value_head_dim; }

  AttentionArgs Args(const float* queries, int n_queries, const int32_t* lengths, void* workspace, float* out) const {
    return {.q = queries,
            .n_queries = n_queries,
            .lengths = lengths,
            .cells = cells,
            .kv_type = kv_type,
            .k_cache = k.data(),
            .v_cache = v.data(),
            .k_row_bytes = k_row_bytes,
            .v_row_bytes = v_row_bytes,
            .k_head_stride = k_head_stride,
            .v_head_stride = v_head_stride,
            .shape = shape,
            .kv_head_begin = 0,
            .kv_head_end = shape.n_kv_heads,
            .scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim)),
            .workspace = workspace,
            .out = out};
  }
};

struct alignas(64) CacheLine {
  uint8_t bytes[64];
};

class Workspace {
 public:
  explicit Workspace(const AttentionShape& shape) : lines_(AttentionWorkspaceBytes(shape) / 64 + 1) {}
  void* data() { return lines_.data(); }

 private:
  std::vector<CacheLine> lines_;
};

// sum (a - b)^2 / sum b^2 over the first n values.
double NormalisedError(const float* a, const float* b, size_t n) {
  double error = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    error += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm += static_cast<double>(b[i]) * b[i];
  }
  return error / norm;
}

double MaxAbsDifference(const float* a, const float* b, size_t n) {
  double diff = 0;
  for (size_t i = 0; i < n; ++i) diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
  return diff;
}

std::string Label(CpuIsa isa, DType type) { return std::string(IsaName(isa)) + "_" + std::string(DTypeName(type)); }

class AttentionKernelTest : public testing::TestWithParam<std::tuple<CpuIsa, DType>> {
 protected:
  CpuIsa isa() const { return std::get<0>(GetParam()); }
  DType kv_type() const { return std::get<1>(GetParam()); }
  bool block() const { return Layout(kv_type()).quantized; }
  const KernelTable& table() {
    if (!table_) table_ = BuildKernelTable(isa());
    return *table_;
  }
  const KernelTable& scalar() {
    if (!scalar_) scalar_ = BuildKernelTable(CpuIsa::kScalar);
    return *scalar_;
  }
  void ExpectSameBitsInAnyTile(const AttentionShape& shape);
  std::vector<Shape> Shapes() const {
    std::vector<Shape> shapes;
    for (const Shape& shape : kShapes)
      if (!block() || !shape.float_types_only) shapes.push_back(shape);
    return shapes;
  }

  std::optional<KernelTable> table_, scalar_;
};

TEST(AttentionTileQueries, KeepTheTileNear128RowsWithin4To16Queries) {
  static_assert(AttentionTileQueries({.n_heads = 4, .n_kv_heads = 4}) == 16);    // MHA
  static_assert(AttentionTileQueries({.n_heads = 32, .n_kv_heads = 4}) == 16);   // Qwen3-30B-A3B: 128 rows
  static_assert(AttentionTileQueries({.n_heads = 64, .n_kv_heads = 4}) == 8);
  static_assert(AttentionTileQueries({.n_heads = 64, .n_kv_heads = 2}) == 4);
  static_assert(AttentionTileQueries({.n_heads = 128, .n_kv_heads = 1}) == 4);  // MLA-like: still 4 share a read
  EXPECT_EQ(AttentionTileQueries({.n_heads = 96, .n_kv_heads = 8}), 10);
}

TEST_P(AttentionKernelTest, RegisteredAtThisLevel) {
  const AttentionKernel& kernel = table().AttentionFor(kv_type());
  ASSERT_NE(kernel.tile, nullptr);
  EXPECT_EQ(kernel.isa, isa());
  EXPECT_TRUE(IsKvType(kv_type()));
}

// Lengths of a tile's queries: consecutive positions ending at `last` (a prefill tile).
std::vector<int32_t> TileLengths(int n_queries, int32_t last) {
  std::vector<int32_t> lengths(static_cast<size_t>(n_queries));
  for (int i = 0; i < n_queries; ++i) lengths[static_cast<size_t>(i)] = last - (n_queries - 1 - i);
  return lengths;
}

TEST_P(AttentionKernelTest, MatchesScalarFlashAndReference) {
  std::mt19937 rng(31 + static_cast<int>(kv_type()));
  // Cell counts around the chunk size (256): one cell, a partial chunk, exactly one, one more,
  // several chunks. Query scales: flat and sharp softmax.
  struct Case {
    int64_t cells;
    int n_queries;
    float query_scale;
  };
  for (const Shape& shape : Shapes()) {
    const int max = AttentionTileQueries(shape.shape);
    const Case cases[] = {{1, 1, 1.0f}, {37, 3, 1.0f}, {256, 1, 4.0f}, {257, max, 1.0f}, {700, 2, 4.0f}, {700, max, 1.0f}};
    for (const Case& c : cases) {
      SCOPED_TRACE(testing::Message() << shape.name << " cells " << c.cells << " queries " << c.n_queries << " query scale "
                                      << c.query_scale);
      const Problem problem(shape.shape, kv_type(), c.cells + 50, c.cells, c.query_scale, rng);
      Workspace workspace(shape.shape);
      const std::vector<int32_t> lengths = TileLengths(c.n_queries, static_cast<int32_t>(c.cells));
      if (lengths.front() < 1) continue;
      const size_t n = static_cast<size_t>(c.n_queries) * shape.shape.n_heads * shape.shape.value_head_dim;
      std::vector<float> got(problem.out_size()), flash(problem.out_size()), reference(problem.out_size());
      AttentionWithTable(table(), problem.Args(problem.q.data(), c.n_queries, lengths.data(), workspace.data(), got.data()));
      AttentionWithTable(scalar(),
                         problem.Args(problem.q.data(), c.n_queries, lengths.data(), workspace.data(), flash.data()));
      Attention(problem.Args(problem.q.data(), c.n_queries, lengths.data(), workspace.data(), reference.data()),
                MatMulPath::kReference);
      for (size_t i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(got[i])) << i;
      // Same algorithm: only the order of float sums and the exponential differ. Outputs are
      // convex combinations of V values of magnitude ~1.
      EXPECT_LE(MaxAbsDifference(got.data(), flash.data(), n), 2e-5) << "against the scalar flash kernel";
      // Against the oracle: float sums and exp (every KV type: the kernels score the float
      // queries against the rows the reference dequantizes).
      EXPECT_LE(NormalisedError(got.data(), reference.data(), n), 1e-9) << "against the reference";
      // The engine's head-major cache: the same rows at other addresses, so the same bits.
      const Problem heads = problem.HeadMajor();
      std::vector<float> got_heads(problem.out_size()), reference_heads(problem.out_size());
      AttentionWithTable(table(), heads.Args(heads.q.data(), c.n_queries, lengths.data(), workspace.data(), got_heads.data()));
      Attention(heads.Args(heads.q.data(), c.n_queries, lengths.data(), workspace.data(), reference_heads.data()),
                MatMulPath::kReference);
      EXPECT_EQ(std::memcmp(got_heads.data(), got.data(), n * sizeof(float)), 0) << "head-major cache";
      EXPECT_EQ(std::memcmp(reference_heads.data(), reference.data(), n * sizeof(float)), 0) << "head-major cache, reference";
    }
  }
}

TEST_P(AttentionKernelTest, AQueryGivesTheSameBitsInAnyTileAndHeadSplit) {
  // Every shape: MHA (one query head per KV head) and groups of 3 split their rows into other
  // kernel groups alone than in a tile of several queries.
  for (const Shape& shape : Shapes()) {
    SCOPED_TRACE(shape.name);
    ExpectSameBitsInAnyTile(shape.shape);
  }
}

void AttentionKernelTest::ExpectSameBitsInAnyTile(const AttentionShape& shape) {
  std::mt19937 rng(7 + static_cast<int>(kv_type()));
  const int64_t n_cells = 600;
  const Problem problem(shape, kv_type(), 640, n_cells, 2.0f, rng);
  Workspace workspace(shape);
  const int n_queries = AttentionTileQueries(shape);
  const std::vector<int32_t> lengths = TileLengths(n_queries, static_cast<int32_t>(n_cells));
  std::vector<float> tile(problem.out_size());
  AttentionWithTable(table(), problem.Args(problem.q.data(), n_queries, lengths.data(), workspace.data(), tile.data()));
  const int64_t q_row = int64_t{shape.n_heads} * shape.head_dim, out_row = int64_t{shape.n_heads} * shape.value_head_dim;
  for (int i = 0; i < n_queries; ++i) {
    // Alone, and KV head by KV head.
    std::vector<float> alone(static_cast<size_t>(out_row), -7.0f);
    for (int kv_head = 0; kv_head < shape.n_kv_heads; ++kv_head) {
      AttentionArgs args = problem.Args(problem.q.data() + i * q_row, 1, &lengths[static_cast<size_t>(i)], workspace.data(),
                                        alone.data());
      args.kv_head_begin = kv_head;
      args.kv_head_end = kv_head + 1;
      AttentionWithTable(table(), args);
      if (kv_head == 0) {
        // Only the heads asked for are written.
        const int group = shape.n_heads / shape.n_kv_heads;
        for (int64_t d = int64_t{group} * shape.value_head_dim; d < out_row; ++d) ASSERT_EQ(alone[d], -7.0f) << d;
      }
    }
    EXPECT_EQ(std::memcmp(alone.data(), tile.data() + i * out_row, static_cast<size_t>(out_row) * sizeof(float)), 0)
        << "query " << i << " alone differs from the same query in a tile";
  }
}

TEST_P(AttentionKernelTest, Avx512GivesTheAvx2KernelsBits) {
  // attention_flash.h: both levels run the same chain of operations for every score, exponential
  // and output dimension, with wider vectors at AVX-512 (two K blocks' layouts, 16-lane
  // exponentials, 16-bit transpositions). Tiles of one and of several queries, sharp and flat
  // softmax, cell counts off every block and chunk size.
  if (isa() != CpuIsa::kAvx512) GTEST_SKIP() << "compares the AVX-512 kernel with the AVX2 one";
  const KernelTable avx2 = BuildKernelTable(CpuIsa::kAvx2);
  std::mt19937 rng(101 + static_cast<int>(kv_type()));
  for (const Shape& shape : Shapes()) {
    for (const int64_t cells : {int64_t{1}, int64_t{23}, int64_t{300}, int64_t{613}}) {
      for (const int n_queries : {1, AttentionTileQueries(shape.shape)}) {
        SCOPED_TRACE(testing::Message() << shape.name << " cells " << cells << " queries " << n_queries);
        const std::vector<int32_t> lengths = TileLengths(n_queries, static_cast<int32_t>(cells));
        if (lengths.front() < 1) continue;
        const Problem problem(shape.shape, kv_type(), cells + 9, cells, n_queries == 1 ? 4.0f : 1.0f, rng);
        Workspace workspace(shape.shape);
        std::vector<float> wide(problem.out_size()), narrow(problem.out_size());
        AttentionWithTable(table(), problem.Args(problem.q.data(), n_queries, lengths.data(), workspace.data(), wide.data()));
        AttentionWithTable(avx2, problem.Args(problem.q.data(), n_queries, lengths.data(), workspace.data(), narrow.data()));
        const size_t n = static_cast<size_t>(n_queries) * shape.shape.n_heads * shape.shape.value_head_dim;
        EXPECT_EQ(std::memcmp(wide.data(), narrow.data(), n * sizeof(float)), 0);
      }
    }
  }
}

TEST_P(AttentionKernelTest, OneDominantCellGivesItsValue) {
  // A key aligned with the query and far larger than the rest: the output is that cell's V row
  // (dequantized), whichever chunk the cell is in.
  const AttentionShape shape = {.n_heads = 2, .n_kv_heads = 1, .head_dim = 64, .value_head_dim = 64};
  std::mt19937 rng(3);
  for (int64_t hot : {0, 255, 256, 599}) {
    Problem problem(shape, kv_type(), 600, 600, 0.0f, rng);
    std::vector<float> key(64), value(64), q(static_cast<size_t>(kAttentionMaxQueries) * 2 * 64, 0.0f);
    for (int d = 0; d < 64; ++d) {
      key[d] = d % 2 == 0 ? 4.0f : -4.0f;
      q[d] = q[64 + d] = key[d];
    }
    const int32_t cell = problem.cells[static_cast<size_t>(hot)];
    QuantizeKvRow(kv_type(), key.data(), problem.k.data() + cell * problem.k_row_bytes, 64);
    DequantizeRow(kv_type(), problem.v.data() + cell * problem.v_row_bytes, value.data(), 64);
    Workspace workspace(shape);
    std::vector<float> out(problem.out_size());
    const int32_t length = 600;
    AttentionWithTable(table(), problem.Args(q.data(), 1, &length, workspace.data(), out.data()));
    for (int h = 0; h < 2; ++h)
      for (int d = 0; d < 64; ++d) ASSERT_NEAR(out[h * 64 + d], value[d], 1e-3f) << "hot cell " << hot << " head " << h;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, AttentionKernelTest,
                         testing::Combine(testing::ValuesIn(AvailableIsas()), testing::ValuesIn(kKvTypes)),
                         [](const auto& test) { return Label(std::get<0>(test.param), std::get<1>(test.param)); });

TEST(KvRows, QuantizeKvRowIsBitExactWithTheReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (DType type : kKvTypes) {
    for (int64_t elements : {32, 64, 256, 1024}) {
      std::vector<float> x(static_cast<size_t>(elements));
      for (float& v : x) v = normal(rng);
      std::vector<uint8_t> expected(static_cast<size_t>(RowBytes(type, elements))), got(expected.size(), 0x5a);
      QuantizeRow(type, x.data(), expected.data(), elements);
      QuantizeKvRow(type, x.data(), got.data(), elements);
      EXPECT_EQ(got, expected) << DTypeName(type) << " " << elements;
    }
  }
}

TEST(KvRows, OnlyTheFourKvTypes) {
  for (DType type : kKvTypes) EXPECT_TRUE(IsKvType(type));
  for (DType type : {DType::kF32, DType::kQ4_K, DType::kQ8_K, DType::kQ5_0}) EXPECT_FALSE(IsKvType(type));
}

}  // namespace
}  // namespace moefit
