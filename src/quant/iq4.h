// SPDX-License-Identifier: MIT
// Non-linear 4-bit formats: IQ4_NL (32-element blocks, one F16 scale) and IQ4_XS (256-element
// super-blocks, eight 6-bit sub-block scales). Each nibble indexes kIQ4Levels; the nibble
// layout within 32 elements is that of Q4_0 (element j low nibble of qs[j], j + 16 high).
#pragma once

#include <cstdint>

namespace moefit {

// The 16 levels, as int8, that the reference defines for both formats.
inline constexpr int8_t kIQ4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

struct BlockIQ4_NL {
  uint16_t d;      // F16 scale; value = d * kIQ4Levels[q]
  uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

struct BlockIQ4_XS {
  uint16_t d;            // F16 super-block scale
  uint16_t scales_h;     // high 2 bits of sub-block scale j at bits 2j
  uint8_t scales_l[4];   // low 4 bits of scale j in nibble j % 2 of byte j / 2
  uint8_t qs[128];       // sub-block j (32 elements) in qs[16j .. 16j + 15]
};                       // value = d * (scale6 - 32) * kIQ4Levels[q]
static_assert(sizeof(BlockIQ4_XS) == 136);

// Row functions: `elements` a multiple of 32 (IQ4_NL) or 256 (IQ4_XS); never throw.
// IQ4_NL dots take Q8_0 activations, IQ4_XS dots take Q8_K.
void DequantizeRowIQ4_NL(const void* src, float* dst, int64_t elements);
void QuantizeRowIQ4_NL(const float* src, void* dst, int64_t elements);
float DotRowIQ4_NL(const void* weights, const void* activations_q8_0, int64_t elements);

void DequantizeRowIQ4_XS(const void* src, float* dst, int64_t elements);
void QuantizeRowIQ4_XS(const float* src, void* dst, int64_t elements);
float DotRowIQ4_XS(const void* weights, const void* activations_q8_k, int64_t elements);

}  // namespace moefit
