// SPDX-License-Identifier: MIT
// Reads the tokenizer.ggml.* metadata of a GGUF file into a Vocabulary or a Tokenizer.
#pragma once

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocabulary.h"

namespace moefit {

// The tokenizer metadata as plain data. Throws moefit::Error naming the file and the key when a
// required key (model, pre, tokens, merges) is missing or a key has the wrong type.
VocabularyData ReadVocabularyData(const GgufFile& file);

// ReadVocabularyData, then Vocabulary::Build; every error names the file.
Vocabulary LoadVocabulary(const GgufFile& file);
Tokenizer LoadTokenizer(const GgufFile& file);

}  // namespace moefit
