// SPDX-License-Identifier: MIT
// GGUF parsing and validation. Every count, length and offset is checked against the bytes that
// remain before it is used, so a corrupt file cannot make us read out of bounds or allocate more
// than the file could describe.
#include "gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace moefit {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kMaxDims = 4;         // as the reference implementation
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxAlignment = 1u << 20;

// Smallest encoded size of one value of `type`, used to bound counts before reserving memory.
uint64_t MinEncodedSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
    case GgufType::kString:
      return 8;
    case GgufType::kArray:
      return 12;
  }
  return 1;
}

bool IsKnownType(uint32_t type) { return type <= static_cast<uint32_t>(GgufType::kFloat64); }

// Bounds-checked little-endian reader over the file image. `context` names what is being read
// (a key, a tensor) so errors can say it.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return bytes_.size() - position_; }
  void set_context(std::string context) { context_ = std::move(context); }

  template <typename... Args>
  [[noreturn]] void FailAt(uint64_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    std::string what = fmt::format(format, std::forward<Args>(args)...);
    if (context_.empty()) Fail("{}: offset {}: {}", file_, offset, what);
    Fail("{}: offset {} ({}): {}", file_, offset, context_, what);
  }

  const uint8_t* Take(uint64_t size, const char* what) {
    if (size > remaining())
      FailAt(position_, "file ends inside {} ({} bytes needed, {} left)", what, size, remaining());
    const uint8_t* data = bytes_.data() + position_;
    position_ += size;
    return data;
  }

  template <typename T>
  T Read(const char* what) {
    T value;
    std::memcpy(&value, Take(sizeof(T), what), sizeof(T));
    return value;
  }

  std::string_view ReadString(const char* what) {
    const uint64_t start = position_;
    const uint64_t length = Read<uint64_t>(what);
    if (length > remaining())
      FailAt(start, "{} length {} runs past the end of the file ({} bytes left)", what, length, remaining());
    return {reinterpret_cast<const char*>(Take(length, what)), static_cast<size_t>(length)};
  }

  // Accounts for memory the parse allocates for what it read; the total stays within four times the
  // file size, so no file can make the reader allocate far more than its own size.
  void Charge(uint64_t bytes) {
    if (bytes > budget_) FailAt(position_, "metadata would need more memory than the file's own size allows");
    budget_ -= bytes;
  }

  GgufType ReadType(const char* what) {
    const uint64_t start = position_;
    const uint32_t type = Read<uint32_t>(what);
    if (!IsKnownType(type)) FailAt(start, "unknown metadata value type {}", type);
    return static_cast<GgufType>(type);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& file_;
  uint64_t position_ = 0;
  std::string context_;
  uint64_t budget_ = 4 * bytes_.size() + 65536;
};

GgufValue ReadValue(Cursor& cursor, GgufType type, int depth);

GgufValue ReadArray(Cursor& cursor, int depth) {
  GgufValue value;
  value.type = GgufType::kArray;
  const uint64_t start = cursor.position();
  value.element_type = cursor.ReadType("array element type");
  value.count = cursor.Read<uint64_t>("array length");
  const uint64_t min_size = MinEncodedSize(value.element_type);
  if (value.count > cursor.remaining() / min_size)
    cursor.FailAt(start, "array of {} {} values cannot fit in the {} bytes left", value.count,
                  GgufTypeName(value.element_type), cursor.remaining());
  switch (value.element_type) {
    case GgufType::kString:
      cursor.Charge(value.count * sizeof(std::string_view));
      value.strings.reserve(value.count);
      for (uint64_t i = 0; i < value.count; ++i) value.strings.push_back(cursor.ReadString("array string"));
      break;
    case GgufType::kArray:
      if (depth + 1 >= kMaxArrayDepth) cursor.FailAt(start, "arrays nested deeper than {}", kMaxArrayDepth);
      cursor.Charge(value.count * sizeof(GgufValue));
      value.arrays.reserve(value.count);
      for (uint64_t i = 0; i < value.count; ++i) value.arrays.push_back(ReadArray(cursor, depth + 1));
      break;
    default: {
      const uint64_t bytes = value.count * min_size;
      value.raw_elements = {cursor.Take(bytes, "array data"), static_cast<size_t>(bytes)};
      if (value.element_type == GgufType::kBool) {
        for (uint64_t i = 0; i < value.count; ++i)
          if (value.raw_elements[i] > 1)
            cursor.FailAt(cursor.position() - bytes + i, "bool array element {} has value {}", i,
                          value.raw_elements[i]);
      }
      break;
    }
  }
  return value;
}

GgufValue ReadValue(Cursor& cursor, GgufType type, int depth) {
  GgufValue value;
  value.type = type;
  switch (type) {
    case GgufType::kUint8: value.uint_value = cursor.Read<uint8_t>("uint8 value"); break;
    case GgufType::kInt8: value.int_value = cursor.Read<int8_t>("int8 value"); break;
    case GgufType::kUint16: value.uint_value = cursor.Read<uint16_t>("uint16 value"); break;
    case GgufType::kInt16: value.int_value = cursor.Read<int16_t>("int16 value"); break;
    case GgufType::kUint32: value.uint_value = cursor.Read<uint32_t>("uint32 value"); break;
    case GgufType::kInt32: value.int_value = cursor.Read<int32_t>("int32 value"); break;
    case GgufType::kUint64: value.uint_value = cursor.Read<uint64_t>("uint64 value"); break;
    case GgufType::kInt64: value.int_value = cursor.Read<int64_t>("int64 value"); break;
    case GgufType::kFloat32: value.float_value = cursor.Read<float>("float32 value"); break;
    case GgufType::kFloat64: value.float_value = cursor.Read<double>("float64 value"); break;
    case GgufType::kBool: {
      const uint64_t start = cursor.position();
      value.uint_value = cursor.Read<uint8_t>("bool value");
      if (value.uint_value > 1) cursor.FailAt(start, "bool has value {}", value.uint_value);
      break;
    }
    case GgufType::kString: value.string_value = cursor.ReadString("string value"); break;
    case GgufType::kArray: return ReadArray(cursor, depth);
  }
  return value;
}

uint64_t AlignUp(uint64_t offset, uint64_t alignment) { return (offset + alignment - 1) / alignment * alignment; }

}  // namespace

std::string_view GgufTypeName(GgufType type) {
  static constexpr std::string_view kNames[] = {"uint8", "int8",  "uint16", "int16",  "uint32", "int32", "float32",
                                                "bool",  "string", "array", "uint64", "int64",  "float64"};
  const auto index = static_cast<uint32_t>(type);
  return index < std::size(kNames) ? kNames[index] : std::string_view("unknown");
}

GgufFile GgufFile::Open(const std::string& path) {
  GgufFile file;
  file.path_ = path;
  file.mapping_ = std::make_unique<MappedFile>(path);
  file.bytes_ = file.mapping_->bytes();
  file.Parse();
  return file;
}

GgufFile GgufFile::FromBytes(std::span<const uint8_t> bytes, std::string name) {
  GgufFile file;
  file.path_ = std::move(name);
  file.bytes_ = bytes;
  file.Parse();
  return file;
}

void GgufFile::Parse() {
  Cursor cursor(bytes_, path_);
  if (bytes_.size() < 4) cursor.FailAt(0, "not a GGUF file: only {} bytes", bytes_.size());
  const uint32_t magic = cursor.Read<uint32_t>("magic");
  if (magic != kMagic) cursor.FailAt(0, "not a GGUF file: bad magic 0x{:08x}", magic);
  version_ = cursor.Read<uint32_t>("version");
  if (version_ == 1) cursor.FailAt(4, "GGUF version 1 is not supported (re-convert the model)");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3) cursor.FailAt(4, "big-endian GGUF files are not supported");
    cursor.FailAt(4, "unsupported GGUF version {}", version_);
  }
  const uint64_t tensor_count = cursor.Read<uint64_t>("tensor count");
  const uint64_t kv_count = cursor.Read<uint64_t>("metadata count");
  // A tensor entry takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; a metadata entry 8 + 4 + 1.
  if (tensor_count > cursor.remaining() / 32) cursor.FailAt(8, "tensor count {} cannot fit in the file", tensor_count);
  if (kv_count > cursor.remaining() / 13) cursor.FailAt(16, "metadata count {} cannot fit in the file", kv_count);

  // Entries, index nodes and dims, charged before anything is reserved.
  cursor.Charge(kv_count * (sizeof(GgufValue) + 64) + tensor_count * (sizeof(GgufTensorInfo) + 96 + 8 * kMaxDims));
  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t start = cursor.position();
    cursor.set_context(fmt::format("metadata entry {}", i));
    const std::string_view key = cursor.ReadString("metadata key");
    cursor.set_context(fmt::format("key '{}'", key));
    const GgufType type = cursor.ReadType("metadata value type");
    GgufValue value = ReadValue(cursor, type, 0);
    if (metadata_index_.count(key) != 0) cursor.FailAt(start, "duplicate metadata key");
    metadata_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(key, std::move(value));
  }

  if (const GgufValue* alignment = Find("general.alignment")) {
    cursor.set_context("key 'general.alignment'");
    if (!alignment->IsInteger()) cursor.FailAt(cursor.position(), "alignment is a {}", GgufTypeName(alignment->type));
    const int64_t value = alignment->AsInt();
    if (value <= 0 || static_cast<uint64_t>(value) > kMaxAlignment || !std::has_single_bit(static_cast<uint64_t>(value)))
      cursor.FailAt(cursor.position(), "alignment {} is not a power of two up to {}", value, kMaxAlignment);
    alignment_ = static_cast<uint64_t>(value);
  } else {
    alignment_ = kDefaultAlignment;
  }

  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const uint64_t start = cursor.position();
    cursor.set_context(fmt::format("tensor entry {}", i));
    GgufTensorInfo tensor;
    tensor.name = cursor.ReadString("tensor name");
    cursor.set_context(fmt::format("tensor '{}'", tensor.name));
    const uint32_t n_dims = cursor.Read<uint32_t>("dimension count");
    if (n_dims > kMaxDims) cursor.FailAt(start, "{} dimensions (at most {} supported)", n_dims, kMaxDims);
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_offset = cursor.position();
      const uint64_t dim = cursor.Read<uint64_t>("dimension");
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        cursor.FailAt(dim_offset, "dimension {} is {}", d, dim);
      if (__builtin_mul_overflow(elements, static_cast<int64_t>(dim), &elements))
        cursor.FailAt(dim_offset, "element count overflows");
      tensor.dims.push_back(static_cast<int64_t>(dim));
    }
    tensor.elements = elements;
    const uint64_t type_offset = cursor.position();
    const uint32_t type_id = cursor.Read<uint32_t>("tensor type");
    const std::optional<DTypeLayout> layout = FindDTypeLayout(type_id);
    if (!layout) cursor.FailAt(type_offset, "unknown tensor type id {}", type_id);
    tensor.type = layout->type;
    if (tensor.row_length() % layout->block_elements != 0)
      cursor.FailAt(type_offset, "row length {} is not a multiple of the {} block size {}", tensor.row_length(),
                    layout->name, layout->block_elements);
    const int64_t blocks = elements / layout->block_elements;
    int64_t bytes = 0;
    if (__builtin_mul_overflow(blocks, layout->block_bytes, &bytes)) cursor.FailAt(type_offset, "byte size overflows");
    tensor.bytes = static_cast<uint64_t>(bytes);
    const uint64_t offset_position = cursor.position();
    tensor.offset = cursor.Read<uint64_t>("tensor data offset");
    if (tensor.offset % alignment_ != 0)
      cursor.FailAt(offset_position, "data offset {} is not a multiple of the alignment {}", tensor.offset, alignment_);
    if (tensor_index_.count(tensor.name) != 0) cursor.FailAt(start, "duplicate tensor name");
    tensor_index_.emplace(tensor.name, tensors_.size());
    tensors_.push_back(std::move(tensor));
  }
  cursor.set_context("");

  data_offset_ = AlignUp(cursor.position(), alignment_);
  if (tensors_.empty()) return;
  if (data_offset_ > bytes_.size())
    cursor.FailAt(cursor.position(), "data section at {} starts past the end of the file ({} bytes)", data_offset_,
                  bytes_.size());
  const uint64_t data_size = bytes_.size() - data_offset_;
  for (GgufTensorInfo& tensor : tensors_) {
    if (tensor.offset > data_size || tensor.bytes > data_size - tensor.offset)
      Fail("{}: offset {} (tensor '{}'): data [{}, {}) runs past the end of the file ({} bytes)", path_,
           data_offset_ + tensor.offset, tensor.name, data_offset_ + tensor.offset,
           data_offset_ + tensor.offset + tensor.bytes, bytes_.size());
    tensor.data = bytes_.data() + data_offset_ + tensor.offset;
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& tensor : tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    const GgufTensorInfo& current = *by_offset[i];
    if (previous.offset + previous.bytes > current.offset)
      Fail("{}: offset {} (tensor '{}'): data overlaps tensor '{}'", path_, data_offset_ + current.offset,
           current.name, previous.name);
  }
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {

[[noreturn]] void FailMissing(const std::string& path, std::string_view key) {
  Fail("{}: required metadata key '{}' is missing", path, key);
}

[[noreturn]] void FailType(const std::string& path, std::string_view key, const GgufValue& value,
                           std::string_view wanted) {
  std::string actual(GgufTypeName(value.type));
  if (value.type == GgufType::kArray) actual = fmt::format("array of {}", GgufTypeName(value.element_type));
  Fail("{}: metadata key '{}' is {} where {} was expected", path, key, actual, wanted);
}

}  // namespace

std::string_view GgufFile::GetString(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  if (value->type != GgufType::kString) FailType(path_, key, *value, "a string");
  return value->string_value;
}

int64_t GgufFile::GetInt(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  if (!value->IsInteger()) FailType(path_, key, *value, "an integer");
  try {
    return value->AsInt();
  } catch (const Error&) {
    Fail("{}: metadata key '{}' value {} does not fit a signed 64-bit integer", path_, key, value->uint_value);
  }
}

double GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  if (!value->IsNumber()) FailType(path_, key, *value, "a number");
  return value->AsDouble();
}

bool GgufFile::GetBool(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  if (value->type != GgufType::kBool) FailType(path_, key, *value, "a bool");
  return value->uint_value != 0;
}

const std::vector<std::string_view>& GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  if (value->type != GgufType::kArray || value->element_type != GgufType::kString)
    FailType(path_, key, *value, "an array of strings");
  return value->strings;
}

std::vector<int64_t> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  GgufValue probe;
  probe.type = value->element_type;
  if (value->type != GgufType::kArray || !probe.IsInteger()) FailType(path_, key, *value, "an array of integers");
  std::vector<int64_t> result(value->count);
  for (uint64_t i = 0; i < value->count; ++i) result[i] = value->IntAt(i);
  return result;
}

std::vector<double> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) FailMissing(path_, key);
  GgufValue probe;
  probe.type = value->element_type;
  if (value->type != GgufType::kArray || !probe.IsNumber()) FailType(path_, key, *value, "an array of numbers");
  std::vector<double> result(value->count);
  for (uint64_t i = 0; i < value->count; ++i) result[i] = value->DoubleAt(i);
  return result;
}

std::string_view GgufFile::GetString(std::string_view key, std::string_view fallback) const {
  return Has(key) ? GetString(key) : fallback;
}
int64_t GgufFile::GetInt(std::string_view key, int64_t fallback) const { return Has(key) ? GetInt(key) : fallback; }
double GgufFile::GetFloat(std::string_view key, double fallback) const {
  return Has(key) ? GetFloat(key) : fallback;
}
bool GgufFile::GetBool(std::string_view key, bool fallback) const { return Has(key) ? GetBool(key) : fallback; }

std::string_view GgufFile::architecture() const { return GetString("general.architecture", ""); }

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::GetTensor(std::string_view name) const {
  const GgufTensorInfo* tensor = FindTensor(name);
  if (tensor == nullptr) Fail("{}: required tensor '{}' is missing", path_, name);
  return *tensor;
}

}  // namespace moefit
