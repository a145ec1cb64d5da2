// SPDX-License-Identifier: MIT
// Reader: the fixture files load, and crafted corruptions give errors that name what is wrong.
#include "gguf/gguf_file.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_writer.h"

namespace moefit {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A small valid file: two metadata keys, two F32 tensors.
std::vector<uint8_t> SmallFile() {
  const fs::path path = fs::temp_directory_path() / ("moefit_small_" + std::to_string(::getpid()) + ".gguf");
  {
    GgufWriter writer(path.string());
    writer.SetString("general.architecture", "test");
    writer.SetUint32("test.block_count", 2);
    const int64_t dims[] = {8, 2};
    writer.AddTensor("first", DType::kF32, dims);
    writer.AddTensor("second", DType::kF32, dims);
    std::vector<float> data(32, 1.0f);
    writer.WriteTensorData(data.data(), data.size() * sizeof(float));
    writer.Finish();
  }
  std::vector<uint8_t> bytes = ReadAll(path);
  fs::remove(path);
  return bytes;
}

std::string LoadError(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::FromBytes(bytes, "bad.gguf");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

template <typename T>
void Put(std::vector<uint8_t>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// Byte offset of the start of tensor entry `name` (its name length field).
size_t TensorEntryOffset(const std::vector<uint8_t>& bytes, std::string_view name) {
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t at = all.find(name);
  EXPECT_NE(at, std::string_view::npos);
  return at - 8;
}

TEST(GgufFile, SmallFileLoads) {
  const std::vector<uint8_t> bytes = SmallFile();
  const GgufFile file = GgufFile::FromBytes(bytes, "small.gguf");
  EXPECT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.GetInt("test.block_count"), 2);
  EXPECT_EQ(file.tensors()[1].offset, 64u);
}

TEST(GgufFile, BadHeaders) {
  const std::vector<uint8_t> good = SmallFile();
  EXPECT_NE(LoadError({'G', 'G'}).find("only 2 bytes"), std::string::npos);
  auto bytes = good;
  bytes[0] = 'X';
  EXPECT_NE(LoadError(bytes).find("bad magic"), std::string::npos);
  bytes = good;
  Put<uint32_t>(bytes, 4, 1);
  EXPECT_NE(LoadError(bytes).find("version 1"), std::string::npos);
  Put<uint32_t>(bytes, 4, 0x03000000);
  EXPECT_NE(LoadError(bytes).find("big-endian"), std::string::npos);
  bytes = good;
  Put<uint64_t>(bytes, 8, 1ull << 40);
  EXPECT_NE(LoadError(bytes).find("tensor count"), std::string::npos);
  bytes = good;
  Put<uint64_t>(bytes, 16, ~0ull);
  EXPECT_NE(LoadError(bytes).find("metadata count"), std::string::npos);
}

TEST(GgufFile, BadMetadataNamesKeyAndOffset) {
  const std::vector<uint8_t> good = SmallFile();
  auto bytes = good;
  // First key's length field is at 24; its type follows the 20-byte key.
  Put<uint64_t>(bytes, 24, 1ull << 50);
  EXPECT_NE(LoadError(bytes).find("offset 24 (metadata entry 0): metadata key length"), std::string::npos)
      << LoadError(bytes);
  bytes = good;
  Put<uint32_t>(bytes, 24 + 8 + 20, 77);
  const std::string error = LoadError(bytes);
  EXPECT_NE(error.find("bad.gguf: offset 52 (key 'general.architecture'): unknown metadata value type 77"),
            std::string::npos)
      << error;
  // Duplicate key: rename the second key to the first one's name... same length needed, so
  // build a file with two equal-length keys instead.
  const fs::path path = fs::temp_directory_path() / ("moefit_dup_" + std::to_string(::getpid()) + ".gguf");
  {
    GgufWriter writer(path.string());
    writer.SetUint8("key_a", 1);
    writer.SetUint8("key_b", 2);
    writer.Finish();
  }
  bytes = ReadAll(path);
  fs::remove(path);
  bytes[24 + 8 + 5 + 4 + 1 + 8 + 4] = 'a';  // "key_b" -> "key_a"
  EXPECT_NE(LoadError(bytes).find("key 'key_a'): duplicate metadata key"), std::string::npos) << LoadError(bytes);
}

TEST(GgufFile, BadTensorsNameTheTensor) {
  const std::vector<uint8_t> good = SmallFile();
  const size_t second = TensorEntryOffset(good, "second");
  const size_t dims_at = second + 8 + 6 + 4;
  const size_t type_at = dims_at + 16;
  const size_t offset_at = type_at + 4;
  auto bytes = good;
  Put<uint32_t>(bytes, second + 8 + 6, 9);
  EXPECT_NE(LoadError(bytes).find("tensor 'second'): 9 dimensions"), std::string::npos) << LoadError(bytes);
  bytes = good;
  Put<uint64_t>(bytes, dims_at, 0);
  EXPECT_NE(LoadError(bytes).find("dimension 0 is 0"), std::string::npos);
  bytes = good;
  Put<uint64_t>(bytes, dims_at, 1ull << 62);
  Put<uint64_t>(bytes, dims_at + 8, 1ull << 62);
  EXPECT_NE(LoadError(bytes).find("overflows"), std::string::npos) << LoadError(bytes);
  bytes = good;
  Put<uint32_t>(bytes, type_at, 4);
  EXPECT_NE(LoadError(bytes).find("unknown tensor type id 4"), std::string::npos);
  bytes = good;
  Put<uint32_t>(bytes, type_at, static_cast<uint32_t>(DType::kQ8_0));
  EXPECT_NE(LoadError(bytes).find("row length 8 is not a multiple of the Q8_0 block size 32"), std::string::npos);
  bytes = good;
  Put<uint64_t>(bytes, offset_at, 48);
  EXPECT_NE(LoadError(bytes).find("not a multiple of the alignment 32"), std::string::npos);
  bytes = good;
  Put<uint64_t>(bytes, offset_at, 32);
  EXPECT_NE(LoadError(bytes).find("tensor 'second'): data overlaps tensor 'first'"), std::string::npos)
      << LoadError(bytes);
  bytes = good;
  Put<uint64_t>(bytes, offset_at, 1 << 20);
  EXPECT_NE(LoadError(bytes).find("runs past the end of the file"), std::string::npos);
  bytes = good;
  bytes.resize(bytes.size() - 4);
  EXPECT_NE(LoadError(bytes).find("tensor 'second'): data"), std::string::npos) << LoadError(bytes);
  bytes = good;
  std::memcpy(bytes.data() + second + 8, "first\0", 6);  // same length as "second"? no: keep 6
  bytes[second + 8 + 5] = 'x';
  EXPECT_EQ(LoadError(bytes), "");  // "firstx" is just another name
}

TEST(GgufFile, EveryFixtureLoads) {
  const fs::path root = MOEFIT_FIXTURES_DIR;
  if (!fs::exists(root)) GTEST_SKIP() << "fixtures not found at " << root;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    const GgufFile file = GgufFile::Open(entry.path().string());
    EXPECT_GE(file.version(), 2u);
    EXPECT_FALSE(file.architecture().empty());
    for (const GgufTensorInfo& tensor : file.tensors())
      EXPECT_LE(file.data_offset() + tensor.offset + tensor.bytes, file.file_size());
    ++files;
  }
  EXPECT_GE(files, 13);
}

TEST(GgufFile, QwenFixtureDirectory) {
  const fs::path path = fs::path(MOEFIT_FIXTURES_DIR) / "models/tiny-qwen3moe-q8_0.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "fixture not found: " << path;
  const GgufFile file = GgufFile::Open(path.string());
  EXPECT_EQ(file.architecture(), "qwen3moe");
  EXPECT_EQ(file.GetInt("qwen3moe.block_count"), 2);
  EXPECT_EQ(file.GetInt("qwen3moe.embedding_length"), 256);
  EXPECT_EQ(file.GetInt("qwen3moe.expert_count"), 8);
  EXPECT_EQ(file.GetStringArray("tokenizer.ggml.tokens").size(), 4122u);
  const GgufTensorInfo& experts = file.GetTensor("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(experts.dims, (std::vector<int64_t>{256, 256, 8}));
}

}  // namespace
}  // namespace moefit
