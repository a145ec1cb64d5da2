// SPDX-License-Identifier: MIT
// Reading weights into memory we own and count: a file reader that leaves no trace in the page
// cache, and a loader that gives a TensorView over an owned, budget-charged copy of a tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/budget.h"
#include "core/tensor_view.h"
#include "gguf/gguf_file.h"
#include "runtime/host_buffer.h"

namespace moefit {

// Reads byte ranges of a file with pread and then drops those pages from the page cache
// (posix_fadvise DONTNEED), so a loaded or streamed weight is held once, in our own counted
// memory, and not a second time by the kernel behind our back. Thread-safe (pread only).
class FileReader {
 public:
  // Reads larger than this go in chunks, each dropped from the page cache once copied.
  static constexpr uint64_t kChunkBytes = uint64_t{16} << 20;

  explicit FileReader(const std::string& path);  // throws naming the path and the OS error
  ~FileReader();
  FileReader(FileReader&& other) noexcept;
  FileReader& operator=(FileReader&& other) = delete;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Reads [offset, offset + bytes) into `dest`; throws naming the file, the offset and the OS
  // error or the short read. `on_chunk` (optional) hears the bytes of each chunk as it lands.
  void Read(uint64_t offset, void* dest, uint64_t bytes, const std::function<void(uint64_t)>& on_chunk = {}) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// A tensor copied into owned host memory (64-byte aligned), charged to a Budget for as long as
// it lives. `view` has the tensor's type and shape and points into `buffer`.
struct OwnedTensor {
  TensorView view;
  HostBuffer buffer;
  BudgetReservation reservation;
};

struct LoadProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string_view tensor;  // the tensor being read
};
using LoadProgressFn = std::function<void(const LoadProgress&)>;

// A view of `tensor`'s type and shape over `data`.
TensorView TensorViewOf(const GgufTensorInfo& tensor, const void* data);

// Offset of a tensor's first byte in the file.
inline uint64_t FileOffsetOf(const GgufFile& file, const GgufTensorInfo& tensor) { return file.data_offset() + tensor.offset; }

// Charges the budget for the tensor (throws, before allocating, when it would pass the cap), then
// reads it from `reader` (the file `file` was opened from).
OwnedTensor LoadTensor(const FileReader& reader, const GgufFile& file, const GgufTensorInfo& tensor, Budget& budget);

// How a loaded tensor's bytes are laid out. kInterleaved: rows interleaved by block in groups
// of kInterleavedRowGroup (core/tensor_view.h); kRepacked: then each group's blocks re-encoded
// for the CPU kernels (quant/repack.h; Q4_K, rows a multiple of 4). Both are lossless and done
// in place: the new layout replaces the file's bytes, it does not add to them.
enum class WeightLayout { kPlain, kInterleaved, kRepacked };

// Loads several tensors, reporting progress over all of them. `layouts` is empty (all plain) or
// has one entry per tensor.
std::vector<OwnedTensor> LoadTensors(const FileReader& reader, const GgufFile& file,
                                     std::span<const GgufTensorInfo* const> tensors, Budget& budget,
                                     const LoadProgressFn& progress = {}, std::span<const WeightLayout> layouts = {});

}  // namespace moefit
