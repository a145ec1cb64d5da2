// SPDX-License-Identifier: MIT
// GGUF reader: maps a file, validates its header, metadata and tensor directory, and gives
// read-only views of both. Nothing is trusted before validation; a bad file throws moefit::Error
// naming the file, the byte offset and the key or tensor at fault.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace moefit {

// Metadata value types, as numbered by the GGUF specification.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view GgufTypeName(GgufType type);

// One metadata value. Strings are views into the mapping (valid while the GgufFile lives).
struct GgufValue {
  GgufType type = GgufType::kUint8;
  uint64_t uint_value = 0;  // every unsigned integer type, and bool (0 / 1)
  int64_t int_value = 0;    // every signed integer type
  double float_value = 0;   // FLOAT32 and FLOAT64
  std::string_view string_value;
  // ARRAY: element type and count; elements are in exactly one of the three containers below.
  GgufType element_type = GgufType::kUint8;
  uint64_t count = 0;
  std::span<const uint8_t> raw_elements;        // arrays of numbers / bools: little-endian bytes
  std::vector<std::string_view> strings;       // arrays of strings
  std::vector<GgufValue> arrays;               // arrays of arrays (nested)

  bool IsInteger() const;
  bool IsNumber() const;
  // Numeric conversions; throw when the value is not a number or does not fit.
  int64_t AsInt() const;
  uint64_t AsUint() const;
  double AsDouble() const;
  // Element i of an array of numbers, converted (throws on type mismatch).
  int64_t IntAt(uint64_t i) const;
  double DoubleAt(uint64_t i) const;
  // Human-readable rendering (arrays shortened), for inspect and error messages.
  std::string ToString(size_t max_elements = 8) const;
};

struct GgufTensorInfo {
  std::string_view name;  // into the mapping
  DType type = DType::kF32;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the fastest-varying (row length)
  uint64_t offset = 0;        // relative to the start of the data section
  uint64_t bytes = 0;
  int64_t elements = 0;
  const uint8_t* data = nullptr;  // into the mapping

  int64_t rows() const { return dims.empty() ? 1 : elements / dims[0]; }
  int64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
};

class GgufFile {
 public:
  // Maps and validates `path`. Throws moefit::Error on any inconsistency.
  static GgufFile Open(const std::string& path);
  // Validates an in-memory image (the fuzzer and tests use this); `name` appears in errors.
  // The bytes must outlive the returned object.
  static GgufFile FromBytes(std::span<const uint8_t> bytes, std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  // Metadata, in file order.
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // Typed getters: throw naming the key when it is missing or of an incompatible type.
  std::string_view GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetFloat(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  const std::vector<std::string_view>& GetStringArray(std::string_view key) const;
  std::vector<int64_t> GetIntArray(std::string_view key) const;
  std::vector<double> GetFloatArray(std::string_view key) const;
  // Optional forms: the default when the key is missing (still throw on a wrong type).
  std::string_view GetString(std::string_view key, std::string_view fallback) const;
  int64_t GetInt(std::string_view key, int64_t fallback) const;
  double GetFloat(std::string_view key, double fallback) const;
  bool GetBool(std::string_view key, bool fallback) const;
  // "general.architecture", or "" when absent.
  std::string_view architecture() const;

  // Tensor directory, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;
  const GgufTensorInfo& GetTensor(std::string_view name) const;  // throws naming the tensor

 private:
  GgufFile() = default;
  void Parse();

  std::string path_;
  std::unique_ptr<MappedFile> mapping_;  // null for FromBytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> metadata_;
  std::map<std::string_view, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string_view, size_t, std::less<>> tensor_index_;
};

}  // namespace moefit
