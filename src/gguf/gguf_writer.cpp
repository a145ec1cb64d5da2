// SPDX-License-Identifier: MIT
// GgufWriter: encodes metadata in memory (small), streams tensor data to disk.
#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace moefit {
namespace {

template <typename T>
void Append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void AppendString(std::string& out, std::string_view text) {
  Append<uint64_t>(out, text.size());
  out.append(text);
}

void AppendValue(std::string& out, const GgufValue& value);

void AppendArrayBody(std::string& out, const GgufValue& value) {
  Append<uint32_t>(out, static_cast<uint32_t>(value.element_type));
  Append<uint64_t>(out, value.count);
  if (value.element_type == GgufType::kString) {
    for (std::string_view text : value.strings) AppendString(out, text);
  } else if (value.element_type == GgufType::kArray) {
    for (const GgufValue& element : value.arrays) AppendArrayBody(out, element);
  } else {
    out.append(reinterpret_cast<const char*>(value.raw_elements.data()), value.raw_elements.size());
  }
}

void AppendValue(std::string& out, const GgufValue& value) {
  switch (value.type) {
    case GgufType::kUint8: Append<uint8_t>(out, static_cast<uint8_t>(value.uint_value)); break;
    case GgufType::kBool: Append<uint8_t>(out, static_cast<uint8_t>(value.uint_value)); break;
    case GgufType::kInt8: Append<int8_t>(out, static_cast<int8_t>(value.int_value)); break;
    case GgufType::kUint16: Append<uint16_t>(out, static_cast<uint16_t>(value.uint_value)); break;
    case GgufType::kInt16: Append<int16_t>(out, static_cast<int16_t>(value.int_value)); break;
    case GgufType::kUint32: Append<uint32_t>(out, static_cast<uint32_t>(value.uint_value)); break;
    case GgufType::kInt32: Append<int32_t>(out, static_cast<int32_t>(value.int_value)); break;
    case GgufType::kUint64: Append<uint64_t>(out, value.uint_value); break;
    case GgufType::kInt64: Append<int64_t>(out, value.int_value); break;
    case GgufType::kFloat32: Append<float>(out, static_cast<float>(value.float_value)); break;
    case GgufType::kFloat64: Append<double>(out, value.float_value); break;
    case GgufType::kString: AppendString(out, value.string_value); break;
    case GgufType::kArray: AppendArrayBody(out, value); break;
  }
}

}  // namespace

GgufWriter::GgufWriter(std::string path, uint64_t alignment, uint32_t version)
    : path_(std::move(path)), partial_path_(path_ + ".partial"), alignment_(alignment), version_(version) {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) Fail("GGUF alignment {} is not a power of two", alignment_);
  if (version_ != 2 && version_ != 3) Fail("cannot write GGUF version {}", version_);
  if (alignment_ != 32) SetUint32("general.alignment", static_cast<uint32_t>(alignment_));
}

GgufWriter::~GgufWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(partial_path_.c_str());  // never leave a half-written model behind
  }
}

void GgufWriter::BeginKey(std::string_view key, GgufType type) {
  if (header_written_) Fail("{}: metadata key '{}' set after tensor data started", path_, key);
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) Fail("{}: duplicate metadata key '{}'", path_, key);
  keys_.emplace_back(key);
  AppendString(metadata_, key);
  Append<uint32_t>(metadata_, static_cast<uint32_t>(type));
  ++metadata_count_;
}

void GgufWriter::SetString(std::string_view key, std::string_view value) {
  BeginKey(key, GgufType::kString);
  AppendString(metadata_, value);
}
void GgufWriter::SetBool(std::string_view key, bool value) {
  BeginKey(key, GgufType::kBool);
  Append<uint8_t>(metadata_, value ? 1 : 0);
}
#define MOEFIT_GGUF_SCALAR_SETTER(Name, CType, Tag) \
  void GgufWriter::Name(std::string_view key, CType value) { \
    BeginKey(key, GgufType::Tag);                            \
    Append<CType>(metadata_, value);                         \
  }
MOEFIT_GGUF_SCALAR_SETTER(SetUint8, uint8_t, kUint8)
MOEFIT_GGUF_SCALAR_SETTER(SetInt8, int8_t, kInt8)
MOEFIT_GGUF_SCALAR_SETTER(SetUint16, uint16_t, kUint16)
MOEFIT_GGUF_SCALAR_SETTER(SetInt16, int16_t, kInt16)
MOEFIT_GGUF_SCALAR_SETTER(SetUint32, uint32_t, kUint32)
MOEFIT_GGUF_SCALAR_SETTER(SetInt32, int32_t, kInt32)
MOEFIT_GGUF_SCALAR_SETTER(SetUint64, uint64_t, kUint64)
MOEFIT_GGUF_SCALAR_SETTER(SetInt64, int64_t, kInt64)
MOEFIT_GGUF_SCALAR_SETTER(SetFloat32, float, kFloat32)
MOEFIT_GGUF_SCALAR_SETTER(SetFloat64, double, kFloat64)
#undef MOEFIT_GGUF_SCALAR_SETTER

void GgufWriter::SetStringArray(std::string_view key, std::span<const std::string> values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  SetStringArray(key, std::span<const std::string_view>(views));
}

void GgufWriter::SetStringArray(std::string_view key, std::span<const std::string_view> values) {
  BeginKey(key, GgufType::kArray);
  Append<uint32_t>(metadata_, static_cast<uint32_t>(GgufType::kString));
  Append<uint64_t>(metadata_, values.size());
  for (std::string_view value : values) AppendString(metadata_, value);
}

void GgufWriter::SetInt32Array(std::string_view key, std::span<const int32_t> values) {
  BeginKey(key, GgufType::kArray);
  Append<uint32_t>(metadata_, static_cast<uint32_t>(GgufType::kInt32));
  Append<uint64_t>(metadata_, values.size());
  metadata_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void GgufWriter::SetFloat32Array(std::string_view key, std::span<const float> values) {
  BeginKey(key, GgufType::kArray);
  Append<uint32_t>(metadata_, static_cast<uint32_t>(GgufType::kFloat32));
  Append<uint64_t>(metadata_, values.size());
  metadata_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void GgufWriter::SetValue(std::string_view key, const GgufValue& value) {
  BeginKey(key, value.type);
  AppendValue(metadata_, value);
}

void GgufWriter::AddTensor(std::string_view name, DType type, std::span<const int64_t> dims) {
  if (header_written_) Fail("{}: tensor '{}' declared after tensor data started", path_, name);
  for (const PendingTensor& tensor : tensors_)
    if (tensor.name == name) Fail("{}: duplicate tensor '{}'", path_, name);
  if (dims.empty() || dims.size() > 4) Fail("{}: tensor '{}' has {} dimensions (1 to 4)", path_, name, dims.size());
  const DTypeLayout& layout = Layout(type);
  int64_t elements = 1;
  for (int64_t dim : dims) {
    if (dim <= 0) Fail("{}: tensor '{}' has a dimension of {}", path_, name, dim);
    elements *= dim;
  }
  if (dims[0] % layout.block_elements != 0)
    Fail("{}: tensor '{}' row length {} is not a multiple of the {} block size {}", path_, name, dims[0], layout.name,
         layout.block_elements);
  const uint64_t bytes = static_cast<uint64_t>(elements / layout.block_elements * layout.block_bytes);
  tensors_.push_back({std::string(name), type, {dims.begin(), dims.end()}, data_bytes_, bytes});
  data_bytes_ += (bytes + alignment_ - 1) / alignment_ * alignment_;
}

void GgufWriter::WriteRaw(const void* data, size_t bytes) {
  if (bytes == 0) return;
  if (std::fwrite(data, 1, bytes, file_) != bytes)
    Fail("{}: write failed after {} bytes: {}", partial_path_, bytes_written_, std::strerror(errno));
  bytes_written_ += bytes;
}

void GgufWriter::WritePadding(uint64_t alignment) {
  static constexpr char kZeros[64] = {};
  uint64_t pad = (alignment - bytes_written_ % alignment) % alignment;
  while (pad > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(pad, sizeof kZeros));
    WriteRaw(kZeros, chunk);
    pad -= chunk;
  }
}

void GgufWriter::WriteHeader() {
  file_ = std::fopen(partial_path_.c_str(), "wb");
  if (file_ == nullptr) Fail("cannot create '{}': {}", partial_path_, std::strerror(errno));
  std::string header;
  header.append("GGUF", 4);
  Append<uint32_t>(header, version_);
  Append<uint64_t>(header, tensors_.size());
  Append<uint64_t>(header, metadata_count_);
  WriteRaw(header.data(), header.size());
  WriteRaw(metadata_.data(), metadata_.size());
  std::string directory;
  for (const PendingTensor& tensor : tensors_) {
    AppendString(directory, tensor.name);
    Append<uint32_t>(directory, static_cast<uint32_t>(tensor.dims.size()));
    for (int64_t dim : tensor.dims) Append<uint64_t>(directory, static_cast<uint64_t>(dim));
    Append<uint32_t>(directory, static_cast<uint32_t>(tensor.type));
    Append<uint64_t>(directory, tensor.offset);
  }
  WriteRaw(directory.data(), directory.size());
  if (!tensors_.empty()) WritePadding(alignment_);
  header_written_ = true;
}

void GgufWriter::WriteTensorData(const void* data, size_t bytes) {
  if (finished_) Fail("{}: data written after Finish()", path_);
  if (!header_written_) WriteHeader();
  const auto* cursor = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    if (current_tensor_ >= tensors_.size())
      Fail("{}: {} bytes of tensor data beyond the last declared tensor", path_, bytes);
    const PendingTensor& tensor = tensors_[current_tensor_];
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(bytes, tensor.bytes - current_written_));
    WriteRaw(cursor, chunk);
    cursor += chunk;
    bytes -= chunk;
    current_written_ += chunk;
    if (current_written_ == tensor.bytes) {
      WritePadding(alignment_);
      ++current_tensor_;
      current_written_ = 0;
    }
  }
}

void GgufWriter::Finish() {
  if (finished_) return;
  if (!header_written_) WriteHeader();
  if (current_tensor_ != tensors_.size())
    Fail("{}: tensor '{}' got {} of its {} bytes before Finish()", path_, tensors_[current_tensor_].name,
         current_written_, tensors_[current_tensor_].bytes);
  if (std::fflush(file_) != 0 || std::fclose(file_) != 0) {
    file_ = nullptr;
    Fail("{}: cannot finish writing: {}", partial_path_, std::strerror(errno));
  }
  file_ = nullptr;
  if (std::rename(partial_path_.c_str(), path_.c_str()) != 0)
    Fail("cannot move '{}' to '{}': {}", partial_path_, path_, std::strerror(errno));
  finished_ = true;
}

}  // namespace moefit
