// SPDX-License-Identifier: MIT
// Error-minimising scale searches used by the K-quant and IQ4 quantizers (the reference's
// make_qx_quants / make_q3_quants / make_qkx2_quants family, written afresh).
#pragma once

#include <cstdint>

namespace moefit {

// Symmetric levels: picks scale s and L[i] in [0, 2*nmax) so that s * (L[i] - nmax) ~ x[i],
// minimising sum w[i] (x[i] - s (L[i] - nmax))^2 with w[i] = x[i]^2 (importance on large values).
// Tries 18 scales around nmax/max and keeps the best. Returns s (0 for an all-zero group).
// All searches take groups of n <= 256 elements.
float SymmetricScaleSearch(int n, int nmax, const float* x, uint8_t* levels);

// As above but refines levels one at a time (coordinate descent) from the round-to-nearest
// start, as the reference does for 3-bit groups. L[i] in [0, 2*nmax).
float SymmetricScaleRefine(int n, int nmax, const float* x, uint8_t* levels);

struct AffineSearch {
  int nmax;       // levels are 0..nmax
  float rmin;     // first trial: (nmax + rmin) / (max - min)
  float rdelta;   // step between trials
  int steps;      // number of trials after the round-to-nearest start
  bool use_abs;   // minimise weighted |error| instead of weighted squared error
};

// Affine levels: x[i] ~ scale * L[i] - min_out with L[i] in [0, nmax] and min_out >= 0, choosing
// scale and offset by weighted least squares over a sweep of trial scales. Returns scale.
float AffineScaleSearch(int n, const float* x, const float* weights, uint8_t* levels, float* min_out,
                        const AffineSearch& search);

}  // namespace moefit
