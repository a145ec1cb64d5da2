// SPDX-License-Identifier: MIT
// HostBuffer: owned, 64-byte-aligned host memory (single owner, RAII). Large buffers are
// anonymous mappings aligned to 2 MiB and advised for transparent huge pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moefit {

class HostBuffer {
 public:
  static constexpr size_t kAlignment = 64;
  // From this size on: an anonymous mapping, 2 MiB aligned, madvise(MADV_HUGEPAGE).
  static constexpr size_t kMappedFrom = size_t{2} << 20;

  HostBuffer() = default;
  // Allocates `bytes`, uninitialised: pages are committed on first touch, or at once (zeroed)
  // with `commit`, so that the memory counted is memory held. Throws moefit::Error naming
  // `what` when the system refuses.
  HostBuffer(size_t bytes, const char* what, bool commit = false);
  ~HostBuffer();
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

  // The bytes an allocation of `bytes` really takes (alignment and page rounding): what a
  // Budget is charged for it.
  static uint64_t Footprint(uint64_t bytes);

 private:
  void Free();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

}  // namespace moefit
