// SPDX-License-Identifier: MIT
// Streaming GGUF writer: metadata and the tensor directory first, then tensor data one piece at a
// time, so a model never has to be in memory whole. Writes to "<path>.partial" and renames on
// Finish(), so an interrupted write never leaves a file that looks complete.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_file.h"

namespace moefit {

class GgufWriter {
 public:
  explicit GgufWriter(std::string path, uint64_t alignment = 32, uint32_t version = 3);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, written in the order given. Keys must be unique.
  void SetString(std::string_view key, std::string_view value);
  void SetBool(std::string_view key, bool value);
  void SetUint8(std::string_view key, uint8_t value);
  void SetInt8(std::string_view key, int8_t value);
  void SetUint16(std::string_view key, uint16_t value);
  void SetInt16(std::string_view key, int16_t value);
  void SetUint32(std::string_view key, uint32_t value);
  void SetInt32(std::string_view key, int32_t value);
  void SetUint64(std::string_view key, uint64_t value);
  void SetInt64(std::string_view key, int64_t value);
  void SetFloat32(std::string_view key, float value);
  void SetFloat64(std::string_view key, double value);
  void SetStringArray(std::string_view key, std::span<const std::string> values);
  void SetStringArray(std::string_view key, std::span<const std::string_view> values);
  void SetInt32Array(std::string_view key, std::span<const int32_t> values);
  void SetFloat32Array(std::string_view key, std::span<const float> values);
  // Copies a value read from another file (any type, nested arrays included).
  void SetValue(std::string_view key, const GgufValue& value);

  // Declares a tensor; data follows later in declaration order. dims in GGUF order (row first).
  void AddTensor(std::string_view name, DType type, std::span<const int64_t> dims);

  // Appends data to the current tensor (the first declared one not yet complete); a call may
  // carry a whole tensor, part of one, or end one tensor and start the next. Writes the header
  // on the first call.
  void WriteTensorData(const void* data, size_t bytes);
  // Checks every tensor got all its bytes, flushes, and moves the file into place.
  void Finish();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> dims;
    uint64_t offset;
    uint64_t bytes;
  };
  void BeginKey(std::string_view key, GgufType type);
  void WriteHeader();
  void WriteRaw(const void* data, size_t bytes);
  void WritePadding(uint64_t alignment);

  std::string path_;
  std::string partial_path_;
  uint64_t alignment_;
  uint32_t version_;
  std::FILE* file_ = nullptr;
  std::string metadata_;  // encoded key/value pairs
  uint64_t metadata_count_ = 0;
  std::vector<std::string> keys_;
  std::vector<PendingTensor> tensors_;
  uint64_t data_bytes_ = 0;  // running size of the data section, for offsets
  bool header_written_ = false;
  bool finished_ = false;
  size_t current_tensor_ = 0;
  uint64_t current_written_ = 0;  // bytes of the current tensor written so far
  uint64_t bytes_written_ = 0;
};

}  // namespace moefit
