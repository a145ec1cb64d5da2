// SPDX-License-Identifier: MIT
// HostBuffer allocation: aligned_alloc for small buffers, 2 MiB-aligned anonymous mappings for
// large ones (so transparent huge pages can back them).
#include "runtime/host_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace moefit {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t value, size_t to) { return (value + to - 1) / to * to; }

}  // namespace

uint64_t HostBuffer::Footprint(uint64_t bytes) {
  if (bytes == 0) return 0;
  return bytes >= kMappedFrom ? RoundUp(bytes, kPage) : RoundUp(bytes, kAlignment);
}

HostBuffer::HostBuffer(size_t bytes, const char* what, bool commit) : size_(bytes) {
  if (bytes == 0) return;
  if (bytes < kMappedFrom) {
    data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, RoundUp(bytes, kAlignment)));
    if (data_ == nullptr) Fail("cannot allocate {} bytes for {}", bytes, what);
    if (commit) std::memset(data_, 0, bytes);
    return;
  }
  // Over-map by one huge page, then trim both ends so the buffer starts on a 2 MiB boundary.
  const size_t length = RoundUp(bytes, kPage);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) Fail("cannot map {} bytes for {}: {}", bytes, what, std::strerror(errno));
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = RoundUp(start, kHugePage);
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + length + kHugePage;
  if (end > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
  data_ = reinterpret_cast<uint8_t*>(aligned);
  mapped_ = true;
  ::madvise(data_, length, MADV_HUGEPAGE);  // advice only: failure (no THP) is fine
  if (commit) std::memset(data_, 0, length);
}

HostBuffer::~HostBuffer() { Free(); }

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    Free();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void HostBuffer::Free() {
  if (data_ != nullptr) {
    if (mapped_) {
      ::munmap(data_, RoundUp(size_, kPage));
    } else {
      std::free(data_);
    }
  }
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

}  // namespace moefit
