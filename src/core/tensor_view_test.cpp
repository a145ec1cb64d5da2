// SPDX-License-Identifier: MIT
#include "core/tensor_view.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace moefit {
namespace {

// Every block of every row comes back from CopyRow in plain order after interleaving, for full
// and short last groups and several matrices (the expert tensors).
TEST(TensorViewTest, InterleavedRowsReadBackAsPlainRows) {
  for (DType type : {DType::kQ4_K, DType::kQ8_0, DType::kQ6_K}) {
    for (int64_t rows : {1, 2, 4, 5, 7, 8}) {
      const int64_t row_length = 512, matrices = 3;
      const int64_t row_bytes = RowBytes(type, row_length);
      std::vector<uint8_t> plain(static_cast<size_t>(row_bytes * rows * matrices));
      for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 7 + i / 251);
      std::vector<uint8_t> interleaved = plain;
      InterleaveRows(interleaved.data(), type, row_length, rows, matrices);
      if (rows > 1) {
        EXPECT_NE(interleaved, plain);
      }
      TensorView view{.data = interleaved.data(), .type = type, .dims = {row_length, rows, matrices, 1}, .n_dims = 3,
                      .row_group = kInterleavedRowGroup};
      std::vector<uint8_t> row(static_cast<size_t>(row_bytes));
      for (int64_t m = 0; m < matrices; ++m) {
        for (int64_t r = 0; r < rows; ++r) {
          CopyRow(view.matrix(m), r, row.data());
          EXPECT_TRUE(std::equal(row.begin(), row.end(), plain.begin() + (m * rows + r) * row_bytes))
              << Layout(type).name << " rows " << rows << " matrix " << m << " row " << r;
        }
      }
    }
  }
}

TEST(TensorViewTest, OnlyBlockTypesInterleave) {
  EXPECT_TRUE(CanInterleave(DType::kQ4_K));
  EXPECT_TRUE(CanInterleave(DType::kQ8_0));
  EXPECT_FALSE(CanInterleave(DType::kF16));
  EXPECT_FALSE(CanInterleave(DType::kF32));
  EXPECT_FALSE(CanInterleave(DType::kBF16));
}

}  // namespace
}  // namespace moefit
