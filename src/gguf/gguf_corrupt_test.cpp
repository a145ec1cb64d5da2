// SPDX-License-Identifier: MIT
// Thousands of truncated and bit-flipped variants of the fixture files: each must load or throw
// moefit::Error, never crash, hang or allocate much more than its own size. CI also runs this
// under AddressSanitizer + UndefinedBehaviorSanitizer (label "sanitize").
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"

// Live-heap accounting for this test binary: peak bytes allocated while a parse runs.
namespace {
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};

void* CountedAllocate(size_t size) {
  void* pointer = std::malloc(size == 0 ? 1 : size);
  if (pointer == nullptr) throw std::bad_alloc();
  const int64_t live = g_live_bytes += static_cast<int64_t>(malloc_usable_size(pointer));
  int64_t peak = g_peak_bytes.load();
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
  }
  return pointer;
}

void CountedFree(void* pointer) {
  if (pointer == nullptr) return;
  g_live_bytes -= static_cast<int64_t>(malloc_usable_size(pointer));
  std::free(pointer);
}
}  // namespace

void* operator new(size_t size) { return CountedAllocate(size); }
void* operator new[](size_t size) { return CountedAllocate(size); }
void operator delete(void* pointer) noexcept { CountedFree(pointer); }
void operator delete[](void* pointer) noexcept { CountedFree(pointer); }
void operator delete(void* pointer, size_t) noexcept { CountedFree(pointer); }
void operator delete[](void* pointer, size_t) noexcept { CountedFree(pointer); }

namespace moefit {
namespace {

namespace fs = std::filesystem;

constexpr int kVariantsPerFile = 1300;

struct Image {
  std::unique_ptr<uint8_t[]> bytes;  // exact size, so the sanitizer sees any read past the end
  size_t size = 0;
};

Image ReadImage(const fs::path& path, size_t size) {
  Image image{std::make_unique<uint8_t[]>(size), size};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(image.bytes.get()), static_cast<std::streamsize>(size));
  return image;
}

// Loads the image; returns false when it threw moefit::Error. Checks the allocation bound.
bool LoadChecked(const uint8_t* bytes, size_t size) {
  const int64_t before = g_live_bytes.load();
  g_peak_bytes = before;
  bool loaded = true;
  try {
    const GgufFile file = GgufFile::FromBytes({bytes, size}, "variant.gguf");
    for (const GgufTensorInfo& tensor : file.tensors()) {
      EXPECT_GE(tensor.data, bytes);
      EXPECT_LE(tensor.data + tensor.bytes, bytes + size);
    }
  } catch (const Error&) {
    loaded = false;
  }
  const int64_t allocated = g_peak_bytes.load() - before;
  EXPECT_LE(allocated, static_cast<int64_t>(5 * size + (1 << 20))) << "parse of a " << size << "-byte file";
  return loaded;
}

class GgufCorruption : public testing::TestWithParam<std::string> {};

TEST_P(GgufCorruption, TruncatedAndBitFlippedVariantsLoadOrThrow) {
  const fs::path path = fs::path(MOEFIT_FIXTURES_DIR) / GetParam();
  if (!fs::exists(path)) GTEST_SKIP() << "fixture not found: " << path;
  const size_t size = fs::file_size(path);
  Image image = ReadImage(path, size);
  ASSERT_TRUE(LoadChecked(image.bytes.get(), size));
  const size_t header = std::min<size_t>(size, GgufFile::FromBytes({image.bytes.get(), size}, "x").data_offset());

  std::mt19937_64 rng(std::hash<std::string>{}(GetParam()));
  int loaded = 0;
  for (int variant = 0; variant < kVariantsPerFile; ++variant) {
    if (variant % 3 == 0) {
      // Truncation, mostly inside the header and the first tensor bytes.
      const size_t cut = variant % 9 == 0 ? rng() % size : rng() % std::min(size, header + 64);
      Image prefix{std::make_unique<uint8_t[]>(cut + 1), cut};
      std::memcpy(prefix.bytes.get(), image.bytes.get(), cut);
      loaded += LoadChecked(prefix.bytes.get(), cut);
    } else {
      // 1 to 4 bit flips in the header, sometimes a whole random word (counts, lengths, offsets).
      std::vector<std::pair<size_t, uint8_t>> saved;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        const size_t at = rng() % header;
        saved.emplace_back(at, image.bytes[at]);
        if (variant % 5 == 0)
          image.bytes[at] = static_cast<uint8_t>(rng());
        else
          image.bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      loaded += LoadChecked(image.bytes.get(), size);
      for (auto it = saved.rbegin(); it != saved.rend(); ++it) image.bytes[it->first] = it->second;
    }
  }
  // Most flips land in strings (token texts), which stay valid: both outcomes must occur.
  EXPECT_GT(loaded, 0);
  EXPECT_LT(loaded, kVariantsPerFile);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufCorruption,
                         testing::Values("models/tiny-qwen3moe-q4_k_m.gguf", "models/arch/tiny-qwen2moe-q8_0.gguf",
                                         "models/arch/tiny-llama-moe-q8_0.gguf", "models/arch/tiny-olmoe-q8_0.gguf",
                                         "models/arch/tiny-qwen3-q8_0.gguf", "models/arch/tiny-qwen2-q8_0.gguf",
                                         "models/arch/tiny-llama-q8_0.gguf", "tokenizer/vocab-qwen3.gguf"),
                         [](const testing::TestParamInfo<std::string>& param_info) {
                           std::string name = fs::path(param_info.param).stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace moefit
