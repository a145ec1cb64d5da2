// SPDX-License-Identifier: MIT
// pread in large chunks, page cache dropped behind each chunk; owned tensor copies.
#include "runtime/weight_loader.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "quant/repack.h"

namespace moefit {
namespace {

constexpr uint64_t kPage = 4096;

}  // namespace

FileReader::FileReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) Fail("cannot open '{}' to read weights: {}", path, std::strerror(errno));
  // We read exactly what we need, in large pieces; readahead would only fill the cache.
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

FileReader::FileReader(FileReader&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

void FileReader::Read(uint64_t offset, void* dest, uint64_t bytes, const std::function<void(uint64_t)>& on_chunk) const {
  uint8_t* out = static_cast<uint8_t*>(dest);
  uint64_t done = 0;
  while (done < bytes) {
    const uint64_t chunk = std::min(kChunkBytes, bytes - done);
    uint64_t got = 0;
    while (got < chunk) {
      const ssize_t n = ::pread(fd_, out + done + got, chunk - got, static_cast<off_t>(offset + done + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        Fail("{}: cannot read {} bytes at offset {}: {}", path_, chunk - got, offset + done + got, std::strerror(errno));
      }
      if (n == 0) Fail("{}: the file ends before offset {} (wanted {} bytes at {})", path_, offset + done + got, bytes, offset);
      got += static_cast<uint64_t>(n);
    }
    // Drop the whole pages this chunk touched from the page cache: our copy is the one we count.
    const uint64_t first = (offset + done) / kPage * kPage;
    const uint64_t last = (offset + done + chunk + kPage - 1) / kPage * kPage;
    ::posix_fadvise(fd_, static_cast<off_t>(first), static_cast<off_t>(last - first), POSIX_FADV_DONTNEED);
    done += chunk;
    if (on_chunk) on_chunk(chunk);
  }
}

TensorView TensorViewOf(const GgufTensorInfo& tensor, const void* data) {
  TensorView view;
  view.data = data;
  view.type = tensor.type;
  view.n_dims = static_cast<int>(tensor.dims.size());
  for (size_t i = 0; i < tensor.dims.size() && i < view.dims.size(); ++i) view.dims[i] = tensor.dims[i];
  return view;
}

namespace {

OwnedTensor LoadOne(const FileReader& reader, const GgufFile& file, const GgufTensorInfo& tensor, Budget& budget,
                    const std::function<void(uint64_t)>& on_chunk, WeightLayout layout = WeightLayout::kPlain) {
  OwnedTensor owned;
  const std::string what = fmt::format("tensor {}", tensor.name);
  owned.reservation = BudgetReservation(budget, HostBuffer::Footprint(tensor.bytes), what);
  owned.buffer = HostBuffer(tensor.bytes, what.c_str());
  reader.Read(FileOffsetOf(file, tensor), owned.buffer.data(), tensor.bytes, on_chunk);
  owned.view = TensorViewOf(tensor, owned.buffer.data());
  if (layout != WeightLayout::kPlain) {
    if (!CanInterleave(tensor.type) || owned.view.n_dims < 2)
      Fail("tensor {}: a {} tensor of {} dimensions cannot be interleaved by rows", tensor.name, DTypeName(tensor.type),
           owned.view.n_dims);
    InterleaveRows(owned.buffer.data(), tensor.type, owned.view.row_length(), owned.view.rows(), owned.view.matrices(),
                   kInterleavedRowGroup);
    owned.view.row_group = kInterleavedRowGroup;
  }
  if (layout == WeightLayout::kRepacked) {
    if (!CanRepack(tensor.type) || owned.view.rows() % kRepackRows != 0)
      Fail("tensor {}: {} rows of {} cannot be repacked (Q4_K, Q5_K or Q6_K, rows a multiple of {})", tensor.name, owned.view.rows(),
           DTypeName(tensor.type), kRepackRows);
    // Groups of 4 rows are independent: the threads take contiguous runs of them.
    const int64_t groups = owned.view.rows() / kRepackRows * owned.view.matrices();
    const int64_t group_bytes = kRepackRows * owned.view.row_bytes();
    uint8_t* data = static_cast<uint8_t*>(owned.buffer.data());
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
      const int64_t first = groups * thread / threads, last = groups * (thread + 1) / threads;
      RepackRows(data + first * group_bytes, tensor.type, owned.view.row_length(), (last - first) * kRepackRows, 1);
    }
    owned.view.repacked = true;
  }
  return owned;
}

}  // namespace

OwnedTensor LoadTensor(const FileReader& reader, const GgufFile& file, const GgufTensorInfo& tensor, Budget& budget) {
  return LoadOne(reader, file, tensor, budget, {});
}

std::vector<OwnedTensor> LoadTensors(const FileReader& reader, const GgufFile& file,
                                     std::span<const GgufTensorInfo* const> tensors, Budget& budget,
                                     const LoadProgressFn& progress, std::span<const WeightLayout> layouts) {
  MOEFIT_CHECK(layouts.empty() || layouts.size() == tensors.size());
  LoadProgress state;
  for (const GgufTensorInfo* tensor : tensors) state.bytes_total += tensor->bytes;
  std::vector<OwnedTensor> owned;
  owned.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo* tensor = tensors[i];
    state.tensor = tensor->name;
    owned.push_back(LoadOne(
        reader, file, *tensor, budget,
        [&](uint64_t bytes) {
          state.bytes_done += bytes;
          if (progress) progress(state);
        },
        layouts.empty() ? WeightLayout::kPlain : layouts[i]));
  }
  return owned;
}

}  // namespace moefit
