// SPDX-License-Identifier: MIT
// Scalar element-wise ops: RMS norm, softmax, top-k, RoPE (with YaRN). Attention: attention.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "kernels/ops.h"
#include "kernels/cpu/dispatch.h"

namespace moefit {

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* y) {
  CpuKernels().rms_norm.row(x, weight, n, eps, y);
}

void RmsNormReference(const float* x, const float* weight, int64_t n, float eps, float* y) {
  // Eight running sums in double, so the adds do not wait on each other (one chain took 4
  // cycles an element: 1.7% of a prefill on the 8-layer model).
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  int64_t e = 0;
  for (; e + kLanes <= n; e += kLanes)
    for (int j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(x[e + j]) * x[e + j];
  double sum = 0.0;
  for (; e < n; ++e) sum += static_cast<double>(x[e]) * x[e];
  for (double lane : lanes) sum += lane;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void WeightedSum(const float* const* rows, const float* weights, int count, int64_t n, float* out) {
  CpuKernels().weighted_sum.row(rows, weights, count, n, out);
}

// Baseline x86-64 has no fused multiply-add, so each product is rounded before its add here.
void WeightedSumReference(const float* const* rows, const float* weights, int count, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0.0f;
    for (int k = 0; k < count; ++k) sum += weights[k] * rows[k][i];
    out[i] = sum;
  }
}

void Softmax(float* x, int64_t n) {
  float max_value = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max_value = std::max(max_value, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inverse;
}

void TopK(const float* values, int n, int k, int* indices) {
  // One pass keeping the best k so far in order, with their values (a stable sort's order:
  // among equal values the lower index first, so a value joins after the equal ones already
  // there). k is small (8 of 128 for the 30B router): most values lose one comparison with the
  // k-th best and move on. (k scans of all n with a bit set of those taken took ~3.6 us a call
  // for 8 of 128, 0.7% of a pp512.) A NaN counts as -inf instead of poisoning the order.
  for (int j = std::max(0, n); j < k; ++j) indices[j] = -1;  // fewer values than asked
  k = std::min(k, n);
  if (k <= 0) return;
  constexpr int kStack = 64;
  float stack_best[kStack];
  std::vector<float> heap_best(k > kStack ? static_cast<size_t>(k) : 0);
  float* best = k > kStack ? heap_best.data() : stack_best;
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const float v = std::isnan(values[i]) ? -INFINITY : values[i];
    if (count == k && !(v > best[k - 1])) continue;  // not better than the k-th best
    int at = count < k ? count++ : k - 1;
    for (; at > 0 && best[at - 1] < v; --at) {
      best[at] = best[at - 1];
      indices[at] = indices[at - 1];
    }
    best[at] = v;
    indices[at] = i;
  }
}

namespace {

// YaRN: the dimension range between the "fast" and "slow" corrections.
float YarnCorrectionDim(int dims, int original_context, float rotations, float base) {
  return static_cast<float>(dims) * std::log(static_cast<float>(original_context) / (rotations * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

float YarnRamp(float low, float high, int i0) {
  const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

void RopeAngles(int64_t pos, const RopeParams& params, float* cos_sin) {
  const int dims = params.dims;
  const float theta_scale = std::pow(params.base, -2.0f / static_cast<float>(dims));
  float low = 0.0f, high = 0.0f;
  if (params.ext_factor != 0.0f) {
    low = std::max(0.0f, std::floor(YarnCorrectionDim(dims, params.original_context, params.beta_fast, params.base)));
    high = std::min(static_cast<float>(dims - 1),
                    std::ceil(YarnCorrectionDim(dims, params.original_context, params.beta_slow, params.base)));
  }
  float theta_extrap = static_cast<float>(pos);
  for (int i0 = 0; i0 < dims; i0 += 2) {
    const float theta_interp = params.freq_scale * theta_extrap;
    float theta = theta_interp;
    float mscale = params.attn_factor;
    if (params.ext_factor != 0.0f) {
      const float ramp_mix = YarnRamp(low, high, i0) * params.ext_factor;
      theta = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / params.freq_scale);
    }
    cos_sin[i0 / 2] = std::cos(theta) * mscale;
    cos_sin[RopePairs(params) + i0 / 2] = std::sin(theta) * mscale;
    theta_extrap *= theta_scale;
  }
}

void RopeApply(float* heads, int n_heads, int head_dim, const float* cos_sin, const RopeParams& params) {
  const int pairs = RopePairs(params), half = params.dims / 2;
  const float* cos_theta = cos_sin;
  const float* sin_theta = cos_sin + pairs;
  for (int h = 0; h < n_heads; ++h) {
    float* head = heads + static_cast<int64_t>(h) * head_dim;
    if (params.kind == RopeKind::kNeox) {  // rotates (i, i + dims / 2)
      for (int i = 0; i < pairs; ++i) {
        const float x0 = head[i], x1 = head[i + half];
        head[i] = x0 * cos_theta[i] - x1 * sin_theta[i];
        head[i + half] = x0 * sin_theta[i] + x1 * cos_theta[i];
      }
    } else {  // NORM rotates (2i, 2i + 1)
      for (int i = 0; i < pairs; ++i) {
        const float x0 = head[2 * i], x1 = head[2 * i + 1];
        head[2 * i] = x0 * cos_theta[i] - x1 * sin_theta[i];
        head[2 * i + 1] = x0 * sin_theta[i] + x1 * cos_theta[i];
      }
    }
  }
}

void Rope(float* heads, int n_heads, int head_dim, int64_t pos, const RopeParams& params) {
  std::vector<float> cos_sin(static_cast<size_t>(RopeAngleFloats(params)));
  RopeAngles(pos, params, cos_sin.data());
  RopeApply(heads, n_heads, head_dim, cos_sin.data(), params);
}

void SwiGluRowReference(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = Silu(gate[i]) * up[i];
}

uint64_t StreamRead(const void* data, int64_t bytes) {
  const auto* words = static_cast<const uint64_t*>(data);
  const int64_t stream = bytes / 8 / 4 / 8 * 8;  // words per stream, a multiple of 8
  uint64_t a[4][2] = {};
  for (int64_t i = 0; i < stream; i += 8) {
    for (int s = 0; s < 4; ++s) {
      const uint64_t* p = words + s * stream + i;
      __builtin_prefetch(p + 128);
      a[s][0] += p[0] + p[2] + p[4] + p[6];
      a[s][1] += p[1] + p[3] + p[5] + p[7];
    }
  }
  uint64_t total = 0;
  for (int s = 0; s < 4; ++s) total += a[s][0] + a[s][1];
  return total;
}

}  // namespace moefit
