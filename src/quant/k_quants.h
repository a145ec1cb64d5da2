// SPDX-License-Identifier: MIT
// The K-quant super-block formats (256 elements, 16 or 8 sub-blocks with their own quantized
// scales): Q2_K, Q3_K (k_quants_q2_q3.cpp), Q4_K, Q5_K (k_quants_q4_q5.cpp), Q6_K and the
// activation format Q8_K (k_quants_q6_q8.cpp). F16 scales are stored as bits (core/half.h).
#pragma once

#include <cstdint>

namespace moefit {

inline constexpr int kQK_K = 256;  // elements per super-block

// 16 sub-blocks of 16. Element e: 2 bits at qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32));
// value = d * (scales[e / 16] & 15) * q - dmin * (scales[e / 16] >> 4).
struct BlockQ2_K {
  uint8_t scales[16];  // low nibble: scale, high nibble: min
  uint8_t qs[64];
  uint16_t d;          // super-block scale of the scales
  uint16_t dmin;       // super-block scale of the mins
};
static_assert(sizeof(BlockQ2_K) == 84);

// 16 sub-blocks of 16. Element e: low 2 bits as in Q2_K, high bit = hmask[e % 32] bit e / 32;
// q = low + (high ? 0 : -4) in [-4, 3]; value = d * (scale6[e / 16] - 32) * q.
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];  // sixteen 6-bit scales, see UnpackScalesQ3_K
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// 8 sub-blocks of 32 with 6-bit scale and min each (see ScaleMinK4). Within each 64 elements
// starting at 64 * p, element 64p + l is the low nibble of qs[32p + l] (l < 32) and element
// 64p + 32 + l the high nibble; value = d * scale * q - dmin * min.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q4_K plus a fifth bit per element: element 64p + l has it at qh[l % 32] bit (2p + l / 32).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 16 sub-blocks of 16 with int8 scales. In each half h (128 elements), element 128h + 32k + l
// (k < 4, l < 32) has low 4 bits in ql[64h + l + 32 * (k & 1)] (nibble k / 2) and high 2 bits in
// qh[32h + l] >> (2k); q in [-32, 31]; value = d * scales[e / 16] * q.
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Activations for the K-quant dots: float scale, int8 levels, sums of each 16 levels.
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block: j < 4 in the low 6 bits
// of bytes j and j + 4; j >= 4 in the nibbles of byte j + 4 plus the top 2 bits of bytes j - 4
// (scale) and j (min).
inline void ScaleMinK4(int j, const uint8_t* scales, int& scale, int& min) {
  if (j < 4) {
    scale = scales[j] & 63;
    min = scales[j + 4] & 63;
  } else {
    scale = (scales[j + 4] & 0x0f) | (scales[j - 4] >> 6) << 4;
    min = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4;
  }
}

// The sixteen Q3_K scales, biased by -32: scale j has its low 4 bits in the nibble j / 8 of byte
// j % 8 and its high 2 bits at bit 2 * (j / 4) of byte 8 + j % 4.
inline void UnpackScalesQ3_K(const uint8_t* packed, int* scales) {
  for (int j = 0; j < 16; ++j) {
    const int low = (packed[j % 8] >> (4 * (j / 8))) & 0x0f;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = (low | high << 4) - 32;
  }
}

// Row functions: `elements` is a multiple of 256; rows need no alignment; they never throw.
// Dots take activations quantized to Q8_K.
void DequantizeRowQ2_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ2_K(const float* src, void* dst, int64_t elements);
float DotRowQ2_K(const void* weights, const void* activations_q8_k, int64_t elements);

void DequantizeRowQ3_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ3_K(const float* src, void* dst, int64_t elements);
float DotRowQ3_K(const void* weights, const void* activations_q8_k, int64_t elements);

void DequantizeRowQ4_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ4_K(const float* src, void* dst, int64_t elements);
float DotRowQ4_K(const void* weights, const void* activations_q8_k, int64_t elements);

void DequantizeRowQ5_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ5_K(const float* src, void* dst, int64_t elements);
float DotRowQ5_K(const void* weights, const void* activations_q8_k, int64_t elements);

void DequantizeRowQ6_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ6_K(const float* src, void* dst, int64_t elements);
float DotRowQ6_K(const void* weights, const void* activations_q8_k, int64_t elements);

void DequantizeRowQ8_K(const void* src, float* dst, int64_t elements);
void QuantizeRowQ8_K(const float* src, void* dst, int64_t elements);  // fills bsums
float DotRowQ8_K(const void* weights, const void* activations_q8_k, int64_t elements);

}  // namespace moefit
