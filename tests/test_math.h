// SPDX-License-Identifier: MIT
// Small numeric helpers shared by the cross-layer tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>

namespace moefit {

// Cosine similarity of the first min(|a|, |b|) values, accumulated in double.
inline double Cosine(std::span<const float> a, std::span<const float> b) {
  const size_t n = std::min(a.size(), b.size());
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return dot / std::sqrt(na * nb);
}

}  // namespace moefit
