// SPDX-License-Identifier: MIT
// Scale searches for the K-quant and IQ4 quantizers; see scale_search.h.
#include "quant/scale_search.h"

#include <cmath>

#include "quant/quant_util.h"

namespace moefit {
namespace {

constexpr float kGroupMaxEpsilon = 1e-15f;  // groups whose largest |x| is below this are zero

// The value of largest magnitude, with its sign; 0 when all are below the epsilon.
float SignedAbsMax(int n, const float* x) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return amax < kGroupMaxEpsilon ? 0.0f : max;
}

}  // namespace

float SymmetricScaleSearch(int n, int nmax, const float* x, uint8_t* levels) {
  const float max = SignedAbsMax(n, x);
  if (max == 0) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    return 0;
  }
  // Sums of the weighted normal equations for one trial inverse scale.
  auto trial = [&](float inverse_scale, float& sum_lx, float& sum_l2, bool store) {
    sum_lx = 0;
    sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(NearestInt(inverse_scale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * l;
      sum_l2 += w * l * l;
      if (store) levels[i] = static_cast<uint8_t>(l + nmax);
    }
  };
  float sum_lx, sum_l2;
  trial(-nmax / max, sum_lx, sum_l2, true);
  float scale = sum_l2 > 0 ? sum_lx / sum_l2 : 0;
  float best = scale * sum_lx;  // reduction of the squared error achieved by this scale
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    const float inverse_scale = -(nmax + 0.1f * step) / max;
    trial(inverse_scale, sum_lx, sum_l2, false);
    if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
      trial(inverse_scale, sum_lx, sum_l2, true);
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

float SymmetricScaleRefine(int n, int nmax, const float* x, uint8_t* levels) {
  const float max = SignedAbsMax(n, x);
  if (max == 0) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    return 0;
  }
  const float inverse_scale = -nmax / max;
  int l_signed[256];
  float sum_lx = 0, sum_l2 = 0;
  for (int i = 0; i < n; ++i) {
    l_signed[i] = Clamp(NearestInt(inverse_scale * x[i]), -nmax, nmax - 1);
    const float w = x[i] * x[i];
    sum_lx += w * x[i] * l_signed[i];
    sum_l2 += w * l_signed[i] * l_signed[i];
  }
  // Move one level at a time to the value that is optimal given the others, while the
  // weighted fit (sum_lx^2 / sum_l2) improves.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sum_lx - w * x[i] * l_signed[i];
      if (slx <= 0) continue;
      float sl2 = sum_l2 - w * l_signed[i] * l_signed[i];
      const int candidate = Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (candidate == l_signed[i]) continue;
      slx += w * x[i] * candidate;
      sl2 += w * candidate * candidate;
      if (sl2 > 0 && slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
        l_signed[i] = candidate;
        sum_lx = slx;
        sum_l2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) levels[i] = static_cast<uint8_t>(l_signed[i] + nmax);
  return sum_l2 > 0 ? sum_lx / sum_l2 : 1.0f / inverse_scale;
}

float AffineScaleSearch(int n, const float* x, const float* weights, uint8_t* levels, float* min_out,
                        const AffineSearch& search) {
  const int nmax = search.nmax;
  float min = x[0], max = x[0];
  float sum_w = 0, sum_x = 0;
  for (int i = 0; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;  // the offset only ever lowers the levels: min_out >= 0
  if (max == min) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    *min_out = -min;
    return 0;
  }
  auto error_of = [&](float diff) { return search.use_abs ? std::fabs(diff) : diff * diff; };

  // Start: round to nearest on the full range.
  float inverse_scale = nmax / (max - min);
  float scale = 1 / inverse_scale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = Clamp(NearestInt(inverse_scale * (x[i] - min)), 0, nmax);
    levels[i] = static_cast<uint8_t>(l);
    best_error += weights[i] * error_of(scale * l + min - x[i]);
  }
  // Sweep trial scales; for each, the least-squares scale and offset of its levels.
  uint8_t trial_levels[256];
  for (int step = 0; step <= search.steps; ++step) {
    inverse_scale = (search.rmin + search.rdelta * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(NearestInt(inverse_scale * (x[i] - min)), 0, nmax);
      trial_levels[i] = static_cast<uint8_t>(l);
      sum_l += weights[i] * l;
      sum_l2 += weights[i] * l * l;
      sum_xl += weights[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float trial_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float trial_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (trial_min > 0) {
      trial_min = 0;
      trial_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) error += weights[i] * error_of(trial_scale * trial_levels[i] + trial_min - x[i]);
    if (error < best_error) {
      for (int i = 0; i < n; ++i) levels[i] = trial_levels[i];
      best_error = error;
      scale = trial_scale;
      min = trial_min;
    }
  }
  *min_out = -min;
  return scale;
}

}  // namespace moefit
