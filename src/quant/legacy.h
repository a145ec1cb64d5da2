// SPDX-License-Identifier: MIT
// The 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1 (weights; legacy.cpp) and Q8_0, Q8_1
// (weights and the activation side of their dot products; q8_0.cpp).
// In every 4-bit/5-bit block, element j sits in the low nibble of qs[j] and element j + 16 in
// the high nibble. Scales are F16 bits (core/half.h).
#pragma once

#include <cstdint>

namespace moefit {

inline constexpr int kQK32 = 32;  // elements per block of these formats

struct BlockQ4_0 {
  uint16_t d;      // scale
  uint8_t qs[16];  // value = (q - 8) * d
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  uint16_t d;      // scale
  uint16_t m;      // offset (the block minimum)
  uint8_t qs[16];  // value = q * d + m
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  uint16_t d;      // scale
  uint8_t qh[4];   // fifth bits, little-endian uint32: bit j belongs to element j
  uint8_t qs[16];  // low four bits; value = (q - 16) * d
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  uint16_t d;      // scale
  uint16_t m;      // offset
  uint8_t qh[4];   // fifth bits, as in Q5_0
  uint8_t qs[16];  // value = q * d + m
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {
  uint16_t d;      // scale
  int8_t qs[32];   // value = q * d
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ8_1 {
  uint16_t d;      // scale
  uint16_t s;      // d * sum(qs): lets Q4_1 / Q5_1 dots add their offset term in one multiply
  int8_t qs[32];   // value = q * d
};
static_assert(sizeof(BlockQ8_1) == 36);

// Row functions: `elements` is a multiple of 32; rows need no alignment. They never throw.
// Dot products: weights (elements) . activations (elements) -> float, activations quantized as
// the reference pairs them: Q4_0, Q5_0, Q8_0 with Q8_0; Q4_1, Q5_1 with Q8_1.
void DequantizeRowQ4_0(const void* src, float* dst, int64_t elements);
void QuantizeRowQ4_0(const float* src, void* dst, int64_t elements);
float DotRowQ4_0(const void* weights, const void* activations_q8_0, int64_t elements);

void DequantizeRowQ4_1(const void* src, float* dst, int64_t elements);
void QuantizeRowQ4_1(const float* src, void* dst, int64_t elements);
float DotRowQ4_1(const void* weights, const void* activations_q8_1, int64_t elements);

void DequantizeRowQ5_0(const void* src, float* dst, int64_t elements);
void QuantizeRowQ5_0(const float* src, void* dst, int64_t elements);
float DotRowQ5_0(const void* weights, const void* activations_q8_0, int64_t elements);

void DequantizeRowQ5_1(const void* src, float* dst, int64_t elements);
void QuantizeRowQ5_1(const float* src, void* dst, int64_t elements);
float DotRowQ5_1(const void* weights, const void* activations_q8_1, int64_t elements);

void DequantizeRowQ8_0(const void* src, float* dst, int64_t elements);
void QuantizeRowQ8_0(const float* src, void* dst, int64_t elements);
float DotRowQ8_0(const void* weights, const void* activations_q8_0, int64_t elements);

void DequantizeRowQ8_1(const void* src, float* dst, int64_t elements);
void QuantizeRowQ8_1(const float* src, void* dst, int64_t elements);

}  // namespace moefit
