// SPDX-License-Identifier: MIT
// libFuzzer target for the GGUF reader: any input must load or throw moefit::Error.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const moefit::GgufFile file = moefit::GgufFile::FromBytes({data, size}, "fuzz.gguf");
    // Touch what a loader would: every value's printing and every tensor's bounds.
    for (const auto& [key, value] : file.metadata()) (void)value.ToString();
    uint64_t checksum = 0;
    for (const moefit::GgufTensorInfo& tensor : file.tensors())
      if (tensor.bytes > 0) checksum += tensor.data[0] + tensor.data[tensor.bytes - 1];
    (void)checksum;
  } catch (const moefit::Error&) {
  }
  return 0;
}
