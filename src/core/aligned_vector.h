// SPDX-License-Identifier: MIT
// AlignedVector<T>: a std::vector whose storage starts on a 64-byte boundary (a cache line, and
// one 512-bit vector). The kernels read activation rows with full-width loads; in storage from
// malloc (16 bytes past a line for large blocks) every such load spans two cache lines. A
// prefill's F32 router tile ran ~1.3x slower so (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace moefit {

template <typename T, std::size_t kAlignment = 64>
struct AlignedAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, kAlignment>;
  };
  AlignedAllocator() noexcept = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, kAlignment>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kAlignment})); }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, n * sizeof(T), std::align_val_t{kAlignment}); }

  template <typename U>
  bool operator==(const AlignedAllocator<U, kAlignment>&) const noexcept {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace moefit
