// SPDX-License-Identifier: MIT
// Writer -> reader round trips: every metadata type, nested arrays, chunked tensor data.
#include "gguf/gguf_writer.h"

#include <filesystem>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace moefit {
namespace {

std::filesystem::path TempPath(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("moefit_gguf_" + std::to_string(::getpid()) + "_" + name);
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  const std::string path = TempPath("values.gguf");
  {
    GgufWriter writer(path);
    writer.SetString("general.architecture", "qwen3moe");
    writer.SetBool("flag", true);
    writer.SetUint8("u8", 250);
    writer.SetInt8("i8", -5);
    writer.SetUint16("u16", 65000);
    writer.SetInt16("i16", -30000);
    writer.SetUint32("u32", 4000000000u);
    writer.SetInt32("i32", -2000000000);
    writer.SetUint64("u64", 1ull << 60);
    writer.SetInt64("i64", -(1ll << 60));
    writer.SetFloat32("f32", 1.5f);
    writer.SetFloat64("f64", -2.25);
    const std::vector<std::string> words = {"a", "", "ü", std::string("nul\0in", 6)};
    writer.SetStringArray("words", words);
    const std::vector<int32_t> ints = {1, -2, 3};
    writer.SetInt32Array("ints", ints);
    const std::vector<float> floats = {0.5f, -1.0f};
    writer.SetFloat32Array("floats", floats);
    writer.Finish();
  }
  const GgufFile file = GgufFile::Open(path);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.architecture(), "qwen3moe");
  EXPECT_TRUE(file.GetBool("flag"));
  EXPECT_EQ(file.GetInt("u8"), 250);
  EXPECT_EQ(file.GetInt("i8"), -5);
  EXPECT_EQ(file.GetInt("u16"), 65000);
  EXPECT_EQ(file.GetInt("i16"), -30000);
  EXPECT_EQ(file.GetInt("u32"), 4000000000ll);
  EXPECT_EQ(file.GetInt("i32"), -2000000000);
  EXPECT_EQ(file.GetInt("u64"), 1ll << 60);
  EXPECT_EQ(file.GetInt("i64"), -(1ll << 60));
  EXPECT_EQ(file.GetFloat("f32"), 1.5);
  EXPECT_EQ(file.GetFloat("f64"), -2.25);
  EXPECT_EQ(file.GetFloat("i32"), -2000000000.0);  // integers read as numbers
  const auto& words = file.GetStringArray("words");
  ASSERT_EQ(words.size(), 4u);
  EXPECT_EQ(words[2], "ü");
  EXPECT_EQ(words[3], std::string_view("nul\0in", 6));
  EXPECT_EQ(file.GetIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file.GetFloatArray("floats"), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(file.metadata().front().first, "general.architecture");  // file order kept
  EXPECT_EQ(file.GetInt("missing", 7), 7);
  EXPECT_THROW(file.GetInt("missing"), Error);
  EXPECT_THROW(file.GetString("u8"), Error);
  EXPECT_THROW(file.GetStringArray("ints"), Error);
  try {
    file.GetInt("general.architecture");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'general.architecture' is string"), std::string::npos) << error.what();
  }
  std::filesystem::remove(path);
}

TEST(GgufWriter, CopiesNestedArraysFromAnotherFile) {
  // Build a nested array value by hand: [[1, 2], [3]] of uint8.
  const uint8_t first[] = {1, 2};
  const uint8_t second[] = {3};
  GgufValue inner_a;
  inner_a.type = GgufType::kArray;
  inner_a.element_type = GgufType::kUint8;
  inner_a.count = 2;
  inner_a.raw_elements = first;
  GgufValue inner_b = inner_a;
  inner_b.count = 1;
  inner_b.raw_elements = second;
  GgufValue outer;
  outer.type = GgufType::kArray;
  outer.element_type = GgufType::kArray;
  outer.count = 2;
  outer.arrays = {inner_a, inner_b};
  const std::string path = TempPath("nested.gguf");
  {
    GgufWriter writer(path);
    writer.SetValue("nested", outer);
    writer.Finish();
  }
  const GgufFile file = GgufFile::Open(path);
  const GgufValue* value = file.Find("nested");
  ASSERT_NE(value, nullptr);
  ASSERT_EQ(value->arrays.size(), 2u);
  EXPECT_EQ(value->arrays[0].IntAt(1), 2);
  EXPECT_EQ(value->arrays[1].IntAt(0), 3);
  EXPECT_EQ(value->ToString(), "[[1, 2], [3]]");
  // And copying it again gives the same bytes.
  const std::string copy_path = TempPath("nested_copy.gguf");
  {
    GgufWriter writer(copy_path);
    writer.SetValue("nested", *value);
    writer.Finish();
  }
  EXPECT_EQ(std::filesystem::file_size(copy_path), std::filesystem::file_size(path));
  std::filesystem::remove(path);
  std::filesystem::remove(copy_path);
}

TEST(GgufWriter, StreamsTensorsInChunksWithAlignment) {
  const std::string path = TempPath("tensors.gguf");
  std::vector<float> a(100);
  std::iota(a.begin(), a.end(), 0.0f);
  std::vector<uint8_t> b(34 * 6);  // Q8_0: 3 rows of 64
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7);
  {
    GgufWriter writer(path, 64);
    writer.SetString("general.architecture", "test");
    const int64_t a_dims[] = {10, 10};
    const int64_t b_dims[] = {64, 3};
    writer.AddTensor("a", DType::kF32, a_dims);
    writer.AddTensor("b", DType::kQ8_0, b_dims);
    // One call spanning the end of "a" and the start of "b", then the rest.
    std::vector<uint8_t> joined(reinterpret_cast<uint8_t*>(a.data()), reinterpret_cast<uint8_t*>(a.data()) + 400);
    joined.insert(joined.end(), b.begin(), b.begin() + 50);
    writer.WriteTensorData(joined.data(), 300);
    writer.WriteTensorData(joined.data() + 300, joined.size() - 300);
    writer.WriteTensorData(b.data() + 50, b.size() - 50);
    writer.Finish();
  }
  const GgufFile file = GgufFile::Open(path);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  const GgufTensorInfo& ta = file.GetTensor("a");
  const GgufTensorInfo& tb = file.GetTensor("b");
  EXPECT_EQ(ta.type, DType::kF32);
  EXPECT_EQ(ta.bytes, 400u);
  EXPECT_EQ(tb.type, DType::kQ8_0);
  EXPECT_EQ(tb.bytes, 204u);
  EXPECT_EQ(tb.offset % 64, 0u);
  EXPECT_EQ(tb.rows(), 3);
  EXPECT_EQ(std::memcmp(ta.data, a.data(), 400), 0);
  EXPECT_EQ(std::memcmp(tb.data, b.data(), b.size()), 0);
  EXPECT_THROW(file.GetTensor("c"), Error);
  std::filesystem::remove(path);
}

TEST(GgufWriter, RefusesMisuseAndLeavesNoPartialFile) {
  const std::string path = TempPath("misuse.gguf");
  {
    GgufWriter writer(path);
    writer.SetUint32("k", 1);
    EXPECT_THROW(writer.SetUint32("k", 2), Error);
    const int64_t bad_dims[] = {33};
    EXPECT_THROW(writer.AddTensor("q", DType::kQ8_0, bad_dims), Error);  // not a block multiple
    const int64_t dims[] = {32};
    writer.AddTensor("q", DType::kQ8_0, dims);
    const uint8_t some[10] = {};
    writer.WriteTensorData(some, sizeof some);
    EXPECT_THROW(writer.Finish(), Error);  // 24 bytes missing
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

}  // namespace
}  // namespace moefit
