// SPDX-License-Identifier: MIT
// Read-only memory mapping of a whole file (single owner, RAII).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace moefit {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` read-only; throws moefit::Error naming the path and the OS error.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  void Release();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace moefit
