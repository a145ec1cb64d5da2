// SPDX-License-Identifier: MIT
// Helpers shared by the block-format files: block load/store, rounding, layout checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace moefit {

// True when a block struct has the size and element count kDTypeLayouts gives its type.
constexpr bool BlockMatchesLayout(DType type, size_t block_bytes, int64_t block_elements) {
  for (const DTypeLayout& layout : kDTypeLayouts)
    if (layout.type == type)
      return layout.block_bytes == static_cast<int64_t>(block_bytes) && layout.block_elements == block_elements;
  return false;
}

// Blocks are copied in and out: rows in a mapped file need not be aligned for the struct.
template <typename Block>
inline Block LoadBlock(const void* row, int64_t index) {
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(row) + index * static_cast<int64_t>(sizeof(Block)), sizeof block);
  return block;
}

template <typename Block>
inline void StoreBlock(void* row, int64_t index, const Block& block) {
  std::memcpy(static_cast<uint8_t*>(row) + index * static_cast<int64_t>(sizeof(Block)), &block, sizeof block);
}

// Round to nearest, ties to even (as the reference's nearest_int for |value| < 2^22).
inline int NearestInt(float value) { return static_cast<int>(std::lrintf(value)); }

inline int Clamp(int value, int low, int high) { return value < low ? low : (value > high ? high : value); }

inline uint32_t LoadU32LE(const uint8_t* bytes) {
  return static_cast<uint32_t>(bytes[0]) | static_cast<uint32_t>(bytes[1]) << 8 |
         static_cast<uint32_t>(bytes[2]) << 16 | static_cast<uint32_t>(bytes[3]) << 24;
}

inline void StoreU32LE(uint8_t* bytes, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}

// Index of the entry of `values` (16 int8 levels, any order) closest to x; ties keep the first.
inline int NearestLevel(const int8_t* values, float x) {
  int best = 0;
  float best_error = std::fabs(x - values[0]);
  for (int i = 1; i < 16; ++i) {
    const float error = std::fabs(x - values[i]);
    if (error < best_error) {
      best_error = error;
      best = i;
    }
  }
  return best;
}

}  // namespace moefit
