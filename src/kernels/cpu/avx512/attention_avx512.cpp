// SPDX-License-Identifier: MIT
// AVX-512 flash attention over an F16, BF16, Q8_0 or Q4_0 KV cache: cpu/attention_flash.h (512-bit FMA loops).
#include "kernels/cpu/avx512/simd_avx512.h"  // first: its GCC 12 warning switches (AVX-512 conversions below)
#include "kernels/cpu/attention_flash.h"
#include "kernels/cpu/isa_kernels.h"

namespace moefit::avx512 {

void AttentionF16(const AttentionTile& tile) { flash::Flash<flash::F16Format>(tile); }
void AttentionBF16(const AttentionTile& tile) { flash::Flash<flash::BF16Format>(tile); }
void AttentionQ8_0(const AttentionTile& tile) { flash::Flash<flash::Q8_0Format>(tile); }
void AttentionQ4_0(const AttentionTile& tile) { flash::Flash<flash::Q4_0Format>(tile); }

}  // namespace moefit::avx512
