// SPDX-License-Identifier: MIT
// The element-wise and row operations of the kernel table and kernels/ops.h, on every ISA level
// the CPU has: SwiGLU, RMS norm, the MoE weighted sum, top-k, RoPE.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/test_isas.h"
#include "kernels/ops.h"
namespace moefit {
namespace {

// The SwiGLU of the feed-forward, every level: close to Silu(g) * u over the range activations
// take (and far past it, where exp overflows), and an element's bits the same wherever it falls
// in a row of any length (the vector tail goes through the same arithmetic).
TEST(SwiGluKernels, MatchTheReferenceAndDoNotDependOnPosition) {
  std::mt19937 rng(77);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> gate(203), up(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) {
    gate[i] = normal(rng);
    up[i] = normal(rng);
  }
  for (float extreme : {-200.0f, -90.0f, -88.5f, -30.0f, -1e-30f, 0.0f, 1e-30f, 30.0f, 88.5f, 200.0f}) {
    gate.push_back(extreme);
    up.push_back(1.5f);
  }
  const int64_t n = static_cast<int64_t>(gate.size());
  for (CpuIsa isa : AvailableIsas()) {
    SCOPED_TRACE(IsaName(isa));
    const KernelTable table = BuildKernelTable(isa);
    ASSERT_NE(table.swiglu.row, nullptr);
    EXPECT_EQ(table.swiglu.isa, isa);
    std::vector<float> whole = gate;
    table.swiglu.row(whole.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float expected = Silu(gate[i]) * up[i];
      ASSERT_TRUE(std::isfinite(whole[i])) << i;
      EXPECT_NEAR(whole[i], expected, 1e-6f * std::fabs(expected) + 1e-30f) << "g " << gate[i] << " u " << up[i];
    }
    // Pieces of every length 1..19 at every offset: the same bits as the whole row.
    for (int64_t length = 1; length < 20; ++length) {
      for (int64_t first = 0; first + length <= n; first += 7) {
        std::vector<float> piece(gate.begin() + first, gate.begin() + first + length);
        table.swiglu.row(piece.data(), up.data() + first, length);
        ASSERT_EQ(std::memcmp(piece.data(), whole.data() + first, static_cast<size_t>(length) * sizeof(float)), 0)
            << "length " << length << " at " << first;
      }
    }
    // Every vector level gives the AVX2 level's bits (the same arithmetic, wider).
    if (isa > CpuIsa::kAvx2) {
      std::vector<float> narrow = gate;
      BuildKernelTable(CpuIsa::kAvx2).swiglu.row(narrow.data(), up.data(), n);
      EXPECT_EQ(std::memcmp(narrow.data(), whole.data(), static_cast<size_t>(n) * sizeof(float)), 0);
    }
  }
}

// The RMS norm of every level gives the reference's bits (its eight double lanes kept), for
// lengths off and on the vector width, large and tiny values.
TEST(RmsNormKernels, GiveTheReferenceBits) {
  std::mt19937 rng(78);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (CpuIsa isa : AvailableIsas()) {
    SCOPED_TRACE(IsaName(isa));
    const KernelTable table = BuildKernelTable(isa);
    ASSERT_NE(table.rms_norm.row, nullptr);
    EXPECT_EQ(table.rms_norm.isa, isa);
    for (int64_t n : {1, 5, 8, 13, 64, 128, 2048, 2051}) {
      for (float magnitude : {1.0f, 1e-20f, 1e15f}) {
        std::vector<float> x(static_cast<size_t>(n)), weight(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          x[i] = normal(rng) * magnitude;
          weight[i] = normal(rng);
        }
        std::vector<float> expected(x.size()), got(x.size(), -1.0f);
        RmsNormReference(x.data(), weight.data(), n, 1e-6f, expected.data());
        table.rms_norm.row(x.data(), weight.data(), n, 1e-6f, got.data());
        EXPECT_EQ(std::memcmp(got.data(), expected.data(), x.size() * sizeof(float)), 0)
            << "n " << n << " magnitude " << magnitude;
      }
    }
  }
}

// The MoE layer's weighted sum of expert rows, every level: the reference's bits (each product
// rounded before its add, 0 first: a fused multiply-add, or another order, changes the last bits
// of most of these sums), for counts and lengths on and off the vector widths.
TEST(WeightedSumKernels, GiveTheReferenceBits) {
  std::mt19937 rng(79);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (CpuIsa isa : AvailableIsas()) {
    SCOPED_TRACE(IsaName(isa));
    const KernelTable table = BuildKernelTable(isa);
    ASSERT_NE(table.weighted_sum.row, nullptr);
    EXPECT_EQ(table.weighted_sum.isa, isa);
    for (int count : {1, 2, 8, 9}) {
      for (int64_t n : {1, 7, 8, 16, 63, 64, 65, 130, 2048, 2051}) {
        std::vector<std::vector<float>> rows(static_cast<size_t>(count), std::vector<float>(static_cast<size_t>(n)));
        std::vector<const float*> pointers;
        std::vector<float> weights;
        for (auto& row : rows) {
          for (float& v : row) v = normal(rng) * 3.0f;
          row[0] = -0.0f;  // 0 + (-0 x w) is +0: the sum starts from +0 as the reference's does
          pointers.push_back(row.data());
          weights.push_back(std::fabs(normal(rng)) + 0.01f);
        }
        std::vector<float> expected(static_cast<size_t>(n)), got(static_cast<size_t>(n) + 1, -7.0f);
        WeightedSumReference(pointers.data(), weights.data(), count, n, expected.data());
        table.weighted_sum.row(pointers.data(), weights.data(), count, n, got.data());
        EXPECT_EQ(std::memcmp(got.data(), expected.data(), static_cast<size_t>(n) * sizeof(float)), 0)
            << "count " << count << " n " << n;
        EXPECT_EQ(got[static_cast<size_t>(n)], -7.0f) << "wrote past the row";
        EXPECT_FALSE(std::signbit(got[0])) << "-0 where the reference's sum gives +0";
      }
    }
  }
}

// ---- Row operations ---------------------------------------------------------------------------

// RmsNorm against a plain double loop, lengths around its 8-wide sums (tails of 0..7).
TEST(RmsNorm, MatchesPlainSum) {
  std::mt19937 rng(4242);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t n : {1, 7, 8, 9, 15, 128, 2051}) {
    std::vector<float> x(static_cast<size_t>(n)), weight(x.size()), y(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = normal(rng);
      weight[i] = normal(rng);
    }
    double sum = 0.0;
    for (float v : x) sum += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(sum / static_cast<double>(n) + 1e-6);
    RmsNorm(x.data(), weight.data(), n, 1e-6f, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double expected = static_cast<double>(x[i]) * scale * weight[i];
      EXPECT_NEAR(y[i], expected, 1e-6 * std::fabs(expected) + 1e-30) << "n " << n << " at " << i;
    }
  }
}

// TopK: the k largest in descending order, the lower index first among equal values (a stable
// sort's order), on both sides of its bit set's size and with many ties.
TEST(TopK, MatchesStableSort) {
  std::mt19937 rng(99);
  for (int n : {1, 8, 128, 1024, 1500}) {
    for (int k : {1, 8, 33}) {
      if (k > n) continue;
      for (int levels : {3, 1000000}) {  // few distinct values (ties everywhere) or almost none
        std::uniform_int_distribution<int> pick(0, levels - 1);
        std::vector<float> values(static_cast<size_t>(n));
        for (float& v : values) v = static_cast<float>(pick(rng)) * 0.25f - 3.0f;
        std::vector<int> order(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[a] > values[b]; });
        std::vector<int> top(static_cast<size_t>(k), -1);
        TopK(values.data(), n, k, top.data());
        EXPECT_EQ(top, std::vector<int>(order.begin(), order.begin() + k)) << "n " << n << " k " << k << " levels " << levels;
      }
    }
  }
}

// RoPE in two steps (angles once per position, then every head) gives the bits of the rotation
// written the plain way, pair by pair with its angle computed in place (the form the ecosystem's
// reference uses), for both styles, with and without YaRN, at small and large positions.
TEST(Rope, TwoStepsGiveThePlainRotationsBits) {
  const auto plain = [](float* heads, int n_heads, int head_dim, int64_t pos, const RopeParams& p) {
    const auto corr = [&](float rotations) {
      return static_cast<float>(p.dims) * std::log(static_cast<float>(p.original_context) / (rotations * 2.0f * std::numbers::pi_v<float>)) /
             (2.0f * std::log(p.base));
    };
    const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.dims));
    float low = 0.0f, high = 0.0f;
    if (p.ext_factor != 0.0f) {
      low = std::max(0.0f, std::floor(corr(p.beta_fast)));
      high = std::min(static_cast<float>(p.dims - 1), std::ceil(corr(p.beta_slow)));
    }
    float theta_extrap = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.dims; i0 += 2) {
      float theta = p.freq_scale * theta_extrap, mscale = p.attn_factor;
      if (p.ext_factor != 0.0f) {
        const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
        const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
        theta = p.freq_scale * theta_extrap * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
        mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
      }
      const float c = std::cos(theta) * mscale, sn = std::sin(theta) * mscale;
      for (int h = 0; h < n_heads; ++h) {
        float* head = heads + static_cast<int64_t>(h) * head_dim;
        const int a = p.kind == RopeKind::kNorm ? i0 : i0 / 2, b = p.kind == RopeKind::kNorm ? i0 + 1 : i0 / 2 + p.dims / 2;
        const float x0 = head[a], x1 = head[b];
        head[a] = x0 * c - x1 * sn;
        head[b] = x0 * sn + x1 * c;
      }
      theta_extrap *= theta_scale;
    }
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (RopeKind kind : {RopeKind::kNeox, RopeKind::kNorm})
    for (bool yarn : {false, true})
      for (int dims : {128, 64}) {  // whole heads, and partial rotation of 128-wide heads
        RopeParams params{.kind = kind, .dims = dims, .base = 1000000.0f};
        if (yarn) {
          params.freq_scale = 0.25f;
          params.ext_factor = 1.0f;
          params.original_context = 32768;
        }
        for (int64_t pos : {0, 1, 17, 4095, 131071}) {
          const int n_heads = 4, head_dim = 128;
          std::vector<float> expected(static_cast<size_t>(n_heads * head_dim));
          for (float& x : expected) x = normal(rng);
          std::vector<float> whole = expected, split = expected;
          plain(expected.data(), n_heads, head_dim, pos, params);
          Rope(whole.data(), n_heads, head_dim, pos, params);
          std::vector<float> angles(static_cast<size_t>(RopeAngleFloats(params)));
          RopeAngles(pos, params, angles.data());
          RopeApply(split.data(), n_heads, head_dim, angles.data(), params);
          for (size_t i = 0; i < expected.size(); ++i) {
            ASSERT_EQ(std::bit_cast<uint32_t>(whole[i]), std::bit_cast<uint32_t>(expected[i])) << i << " pos " << pos;
            ASSERT_EQ(std::bit_cast<uint32_t>(split[i]), std::bit_cast<uint32_t>(expected[i])) << i << " pos " << pos;
          }
        }
      }
}

// A NaN (a broken router's output) counts as -inf instead of being taken first because nothing
// compares greater than it; fewer values than k leave -1.
TEST(TopK, RanksNaNLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {nan, 1.0f, -INFINITY, 2.0f, nan, 1.0f};
  std::vector<int> top(6, -2);
  TopK(values.data(), 6, 6, top.data());
  EXPECT_EQ(top, (std::vector<int>{3, 1, 5, 0, 2, 4}));
  std::vector<int> two(2, -2);
  TopK(values.data(), 6, 2, two.data());
  EXPECT_EQ(two, (std::vector<int>{3, 1}));
  std::vector<int> more(4, -2);
  TopK(values.data() + 1, 2, 4, more.data());
  EXPECT_EQ(more, (std::vector<int>{0, 1, -1, -1}));
}

}  // namespace
}  // namespace moefit
